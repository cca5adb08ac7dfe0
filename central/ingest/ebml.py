"""Bounded reading of a WebM file's EBML elements, and the refusal every clip check raises.

:class:`Reader` reads element ids and sizes from bytes, each read checked against its parent's
end (unknown sizes only where WebM allows them, element count and string sizes bounded,
anything malformed refused with the byte offset). The walk functions read the EBML header, the
Segment's Info and Tracks and its Clusters' blocks; :mod:`central.ingest.clipcheck` decides
from what they read whether the clip is one the hub accepts.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass

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
class CodedFrame:
    """One video block of the clip: where its payload is, and its time in milliseconds."""

    offset: int
    size: int
    ms: float
    key: bool


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


# -- the WebM walk -------------------------------------------------------------------------
@dataclass
class Track:
    number: int = 0
    type: int = 0
    codec: str = ""
    width: int = 0
    height: int = 0
    default_duration_ns: int = 0


def ebml_header(r: Reader, head: Element) -> None:
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


def segment_info(r: Reader, info: Element) -> tuple[int, float | None]:
    scale, duration = 1_000_000, None
    for el in r.children(info):
        if el.id == TIMESTAMP_SCALE:
            scale = r.uint(el)
            if not 1 <= scale <= 1_000_000_000:
                raise malformed(f"TimestampScale {scale} is out of range")
        elif el.id == DURATION:
            duration = r.float(el)
    return scale, duration


def read_tracks(r: Reader, tracks: Element) -> list[Track]:
    found: list[Track] = []
    for entry in r.children(tracks):
        if entry.id in (VOID, CRC32):
            continue
        if entry.id != TRACK_ENTRY:
            raise malformed(f"unexpected element {entry.id:#x} in Tracks")
        if len(found) >= 8:
            raise unsupported("more than 8 tracks")
        t = Track()
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


def _block(r: Reader, el: Element, track: Track, cluster_ms: int | None, scale: int,
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


def read_cluster(r: Reader, cluster: Element, track: Track, scale: int,
                 blocks: list[CodedFrame], limit: int) -> int:
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


def sniff(data: bytes | memoryview) -> None:
    head = bytes(data[:12])
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("ascii", "replace")
        raise unsupported(f"the clip is an MP4/ISO media file (brand {brand!r}), not WebM")
    for magic, what in OTHER_MAGIC.items():
        if head.startswith(magic):
            raise unsupported(f"the clip is {what}, not WebM")
    if not head.startswith(EBML_MAGIC):
        raise unsupported("the clip is not an EBML/WebM file (no EBML header)")


def top_level(r: Reader, top: Element) -> Iterator[Element]:
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


