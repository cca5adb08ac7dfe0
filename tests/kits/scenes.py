"""The scenes the tests run a box on: a sample video with its zones, lines and rules, rendered
to the TOML a box reads; and the hub's TOML beside it. One builder, keyword arguments for
what a test changes (broker, data dir, clips, upload, audio, looping, pacing...)."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2

from central.devtools.broker import wait_port
from central.devtools.demo import DEMO_ZONE
from edge.config import BoxConfig, parse
from tests.conftest import wait_for

PERSON_VIDEO = "video/one-by-one-person-detection.mp4"
"""Six visitors, one at a time, stop at the standing table and leave (1394 frames, 10 fps)."""
TRAFFIC_VIDEO = "video/traffic_frames.mp4"
"""Twenty frames of street traffic: enough for an agent to start, run and stop."""
CAR_VIDEO = "video/car-detection.mp4"

TABLE: dict[str, Any] = {"name": "table", "polygon": DEMO_ZONE}
"""The zone around the standing table of the person video."""
EXIT: dict[str, Any] = {"name": "exit", "a": [0.75, 1.0], "b": [0.75, 0.4], "classes": ["person"]}
"""The line the visitors of the person video cross, left to right (``forward``), to leave."""
SHOP_WINDOW: dict[str, Any] = {"name": "shop-window",
                               "polygon": [[0.0, 0.0], [0.15, 0.0], [0.15, 0.3], [0.0, 0.3]]}
"""A privacy mask over the top-left corner (15 % x 30 % of the frame)."""

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def intrusion(zone: str = "table", classes: Sequence[str] | None = ("person",),
              **settings: Any) -> dict[str, Any]:
    """An intrusion rule on ``zone`` (``classes=None``: the rule's default classes)."""
    rule: dict[str, Any] = {"type": "intrusion", "zone": zone}
    if classes is not None:
        rule["classes"] = list(classes)
    return {**rule, **settings}


def box_scene(
    video: Path | str, *, site: str = "test", camera: str = "cam-01",
    data_dir: Path | str = "box-data", models_dir: Path | None = None,
    realtime: bool | None = False, loop: bool = False,
    broker_port: int | None = None, broker: Mapping[str, Any] | None = None,
    health_s: float | None = 1, zones: Sequence[Mapping[str, Any]] = (),
    lines: Sequence[Mapping[str, Any]] = (), rules: Sequence[Mapping[str, Any]] = (),
    masks: Sequence[Mapping[str, Any]] = (), upload: tuple[str, str] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """A box config as a document: ``video`` as its source, replayed as fast as it decodes
    unless ``realtime`` (None leaves the key out). ``broker`` is the whole ``[broker]`` table
    (else ``broker_port`` on loopback); ``upload`` is (hub_url, device_token); each of
    ``sections`` (clips, ledger, motion, stats, audio, detector, calibration...) is a table;
    a top-level key (mode...) is a plain value."""
    doc: dict[str, Any] = {"site": site, "camera": camera, "data_dir": str(data_dir)}
    if models_dir is not None:
        doc["models_dir"] = str(models_dir)
    doc["source"] = {"url": str(video)}
    if realtime is not None:
        doc["source"]["realtime"] = realtime
    if loop:
        doc["source"]["loop"] = True
    if broker is not None:
        doc["broker"] = dict(broker)
    elif broker_port is not None:
        doc["broker"] = {"port": broker_port}
    if health_s is not None:
        doc["health"] = {"interval_s": health_s}
    if upload is not None:
        doc["upload"] = {"hub_url": upload[0], "device_token": upload[1]}
    doc.update(sections)
    for key, tables in (("privacy_masks", masks), ("zones", zones), ("lines", lines),
                        ("rules", rules)):
        if tables:
            doc[key] = [dict(t) for t in tables]
    return doc


def traffic_box(tmp_path: Path, media: Path, models: Path, port: int,
                audio: Mapping[str, Any] | None = None, health_s: float = 3600) -> BoxConfig:
    """A box in Marseille on the traffic frames, models from ``models``, broker on ``port``,
    ``audio`` its [audio] table (none: audio off)."""
    extra = {"audio": dict(audio)} if audio is not None else {}
    doc = box_scene(media / TRAFFIC_VIDEO, site="marseille", camera="cam-042",
                    data_dir=tmp_path / "data", models_dir=models, broker_port=port,
                    health_s=health_s, **extra)
    return load_box(tmp_path / "box.toml", doc)


def hub_scene(*, broker_port: int | None = None, port: int | None = None,
              database: Path | str = "hub.sqlite", api_tokens: Mapping[str, str] | None = None,
              device_tokens: Mapping[str, tuple[str, str]] | None = None,
              clips_dir: str | None = None, **sections: Any) -> dict[str, Any]:
    """A hub config as a document: ``device_tokens`` maps a token to its (site, camera);
    each of ``sections`` is a table (privacy...) or a top-level value (max_clock_skew_s...)."""
    doc: dict[str, Any] = {"database": str(database)}
    if port is not None:
        doc["port"] = port
    if broker_port is not None:
        doc["broker"] = {"port": broker_port}
    if api_tokens:
        doc["api_tokens"] = dict(api_tokens)
    if device_tokens:
        doc["device_tokens"] = {t: {"site": s, "camera": c} for t, (s, c) in device_tokens.items()}
    if clips_dir is not None:
        doc["clips"] = {"dir": clips_dir}
    return {**doc, **sections}


def write_person_scene(tmp: Path, video: Path, *, broker_port: int, http_port: int, token: str,
                       device: str | None = None, upload_port: int | None = None,
                       clips: Mapping[str, Any] | None = None,
                       masks: Sequence[Mapping[str, Any]] = ()) -> tuple[Path, Path]:
    """``hub.toml`` and ``box.toml`` in ``tmp`` for a hub (HTTP on ``http_port``, ``token``
    Alice's) and a box on ``video`` raising an intrusion (a person 2 s at the table). With
    ``device`` the box uploads its clips (``clips`` its [clips] table) to ``upload_port``
    (default: the hub's)."""
    hub = hub_scene(port=http_port, broker_port=broker_port, api_tokens={token: "alice"})
    box = box_scene(video, broker_port=broker_port, masks=masks, zones=[TABLE],
                    rules=[intrusion(dwell_s=2)])
    if device is not None:
        hub = {**hub, **hub_scene(device_tokens={device: ("test", "cam-01")}, clips_dir="hub-clips")}
        box = {**box, "upload": {"hub_url": f"http://127.0.0.1:{upload_port or http_port}",
                                 "device_token": device}, "clips": dict(clips or {})}
    return write(tmp / "hub.toml", hub), write(tmp / "box.toml", box)


def serve_hub(spawn: Any, hub_cfg: Path, http: int) -> tuple[Any, Any]:
    """``vigie hub ingest`` and ``vigie hub serve`` on ``hub_cfg``, once the server answers on
    ``http`` and the ingest has subscribed."""
    ingest = spawn("ingest", "hub", "ingest", "--config", str(hub_cfg))
    serve = spawn("serve", "hub", "serve", "--config", str(hub_cfg))
    assert wait_port(http, 30, serve.proc), serve.text()
    wait_for(lambda: "subscribed" in ingest.text(), 20, what="ingest subscription")
    return ingest, serve


def trim(src: Path, dst: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``src`` at its frame rate, as Motion-JPEG at ``dst`` (an
    .avi; near-lossless, so detection sees what it sees in the source)."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS)
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    try:
        for _ in range(frames):
            ok, image = cap.read()
            if not ok:
                raise ValueError(f"{src} has fewer than {frames} frames")
            out.write(image)
    finally:
        cap.release()
        out.release()
    return dst


def table_of(toml_body: str) -> dict[str, Any]:
    """A table written as TOML lines (a kit's ``[broker]`` body) as a mapping."""
    return tomllib.loads(toml_body)


def to_toml(doc: Mapping[str, Any]) -> str:
    """``doc`` as TOML: plain keys first, then tables, then arrays of tables."""
    out = [f"{_key(k)} = {_value(v)}" for k, v in doc.items() if not _is_table(v)]
    for k, v in doc.items():
        if isinstance(v, Mapping):
            out.append(f"[{_key(k)}]")
            out += [f"{_key(kk)} = {_value(vv)}" for kk, vv in v.items()]
    for k, v in doc.items():
        if _is_table(v) and not isinstance(v, Mapping):
            for item in v:
                out.append(f"[[{_key(k)}]]")
                out += [f"{_key(kk)} = {_value(vv)}" for kk, vv in item.items()]
    return "\n".join(out) + "\n"


def write(path: Path, doc: Mapping[str, Any]) -> Path:
    """Write ``doc`` as TOML at ``path``; returns ``path``."""
    path.write_text(to_toml(doc), encoding="utf-8")
    return path


def load_box(path: Path, doc: Mapping[str, Any]) -> BoxConfig:
    """``doc`` as the box reads it from ``path`` (nothing written)."""
    return parse(to_toml(doc), path)


def _is_table(v: Any) -> bool:
    return isinstance(v, Mapping) or (
        isinstance(v, list) and bool(v) and all(isinstance(i, Mapping) for i in v))


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else json.dumps(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str | Path):
        return json.dumps(str(v), ensure_ascii=False)
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, Sequence):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")
