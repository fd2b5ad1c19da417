"""The refine panel's options (``scene.tcmr_refine``, declared in props.py) as the core's ``RefineConfig`` and as
the scene build's display options: what a capture, *Refine Again* and *Live Update* take from the panel. No bpy:
the settings are passed in."""

from __future__ import annotations

import dataclasses

from ...core.config import FloorConfig, FootLockConfig, RefineConfig, SmoothingConfig


def display_options(context) -> dict:
    """What a capture's import takes from the refine panel besides the refine itself (which the core does, with
    :func:`refine_config`): scene.builder.BuildOptions keywords."""
    s = context.scene.tcmr_refine
    return {"show_ground": s.show_ground, "show_contacts": s.show_contacts}


def refine_config(settings) -> RefineConfig:
    """The refine panel's options (``scene.tcmr_refine``) as the core's RefineConfig (the rest: core defaults)."""
    window = int(settings.window) | 1
    one_euro = dataclasses.replace(SmoothingConfig(), min_cutoff_hz=settings.min_cutoff, beta=settings.beta,
                                   translation_min_cutoff_hz=settings.translation_min_cutoff)
    return dataclasses.replace(RefineConfig(), smoothing=settings.smoothing, one_euro=one_euro, average_window=window,
                               fps=float(settings.fps) if settings.use_fps else None,
                               foot_lock=dataclasses.replace(FootLockConfig(), mode=settings.foot_lock),
                               floor=dataclasses.replace(FloorConfig(), upright=settings.upright),
                               extremities=dataclasses.replace(RefineConfig().extremities,
                                                               face_calibration=settings.face_calibration))
