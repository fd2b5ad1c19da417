"""core.capture.camera: hand-computed values, the crop<->image identity, and perspective vs weak perspective."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from core.capture.camera import (
    cam_to_transl,
    crop_cam_to_orig,
    estimate_focal_length_px,
    image_size_from_orig_cam,
    project_orig_cam,
    project_perspective,
)
from core.rotations import axis_angle_to_rotmat

sys.path.insert(0, str(Path(__file__).parent.parent))
from synthetic import REST_JOINTS  # noqa: E402


def test_crop_cam_to_orig_hand_computed():
    # s = 0.9, tx = 0.1, ty = -0.2; crop square centred (400, 300), side b = 240, image 800 × 600
    oc = crop_cam_to_orig([[0.9, 0.1, -0.2]], [[400.0, 300.0, 240.0]], 800, 600)
    np.testing.assert_allclose(oc, [[0.27, 0.36, 0.1, -0.2]])
    # off-centre: cx = 600 -> tx' = (600 − 400)/400 / 0.27 + 0.1
    oc = crop_cam_to_orig([[0.9, 0.1, -0.2]], [[600.0, 150.0, 240.0]], 800, 600)
    np.testing.assert_allclose(oc, [[0.27, 0.36, 0.5 / 0.27 + 0.1, -0.5 / 0.36 - 0.2]])


def test_orig_cam_reproduces_the_crop_projection_in_pixels():
    """Weak perspective in the crop, mapped to source pixels, equals the orig_cam projection (exact identity)."""
    rng = np.random.default_rng(0)
    n, W, H = 7, 1920, 1080
    cam = np.stack([rng.uniform(0.5, 1.2, n), rng.normal(0, 0.2, n), rng.normal(0, 0.2, n)], axis=-1)
    box = np.stack([rng.uniform(0, W, n), rng.uniform(0, H, n), rng.uniform(100, 900, n)], axis=-1)
    pts = rng.normal(0, 0.5, size=(n, 24, 3))
    xc = cam[:, None, :1] * (pts[..., :2] + cam[:, None, 1:])  # crop-normalised (n, 24, 2)
    uv_crop = box[:, None, :2] + xc * box[:, None, 2:3] / 2.0  # source pixels
    uv_orig = project_orig_cam(pts, crop_cam_to_orig(cam, box, W, H), W, H)
    np.testing.assert_allclose(uv_orig, uv_crop, rtol=0, atol=1e-8)



def test_image_size_from_orig_cam_inverts_crop_cam_to_orig():
    rng = np.random.default_rng(1)
    n = 9
    cam = np.stack([rng.uniform(0.5, 1.2, n), rng.normal(0, 0.2, n), rng.normal(0, 0.2, n)], axis=-1)
    box = np.stack([rng.uniform(0, 1280, n), rng.uniform(0, 720, n), rng.uniform(100, 600, n)], axis=-1)
    oc = crop_cam_to_orig(cam, box, 1280, 720).astype(np.float32)  # as files store it
    assert image_size_from_orig_cam(cam, box, oc) == (1280, 720)


def test_cam_to_transl_hand_computed():
    T = cam_to_transl([[0.8, 0.05, 0.1]], [[700.0, 200.0, 300.0]], 1000, 500, focal_px=1200.0)
    sb = 0.8 * 300.0
    np.testing.assert_allclose(T, [[0.05 + 2 * 200 / sb, 0.1 + 2 * (-50) / sb, 2 * 1200 / sb]])


def _posed_joints(seed=0):
    """Synthetic SMPL rest joints, upright in the camera frame (180° about x) and rotated a little."""
    rng = np.random.default_rng(seed)
    R = axis_angle_to_rotmat(np.array([np.pi, 0, 0])) @ axis_angle_to_rotmat(rng.normal(0, 0.3, 3))
    return (REST_JOINTS - REST_JOINTS[0]) @ R.T  # (24, 3), root at the origin


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_perspective_camera_matches_weak_perspective_to_first_order(seed):
    """Project SMPL joints with the pinhole camera at cam_to_transl and with orig_cam: they agree up to an
    error proportional to depth/T_z, and the error shrinks in proportion when the body's depth shrinks."""
    rng = np.random.default_rng(seed)
    W, H, f = 1280, 720, float(np.hypot(1280, 720))
    cam = np.array([[rng.uniform(0.6, 1.1), rng.normal(0, 0.1), rng.normal(0, 0.1)]])
    box = np.array([[rng.uniform(300, 1000), rng.uniform(200, 500), rng.uniform(250, 600)]])
    J = _posed_joints(seed)
    T = cam_to_transl(cam, box, W, H, f)[0]
    weak = project_orig_cam(J[None], crop_cam_to_orig(cam, box, W, H), W, H)[0]
    errors = []
    for depth_scale in (1.0, 0.1):
        Jd = J * np.array([1.0, 1.0, depth_scale])
        persp = project_perspective(Jd + T, f, W, H)
        weak_d = project_orig_cam(Jd[None], crop_cam_to_orig(cam, box, W, H), W, H)[0]
        np.testing.assert_allclose(weak_d, weak)  # weak perspective ignores depth
        errors.append(np.abs(persp - weak).max())
    # first order: |error| <= (|Z| / T_z) · |offset from the principal point| (+ round-off)
    offset = np.abs(weak - [W / 2, H / 2]).max()
    assert errors[0] <= np.abs(J[:, 2]).max() / T[2] / (1 - np.abs(J[:, 2]).max() / T[2]) * offset + 1e-6
    assert errors[0] < 0.05 * box[0, 2]  # a few pixels for a person a few hundred pixels tall
    assert errors[1] == pytest.approx(0.1 * errors[0], rel=0.05)
    # the root (Z = 0) projects exactly where the weak-perspective camera puts it
    np.testing.assert_allclose(project_perspective(J[:1] + T, f, W, H), weak[:1], atol=1e-9)


def test_focal_length():
    assert estimate_focal_length_px(1920, 1080) == pytest.approx(np.hypot(1920, 1080))
    assert estimate_focal_length_px(1920, 1080, 1500) == 1500.0
    with pytest.raises(ValueError):
        estimate_focal_length_px(1920, 1080, -3)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        crop_cam_to_orig(np.zeros((3, 3)), np.ones((2, 3)), 10, 10)
