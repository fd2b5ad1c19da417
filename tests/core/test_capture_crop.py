"""core.capture.crop: the official crop against a slow float bilinear oracle, the 112.0 centre, normalisation."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")

from core.capture.crop import IMAGENET_MEAN, IMAGENET_STD, crop_affine, crop_person, crops_to_imagenet  # noqa: E402


def oracle_crop(image: np.ndarray, bbox_cxcys, scale: float, size: int = 224, subpixel: int = 0):
    """Spec §7 literally: crop pixel (u', v') <- source (cx + (u' − 112)·S/224, cy + (v' − 112)·S/224), bilinear
    in float64, pixels outside the image are black. -> (crop (size, size, C) float64, inside (size, size) bool:
    the 2×2 support lies in the image). ``subpixel`` > 0 rounds source coordinates to 1/subpixel pixel first
    (OpenCV's fixed-point warp uses 1/32)."""
    cx, cy, side = bbox_cxcys
    S = scale * side
    h, w = image.shape[:2]
    img = np.asarray(image, dtype=np.float64)
    u = np.arange(size, dtype=np.float64)
    x = np.broadcast_to(cx + (u[None, :] - size / 2) * S / size, (size, size))
    y = np.broadcast_to(cy + (u[:, None] - size / 2) * S / size, (size, size))
    if subpixel:
        x, y = np.round(x * subpixel) / subpixel, np.round(y * subpixel) / subpixel
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]

    def pixel(yy, xx):  # black outside the image
        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        return np.where(ok[..., None], img[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], 0.0)

    out = ((1 - fy) * ((1 - fx) * pixel(y0, x0) + fx * pixel(y0, x0 + 1))
           + fy * ((1 - fx) * pixel(y0 + 1, x0) + fx * pixel(y0 + 1, x0 + 1)))
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return out, inside


@pytest.mark.parametrize("bbox_cxcys, scale", [
    ((150.3, 110.7, 140.0), 1.2),  # inside the frame, fractional centre
    ((30.0, 200.0, 180.0), 1.2),  # leaves the frame on two sides (black border)
    ((160.0, 120.0, 90.0), 1.1),  # VIBE's scale, upsampling
])
def test_crop_matches_float_bilinear_oracle(bbox_cxcys, scale):
    rng = np.random.default_rng(0)
    import cv2

    image = cv2.GaussianBlur(rng.integers(0, 256, size=(240, 320, 3)).astype(np.uint8), (0, 0), 1.5)
    crop = crop_person(image, np.array(bbox_cxcys), scale=scale)
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    # the plain float oracle: within 1 grey level wherever the bilinear support is inside the image
    expected, inside = oracle_crop(image.astype(np.float64), bbox_cxcys, scale)
    diff = np.abs(crop.astype(np.float64) - expected).max(axis=-1)
    assert inside.sum() > 1000 and diff[inside].max() <= 1.0 + 1e-9, diff[inside].max()
    # next to the black border the image steps by ~100 levels per pixel, so OpenCV's 1/32-pixel coordinates
    # matter: the same oracle with 1/32-pixel coordinates is within 1 grey level everywhere
    expected32, _ = oracle_crop(image.astype(np.float64), bbox_cxcys, scale, subpixel=32)
    assert np.abs(crop.astype(np.float64) - expected32).max() <= 1.0 + 1e-9


def test_box_centre_lands_on_pixel_112():
    image = np.zeros((200, 300, 3), np.uint8)
    image[80, 100] = (255, 128, 7)
    # side·scale = 224 -> one source pixel per crop pixel, so the dot must land exactly on (112, 112)
    crop = crop_person(image, (100.0, 80.0, 224 / 1.2), scale=1.2)
    assert tuple(crop[112, 112]) == (255, 128, 7)
    assert crop.sum() == 255 + 128 + 7
    M = crop_affine((100.0, 80.0, 50.0), 1.2)
    np.testing.assert_allclose(M @ [100.0, 80.0, 1.0], [112.0, 112.0])


def test_outside_the_frame_is_black():
    image = np.full((100, 100, 3), 200, np.uint8)
    crop = crop_person(image, (0.0, 0.0, 100.0), scale=1.0)
    assert crop[:100, :100].max() == 0 and crop[-10:, -10:].min() == 200


def test_scale_is_applied_to_the_tracker_side():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(120, 160, 3)).astype(np.uint8)
    a = crop_person(image, (80.0, 60.0, 50.0), scale=1.2)
    b = crop_person(image, (80.0, 60.0, 60.0), scale=1.0)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    with pytest.raises(ValueError):
        crop_person(image, (80.0, 60.0, 0.0))


def test_imagenet_normalisation_matches_torchvision():
    torch = pytest.importorskip("torch")
    tvf = pytest.importorskip("torchvision.transforms.functional")
    rng = np.random.default_rng(2)
    crops = rng.integers(0, 256, size=(3, 224, 224, 3)).astype(np.uint8)
    ours = crops_to_imagenet(crops)
    assert ours.shape == (3, 3, 224, 224) and ours.dtype == np.float32
    ref = torch.stack([tvf.normalize(tvf.to_tensor(c), IMAGENET_MEAN.tolist(), IMAGENET_STD.tolist()) for c in crops])
    np.testing.assert_allclose(ours, ref.numpy(), rtol=0, atol=1e-6)
