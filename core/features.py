"""Pass 2 of a capture: decode the frames the tracks need -> crop every person -> ResNet-50 features, streaming.

Only a few chunks of decoded frames and one batch of crops are alive at a time; what grows with video length is
the result: one (2048,) float32 row per track row (8 KiB per person per frame).

Speed (all optional, none changes the numbers of the default float32 path):
- ``overlap``: the video is decoded one chunk ahead in a second thread (:class:`prefetch`) while the current
  chunk is cropped and run through ResNet-50 (OpenCV and torch both release the GIL).
- on CUDA, crops of each frame are cut on the GPU (:func:`core.crop.crop_people_torch`) from frames uploaded
  once through pinned memory; on the CPU they are OpenCV's (:func:`core.crop.crop_person`).
- the backbone's dtype (float32, or bfloat16 / float16 for ``--precision``) is what the crops are cast to.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator, Optional

import numpy as np

from .crop import CROP_SIZE, crop_people_torch, crop_person, crops_to_imagenet
from .errors import CancelledError
from .tracking import Track, bbox_xyxy_to_cxcys
from .video import VideoReader

FEATURE_DIM = 2048


def chunk_frames_for(reader: VideoReader, chunk_frames: int, overlap: bool) -> int:
    """Frames per decoded chunk. With the decode thread up to three chunks are alive at once (one queued, one
    being decoded, one being used), so chunks are a third of the usual size: the pixels held stay within
    what one chunk plus its stacking copy took without the thread (memory flat, see bench/RESULTS.md)."""
    limit = reader.chunk_limit(chunk_frames)
    return max(1, limit // 3) if overlap else limit


class prefetch:
    """Iterate ``iterable`` in a background thread, up to ``depth`` items ahead. Use as a context manager::

        with prefetch(reader.read(ids)) as chunks:
            for chunk in chunks: ...

    Items come out in order; an exception raised by the iterable is re-raised here, in the consumer. Leaving the
    ``with`` block early (break, error, cancel) stops the worker and closes the iterable *in the worker thread*
    (so a generator's ``finally`` runs there, e.g. releasing the video file).
    """

    _ITEM, _END, _ERROR = range(3)

    def __init__(self, iterable: Iterable, depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, int(depth)))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(iterable,), name="tcmr-prefetch", daemon=True)
        self._thread.start()

    def _put(self, kind, value) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, iterable) -> None:
        it = iter(iterable)
        try:
            for item in it:
                if not self._put(self._ITEM, item):
                    return
            self._put(self._END, None)
        except BaseException as exc:  # handed to the consumer
            self._put(self._ERROR, exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator:
        while True:
            kind, value = self._queue.get()
            if kind == self._ITEM:
                yield value
            elif kind == self._END:
                return
            else:
                raise value

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> "prefetch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def maybe_prefetch(iterable: Iterable, enabled: bool):
    """:class:`prefetch` (one item ahead) when ``enabled``, else a context manager yielding ``iterable`` as is."""
    if enabled:
        return prefetch(iterable, depth=1)
    import contextlib

    return contextlib.nullcontext(iterable)


class _Batcher:
    """Collects crops and runs the backbone every ``batch`` crops, writing rows into per-track arrays.

    Crops come either as (224, 224, 3) uint8 RGB numpy arrays (CPU crop) or as (3, 224, 224) normalised
    tensors already on the backbone's device (GPU crop).
    """

    def __init__(self, backbone, features: dict, batch: int):
        self.backbone, self.features, self.batch = backbone, features, max(1, int(batch))
        self.crops: list = []
        self.targets: list[tuple[int, int]] = []  # (track id, row)
        self.done = 0

    def add(self, crop, track_id: int, row: int) -> None:
        self.crops.append(crop)
        self.targets.append((track_id, row))
        if len(self.crops) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.crops:
            return
        import torch

        with torch.inference_mode():
            param = next(self.backbone.parameters())
            if torch.is_tensor(self.crops[0]):
                x = torch.stack(self.crops)  # already normalised, on the device
            else:
                x = torch.from_numpy(crops_to_imagenet(np.stack(self.crops)))  # (n, 3, 224, 224)
                if param.device.type == "cuda":
                    x = x.pin_memory().to(param.device, non_blocking=True)
            x = x.to(device=param.device, dtype=param.dtype)
            if param.dim() == 4 and param.is_contiguous(memory_format=torch.channels_last):
                x = x.contiguous(memory_format=torch.channels_last)  # match the weights' layout (NHWC)
            feats = self.backbone(x).float().cpu().numpy()  # (n, 2048)
        for (tid, row), f in zip(self.targets, feats):
            self.features[tid][row] = f
        self.done += len(self.crops)
        self.crops, self.targets = [], []


def _backbone_device(backbone):
    try:
        return next(backbone.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return None


def extract_track_features(reader: VideoReader, tracks: list[Track], backbone, bbox_scale: float = 1.2,
                           chunk_frames: int = 64, batch: int = 32,
                           progress: Optional[Callable[[float, str], None]] = None,
                           cancel: Optional[Callable[[], bool]] = None, overlap: bool = False,
                           gpu_crops: bool = True) -> dict[int, np.ndarray]:
    """Features of every row of every track: {track_id: (N, 2048) float32}, rows in track order.

    Each row's crop is the official one (:func:`core.crop.crop_person`) of the tracker box with ``bbox_scale``.
    ``progress(fraction, message)`` is called after every chunk; ``cancel()`` returning True between chunks
    raises CancelledError. ``overlap``: decode the next chunk in a second thread meanwhile. ``gpu_crops``: when
    the backbone is on a CUDA device, cut the crops there (:func:`core.crop.crop_people_torch`).
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
    device = _backbone_device(backbone)
    on_gpu = bool(gpu_crops) and device is not None and device.type == "cuda"
    frames = np.array(sorted(wanted), dtype=np.int64)
    with maybe_prefetch(reader.read(frames, chunk_frames_for(reader, chunk_frames, overlap)), overlap) as chunks:
        for chunk in chunks:
            if cancel is not None and cancel():
                raise CancelledError("cancelled")
            if on_gpu:
                _crop_chunk_on_gpu(chunk, wanted, batcher, bbox_scale, device)
            else:
                for frame_id, frame in zip(chunk.frame_ids.tolist(), chunk.frames_rgb_u8):
                    for tid, row, box in wanted[frame_id]:
                        batcher.add(crop_person(frame, box, bbox_scale, CROP_SIZE), tid, row)
            if progress is not None:
                progress(batcher.done / max(total, 1), f"{batcher.done}/{total} person crops")
    batcher.flush()
    if progress is not None:
        progress(1.0, f"{total}/{total} person crops")
    return features


def _crop_chunk_on_gpu(chunk, wanted: dict, batcher: _Batcher, bbox_scale: float, device) -> None:
    """Upload the chunk's frames once (pinned memory, asynchronous) and cut every person's crop on the GPU."""
    import torch

    with torch.inference_mode():
        frames = torch.from_numpy(np.ascontiguousarray(chunk.frames_rgb_u8)).pin_memory()
        frames = frames.to(device, non_blocking=True)  # (F, H, W, 3) uint8 on the GPU
        for k, frame_id in enumerate(chunk.frame_ids.tolist()):
            people = wanted[frame_id]
            crops = crop_people_torch(frames[k], np.stack([box for _, _, box in people]), bbox_scale, CROP_SIZE)
            for (tid, row, _), crop in zip(people, crops):
                batcher.add(crop, tid, row)
