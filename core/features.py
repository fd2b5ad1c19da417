"""Pass 2 of a capture: decode the frames the tracks need -> crop every person -> ResNet-50 features, streaming.

Only one chunk of decoded frames and one batch of crops are alive at a time; what grows with video length is
the result: one (2048,) float32 row per track row (8 KiB per person per frame).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .crop import CROP_SIZE, crop_person, crops_to_imagenet
from .errors import CancelledError
from .tracking import Track, bbox_xyxy_to_cxcys
from .video import VideoReader

FEATURE_DIM = 2048


class _Batcher:
    """Collects crops and runs the backbone every ``batch`` crops, writing rows into per-track arrays."""

    def __init__(self, backbone, features: dict, batch: int):
        self.backbone, self.features, self.batch = backbone, features, max(1, int(batch))
        self.crops: list[np.ndarray] = []
        self.targets: list[tuple[int, int]] = []  # (track id, row)
        self.done = 0

    def add(self, crop_rgb_u8: np.ndarray, track_id: int, row: int) -> None:
        self.crops.append(crop_rgb_u8)
        self.targets.append((track_id, row))
        if len(self.crops) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.crops:
            return
        import torch

        x = torch.from_numpy(crops_to_imagenet(np.stack(self.crops)))  # (n, 3, 224, 224)
        with torch.inference_mode():
            param = next(self.backbone.parameters())
            x = x.to(device=param.device, dtype=param.dtype)
            if param.dim() == 4 and param.is_contiguous(memory_format=torch.channels_last):
                x = x.contiguous(memory_format=torch.channels_last)  # match the weights' layout (NHWC)
            feats = self.backbone(x).float().cpu().numpy()  # (n, 2048)
        for (tid, row), f in zip(self.targets, feats):
            self.features[tid][row] = f
        self.done += len(self.crops)
        self.crops, self.targets = [], []


def extract_track_features(reader: VideoReader, tracks: list[Track], backbone, bbox_scale: float = 1.2,
                           chunk_frames: int = 64, batch: int = 32,
                           progress: Optional[Callable[[float, str], None]] = None,
                           cancel: Optional[Callable[[], bool]] = None) -> dict[int, np.ndarray]:
    """Features of every row of every track: {track_id: (N, 2048) float32}, rows in track order.

    Each row's crop is the official one (:func:`core.crop.crop_person`) of the tracker box with ``bbox_scale``.
    ``progress(fraction, message)`` is called after every chunk; ``cancel()`` returning True between chunks
    raises CancelledError.
    """
    features = {t.track_id: np.zeros((len(t), FEATURE_DIM), dtype=np.float32) for t in tracks}
    # video frame -> [(track id, row, tracker box (cx, cy, side))]
    wanted: dict[int, list] = {}
    for t in tracks:
        boxes = bbox_xyxy_to_cxcys(t.bbox_xyxy, 1.0)  # (N, 3) tracker square, before the scale
        for row, (frame, box) in enumerate(zip(t.frame_ids.tolist(), boxes)):
            wanted.setdefault(frame, []).append((t.track_id, row, box))
    total = sum(len(t) for t in tracks)
    batcher = _Batcher(backbone, features, batch)
    for chunk in reader.read(np.array(sorted(wanted), dtype=np.int64), chunk_frames):
        if cancel is not None and cancel():
            raise CancelledError("cancelled")
        for frame_id, frame in zip(chunk.frame_ids.tolist(), chunk.frames_rgb_u8):
            for tid, row, box in wanted[frame_id]:
                batcher.add(crop_person(frame, box, bbox_scale, CROP_SIZE), tid, row)
        if progress is not None:
            progress(batcher.done / max(total, 1), f"{batcher.done}/{total} person crops")
    batcher.flush()
    if progress is not None:
        progress(1.0, f"{total}/{total} person crops")
    return features
