"""The official per-person crop (spec §2.2, §7) and ImageNet normalisation.

A tracker box ``bbox_cxcys`` = (cx, cy, side) with side = max(box width, box height) is cut out as a square
of side ``scale · side`` centred on (cx, cy), warped to 224 × 224 with OpenCV's bilinear ``warpAffine``
(black outside the frame). The box centre lands on crop pixel coordinate 112.0 (not 111.5), exactly as the
official demo does, so features match the released network's training distribution.
"""

from __future__ import annotations

import numpy as np

from .config import CropConfig

CROP_SIZE = CropConfig.crop_size  # 224
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # RGB
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def crop_affine(bbox_cxcys, scale: float = CropConfig.bbox_scale, crop_size: int = CROP_SIZE) -> np.ndarray:
    """(2, 3) float64 matrix M mapping source pixel (u, v, 1) to crop pixel: u' = k·u + 112 − k·cx, k = C/(scale·side)."""
    cx, cy, side = (float(x) for x in np.asarray(bbox_cxcys, dtype=np.float64)[:3])
    k = crop_size / (scale * side)
    half = crop_size / 2.0
    return np.array([[k, 0.0, half - k * cx], [0.0, k, half - k * cy]])


def crop_person(frame_rgb_u8: np.ndarray, bbox_cxcys, scale: float = CropConfig.bbox_scale,
                crop_size: int = CROP_SIZE) -> np.ndarray:
    """Official crop. frame_rgb_u8: (H, W, 3) uint8; bbox_cxcys: (3,) tracker box (cx, cy, side) in source pixels.

    Returns (crop_size, crop_size, 3) uint8: the square of side ``scale · side`` centred on (cx, cy), bilinear,
    black where it leaves the frame. (Channel order is kept: RGB in, RGB out.)
    """
    import cv2

    side = float(np.asarray(bbox_cxcys, dtype=np.float64)[2])
    if not np.isfinite(side) or side <= 0:
        raise ValueError(f"crop box side must be a positive number, got {side}")
    M = crop_affine(bbox_cxcys, scale, crop_size)
    return cv2.warpAffine(
        np.ascontiguousarray(frame_rgb_u8),
        M,
        (crop_size, crop_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


def crops_to_imagenet(crops_rgb_u8: np.ndarray) -> np.ndarray:
    """ToTensor + ImageNet Normalize, as torchvision does them in float32.

    crops_rgb_u8: (N, 224, 224, 3) uint8 -> (N, 3, 224, 224) float32, ((x / 255) − mean) / std per RGB channel.
    """
    x = np.asarray(crops_rgb_u8).astype(np.float32) / np.float32(255.0)  # (N, 224, 224, 3)
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # (N, 3, 224, 224)
