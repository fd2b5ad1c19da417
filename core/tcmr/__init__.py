"""TCMR (Choi et al., CVPR 2021) for inference: ResNet-50 features -> temporal encoder -> SMPL regressor.

- :mod:`.backbone` — the SPIN ResNet-50 feature extractor (N, 3, 224, 224) -> (N, 2048).
- :mod:`.temporal` — the three GRUs and the attention (B, 16, 2048) -> (B, 2048).
- :mod:`.regressor` — SPIN's iterative regressor (B, 2048) -> rotmat / betas / cam (+ SMPL).
- :mod:`.model` — the assembled network, windowing and ``predict_sequence``.
- :mod:`.float32` — TensorFloat-32 off on CUDA while the exact networks run.
- :mod:`.checkpoint` — reading/validating the official files, ``load_tcmr`` / ``load_backbone``.
"""

from __future__ import annotations

from .checkpoint import (
    load_backbone,
    load_tcmr,
    spin_backbone_state_dict_from_file,
    tcmr_state_dict_from_file,
)
from .model import TCMR, window_indices

__all__ = [
    "TCMR",
    "load_backbone",
    "load_tcmr",
    "spin_backbone_state_dict_from_file",
    "tcmr_state_dict_from_file",
    "window_indices",
]
