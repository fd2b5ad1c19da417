"""The crop scale has one source, core.config.CropConfig: every function that crops with a default scale
uses the configured one (a function may also have no default at all)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from core.capture import crop
from core.config import CropConfig


def _default(func, name):
    parameter = inspect.signature(func).parameters[name]
    return None if parameter.default is inspect.Parameter.empty else parameter.default


@pytest.mark.parametrize("func, name", [
    (crop.crop_person, "scale"),
    (crop.crop_affine, "scale"),
])
def test_crop_scale_defaults_are_the_configured_one(func, name):
    default = _default(func, name)
    assert default is None or default == CropConfig.bbox_scale, (
        f"{func.__name__}({name}={default}) but CropConfig.bbox_scale = {CropConfig.bbox_scale}")
    assert _default(func, "crop_size") in (None, CropConfig.crop_size)


def test_pipeline_helpers_default_to_the_configured_scale():
    pytest.importorskip("cv2")
    from core.capture import features, tracking

    assert _default(features.extract_track_features, "bbox_scale") in (None, CropConfig.bbox_scale)
    assert _default(tracking.build_tracks, "bbox_scale") in (None, CropConfig.bbox_scale)


def test_crop_without_a_scale_is_the_configured_crop():
    pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    box = np.array([150.0, 110.0, 90.0])
    configured = crop.crop_person(frame, box, CropConfig.bbox_scale, CropConfig.crop_size)
    if _default(crop.crop_person, "scale") is not None:
        np.testing.assert_array_equal(crop.crop_person(frame, box), configured)
        np.testing.assert_array_equal(crop.crop_affine(box), crop.crop_affine(box, CropConfig.bbox_scale))
    assert configured.shape == (CropConfig.crop_size, CropConfig.crop_size, 3)
