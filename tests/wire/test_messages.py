"""The wire contract: schemas refuse what the design forbids; helpers behave."""

from __future__ import annotations

import re

import pytest

from edge.wire.messages import (
    MessageError,
    decode,
    encode,
    parse_topic,
    uuid7,
    validate,
)
from tests.kits.samples import sample_event


def test_sample_event_validates_and_roundtrips() -> None:
    msg = sample_event()
    validate("event", msg)
    assert decode("event", encode(msg), "marseille", "cam-042") == msg


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(50)]
    pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    assert all(re.match(pattern, i) for i in ids)
    assert len(set(ids)) == 50
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)


@pytest.mark.parametrize(
    "field, value",
    [
        ("frame", "AAAA"),  # extra field: a frame must never ride along
        ("embedding", [0.1, 0.2]),
        ("type", "face_match"),
        ("severity", "panic"),
        ("started_at", "yesterday"),
        ("seq", -1),
        ("objects", [{"label": "person", "score": 0.9, "bbox": [0.1, 0.1, 0.1, 0.1], "age": 34}]),
        ("objects", [{"label": "person", "score": 1.5, "bbox": [0.1, 0.1, 0.1, 0.1]}]),
        ("measure", {"count": "many"}),
        ("clip", {"status": "uploaded", "sha256": None, "url": "http://x"}),
    ],
)
def test_schema_refuses(field: str, value: object) -> None:
    with pytest.raises(MessageError):
        validate("event", sample_event(**{field: value}))


def test_decode_refuses_camera_mismatch_and_oversize() -> None:
    with pytest.raises(MessageError, match="published under"):
        decode("event", encode(sample_event()), "marseille", "cam-043")
    with pytest.raises(MessageError, match="exceeds"):
        decode("event", b"{" + b" " * 70_000 + b"}", "marseille", "cam-042")


def test_topics() -> None:
    t = parse_topic("vigie/v1/marseille/cam-042/event")
    assert (t.site, t.camera, t.suffix) == ("marseille", "cam-042", "event")
    for bad in ("vigie/v2/a/b/event", "vigie/v1/a/event", "vigie/v1/A B/cam/event"):
        with pytest.raises(MessageError):
            parse_topic(bad)


def test_state_payload() -> None:
    assert decode("state", b"online", "a", "b") == "online"
    with pytest.raises(MessageError):
        decode("state", b"rebooting", "a", "b")
