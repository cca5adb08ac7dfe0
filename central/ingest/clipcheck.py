"""A clip's container and bitstream headers, checked before anything is decoded.

:func:`inspect` reads a WebM file with the small bounded EBML reader of
:mod:`central.ingest.ebml` (element ids and sizes, unknown sizes only where WebM allows them,
element count and string sizes bounded, anything malformed refused with the byte offset) and
accepts only what the box's clip encoder makes:

* EBML DocType ``webm``, one Segment;
* exactly one track, a video track with codec ``V_VP8`` or ``V_VP9`` (VP9 profile 0), no
  audio or other track, no content encoding (compression, encryption), no lacing;
* ``PixelWidth`` x ``PixelHeight`` within the configured bound, and every coded frame of that
  very size: a VP8 key frame, a VP9 key or intra-only frame, a VP9 inter frame that codes its
  size, each carry their dimensions, which are read and compared before decoding;
* the size, the frame count and the duration (the declared one and the one the block
  timestamps span, whichever is longer) within their limits.

:func:`frames` then decodes the checked frames one at a time: it hands the decoder an IVF
stream of exactly the blocks :func:`inspect` read (the decoder never parses the uploaded
container), and stops at any frame whose size is not the checked one, so memory is a few
frames of the checked size whatever the file says.
"""

from __future__ import annotations

import logging
import math
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from central.ingest.ebml import (
    CLUSTER,
    EBML,
    INFO,
    SEGMENT_SKIPPED,
    TRACKS,
    ClipRefused,
    CodedFrame,
    Element,
    Reader,
    Track,
    ebml_header,
    malformed,
    read_cluster,
    read_tracks,
    segment_info,
    sniff,
    top_level,
    unsupported,
)

log = logging.getLogger(__name__)

CODECS = {"V_VP8": "VP80", "V_VP9": "VP90"}


@dataclass(frozen=True)
class ClipLimits:
    """What the hub accepts (``[clips]`` of the hub config)."""

    max_bytes: int
    max_duration_s: float
    max_width: int
    max_height: int
    max_fps: float = 60.0

    @property
    def max_frames(self) -> int:
        return math.ceil(self.max_duration_s * self.max_fps) + 1


@dataclass(frozen=True)
class ClipInfo:
    """What the headers say, all of it checked against :class:`ClipLimits`."""

    codec: str
    width: int
    height: int
    duration_s: float
    fps: float
    """Frames per second of the block timestamps (or the track's DefaultDuration)."""
    blocks: tuple[CodedFrame, ...]

    @property
    def frames(self) -> int:
        return len(self.blocks)


# -- the WebM checks -----------------------------------------------------------------------
def _video_track(found: list[Track], limits: ClipLimits) -> Track:
    if any(t.type == 2 for t in found):
        raise unsupported("the clip has an audio track (audio never leaves the box)")
    if len(found) != 1:
        raise unsupported(f"the clip has {len(found)} tracks; exactly one video track is accepted")
    t = found[0]
    if t.type != 1:
        raise unsupported(f"the clip's track is of type {t.type}, not video")
    if t.codec not in CODECS:
        raise unsupported(f"the video codec is {t.codec!r}; only V_VP8 and V_VP9 are accepted")
    if not 1 <= t.number <= 127:
        raise malformed(f"track number {t.number} is out of range")
    if not (t.width and t.height):
        raise malformed("the video track has no PixelWidth/PixelHeight")
    if not (t.width <= limits.max_width and t.height <= limits.max_height):
        raise ClipRefused(422, "too_large_frame",
                          f"the video is {t.width}x{t.height}; the limit is "
                          f"{limits.max_width}x{limits.max_height}")
    return t


def inspect(data: bytes | memoryview, limits: ClipLimits) -> ClipInfo:
    """Check a clip from its headers (nothing decoded); raise :class:`ClipRefused` with the
    reason for anything the hub does not accept."""
    if len(data) > limits.max_bytes:
        raise ClipRefused(413, "too_large", f"clip of {len(data)} bytes exceeds the limit of "
                                            f"{limits.max_bytes}")
    sniff(data)
    r = Reader(data)
    top = Element(0, 0, len(data), False)
    elements = list(top_level(r, top))
    head, segment = elements[0], elements[1]
    ebml_header(r, head)
    scale, declared, found = 1_000_000, None, None
    blocks: list[CodedFrame] = []
    pos = segment.start
    while pos < segment.end:
        el = r.element(pos, segment.end)
        if el.unknown and el.id != CLUSTER:
            raise malformed(f"element {el.id:#x} at byte {pos} has an unknown size")
        if el.id == INFO:
            scale, declared = segment_info(r, el)
        elif el.id == TRACKS:
            if found is not None:
                raise malformed("two Tracks elements")
            found = read_tracks(r, el)
        elif el.id == CLUSTER:
            if found is None:
                raise malformed(f"Cluster at byte {pos} comes before the Tracks")
            pos = read_cluster(r, el, _video_track(found, limits), scale, blocks, limits.max_frames)
            continue
        elif el.id not in SEGMENT_SKIPPED:
            raise unsupported(f"unexpected element {el.id:#x} at byte {pos} in the Segment "
                              "(chapters, attachments... are not accepted)")
        pos = el.end
    if found is None:
        raise malformed("the clip has no Tracks")
    track = _video_track(found, limits)
    if not blocks:
        raise ClipRefused(422, "not_a_video", "the clip holds no video frame")
    duration, step_ms = _duration(blocks, declared, scale, track)
    fps = 1000.0 / step_ms if step_ms > 0 else len(blocks) / duration if duration > 0 else 0.0
    if not 0 < fps <= limits.max_fps:
        raise ClipRefused(422, "bad_frame_rate", f"the clip's frame rate is {fps:.1f}/s; the "
                                                 f"limit is {limits.max_fps:g}/s")
    info = ClipInfo(track.codec, track.width, track.height, duration, fps, tuple(blocks))
    if info.duration_s > limits.max_duration_s:
        raise ClipRefused(422, "too_long", f"clip lasts {info.duration_s:.1f} s, the limit is "
                                           f"{limits.max_duration_s:g} s")
    _check_frames(data, info)
    return info


def check_head(head: bytes) -> None:
    """Refuse a file whose first bytes are not an EBML header of DocType ``webm``."""
    sniff(head)
    r = Reader(head)
    el = r.element(0, len(head))
    if el.id != EBML or el.unknown:
        raise malformed("the file does not start with an EBML header of known size")
    ebml_header(r, el)


def _duration(blocks: list[CodedFrame], declared: float | None, scale: int, t: Track,
              ) -> tuple[float, float]:
    """The longer of the declared duration and the span of the block timestamps (plus one
    frame), in seconds; and one frame's duration in milliseconds."""
    times = sorted(b.ms for b in blocks)
    if len(times) > 1:
        step = t.default_duration_ns / 1e6 or (times[-1] - times[0]) / (len(times) - 1)
    else:
        step = t.default_duration_ns / 1e6
    span = (times[-1] - times[0] + step) / 1000.0
    said = (declared or 0.0) * scale / 1e9
    return max(span, said), step


# -- frame headers -----------------------------------------------------------------------------
def _check_frames(data: bytes | memoryview, info: ClipInfo) -> None:
    check = _vp8_size if info.codec == "V_VP8" else _vp9_sizes
    for k, block in enumerate(info.blocks):
        payload = bytes(data[block.offset:block.offset + block.size])
        sizes = check(payload, k == 0, block.offset)
        for w, h in sizes:
            if (w, h) != (info.width, info.height):
                raise ClipRefused(422, "frame_size_mismatch",
                                  f"frame {k} (byte {block.offset}) is coded at {w}x{h}; the "
                                  f"track says {info.width}x{info.height}")


def _vp8_size(p: bytes, first: bool, at: int) -> list[tuple[int, int]]:
    if len(p) < 3:
        raise malformed(f"VP8 frame at byte {at} is truncated")
    tag = int.from_bytes(p[:3], "little")
    key = not tag & 1
    if (tag >> 1) & 7 > 3 or (tag >> 5) > len(p):
        raise malformed(f"VP8 frame at byte {at} has an invalid frame tag")
    if first and not key:
        raise malformed("the first VP8 frame is not a key frame")
    if not key:
        return []
    if len(p) < 10 or p[3:6] != b"\x9d\x01\x2a":
        raise malformed(f"VP8 key frame at byte {at} has no start code")
    return [(int.from_bytes(p[6:8], "little") & 0x3FFF, int.from_bytes(p[8:10], "little") & 0x3FFF)]


class _Bits:
    def __init__(self, data: bytes, at: int):
        self.data, self.pos, self.at = data, 0, at

    def read(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise malformed(f"VP9 frame header at byte {self.at} is truncated")
            v = (v << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v


def _vp9_frames(p: bytes, at: int) -> list[bytes]:
    """The frames of a VP9 block (a superframe holds several, indexed at its end)."""
    if not p:
        raise malformed(f"empty VP9 frame at byte {at}")
    last = p[-1]
    if last & 0xE0 != 0xC0:
        return [p]
    n, width = (last & 7) + 1, ((last >> 3) & 3) + 1
    index = 2 + width * n
    if len(p) < index or p[-index] != last:
        return [p]
    out, pos = [], 0
    for k in range(n):
        off = len(p) - index + 1 + k * width
        size = int.from_bytes(p[off:off + width], "little")
        if pos + size > len(p) - index:
            raise malformed(f"VP9 superframe at byte {at} indexes past its end")
        out.append(p[pos:pos + size])
        pos += size
    return out


def _vp9_sizes(p: bytes, first: bool, at: int) -> list[tuple[int, int]]:
    sizes: list[tuple[int, int]] = []
    for k, frame in enumerate(_vp9_frames(p, at)):
        size = _vp9_size(frame, first and k == 0, at)
        if size is not None:
            sizes.append(size)
    return sizes


def _vp9_size(frame: bytes, first: bool, at: int) -> tuple[int, int] | None:
    """The size a VP9 frame codes (None when it takes it from a reference or shows one)."""
    b = _Bits(frame, at)
    if b.read(2) != 2:
        raise malformed(f"VP9 frame at byte {at} has no frame marker")
    profile = b.read(1) | (b.read(1) << 1)
    if profile != 0:
        raise unsupported(f"VP9 profile {profile}: only profile 0 (8-bit 4:2:0) is accepted")
    if b.read(1):  # show_existing_frame
        if first:
            raise malformed("the first VP9 frame shows an earlier frame")
        return None
    key = b.read(1) == 0
    show = b.read(1)
    error_resilient = b.read(1)
    if first and not key:
        raise malformed("the first VP9 frame is not a key frame")
    if key:
        _vp9_sync(b, at)
        _vp9_colour(b, at)
        return _vp9_frame_size(b)
    intra_only = 0 if show else b.read(1)
    if not error_resilient:
        b.read(2)  # reset_frame_context
    if intra_only:
        _vp9_sync(b, at)
        b.read(8)  # refresh_frame_flags
        return _vp9_frame_size(b)
    b.read(8)  # refresh_frame_flags
    for _ in range(3):
        b.read(4)  # ref_frame_idx, sign_bias
    for _ in range(3):
        if b.read(1):  # found_ref: the size of a reference, already checked
            return None
    return _vp9_frame_size(b)


def _vp9_sync(b: _Bits, at: int) -> None:
    if b.read(24) != 0x498342:
        raise malformed(f"VP9 frame at byte {at} has no sync code")


def _vp9_colour(b: _Bits, at: int) -> None:
    if b.read(3) == 7:  # CS_RGB needs profile 1 or 3
        raise unsupported(f"VP9 frame at byte {at} is RGB (profile 0 is 4:2:0 only)")
    b.read(1)  # color_range


def _vp9_frame_size(b: _Bits) -> tuple[int, int]:
    return b.read(16) + 1, b.read(16) + 1


# -- decoding --------------------------------------------------------------------------------
def ivf(data: bytes | memoryview, info: ClipInfo, out: Path) -> None:
    """Write the checked frames of a clip as an IVF stream (millisecond timestamps)."""
    with out.open("wb") as f:
        f.write(b"DKIF" + struct.pack("<HH4sHHIII4x", 0, 32, CODECS[info.codec].encode(),
                                      info.width, info.height, 1000, 1, info.frames))
        for block in info.blocks:
            f.write(struct.pack("<IQ", block.size, max(round(block.ms), 0)))
            f.write(data[block.offset:block.offset + block.size])


def frames(data: bytes | memoryview, info: ClipInfo, stop: int | None = None) -> Iterator[np.ndarray]:
    """Decode a checked clip one frame at a time (BGR, ``info.height`` x ``info.width``), up to
    ``stop`` frames; a decoded frame of another size ends the clip with :class:`ClipRefused`."""
    fd, name = tempfile.mkstemp(prefix="vigie-clip-", suffix=".ivf")
    os.close(fd)
    path = Path(name)
    try:
        ivf(data, info, path)
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        try:
            if not cap.isOpened():
                raise ClipRefused(422, "not_a_video", "the clip's frames do not decode")
            n = 0
            while stop is None or n < stop:
                ok, image = cap.read()
                if not ok or image is None:
                    return
                if image.shape[:2] != (info.height, info.width):
                    raise ClipRefused(422, "frame_size_mismatch",
                                      f"frame {n} decodes at {image.shape[1]}x{image.shape[0]}; "
                                      f"the track says {info.width}x{info.height}")
                n += 1
                yield image
        finally:
            cap.release()
    finally:
        path.unlink(missing_ok=True)


def decoded_count(data: bytes | memoryview, info: ClipInfo) -> int:
    """How many frames of a checked clip decode (one frame in memory at a time)."""
    return sum(1 for _ in frames(data, info))


def read_clip(path: Path, limits: ClipLimits) -> tuple[bytes, ClipInfo]:
    """A stored clip's bytes and checked headers (its size is checked before it is read)."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ClipRefused(413, "too_large", f"clip of {size} bytes exceeds the limit of "
                                            f"{limits.max_bytes}")
    data = path.read_bytes()
    return data, inspect(data, limits)
