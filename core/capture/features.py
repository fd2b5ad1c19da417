"""The features of a capture: crop every person -> ResNet-50 features, streaming.

Most rows are computed during pass 1 (:class:`StreamedFeatures`): as soon as the tracker has placed its box on
a frame that is already decoded for detection. Pass 2 (:func:`extract_track_features`) takes those rows and
decodes again only the frames of the rows filled in over detection gaps (``--detect-every``, missed frames).

Only a few chunks of decoded frames and one batch of crops are alive at a time; what grows with video length is
the result: one (2048,) float32 row per track row (8 KiB per person per frame).

Speed (all optional, none changes the numbers of the default float32 path):
- ``overlap``: the video is decoded one chunk ahead in a second thread (:class:`prefetch`) while the current
  chunk is cropped and run through ResNet-50 (OpenCV and torch both release the GIL).
- on CUDA, crops of each frame are cut on the GPU (:func:`core.capture.crop.crop_people_torch`) from frames uploaded
  once through pinned memory; on the CPU they are OpenCV's (:func:`core.capture.crop.crop_person`).
- the backbone's dtype (float32, or bfloat16 / float16 for ``--precision``) is what the crops are cast to.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
import weakref
from typing import Callable, Iterable, Iterator, Optional

import numpy as np

from .crop import CROP_SIZE, crop_people_torch, crop_person, crops_to_imagenet
from ..errors import CancelledError
from ..runtime.interrupts import deferred_interrupts
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

    No worker outlives the interpreter: a Ctrl-C is held back while the thread starts (:mod:`core.runtime.interrupts`),
    and any worker still running when Python exits (say, interrupted between creating and entering the ``with``
    block) is stopped and joined by an ``atexit`` hook. (A daemon thread still inside OpenCV or torch when
    Python finalises is ended by ``pthread_exit`` in C++ code, which aborts the process: "terminate called
    without an active exception".)
    """

    _ITEM, _END, _ERROR = range(3)

    def __init__(self, iterable: Iterable, depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, int(depth)))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(iterable,), name="tcmr-prefetch", daemon=True)
        try:
            with deferred_interrupts():  # start and record the thread as one step (core.runtime.interrupts)
                _LIVE.add(self)
                self._thread.start()
        except BaseException:  # a Ctrl-C held back while it started is raised here: stop the worker first
            self.close()
            raise

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
        """Stop the worker and wait for it (it finishes the item it is on, then closes the iterable)."""
        self._stop.set()
        while self._thread.ident is not None:  # started
            try:
                self._thread.join()
                break
            except RuntimeError:  # started, but not yet running: join() refuses for a moment
                time.sleep(0.001)
        _LIVE.discard(self)

    def __enter__(self) -> "prefetch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_LIVE: "weakref.WeakSet[prefetch]" = weakref.WeakSet()  # workers not closed yet (a running one holds its own)


@atexit.register
def _close_live_prefetchers() -> None:
    """At exit (daemon threads are still alive and can finish here), stop and join every worker left running."""
    for worker in list(_LIVE):
        worker.close()


def maybe_prefetch(iterable: Iterable, enabled: bool):
    """:class:`prefetch` (one item ahead) when ``enabled``, else a context manager yielding ``iterable`` as is."""
    if enabled:
        return prefetch(iterable, depth=1)
    import contextlib

    return contextlib.nullcontext(iterable)


class _Batcher:
    """Collects crops and runs the backbone every ``batch`` crops, writing each feature row to
    ``container[key]`` (a track's (N, 2048) array and its row, or a dict and its key).

    Crops come either as (224, 224, 3) uint8 RGB numpy arrays (CPU crop) or as (3, 224, 224) normalised
    tensors already on the backbone's device (GPU crop).
    """

    def __init__(self, backbone, batch: int):
        self.backbone, self.batch = backbone, max(1, int(batch))
        self.crops: list = []
        self.targets: list[tuple[object, object]] = []  # (container, key)
        self.done = 0

    def add(self, crop, container, key) -> None:
        self.crops.append(crop)
        self.targets.append((container, key))
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
        for (container, key), f in zip(self.targets, feats):
            container[key] = f
        self.done += len(self.crops)
        self.crops, self.targets = [], []


def _gpu_crop_device(backbone, gpu_crops: bool):
    """The CUDA device the crops are cut on (the backbone's, when ``gpu_crops``), or None: OpenCV's crop."""
    try:
        device = next(backbone.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return None
    return device if gpu_crops and device.type == "cuda" else None


def extract_track_features(reader: VideoReader, tracks: list[Track], backbone, bbox_scale: float = 1.2,
                           chunk_frames: int = 64, batch: int = 32,
                           progress: Optional[Callable[[float, str], None]] = None,
                           cancel: Optional[Callable[[], bool]] = None, overlap: bool = False,
                           gpu_crops: bool = True, known: Optional["StreamedFeatures"] = None) -> dict[int, np.ndarray]:
    """Features of every row of every track: {track_id: (N, 2048) float32}, rows in track order.

    Each row's crop is the official one (:func:`core.capture.crop.crop_person`) of the tracker box with ``bbox_scale``.
    ``progress(fraction, message)`` is called after every chunk; ``cancel()`` returning True between chunks
    raises CancelledError. ``overlap``: decode the next chunk in a second thread meanwhile. ``gpu_crops``: when
    the backbone is on a CUDA device, cut the crops there (:func:`core.capture.crop.crop_people_torch`). ``known``: rows
    already computed during pass 1 (:class:`StreamedFeatures`): they are taken from there, and only the frames
    of the other rows (boxes filled in over gaps) are decoded again — none at all when every row is known.
    """
    features = {t.track_id: np.zeros((len(t), FEATURE_DIM), dtype=np.float32) for t in tracks}
    # video frame -> [(track id, row, tracker box (cx, cy, side))]
    wanted: dict[int, list] = {}
    total = sum(len(t) for t in tracks)
    reused = 0
    for t in tracks:
        boxes = bbox_xyxy_to_cxcys(t.bbox_xyxy, 1.0)  # (N, 3) tracker square, before the scale
        for row, (frame, pos, box) in enumerate(zip(t.frame_ids.tolist(), t.positions.tolist(), boxes)):
            f = None if known is None or t.interpolated[row] else known.take(t.source_track_id, pos)
            if f is not None:
                features[t.track_id][row] = f
                reused += 1
            else:
                wanted.setdefault(frame, []).append((t.track_id, row, box))
    batcher = _Batcher(backbone, batch)
    batcher.done = reused
    gpu = _gpu_crop_device(backbone, gpu_crops)
    frames = np.array(sorted(wanted), dtype=np.int64)
    if frames.size:
        with maybe_prefetch(reader.read(frames, chunk_frames_for(reader, chunk_frames, overlap)), overlap) as chunks:
            for chunk in chunks:
                if cancel is not None and cancel():
                    raise CancelledError("cancelled")
                _crop_chunk(chunk, {f: [(features[tid], row, box) for tid, row, box in wanted[f]]
                                    for f in chunk.frame_ids.tolist()}, batcher, bbox_scale, gpu)
                if progress is not None:
                    progress(batcher.done / max(total, 1), f"{batcher.done}/{total} person crops")
    batcher.flush()
    if progress is not None:
        progress(1.0, f"{total}/{total} person crops")
    return features


class StreamedFeatures:
    """Pass 1's share of the features: the crops of each frame's tracked people, cut while the frame is decoded
    for detection and run through the backbone in batches, so the second pass only decodes the frames of
    rows that were filled in over gaps (none at all for a video where every frame was detected).

    Rows are kept per (raw tracker id, position); :func:`extract_track_features` takes them by a cleaned
    track's ``source_track_id`` and position. Rows of tracks that are dropped later (too short) cost a
    backbone call each and are simply never taken. The crop is the same as pass 2's: the same float32 box,
    the same :func:`core.capture.crop.crop_person`.
    """

    def __init__(self, backbone, bbox_scale: float, batch: int = 32, gpu_crops: bool = True):
        self.bbox_scale = float(bbox_scale)
        self._rows: dict[tuple[int, int], np.ndarray] = {}
        self._batcher = _Batcher(backbone, batch)
        self._gpu = _gpu_crop_device(backbone, gpu_crops)
        self.seconds = 0.0  # spent cropping and in the backbone (the features stage's share of pass 1)

    def add_chunk(self, chunk, rows: dict) -> None:
        """rows: {video frame id: [(raw track id, position, bbox_xyxy (4,))]} for frames of ``chunk``."""
        t0 = time.perf_counter()
        wanted = {}
        for frame, people in rows.items():
            if people:
                boxes = bbox_xyxy_to_cxcys(np.stack([np.asarray(b, np.float32) for _, _, b in people]), 1.0)
                wanted[frame] = [(self._rows, (int(tid), int(pos)), box) for (tid, pos, _), box in zip(people, boxes)]
        if wanted:
            _crop_chunk(chunk, wanted, self._batcher, self.bbox_scale, self._gpu)
        self.seconds += time.perf_counter() - t0

    def finish(self) -> None:
        """Run the backbone on the crops still waiting (call once pass 1 is over)."""
        t0 = time.perf_counter()
        self._batcher.flush()
        self.seconds += time.perf_counter() - t0

    def take(self, track_id: int, position: int) -> Optional[np.ndarray]:
        """The (2048,) feature row of raw track ``track_id`` at ``position`` (removed from here), or None."""
        return self._rows.pop((int(track_id), int(position)), None)

    def __len__(self) -> int:
        return len(self._rows)


def _crop_chunk(chunk, wanted: dict, batcher: _Batcher, bbox_scale: float, gpu_device=None) -> None:
    """Cut the crops of ``wanted`` = {video frame id: [(container, key, tracker box (cx, cy, side))]} from the
    chunk's frames and hand them to ``batcher`` (feature -> container[key]); on ``gpu_device`` if given."""
    if gpu_device is not None:
        _crop_chunk_on_gpu(chunk, wanted, batcher, bbox_scale, gpu_device)
        return
    for frame_id, frame in zip(chunk.frame_ids.tolist(), chunk.frames_rgb_u8):
        for container, key, box in wanted.get(frame_id, ()):
            batcher.add(crop_person(frame, box, bbox_scale, CROP_SIZE), container, key)


def _crop_chunk_on_gpu(chunk, wanted: dict, batcher: _Batcher, bbox_scale: float, device) -> None:
    """Upload the chunk's frames once (pinned memory, asynchronous) and cut every person's crop on the GPU."""
    import torch

    with torch.inference_mode():
        ks = [k for k, f in enumerate(chunk.frame_ids.tolist()) if wanted.get(f)]
        if not ks:
            return
        frames = torch.from_numpy(np.ascontiguousarray(chunk.frames_rgb_u8[ks]))
        if torch.device(device).type == "cuda":
            frames = frames.pin_memory()
        frames = frames.to(device, non_blocking=True)  # (F, H, W, 3) uint8 on the GPU
        for j, k in enumerate(ks):
            people = wanted[int(chunk.frame_ids[k])]
            crops = crop_people_torch(frames[j], np.stack([box for _, _, box in people]), bbox_scale, CROP_SIZE)
            for (container, key, _), crop in zip(people, crops):
                batcher.add(crop, container, key)
