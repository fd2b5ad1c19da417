"""Reading and validating the official checkpoints; building the eval-mode networks from them.

- ``tcmr_demo_model.pth.tar``: the trainer layout (``gen_state_dict`` + numpy-scalar ``performance`` …) or a
  bare state dict; 59 network entries, plus (in the official file) 12 ``regressor.smpl.*`` entries holding
  the SMPL neutral body.
- ``spin_model_checkpoint.pth.tar``: SPIN's layout (``model`` …) or a bare state dict; only the ResNet-50
  entries (``conv1``, ``bn1``, ``layer1``-``layer4``) are used.

Files are read with ``torch.load(weights_only=True)`` (see :mod:`core.safe_load`): a file that tries to run
code is refused. Zip and legacy torch formats both work.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch

from ..errors import InvalidModelFileError, MissingModelFileError
from ..runtime.allocator import keep_freed_memory
from ..runtime.device import resolve_device
from ..safe_load import torch_load_weights
from ..smpl import TCMR_SMPL_PREFIX as SMPL_PREFIX
from .backbone import ResNet50Features
from .model import TCMR

# the official regressor.smpl.* entries (smplx layout, batch 64): name -> (shape, floating?)
SMPL_ENTRY_SHAPES = OrderedDict([
    ("betas", ((64, 10), True)), ("global_orient", ((64, 3), True)), ("body_pose", ((64, 69), True)),
    ("faces_tensor", ((13776, 3), False)), ("v_template", ((6890, 3), True)),
    ("shapedirs", ((6890, 3, 10), True)), ("J_regressor", ((24, 6890), True)),
    ("posedirs", ((207, 20670), True)), ("parents", ((24,), False)), ("lbs_weights", ((6890, 24), True)),
    ("J_regressor_extra", ((9, 6890), True)), ("vertex_joint_selector.extra_joints_idxs", ((21,), False)),
])
_FIX = "(re-download it, see models/README.md)"


def _expected(module: torch.nn.Module) -> "OrderedDict[str, tuple[tuple[int, ...], bool]]":
    return OrderedDict((k, (tuple(v.shape), v.is_floating_point())) for k, v in module.state_dict().items())


def tcmr_network_shapes():
    """The 59 network entries, in checkpoint order: name -> (shape, floating?)."""
    with torch.device("meta"):
        return _expected(TCMR())


def backbone_shapes():
    """The ResNet-50 entries (conv1, bn1, layer1-4; incl. num_batches_tracked): name -> (shape, floating?)."""
    with torch.device("meta"):
        return _expected(ResNet50Features())


def _strip_module_prefix(sd: dict) -> dict:
    if sd and all(isinstance(k, str) and k.startswith("module.") for k in sd):  # saved from DataParallel
        return OrderedDict((k[len("module."):], v) for k, v in sd.items())
    return sd


def _check(sd: dict, expected: dict, name: str, kind: str, optional=()) -> "OrderedDict":
    """The entries of ``expected`` taken from ``sd``; the first missing or mis-shaped one raises."""
    out = OrderedDict()
    for key, (shape, floating) in expected.items():
        value = sd.get(key)
        if value is None:
            if key in optional:
                continue
            raise InvalidModelFileError(f"{name} is not a {kind}: key {key} is missing {_FIX}")
        if not torch.is_tensor(value):
            raise InvalidModelFileError(f"{name} is not a {kind}: key {key} is a {type(value).__name__}, "
                                        f"expected a tensor {_FIX}")
        if tuple(value.shape) != shape:
            raise InvalidModelFileError(f"{name} is not a {kind}: key {key} has shape {list(value.shape)}, "
                                        f"expected {list(shape)} {_FIX}")
        if value.is_floating_point() != floating:
            raise InvalidModelFileError(f"{name} is not a {kind}: key {key} has dtype {str(value.dtype)[6:]}, "
                                        f"expected {'a float' if floating else 'an integer'} dtype {_FIX}")
        out[key] = value
    return out


def _looks_like(sd, prefix: str) -> bool:
    return isinstance(sd, dict) and any(isinstance(k, str) and k.startswith(prefix) for k in sd)


def tcmr_state_dict_from_file(path) -> "OrderedDict":
    """Read and validate a TCMR checkpoint. -> OrderedDict: the 59 network entries, then the 12
    ``regressor.smpl.*`` entries when the file has them. Raises MissingModelFileError / InvalidModelFileError
    (one line naming the file and the first missing or mis-shaped key).
    """
    path = Path(path)
    obj = torch_load_weights(path, "TCMR checkpoint")
    if not isinstance(obj, dict):
        raise InvalidModelFileError(f"{path.name} is not a TCMR checkpoint: it holds a {type(obj).__name__}, "
                                    f"not a state dict {_FIX}")
    if isinstance(obj.get("gen_state_dict"), dict):
        sd = obj["gen_state_dict"]
    elif isinstance(obj.get("state_dict"), dict):
        sd = obj["state_dict"]
    else:
        sd = obj
    sd = _strip_module_prefix(sd)
    if not _looks_like(sd, "encoder.") and (_looks_like(obj.get("model"), "layer1.") or _looks_like(sd, "layer1.")):
        raise InvalidModelFileError(f"{path.name} is not a TCMR checkpoint: it is a SPIN/HMR checkpoint "
                                    "(spin_model_checkpoint.pth.tar?); the TCMR file is tcmr_demo_model.pth.tar")
    out = _check(sd, tcmr_network_shapes(), path.name, "TCMR checkpoint")
    smpl_keys = [SMPL_PREFIX + k for k in SMPL_ENTRY_SHAPES]
    if any(k in sd for k in smpl_keys):
        expected = OrderedDict((SMPL_PREFIX + k, v) for k, v in SMPL_ENTRY_SHAPES.items())
        out.update(_check(sd, expected, path.name, "TCMR checkpoint"))
    return out


def spin_backbone_state_dict_from_file(path) -> "OrderedDict":
    """Read and validate a SPIN checkpoint (``model`` layout) or a bare ResNet-50 state dict.
    -> OrderedDict of the backbone entries only (missing ``num_batches_tracked`` are filled with 0).
    """
    path = Path(path)
    obj = torch_load_weights(path, "SPIN checkpoint")
    if not isinstance(obj, dict):
        raise InvalidModelFileError(f"{path.name} is not a SPIN checkpoint: it holds a {type(obj).__name__}, "
                                    f"not a state dict {_FIX}")
    if _looks_like(obj.get("gen_state_dict"), "encoder.") or _looks_like(obj, "encoder."):
        raise InvalidModelFileError(f"{path.name} is not a SPIN checkpoint: it is a TCMR checkpoint "
                                    "(tcmr_demo_model.pth.tar?); the SPIN file is spin_model_checkpoint.pth.tar")
    sd = _strip_module_prefix(obj["model"] if isinstance(obj.get("model"), dict) else obj)
    expected = backbone_shapes()
    counters = [k for k in expected if k.endswith("num_batches_tracked")]
    out = _check(sd, expected, path.name, "SPIN checkpoint", optional=counters)
    for k in counters:
        out.setdefault(k, torch.tensor(0, dtype=torch.int64))
    return OrderedDict((k, out[k]) for k in expected)


def _smpl_body_arrays(smpl, sd: dict, path: Path):
    """The SMPL arrays for the model: explicit file / dict, else the checkpoint's copy, else None."""
    import numpy as np

    from .. import smpl as smpl_mod

    embedded = None
    if any(k.startswith(SMPL_PREFIX) for k in sd):
        embedded = smpl_mod.smpl_arrays_from_tcmr_state_dict(sd)
    if smpl is False:
        return None
    if smpl is None:
        return embedded
    if isinstance(smpl, dict):
        arrays = smpl_mod.normalise_smpl_arrays(smpl, "the given SMPL arrays")
        source = None
    else:
        source = Path(smpl)
        arrays = smpl_mod.load_smpl_arrays(source)
    if "J_regressor_extra" not in arrays:
        beside = source.with_name("J_regressor_extra.npy") if source is not None else None
        if embedded is not None:
            arrays["J_regressor_extra"] = embedded["J_regressor_extra"]
        elif beside is not None and beside.is_file():
            extra = np.load(beside, allow_pickle=False)
            if extra.shape != (9, 6890):
                raise InvalidModelFileError(f"{beside.name} has shape {list(extra.shape)}, expected [9, 6890]")
            arrays["J_regressor_extra"] = extra.astype(np.float64)
        else:
            raise MissingModelFileError(f"J_regressor_extra (9, 6890) for the 49 joints was found neither in "
                                        f"{source} nor in {path.name}; see models/README.md")
    return arrays


def load_tcmr(path, device="cpu", smpl=None, dtype=torch.float32) -> TCMR:
    """The TCMR network from ``tcmr_demo_model.pth.tar`` (or a bare state dict), eval mode, no gradients.

    ``smpl``: None -> the SMPL body embedded in the checkpoint (if any); a path -> that ``.pkl``/``.npz``
    (``J_regressor_extra`` from the file, else the checkpoint, else ``J_regressor_extra.npy`` beside it);
    a dict of SMPL arrays; False -> no body (no verts/joints49). ``device``: "cpu", "cuda", "auto" or a
    torch.device; ``dtype``: the floating dtype to run in (float32 reproduces the release).
    The returned module's ``smpl_arrays`` is the numpy SMPL dict in use (or None).
    Keeps freed memory for reuse from then on (:mod:`core.runtime.allocator`).
    """
    keep_freed_memory()
    path = Path(path)
    sd = tcmr_state_dict_from_file(path)
    dev = resolve_device(device)
    arrays = _smpl_body_arrays(smpl, sd, path)
    with torch.device("meta"):
        model = TCMR()
    network = OrderedDict((k, v) for k, v in sd.items() if not k.startswith(SMPL_PREFIX))
    model.load_state_dict(network, strict=True, assign=True)
    if arrays is not None:
        from ..smpl import SmplBody

        model.regressor.smpl = SmplBody(arrays, dtype=torch.float64 if dtype == torch.float64 else torch.float32)
        model.smpl_arrays = arrays
    model.to(device=dev, dtype=dtype)
    model.requires_grad_(False)
    return model.eval()


def load_backbone(path, device="cpu", dtype=torch.float32, channels_last: bool = True,
                  lanes: "int | None" = None) -> ResNet50Features:
    """The SPIN ResNet-50 feature extractor, eval mode: crops (N, 3, 224, 224) -> features (N, 2048).

    Accepts SPIN's ``model`` layout or a bare state dict (only conv1/bn1/layer1-4 are read).
    ``channels_last`` stores the weights NHWC (faster convolutions on CPU and recent GPUs; same results
    to float32 rounding). ``lanes``: CPU lanes a batch is split into (None: ``core.runtime.lanes.default_lanes()``,
    1: off; see :mod:`core.runtime.lanes`). Keeps freed memory for reuse from then on (:mod:`core.runtime.allocator`:
    the activations of every batch reuse the same pages instead of faulting in fresh ones).
    """
    keep_freed_memory()
    sd = spin_backbone_state_dict_from_file(path)
    dev = resolve_device(device)
    with torch.device("meta"):
        model = ResNet50Features()
    model.load_state_dict(sd, strict=True, assign=True)
    model.to(device=dev, dtype=dtype)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    model.requires_grad_(False)
    model.lanes = lanes
    model.eval()
    with torch.inference_mode():
        model.prepare()  # the fused plan now, not inside the first video's features stage
    return model
