"""Moved to :mod:`core.motion.smoothing` (the refine stage); this module re-exports it so old imports work."""

from __future__ import annotations

from .motion.smoothing import (  # noqa: F401
    METHODS,
    _alpha,
    _one_euro_forward,
    moving_average,
    one_euro,
    slerp_average_rotmat,
    smooth_motion,
    smooth_rotmat,
    smooth_translation,
)
