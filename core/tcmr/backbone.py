"""The SPIN/HMR ResNet-50 feature extractor: ImageNet-normalised RGB crops (N, 3, 224, 224) -> (N, 2048).

torchvision's ResNet-50 layout (Bottleneck blocks [3, 4, 6, 3], stride in the 3×3 convolution, BatchNorm
with running statistics), written here so the core does not need torchvision. Parameter names are those of
SPIN's ``model`` dict (``conv1``, ``bn1``, ``layer1.0.conv1`` …); the regression head is not built.

Inference plan (the fast exact path). In eval mode without autograd, :class:`ResNet50Features` runs a
*plan* built once from its current weights: every BatchNorm folded into the convolution before it (scale and
shift computed in float64, then cast), ReLUs and the residual add fused into the convolutions (oneDNN's
``mkldnn._convolution_pointwise`` on CPU; plain ``conv2d`` + bias elsewhere), channels-last activations.
Same maths as the layer-by-layer path; results equal to float32 rounding (measured ~3e-7 relative), about
1.15-1.3× faster on a 2-core CPU; the residual add accumulates in place into the block's own identity
tensor. The plan is rebuilt when any weight, dtype or device changes; ``fuse(False)`` turns it off (then the
plain layer-by-layer path always runs). float64 models always run layer by layer. On CUDA both paths run with
TensorFloat-32 off (:mod:`.float32`), so float32 stays float32.
On the CPU a batch of crops is split into ``lanes`` pieces run at the same time (:mod:`core.runtime.lanes`; ~7 % faster
on 2 cores, same rows); ``model.lanes = 1`` turns that off.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .float32 import exact_float32


class Bottleneck(nn.Module):
    """1×1 -> 3×3 (stride) -> 1×1 (×4 channels), each followed by BN; residual add; ReLU."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet50Features(nn.Module):
    """crops: (N, 3, 224, 224) float, ImageNet-normalised RGB -> features (N, 2048).

    conv1 7×7/2 -> BN -> ReLU -> maxpool 3×3/2 -> layer1..4 -> AvgPool2d(7, stride 1) -> flatten.
    Use in eval mode (BatchNorm running statistics), as :func:`core.load_backbone` returns it.
    """

    def __init__(self, layers=(3, 4, 6, 3)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
            stride = 1 if i == 1 else 2
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
            blocks_list = [Bottleneck(inplanes, planes, stride, downsample)]
            inplanes = planes * 4
            blocks_list += [Bottleneck(inplanes, planes) for _ in range(1, blocks)]
            setattr(self, f"layer{i}", nn.Sequential(*blocks_list))
        self.avgpool = nn.AvgPool2d(7, stride=1)
        self._fuse = True
        self._plan: "_InferencePlan | None" = None
        self.lanes: "int | None" = None  # CPU lanes for the plan (None: core.runtime.lanes.default_lanes(); 1: off)

    def fuse(self, enabled: bool = True) -> "ResNet50Features":
        """Use (default) or never use the fused inference plan (see the module docstring). Returns self."""
        self._fuse = bool(enabled)
        self._plan = None
        return self

    def prepare(self) -> "ResNet50Features":
        """Build the fused inference plan for the current weights now (it is otherwise built on the first call
        that uses it). Returns self."""
        if getattr(self, "_fuse", False):
            self._current_plan()
        return self

    def forward(self, crops):
        if crops.dim() != 4 or crops.shape[1:] != (3, 224, 224):
            raise ValueError(f"crops must be (N, 3, 224, 224), got {tuple(crops.shape)}")
        if getattr(self, "_fuse", False) and not self.training and not torch.is_grad_enabled():
            plan = self._current_plan()
            if plan is not None:
                with exact_float32(crops.device):  # no TensorFloat-32 convolutions on CUDA (.float32)
                    return self._run_plan(plan, crops)
        return self.forward_layers(crops)

    def _run_plan(self, plan: "_InferencePlan", crops):
        """The plan on all crops; on the CPU split into lanes (:mod:`core.runtime.lanes`, same rows as one call)."""
        from ..runtime import lanes

        n_lanes = lanes.lane_count(getattr(self, "lanes", None), crops.device.type, crops.shape[0], _MIN_LANE_CROPS)
        if n_lanes <= 1:
            return plan(crops)
        parts = lanes.split(crops.shape[0], n_lanes)
        return torch.cat(lanes.run([lambda s=s: plan(crops[s]) for s in parts]))

    def _current_plan(self) -> "_InferencePlan | None":
        tensors = list(self.parameters()) + list(self.buffers())
        key = tuple((t.data_ptr(), _version(t)) for t in tensors) + (tensors[0].dtype, tensors[0].device)
        if self._plan is None or self._plan.key != key:
            self._plan = _InferencePlan.build(self, key)
        return self._plan if self._plan.usable else None

    def forward_layers(self, crops):
        """crops (N, 3, 224, 224) -> (N, 2048) layer by layer (BatchNorm modules, no fusion): what the plan
        reproduces."""
        if crops.dim() != 4 or crops.shape[1:] != (3, 224, 224):
            raise ValueError(f"crops must be (N, 3, 224, 224), got {tuple(crops.shape)}")
        first = next(self.parameters())
        if first.is_contiguous(memory_format=torch.channels_last) and not first.is_contiguous():
            crops = crops.contiguous(memory_format=torch.channels_last)
        with exact_float32(crops.device):
            x = self.maxpool(self.relu(self.bn1(self.conv1(crops))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return torch.flatten(self.avgpool(x), 1)


# ------------------------------------------------------------------------------------- inference plan
_MIN_LANE_CROPS = 4  # a lane gets at least this many crops (smaller pieces gain nothing)


def _version(t: torch.Tensor) -> int:
    """In-place modification counter (inference-mode tensors have none and cannot be modified outside it)."""
    try:
        return t._version
    except RuntimeError:
        return -1


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d):
    """A convolution followed by eval-mode BN -> (weight, bias) of one convolution, in float64.

    BN(y) = γ (y − μ) / √(σ² + ε) + β, so W' = W · γ/√(σ² + ε) per output channel and b' = β − μ · γ/√(σ² + ε).
    Computed on the CPU: some devices (Apple's MPS) have no float64.
    """
    f64 = lambda t: t.detach().to(device="cpu", dtype=torch.float64)  # noqa: E731
    scale = f64(bn.weight) / torch.sqrt(f64(bn.running_var) + bn.eps)
    weight = f64(conv.weight) * scale[:, None, None, None]
    bias = f64(bn.bias) - f64(bn.running_mean) * scale
    return weight, bias


class _Conv:
    """One folded convolution: weight (O, I, k, k) channels-last, bias (O,), and its geometry."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d, dtype, device):
        w, b = _fold(conv, bn)
        self.weight = w.to(device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
        self.bias = b.to(device=device, dtype=dtype)
        self.padding, self.stride = list(conv.padding), list(conv.stride)
        self.dilation, self.groups = list(conv.dilation), conv.groups

    def geometry(self):
        return self.padding, self.stride, self.dilation, self.groups


class _InferencePlan:
    """The backbone as a flat list of folded convolutions; ``plan(crops (N, 3, 224, 224))`` -> (N, 2048)."""

    def __init__(self, key, usable: bool, mkldnn: bool = False, stem=None, blocks=()):
        self.key, self.usable, self.mkldnn = key, usable, mkldnn
        self.stem, self.blocks = stem, list(blocks)

    @classmethod
    def build(cls, net: ResNet50Features, key) -> "_InferencePlan":
        first = next(net.parameters())
        dtype, device = first.dtype, first.device
        if dtype not in (torch.float32, torch.float16, torch.bfloat16) or device.type == "meta":
            return cls(key, usable=False)  # float64 (the tight parity tests) runs layer by layer
        mkldnn = device.type == "cpu" and dtype in (torch.float32, torch.bfloat16) and _has_mkldnn_pointwise()
        with torch.no_grad():
            blocks = []
            for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
                for blk in layer:
                    down = None if blk.downsample is None else _Conv(blk.downsample[0], blk.downsample[1], dtype,
                                                                     device)
                    blocks.append((_Conv(blk.conv1, blk.bn1, dtype, device), _Conv(blk.conv2, blk.bn2, dtype, device),
                                   _Conv(blk.conv3, blk.bn3, dtype, device), down))
            stem = _Conv(net.conv1, net.bn1, dtype, device)
        return cls(key, usable=True, mkldnn=mkldnn, stem=stem, blocks=blocks)

    def __call__(self, crops):
        x = crops.to(dtype=self.stem.weight.dtype).contiguous(memory_format=torch.channels_last)
        x = F.max_pool2d(self._conv(x, self.stem, relu=True), kernel_size=3, stride=2, padding=1)
        for c1, c2, c3, down in self.blocks:
            identity = x if down is None else self._conv(x, down, relu=False)
            out = self._conv(self._conv(x, c1, relu=True), c2, relu=True)
            x = self._conv_add_relu(out, c3, identity)
        return torch.flatten(F.avg_pool2d(x, kernel_size=7, stride=1), 1)

    def _conv(self, x, c: _Conv, relu: bool):
        if self.mkldnn:
            return torch.ops.mkldnn._convolution_pointwise(x, c.weight, c.bias, *c.geometry(),
                                                           "relu" if relu else "none", [None], "")
        y = F.conv2d(x, c.weight, c.bias, c.stride, c.padding, c.dilation, c.groups)
        return F.relu_(y) if relu else y

    def _conv_add_relu(self, x, c: _Conv, identity):
        """relu(conv(x) + identity), written into ``identity`` (a block's input or its downsample's output, never
        the caller's crops): oneDNN then accumulates into that memory instead of reading it and writing a new
        block — the same numbers, ~12-25 % faster on the 1×1 expansions (bench/RESULTS.md, "Third round")."""
        if self.mkldnn:
            return torch.ops.mkldnn._convolution_pointwise_.binary(identity, x, c.weight, c.bias, *c.geometry(),
                                                                   "add", 1.0, "relu", [None], "")
        y = F.conv2d(x, c.weight, c.bias, c.stride, c.padding, c.dilation, c.groups)
        return F.relu_(y.add_(identity))


@functools.cache
def _has_mkldnn_pointwise() -> bool:
    """Whether this torch build has oneDNN's fused convolution ops, plain and in place (checked once, on a tiny
    input)."""
    try:
        x = torch.ones(1, 2, 3, 3).contiguous(memory_format=torch.channels_last)
        w = torch.ones(2, 2, 1, 1).contiguous(memory_format=torch.channels_last)
        y = torch.ops.mkldnn._convolution_pointwise(x, w, torch.zeros(2), [0, 0], [1, 1], [1, 1], 1, "relu",
                                                    [None], "")
        z = torch.ops.mkldnn._convolution_pointwise_.binary(y.clone(), x, w, torch.zeros(2), [0, 0], [1, 1],
                                                            [1, 1], 1, "add", 1.0, "relu", [None], "")
        return (bool(torch.backends.mkldnn.is_available()) and bool(torch.allclose(y, torch.full_like(y, 2.0)))
                and bool(torch.allclose(z, torch.full_like(z, 4.0))))
    except (RuntimeError, AttributeError, NotImplementedError):
        return False
