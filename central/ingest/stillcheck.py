"""An event still's JPEG, checked from its markers before it is decoded, then decoded once.

:func:`check_still` accepts only what the box's still encoder makes: a JPEG (SOI marker) whose
first frame header (SOF0, SOF1 or SOF2: baseline, extended or progressive Huffman) gives a size
within :class:`StillLimits` and 1 or 3 components; the markers before it are walked with their
lengths bounded by the file (nothing is read past the end, a marker count is bounded). Only
then is it decoded, and the decoded picture must have the header's size. Anything else raises
:class:`~central.ingest.ebml.ClipRefused` with the status the upload answers.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass

import cv2
import numpy as np

from central.ingest.ebml import ClipRefused

log = logging.getLogger(__name__)

SOF_MARKERS = (0xC0, 0xC1, 0xC2)
"""Frame headers accepted: baseline, extended sequential and progressive Huffman JPEG."""
MAX_MARKERS = 64
"""Segments read before the frame header; the box's encoder writes about five."""


@dataclass(frozen=True)
class StillLimits:
    """What the hub accepts (``[clips]`` ``still_*`` of the hub config)."""

    max_bytes: int
    max_width: int
    max_height: int


@dataclass(frozen=True)
class StillInfo:
    width: int
    height: int


def _refuse(error: str, message: str, status: int = 422) -> ClipRefused:
    return ClipRefused(status, error, message)


def header_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from the JPEG's frame header, read without decoding."""
    if not data.startswith(b"\xff\xd8"):
        raise _refuse("not_a_jpeg", "the still does not start with a JPEG SOI marker", 415)
    pos = 2
    for _ in range(MAX_MARKERS):
        while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise _refuse("malformed", f"no JPEG marker at byte {pos}")
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise _refuse("malformed", f"JPEG segment at byte {pos} runs past the end")
        if marker in SOF_MARKERS:
            if length < 8:
                raise _refuse("malformed", f"short JPEG frame header at byte {pos}")
            precision, height, width, comps = struct.unpack(">BHHB", data[pos + 4:pos + 10])
            if precision != 8 or comps not in (1, 3) or width == 0 or height == 0:
                raise _refuse("unsupported", f"JPEG of {comps} component(s), {precision} bits, "
                              f"{width}x{height}: the hub takes 8-bit grey or colour stills")
            return width, height
        if marker in (0xD9, 0xDA) or (0xC3 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)):
            raise _refuse("unsupported", f"JPEG marker 0x{marker:02X} before any accepted frame header")
        pos += 2 + length
    raise _refuse("malformed", f"no JPEG frame header in the first {MAX_MARKERS} segments")


def check_still(data: bytes, limits: StillLimits) -> StillInfo:
    """The checked size of a still; :class:`ClipRefused` for anything the hub does not take."""
    if len(data) > limits.max_bytes:
        raise _refuse("too_large", f"still of {len(data)} bytes exceeds {limits.max_bytes}", 413)
    width, height = header_size(data)
    if width > limits.max_width or height > limits.max_height:
        raise _refuse("too_large", f"still of {width}x{height} exceeds "
                      f"{limits.max_width}x{limits.max_height}", 413)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise _refuse("not_a_jpeg", "the still does not decode as a JPEG picture")
    if image.shape[1] != width or image.shape[0] != height:
        raise _refuse("malformed", f"the still decodes to {image.shape[1]}x{image.shape[0]}, "
                      f"its header says {width}x{height}")
    return StillInfo(width, height)
