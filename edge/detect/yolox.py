"""YOLOX pre- and post-processing (letterbox, grid decode, class-wise NMS), runtime-free."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edge.records import Detection

STRIDES = (8, 16, 32)


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio into a ``size`` square padded with 114, placed top-left
    as YOLOX was trained. Returns the NCHW float32 BGR tensor and the scale ratio."""
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    nh, nw = round(h * r), round(w * r)
    canvas = np.full((size, size, 3), 114, dtype=np.uint8)
    canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    tensor = canvas.transpose(2, 0, 1)[None].astype(np.float32)
    return np.ascontiguousarray(tensor), r


_GRID_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _grids(size: int) -> tuple[np.ndarray, np.ndarray]:
    if size not in _GRID_CACHE:
        grids, strides = [], []
        for s in STRIDES:
            n = size // s
            yv, xv = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
            strides.append(np.full((n * n, 1), s))
        _GRID_CACHE[size] = (
            np.concatenate(grids).astype(np.float32),
            np.concatenate(strides).astype(np.float32),
        )
    return _GRID_CACHE[size]


def decode(
    raw: np.ndarray,
    size: int,
    ratio: float,
    labels: Sequence[str],
    score_threshold: float,
    nms_iou: float,
    keep: set[int] | None,
    image_wh: tuple[int, int],
) -> list[Detection]:
    """Turn the raw ``[1, N, 5+C]`` output into detections in original image pixels."""
    out = raw[0]
    grid, stride = _grids(size)
    if out.shape[0] != grid.shape[0]:
        raise ValueError(f"output has {out.shape[0]} anchors, expected {grid.shape[0]} for {size}")
    xy = (out[:, :2] + grid) * stride
    wh = np.exp(np.clip(out[:, 2:4], -10, 10)) * stride
    cls_scores = out[:, 5:] * out[:, 4:5]
    cls = cls_scores.argmax(1)
    score = cls_scores[np.arange(len(cls)), cls]
    mask = score >= score_threshold
    if keep is not None:
        mask &= np.isin(cls, list(keep))
    if not mask.any():
        return []
    xy, wh, cls, score = xy[mask], wh[mask], cls[mask], score[mask]
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1) / ratio
    w, h = image_wh
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    keep_idx = nms_per_class(boxes, score, cls, nms_iou)
    return [
        Detection(labels[int(cls[i])], float(score[i]), tuple(float(v) for v in boxes[i]))  # type: ignore[arg-type]
        for i in keep_idx
    ]


def nms_per_class(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> list[int]:
    """Class-wise non-maximum suppression; returns kept indices, best score first."""
    # Offset boxes by class so that boxes of different classes never overlap.
    offset = classes[:, None].astype(np.float32) * (boxes.max() + 1.0)
    shifted = boxes + offset
    x1, y1, x2, y2 = shifted.T
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort()[::-1]
    kept: list[int] = []
    while order.size:
        i = int(order[0])
        kept.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        ov = inter / (areas[i] + areas[order[1:]] - inter + 1e-9)
        order = order[1:][ov <= iou]
    return kept
