"""The box-local track index: rows, filters, time overlap, retention purge; persons carry no
attribute; previews are anonymised (YuNet at 0.5 finds no face in any)."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import DetectorConfig
from edge.detect import make_detector
from edge.modelstore import ModelStore
from edge.privacy.faces import FaceFinder
from edge.search.answer import result_of
from edge.search.index import IndexError_, IndexQuery, IndexRow, TrackIndex, direction_of
from edge.search.preview import MAX_PREVIEW_BYTES, encode_preview, make_preview
from edge.wire.messages import SEARCH_RESP_SCHEMA, MessageError, validate

T0 = 1_800_000_000.0


def test_query_filters_and_overlap(tmp_path: Path) -> None:
    idx = TrackIndex(tmp_path / "index.sqlite")
    idx.add_many([
        IndexRow("car", T0, T0 + 10, ("port", "quay"), "left", "red", 0.8, b"\xff\xd8x"),
        IndexRow("car", T0 + 100, T0 + 400, (), "right", "white", 0.9, None),
        IndexRow("bus", T0 + 200, T0 + 210, ("quay",), "up", "red", 0.7, None),
        IndexRow("person", T0 + 50, T0 + 60, ("port",), "down"),
    ])
    def ids(**kw: object) -> list[str]:
        q = IndexQuery(**{"start": T0 - 1, "end": T0 + 1000, **kw})  # type: ignore[arg-type]
        return [f"{r.label}:{r.colour}" for r in idx.query(q)]

    assert ids() == ["car:red", "person:None", "car:white", "bus:red"]
    assert ids(label="car", colour="red") == ["car:red"]
    assert ids(colour="red") == ["car:red", "bus:red"]
    assert ids(zone="quay") == ["car:red", "bus:red"]
    assert ids(zone="qua") == []  # whole zone names only
    assert ids(direction="right") == ["car:white"]
    assert ids(colour="green") == []
    assert ids(limit=2) == ["car:red", "person:None"]
    # a track overlapping the window is found even when it started before it
    assert [r.label for r in idx.query(IndexQuery(T0 + 300, T0 + 350))] == ["car"]
    assert idx.query(IndexQuery(T0 + 500, T0 + 600)) == []
    assert idx.query(IndexQuery(T0, T0 + 5), with_previews=False)[0].preview is None
    assert idx.query(IndexQuery(T0, T0 + 5))[0].preview == b"\xff\xd8x"


def test_persons_get_no_attributes(tmp_path: Path) -> None:
    idx = TrackIndex(tmp_path / "index.sqlite")
    with pytest.raises(IndexError_, match="person track may carry no colour"):
        idx.add(IndexRow("person", T0, T0 + 1, (), "up", colour="red"))
    with pytest.raises(IndexError_, match="no colour and no preview"):
        idx.add(IndexRow("person", T0, T0 + 1, (), "up", preview=b"\xff\xd8"))
    assert idx.count() == 0
    # even a row that got there would leave without them: result_of drops them
    row = IndexRow("person", T0, T0 + 1, (), "up", "red", 0.5, b"\xff\xd8", id=3)
    res = result_of(row).to_wire()
    assert res["colour"] is None and res["preview"] is None and res["colour_confidence"] is None


def test_no_schema_field_lets_a_person_attribute_leave() -> None:
    item = SEARCH_RESP_SCHEMA["properties"]["results"]["items"]
    assert item["additionalProperties"] is False
    assert set(item["properties"]) == {"row", "class", "first_seen", "last_seen", "zones",
                                       "direction", "colour", "colour_confidence", "preview"}
    base = {"schema": "vigie.search.resp/1", "site": "s", "camera": "c",
            "request_id": "0192f0c1-0000-7000-8000-000000000000", "status": "results",
            "reason": None, "part": 0, "last": True, "seq": 1}
    person = {"row": 1, "class": "person", "first_seen": "2026-11-24T10:00:00.000Z",
              "last_seen": "2026-11-24T10:00:05.000Z", "zones": [], "direction": "up",
              "colour": None, "colour_confidence": None, "preview": None}
    validate("search/resp", {**base, "results": [person]})
    for extra in ({"colour": "red"}, {"colour_confidence": 0.9}, {"preview": "/9j/AAAA"},
                  {"clothing": "red"}, {"height_m": 1.8}):
        with pytest.raises(MessageError):
            validate("search/resp", {**base, "results": [{**person, **extra}]})
    car = {**person, "class": "car", "colour": "red", "colour_confidence": 0.9, "preview": "/9j/AAAA"}
    validate("search/resp", {**base, "results": [car]})
    with pytest.raises(MessageError):  # only a JPEG, and only so big
        validate("search/resp", {**base, "results": [{**car, "preview": "iVBORw0KGgo="}]})
    with pytest.raises(MessageError):
        validate("search/resp", {**base, "results": [{**car, "preview": "/9j/" + "A" * 17000}]})
    with pytest.raises(MessageError):  # a refusal carries nothing from the index
        validate("search/resp", {**base, "status": "refused", "reason": "no", "results": [car]})


def test_purge_removes_rows_past_retention(tmp_path: Path) -> None:
    idx = TrackIndex(tmp_path / "index.sqlite")
    now = time.time()
    idx.add_many([IndexRow("car", now - d * 86400 - 5, now - d * 86400, (), "up", "red", 0.5, b"x")
                  for d in (0.5, 3, 9.9, 10.1, 25)])
    assert idx.purge(10, now=now) == 2
    assert idx.count() == 3
    assert idx.oldest() == pytest.approx(now - 9.9 * 86400 - 5)
    idx.close()
    assert TrackIndex(tmp_path / "index.sqlite").count() == 3  # on disk, not in memory


@pytest.mark.parametrize(("first", "last", "expected"), [
    ((0.5, 0.5), (0.9, 0.55), "right"), ((0.5, 0.5), (0.1, 0.6), "left"),
    ((0.5, 0.9), (0.45, 0.1), "up"), ((0.5, 0.1), (0.5, 0.9), "down"),
    ((0.5, 0.5), (0.52, 0.52), "stationary"),
])
def test_direction(first: tuple[float, float], last: tuple[float, float], expected: str) -> None:
    assert direction_of(first, last) == expected


@pytest.mark.parametrize("image", ["face.jpg", "grace_hopper.png", "two_people.png"])
def test_previews_hide_every_face(image: str, media: Path, model_store: ModelStore) -> None:
    """Worst case: a vehicle box as large as the whole picture, so every face and person in it
    is inside the preview. YuNet at 0.5 finds faces in the same still encoded without
    anonymisation (so the test can fail) and none in the preview."""
    frame = cv2.imread(str(media / "images" / image))
    assert frame is not None
    check = FaceFinder(model_store.path("yunet"), 0.5, 2.0)
    detector = make_detector(DetectorConfig(score_threshold=0.3), model_store)
    persons = [d.box for d in detector.detect(frame) if d.label == "person"]
    h, w = frame.shape[:2]
    raw = cv2.imdecode(np.frombuffer(encode_preview(frame), np.uint8), cv2.IMREAD_COLOR)
    assert check.find(raw), f"YuNet finds no face in an unblurred preview of {image}"
    blur = FaceFinder(model_store.path("yunet"), 0.3, 2.0)  # the box's setting (clips default)
    data = make_preview(frame, (0, 0, w, h), persons, blur)
    assert data[:2] == b"\xff\xd8" and len(data) <= MAX_PREVIEW_BYTES
    preview = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert check.find(preview) == [], f"a face is visible in the preview of {image}"
