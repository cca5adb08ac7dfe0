"""A clip's container and bitstream headers, checked before anything is decoded.

:func:`inspect` reads a WebM file with a small bounded EBML reader (element ids and sizes,
unknown sizes only where WebM allows them, element count and string sizes bounded, anything
malformed refused with the byte offset) and accepts only what the box's clip encoder makes:

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

log = logging.getLogger(__name__)

# -- element ids ----------------------------------------------------------------------------
EBML, DOC_TYPE, DOC_TYPE_READ_VERSION, EBML_READ_VERSION = 0x1A45DFA3, 0x4282, 0x4285, 0x42F7
EBML_MAX_ID_LENGTH, EBML_MAX_SIZE_LENGTH = 0x42F2, 0x42F3
SEGMENT, SEEK_HEAD, INFO, TRACKS, CLUSTER, CUES, TAGS = (
    0x18538067, 0x114D9B74, 0x1549A966, 0x1654AE6B, 0x1F43B675, 0x1C53BB6B, 0x1254C367)
VOID, CRC32 = 0xEC, 0xBF
TIMESTAMP_SCALE, DURATION = 0x2AD7B1, 0x4489
TRACK_ENTRY, TRACK_NUMBER, TRACK_TYPE, CODEC_ID, DEFAULT_DURATION = 0xAE, 0xD7, 0x83, 0x86, 0x23E383
VIDEO, AUDIO, PIXEL_WIDTH, PIXEL_HEIGHT, CONTENT_ENCODINGS = 0xE0, 0xE1, 0xB0, 0xBA, 0x6D80
CLUSTER_TIMESTAMP, SIMPLE_BLOCK, BLOCK_GROUP, BLOCK = 0xE7, 0xA3, 0xA0, 0xA1

SEGMENT_SKIPPED = {SEEK_HEAD, CUES, TAGS, VOID, CRC32}
"""Segment children read past without looking inside (nothing in them reaches the decoder)."""
CLUSTER_SKIPPED = {VOID, CRC32, 0xA7, 0xAB}  # + Position, PrevSize
GROUP_SKIPPED = {VOID, CRC32, 0x9B, 0xFB, 0x75A1, 0xFA, 0xA4}  # duration, references, additions...
LEVEL1 = {SEEK_HEAD, INFO, TRACKS, CLUSTER, CUES, TAGS, 0x1043A770, 0x1941A469}
"""Ids that end an unknown-size Cluster (a Segment child begins)."""

CODECS = {"V_VP8": "VP80", "V_VP9": "VP90"}
MAX_ELEMENTS = 200_000
MAX_STRING = 64
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
OTHER_MAGIC = {b"RIFF": "a RIFF (AVI/WAV) file", b"OggS": "an Ogg file", b"GIF8": "a GIF image",
               b"\xff\xd8\xff": "a JPEG image", b"\x89PNG": "a PNG image"}


class ClipRefused(ValueError):
    """A clip the hub does not accept: ``status`` (HTTP), ``error`` (a code) and the reason."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status = status
        self.error = error


def malformed(message: str) -> ClipRefused:
    return ClipRefused(422, "malformed_clip", message)


def unsupported(message: str) -> ClipRefused:
    return ClipRefused(415, "unsupported_media_type", message)


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
class CodedFrame:
    """One video block of the clip: where its payload is, and its time in milliseconds."""

    offset: int
    size: int
    ms: float
    key: bool


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


# -- the EBML reader -----------------------------------------------------------------------
@dataclass(frozen=True)
class Element:
    id: int
    start: int
    """Offset of the element's data."""
    end: int
    """Offset after its data (the parent's end for an unknown size)."""
    unknown: bool


class Reader:
    """Bounded reading of EBML elements from bytes; every read is checked against an end."""

    def __init__(self, data: bytes | memoryview):
        self.data = memoryview(data)
        self.count = 0

    def vint(self, pos: int, end: int, what: str, max_len: int) -> tuple[int, int, bool]:
        if pos >= end:
            raise malformed(f"{what} at byte {pos} runs past the end of its parent")
        first = self.data[pos]
        length = 8 - first.bit_length() + 1 if first else 9
        if length > max_len:
            raise malformed(f"{what} at byte {pos} is invalid (first byte {first:#04x})")
        if pos + length > end:
            raise malformed(f"{what} at byte {pos} runs past the end of its parent")
        raw = int.from_bytes(self.data[pos:pos + length], "big")
        value = raw & ((1 << (7 * length)) - 1)
        return raw, length, value == (1 << (7 * length)) - 1

    def element(self, pos: int, end: int) -> Element:
        """The element at ``pos`` inside a parent ending at ``end``."""
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise malformed(f"more than {MAX_ELEMENTS} elements")
        eid, idlen, _ = self.vint(pos, end, "element id", 4)
        raw, sizelen, unknown = self.vint(pos + idlen, end, f"size of element {eid:#x}", 8)
        start = pos + idlen + sizelen
        if unknown:
            return Element(eid, start, end, True)
        size = raw & ((1 << (7 * sizelen)) - 1)
        if start + size > end:
            raise malformed(f"element {eid:#x} at byte {pos} ({size} bytes) overruns its parent "
                            f"(ends at byte {end})")
        return Element(eid, start, start + size, False)

    def children(self, parent: Element, known_only: bool = True) -> Iterator[Element]:
        """The children of a master element, in order."""
        pos = parent.start
        while pos < parent.end:
            child = self.element(pos, parent.end)
            if child.unknown and known_only:
                raise malformed(f"element {child.id:#x} at byte {pos} has an unknown size")
            yield child
            pos = child.end

    def uint(self, el: Element) -> int:
        if el.end - el.start > 8:
            raise malformed(f"integer element {el.id:#x} at byte {el.start} is longer than 8 bytes")
        return int.from_bytes(self.data[el.start:el.end], "big")

    def float(self, el: Element) -> float:
        n = el.end - el.start
        if n not in (0, 4, 8):
            raise malformed(f"float element {el.id:#x} at byte {el.start} has {n} bytes")
        value = struct.unpack(">f" if n == 4 else ">d", self.data[el.start:el.end])[0] if n else 0.0
        if not math.isfinite(value) or value < 0:
            raise malformed(f"float element {el.id:#x} at byte {el.start} is {value}")
        return float(value)

    def string(self, el: Element) -> str:
        if el.end - el.start > MAX_STRING:
            raise malformed(f"string element {el.id:#x} at byte {el.start} is longer than "
                            f"{MAX_STRING} bytes")
        return bytes(self.data[el.start:el.end]).rstrip(b"\x00").decode("ascii", "replace")


# -- the WebM checks -----------------------------------------------------------------------
@dataclass
class _Track:
    number: int = 0
    type: int = 0
    codec: str = ""
    width: int = 0
    height: int = 0
    default_duration_ns: int = 0


def _ebml_header(r: Reader, head: Element) -> None:
    doctype = None
    for el in r.children(head):
        if el.id == DOC_TYPE:
            doctype = r.string(el)
        elif el.id == EBML_READ_VERSION and r.uint(el) != 1:
            raise unsupported(f"EBMLReadVersion {r.uint(el)} is not 1")
        elif el.id == EBML_MAX_ID_LENGTH and r.uint(el) > 4:
            raise unsupported("EBMLMaxIDLength above 4")
        elif el.id == EBML_MAX_SIZE_LENGTH and r.uint(el) > 8:
            raise unsupported("EBMLMaxSizeLength above 8")
        elif el.id == DOC_TYPE_READ_VERSION and r.uint(el) > 4:
            raise unsupported(f"DocTypeReadVersion {r.uint(el)} is not a WebM version")
    if doctype != "webm":
        raise unsupported(f"the EBML DocType is {doctype!r}, not 'webm' (only WebM clips are "
                          "accepted)")


def _info(r: Reader, info: Element) -> tuple[int, float | None]:
    scale, duration = 1_000_000, None
    for el in r.children(info):
        if el.id == TIMESTAMP_SCALE:
            scale = r.uint(el)
            if not 1 <= scale <= 1_000_000_000:
                raise malformed(f"TimestampScale {scale} is out of range")
        elif el.id == DURATION:
            duration = r.float(el)
    return scale, duration


def _tracks(r: Reader, tracks: Element) -> list[_Track]:
    found: list[_Track] = []
    for entry in r.children(tracks):
        if entry.id in (VOID, CRC32):
            continue
        if entry.id != TRACK_ENTRY:
            raise malformed(f"unexpected element {entry.id:#x} in Tracks")
        if len(found) >= 8:
            raise unsupported("more than 8 tracks")
        t = _Track()
        for el in r.children(entry):
            if el.id == TRACK_NUMBER:
                t.number = r.uint(el)
            elif el.id == TRACK_TYPE:
                t.type = r.uint(el)
            elif el.id == CODEC_ID:
                t.codec = r.string(el)
            elif el.id == DEFAULT_DURATION:
                t.default_duration_ns = r.uint(el)
            elif el.id == AUDIO:
                t.type = 2
            elif el.id == CONTENT_ENCODINGS:
                raise unsupported("a track with content encoding (compressed or encrypted "
                                  "frames) is not accepted")
            elif el.id == VIDEO:
                for v in r.children(el):
                    if v.id == PIXEL_WIDTH:
                        t.width = r.uint(v)
                    elif v.id == PIXEL_HEIGHT:
                        t.height = r.uint(v)
        found.append(t)
    return found


def _video_track(found: list[_Track], limits: ClipLimits) -> _Track:
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


def _block(r: Reader, el: Element, track: _Track, cluster_ms: int | None, scale: int,
           ) -> CodedFrame:
    if cluster_ms is None:
        raise malformed(f"block at byte {el.start} comes before its Cluster's Timestamp")
    _, numlen, _ = r.vint(el.start, el.end, "block track number", 8)
    number = int.from_bytes(r.data[el.start:el.start + numlen], "big") & ((1 << (7 * numlen)) - 1)
    if number != track.number:
        raise unsupported(f"block at byte {el.start} belongs to track {number}, which is not the "
                          "clip's video track")
    head = el.start + numlen
    if head + 3 > el.end:
        raise malformed(f"block at byte {el.start} is truncated")
    rel = struct.unpack(">h", r.data[head:head + 2])[0]
    flags = r.data[head + 2]
    if flags & 0x06:
        raise unsupported(f"block at byte {el.start} is laced (video frames are never laced)")
    ms = (cluster_ms + rel) * scale / 1e6
    key = bool(flags & 0x80) if el.id == SIMPLE_BLOCK else False
    return CodedFrame(head + 3, el.end - head - 3, ms, key)


def _cluster(r: Reader, cluster: Element, track: _Track, scale: int, blocks: list[CodedFrame],
             limit: int) -> int:
    """Append the Cluster's blocks to ``blocks``; return where the Cluster ends (an unknown-size
    one ends where the next Segment child begins)."""
    cluster_ms: int | None = None
    pos = cluster.start
    while pos < cluster.end:
        el = r.element(pos, cluster.end)
        if cluster.unknown and el.id in LEVEL1:
            return pos
        if el.unknown:
            raise malformed(f"element {el.id:#x} at byte {pos} has an unknown size")
        pos = el.end
        if el.id == CLUSTER_TIMESTAMP:
            cluster_ms = r.uint(el)
        elif el.id in (SIMPLE_BLOCK, BLOCK_GROUP):
            blocks.append(_block(r, _the_block(r, el), track, cluster_ms, scale))
            if len(blocks) > limit:
                raise ClipRefused(422, "too_many_frames", f"more than {limit} frames")
        elif el.id not in CLUSTER_SKIPPED:
            raise malformed(f"unexpected element {el.id:#x} at byte {el.start} in a Cluster")
    return pos


def _the_block(r: Reader, el: Element) -> Element:
    """A SimpleBlock itself; the one Block of a BlockGroup."""
    if el.id == SIMPLE_BLOCK:
        return el
    blocks: list[Element] = []
    others: list[Element] = []
    for child in r.children(el):
        (blocks if child.id == BLOCK else others).append(child)
    if len(blocks) != 1 or any(o.id not in GROUP_SKIPPED for o in others):
        raise malformed(f"BlockGroup at byte {el.start} does not hold exactly one Block")
    return blocks[0]


def _sniff(data: bytes | memoryview) -> None:
    head = bytes(data[:12])
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("ascii", "replace")
        raise unsupported(f"the clip is an MP4/ISO media file (brand {brand!r}), not WebM")
    for magic, what in OTHER_MAGIC.items():
        if head.startswith(magic):
            raise unsupported(f"the clip is {what}, not WebM")
    if not head.startswith(EBML_MAGIC):
        raise unsupported("the clip is not an EBML/WebM file (no EBML header)")


def inspect(data: bytes | memoryview, limits: ClipLimits) -> ClipInfo:
    """Check a clip from its headers (nothing decoded); raise :class:`ClipRefused` with the
    reason for anything the hub does not accept."""
    if len(data) > limits.max_bytes:
        raise ClipRefused(413, "too_large", f"clip of {len(data)} bytes exceeds the limit of "
                                            f"{limits.max_bytes}")
    _sniff(data)
    r = Reader(data)
    top = Element(0, 0, len(data), False)
    elements = list(_top_level(r, top))
    head, segment = elements[0], elements[1]
    _ebml_header(r, head)
    scale, declared, found = 1_000_000, None, None
    blocks: list[CodedFrame] = []
    pos = segment.start
    while pos < segment.end:
        el = r.element(pos, segment.end)
        if el.unknown and el.id != CLUSTER:
            raise malformed(f"element {el.id:#x} at byte {pos} has an unknown size")
        if el.id == INFO:
            scale, declared = _info(r, el)
        elif el.id == TRACKS:
            if found is not None:
                raise malformed("two Tracks elements")
            found = _tracks(r, el)
        elif el.id == CLUSTER:
            if found is None:
                raise malformed(f"Cluster at byte {pos} comes before the Tracks")
            pos = _cluster(r, el, _video_track(found, limits), scale, blocks, limits.max_frames)
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
    _sniff(head)
    r = Reader(head)
    el = r.element(0, len(head))
    if el.id != EBML or el.unknown:
        raise malformed("the file does not start with an EBML header of known size")
    _ebml_header(r, el)


def _top_level(r: Reader, top: Element) -> Iterator[Element]:
    """The EBML header and the Segment; nothing but Void may follow."""
    head = r.element(0, top.end)
    if head.id != EBML or head.unknown:
        raise malformed("the file does not start with an EBML header of known size")
    yield head
    segment = r.element(head.end, top.end)
    if segment.id != SEGMENT:
        raise malformed(f"element {segment.id:#x} after the EBML header is not a Segment")
    yield segment
    pos = segment.end
    while pos < top.end:
        el = r.element(pos, top.end)
        if el.id != VOID or el.unknown:
            raise malformed(f"unexpected element {el.id:#x} at byte {pos} after the Segment")
        pos = el.end


def _duration(blocks: list[CodedFrame], declared: float | None, scale: int, t: _Track,
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
