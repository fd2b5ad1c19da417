"""Camera geometry (spec §7): the network's crop camera -> the original image, and -> a perspective camera.

TCMR predicts a weak-perspective camera ``cam`` = (s, tx, ty) for the 224 × 224 crop: a body point (X, Y, Z)
(metres, OpenCV camera axes: x right, y down, z forward) lands on crop-normalised coordinates
(x_c, y_c) ≈ s·(X + tx, Y + ty) ∈ [−1, 1]. ``crop_bbox_cxcys`` = (cx, cy, b) is the crop square in source
pixels (b = crop side, i.e. the tracker box side already multiplied by the bbox scale).

- :func:`crop_cam_to_orig` — the official ``orig_cam`` = (sx, sy, tx', ty') for the whole image;
  :func:`image_size_from_orig_cam` reads the image size back from it (files that store no size).
- :func:`cam_to_transl` — translation T of the SMPL origin for a pinhole camera with focal f (pixels) and the
  principal point at the image centre, such that projecting V + T reproduces the weak-perspective image to
  first order in the body's depth: T = (tx + 2(cx − W/2)/(s·b), ty + 2(cy − H/2)/(s·b), 2f/(s·b)).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

_EPS = 1e-9


def _split(cam, crop_bbox_cxcys):
    cam = np.asarray(cam, dtype=np.float64).reshape(-1, 3)
    box = np.asarray(crop_bbox_cxcys, dtype=np.float64).reshape(-1, 3)
    if cam.shape[0] != box.shape[0]:
        raise ValueError(f"cam has {cam.shape[0]} rows but crop_bbox_cxcys has {box.shape[0]}")
    return cam[:, 0], cam[:, 1], cam[:, 2], box[:, 0], box[:, 1], box[:, 2]


def crop_cam_to_orig(cam, crop_bbox_cxcys, img_w: float, img_h: float) -> np.ndarray:
    """Official ``convert_crop_cam_to_orig_img``. cam: (N, 3) (s, tx, ty); crop_bbox_cxcys: (N, 3) (cx, cy, b).

    Returns orig_cam (N, 4) float64 = (sx, sy, tx', ty') with sx = s·b/W, sy = s·b/H,
    tx' = (cx − W/2)/(W/2)/sx + tx, ty' = (cy − H/2)/(H/2)/sy + ty. Projection: x_n = sx·(X + tx'),
    pixel u = W/2·(1 + x_n) (and the same for y, v with H).
    """
    s, tx, ty, cx, cy, b = _split(cam, crop_bbox_cxcys)
    hw, hh = img_w / 2.0, img_h / 2.0
    sx = s * b / img_w
    sy = s * b / img_h
    return np.stack([sx, sy, (cx - hw) / hw / sx + tx, (cy - hh) / hh / sy + ty], axis=-1)


def image_size_from_orig_cam(cam, crop_bbox_cxcys, orig_cam) -> tuple[int, int]:
    """The image (W, H) in pixels that :func:`crop_cam_to_orig` ran with: W = s·b/sx, H = s·b/sy.

    cam: (N, 3), crop_bbox_cxcys: (N, 3), orig_cam: (N, 4); the median over the rows, rounded to whole pixels.
    """
    s, _, _, _, _, b = _split(cam, crop_bbox_cxcys)
    oc = np.asarray(orig_cam, dtype=np.float64).reshape(-1, 4)
    width, height = np.median((s * b)[:, None] / oc[:, :2], axis=0)
    return int(round(float(width))), int(round(float(height)))


def estimate_focal_length_px(img_w: float, img_h: float, focal_length_px: Optional[float] = None) -> float:
    """Focal length in pixels: ``focal_length_px`` when given, else the image diagonal sqrt(W² + H²)
    (≈ 53° horizontal field of view for 16:9, a typical phone/camcorder lens)."""
    if focal_length_px is not None:
        f = float(focal_length_px)
        if not (f > 0 and math.isfinite(f)):
            raise ValueError(f"focal length must be a positive number of pixels, got {focal_length_px}")
        return f
    return float(math.hypot(img_w, img_h))


def cam_to_transl(cam, crop_bbox_cxcys, img_w: float, img_h: float, focal_px: float) -> np.ndarray:
    """Camera-space translation of the SMPL origin (OpenCV camera frame, metres). cam, crop_bbox_cxcys: (N, 3).

    Returns (N, 3) float64: T = (tx + 2(cx − W/2)/(s·b), ty + 2(cy − H/2)/(s·b), 2f/(s·b)). The posed SMPL
    vertices V (no translation, as the network outputs them) sit at V + T in front of a pinhole camera with
    focal ``focal_px`` and the principal point at the image centre, where the person is in the footage.
    """
    s, tx, ty, cx, cy, b = _split(cam, crop_bbox_cxcys)
    sb = np.where(np.abs(s * b) < _EPS, np.copysign(_EPS, s * b + 0.0), s * b)
    return np.stack([tx + 2.0 * (cx - img_w / 2.0) / sb, ty + 2.0 * (cy - img_h / 2.0) / sb, 2.0 * focal_px / sb],
                    axis=-1)


def project_perspective(points_cam, focal_px: float, img_w: float, img_h: float) -> np.ndarray:
    """Pinhole projection. points_cam: (..., 3) OpenCV camera coordinates -> (..., 2) pixels (u, v)."""
    p = np.asarray(points_cam, dtype=np.float64)
    z = p[..., 2:3]
    return focal_px * p[..., :2] / z + np.array([img_w / 2.0, img_h / 2.0])


def project_orig_cam(points, orig_cam, img_w: float, img_h: float) -> np.ndarray:
    """Weak-perspective projection with ``orig_cam``. points: (N, J, 3), orig_cam: (N, 4) -> (N, J, 2) pixels."""
    p = np.asarray(points, dtype=np.float64)
    oc = np.asarray(orig_cam, dtype=np.float64)[:, None, :]  # (N, 1, 4)
    xn = oc[..., 0] * (p[..., 0] + oc[..., 2])
    yn = oc[..., 1] * (p[..., 1] + oc[..., 3])
    return np.stack([img_w / 2.0 * (1.0 + xn), img_h / 2.0 * (1.0 + yn)], axis=-1)
