"""The hub's WebM header check on real clips (OpenCV's VP8 and VP9 encoders) and on clips built
element by element here: every refusal has its reason, malformed input never raises anything
but :class:`ClipRefused`, and what is accepted decodes only at the size the headers say."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.ingest.clipcheck import ClipLimits, frames, inspect
from central.ingest.ebml import ClipRefused

LIMITS = ClipLimits(max_bytes=16 * 1024 * 1024, max_duration_s=20.0, max_width=1920, max_height=1080)
UNKNOWN = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def encode(path: Path, fourcc: str, size: tuple[int, int], n: int, fps: float = 10.0) -> bytes:
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    for k in range(n):
        writer.write(np.roll(base, 2 * k, axis=1))
    writer.release()
    return path.read_bytes()


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("webm")
    return {"vp8": encode(d / "a.webm", "VP80", (160, 120), 20),
            "vp9": encode(d / "b.webm", "VP90", (160, 120), 30),
            "vp8-320": encode(d / "c.webm", "VP80", (320, 240), 3)}


def payloads(data: bytes) -> list[bytes]:
    info = inspect(data, LIMITS)
    return [data[b.offset:b.offset + b.size] for b in info.blocks]


# -- building WebM element by element ------------------------------------------------------------
def el(eid: int, *parts: bytes, unknown: bool = False) -> bytes:
    body = b"".join(parts)
    size = UNKNOWN if unknown else b"\x01" + len(body).to_bytes(7, "big")
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + size + body


def uint(eid: int, v: int) -> bytes:
    return el(eid, v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big"))


def text(eid: int, s: str) -> bytes:
    return el(eid, s.encode())


def track(number: int = 1, kind: int = 1, codec: str = "V_VP8", size: tuple[int, int] = (160, 120),
          extra: bytes = b"") -> bytes:
    video = el(0xE0, uint(0xB0, size[0]), uint(0xBA, size[1])) if kind == 1 else b""
    return el(0xAE, uint(0xD7, number), uint(0x83, kind), text(0x86, codec), video, extra)


def block(frame: bytes, ms: int, key: bool, number: int = 1, flags: int = 0) -> bytes:
    return el(0xA3, bytes([0x80 | number]), struct.pack(">h", ms), bytes([(0x80 if key else 0) | flags]),
              frame)


def webm(frames_: list[bytes], *, doctype: str = "webm", tracks: bytes | None = None,
         duration_ms: float | None = None, step_ms: int = 100, live: bool = False,
         segment_extra: bytes = b"", flags: int = 0) -> bytes:
    head = el(0x1A45DFA3, uint(0x4286, 1), uint(0x42F7, 1), uint(0x42F2, 4), uint(0x42F3, 8),
              text(0x4282, doctype), uint(0x4287, 2), uint(0x4285, 2))
    info = el(0x1549A966, uint(0x2AD7B1, 1_000_000),
              el(0x4489, struct.pack(">d", duration_ms)) if duration_ms is not None else b"")
    blocks = [block(f, k * step_ms, k % 10 == 0, flags=flags) for k, f in enumerate(frames_)]
    cluster = el(0x1F43B675, uint(0xE7, 0), *blocks, unknown=live)
    tracks_el = el(0x1654AE6B, tracks if tracks is not None else track())
    return head + el(0x18538067, info, tracks_el, segment_extra, cluster, unknown=live)


def refused(data: bytes, limits: ClipLimits = LIMITS) -> ClipRefused:
    with pytest.raises(ClipRefused) as exc:
        inspect(data, limits)
    return exc.value


# -- tests -----------------------------------------------------------------------------------
def test_real_vp8_and_vp9_clips_are_accepted_and_decode_at_their_size(real: dict[str, bytes]) -> None:
    for name, n in (("vp8", 20), ("vp9", 30)):
        info = inspect(real[name], LIMITS)
        assert (info.codec, info.width, info.height, info.frames) == (
            "V_VP8" if name == "vp8" else "V_VP9", 160, 120, n)
        assert info.fps == pytest.approx(10.0) and info.duration_s == pytest.approx(n / 10)
        decoded = list(frames(real[name], info))
        assert len(decoded) == n and all(f.shape == (120, 160, 3) for f in decoded)


def test_rebuilt_clip_and_live_unknown_sizes_are_accepted(real: dict[str, bytes]) -> None:
    vp8 = payloads(real["vp8"])
    for live in (False, True):
        data = webm(vp8, live=live)
        info = inspect(data, LIMITS)
        assert info.frames == 20 and info.duration_s == pytest.approx(2.0)
        assert sum(1 for _ in frames(data, info)) == 20


def test_every_refusal_says_why(real: dict[str, bytes]) -> None:
    vp8 = payloads(real["vp8"])
    big = payloads(real["vp8-320"])
    audio = el(0xAE, uint(0xD7, 2), uint(0x83, 2), text(0x86, "A_OPUS"), el(0xE1, uint(0x9F, 1)))
    cases: dict[str, tuple[bytes, int, str, str]] = {
        "matroska": (webm(vp8, doctype="matroska"), 415, "unsupported_media_type", "DocType is 'matroska'"),
        "h264 in webm": (webm(vp8, tracks=track(codec="V_MPEG4/ISO/AVC")), 415,
                         "unsupported_media_type", "V_MPEG4/ISO/AVC"),
        "audio": (webm(vp8, tracks=track() + audio), 415, "unsupported_media_type", "audio"),
        "two videos": (webm(vp8, tracks=track() + track(number=2)), 415, "unsupported_media_type",
                       "2 tracks"),
        "no track": (webm(vp8, tracks=b""), 415, "unsupported_media_type", "0 tracks"),
        "no frame size": (webm(vp8, tracks=el(0xAE, uint(0xD7, 1), uint(0x83, 1), text(0x86, "V_VP8"))),
                          422, "malformed_clip", "no PixelWidth"),
        "8K header": (webm(vp8, tracks=track(size=(7680, 4320))), 422, "too_large_frame", "7680x4320"),
        "lying header": (webm(big, tracks=track(size=(160, 120))), 422, "frame_size_mismatch",
                         "coded at 320x240"),
        "declared too long": (webm(vp8, duration_ms=3_600_000.0), 422, "too_long", "3600.0 s"),
        "timestamps too long": (webm(vp8, step_ms=1500), 422, "too_long", "30.0 s"),
        "frame rate": (webm(vp8 * 3, step_ms=5), 422, "bad_frame_rate", "200.0/s"),
        "laced": (webm(vp8, flags=0x02), 415, "unsupported_media_type", "laced"),
        "encrypted": (webm(vp8, tracks=track(extra=el(0x6D80, el(0x6240)))), 415,
                      "unsupported_media_type", "content encoding"),
        "attachment": (webm(vp8, segment_extra=el(0x1941A469)), 415, "unsupported_media_type",
                       "attachments"),
        "NaN duration": (webm(vp8, duration_ms=float("nan")), 422, "malformed_clip", "nan"),
        "truncated": (real["vp8"][:700], 422, "malformed_clip", "overruns"),
        "zero id byte": (real["vp8"][:40] + b"\x00" * 20, 422, "malformed_clip", "invalid"),
        "no frames": (webm([]), 422, "not_a_video", "no video frame"),
        "not a key frame first": (webm(vp8[1:]), 422, "malformed_clip", "not a key frame"),
        "trailing data": (real["vp8"] + b"\xa3\x81\x00", 422, "malformed_clip", "after the Segment"),
        "ogg": (b"OggS" + bytes(100), 415, "unsupported_media_type", "Ogg"),
        "too many frames": (webm(vp8 * 70, step_ms=10), 422, "too_many_frames", "more than"),
    }
    for what, (data, status, error, words) in cases.items():
        exc = refused(data)
        assert (exc.status, exc.error) == (status, error), (what, exc.status, exc.error, str(exc))
        assert words in str(exc), (what, str(exc))
    assert refused(real["vp8"], ClipLimits(1000, 20.0, 1920, 1080)).status == 413


def test_vp9_frame_sizes_are_read_from_the_frame_headers(real: dict[str, bytes]) -> None:
    vp9 = payloads(real["vp9"])
    exc = refused(webm(vp9, tracks=track(codec="V_VP9", size=(320, 240))))
    assert exc.error == "frame_size_mismatch" and "coded at 160x120" in str(exc)
    # a key frame of another size hidden in the middle of the clip
    bigger = payloads(real["vp8-320"])
    assert refused(webm([*payloads(real["vp8"])[:5], bigger[0]])).error == "frame_size_mismatch"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_clips_are_refused_or_decode_at_their_checked_size(real: dict[str, bytes],
                                                                    data: st.DataObject) -> None:
    source = real[data.draw(st.sampled_from(["vp8", "vp9"]))]
    clip = bytearray(source)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(clip) - 1))
        clip[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        clip = clip[:data.draw(st.integers(0, len(clip)))]
    try:
        info = inspect(bytes(clip), LIMITS)
    except ClipRefused as exc:
        assert 400 <= exc.status < 500 and str(exc)
        return
    assert info.width <= LIMITS.max_width and info.height <= LIMITS.max_height
    try:
        for image in frames(bytes(clip), info):
            assert image.shape == (info.height, info.width, 3)
    except ClipRefused as exc:
        assert exc.error in ("frame_size_mismatch", "not_a_video")
