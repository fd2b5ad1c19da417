"""The official per-person crop (spec §2.2, §7) and ImageNet normalisation.

A tracker box ``bbox_cxcys`` = (cx, cy, side) with side = max(box width, box height) is cut out as a square
of side ``scale · side`` centred on (cx, cy), warped to 224 × 224 with OpenCV's bilinear ``warpAffine``
(black outside the frame). The box centre lands on crop pixel coordinate 112.0 (not 111.5), exactly as the
official demo does, so features match the released network's training distribution.
"""

from __future__ import annotations

import numpy as np

from ..config import CropConfig

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
    from .video import opencv

    cv2 = opencv()

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


def crop_people_torch(frame_rgb_u8, bbox_cxcys, scale: float = CropConfig.bbox_scale, crop_size: int = CROP_SIZE):
    """The official crop of several people in one frame, on the frame's torch device (the GPU path), normalised.

    frame_rgb_u8: (H, W, 3) uint8 torch tensor (any device); bbox_cxcys: (P, 3) tracker boxes (cx, cy, side)
    -> (P, 3, crop_size, crop_size) float32 ImageNet-normalised, as :func:`crops_to_imagenet` of
    :func:`crop_person` gives them. Same affine map (box centre on crop pixel 112.0), bilinear, black outside
    the frame; sampled in float (``grid_sample``) instead of OpenCV's 1/32-pixel fixed point and without
    rounding to uint8, so values differ from the CPU crop by at most about one grey level.
    """
    import torch
    import torch.nn.functional as F

    device = frame_rgb_u8.device
    boxes = torch.as_tensor(np.asarray(bbox_cxcys, dtype=np.float64).reshape(-1, 3), device=device)
    if not bool(torch.all(torch.isfinite(boxes[:, 2]) & (boxes[:, 2] > 0))):
        raise ValueError("crop box sides must be positive numbers")
    height, width = int(frame_rgb_u8.shape[0]), int(frame_rgb_u8.shape[1])
    people = boxes.shape[0]
    k = crop_size / (scale * boxes[:, 2])  # (P,) crop pixels per source pixel
    j = torch.arange(crop_size, device=device, dtype=torch.float64) - crop_size / 2.0  # crop pixel − 112
    src_x = boxes[:, 0:1] + j[None, :] / k[:, None]  # (P, C) source pixel of each crop column
    src_y = boxes[:, 1:2] + j[None, :] / k[:, None]  # (P, C) ... of each crop row
    # grid_sample (align_corners=False): normalised x = (2·pixel + 1) / W − 1
    gx = ((2.0 * src_x + 1.0) / width - 1.0)[:, None, :].expand(people, crop_size, crop_size)
    gy = ((2.0 * src_y + 1.0) / height - 1.0)[:, :, None].expand(people, crop_size, crop_size)
    grid = torch.stack([gx, gy], dim=-1).reshape(1, people * crop_size, crop_size, 2).float()  # people stacked
    image = frame_rgb_u8.permute(2, 0, 1)[None].float()  # (1, 3, H, W), 0..255
    out = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = out.reshape(3, people, crop_size, crop_size).permute(1, 0, 2, 3)  # (P, 3, C, C)
    mean = torch.as_tensor(IMAGENET_MEAN, device=device)[None, :, None, None]
    std = torch.as_tensor(IMAGENET_STD, device=device)[None, :, None, None]
    return ((out / 255.0 - mean) / std).contiguous()
