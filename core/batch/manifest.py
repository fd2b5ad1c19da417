"""The batch manifest: ``OUT_DIR/manifest.jsonl``, one JSON object per finished clip, appended as clips finish.

Each line (the last line of a clip wins)::

    {"video": "/abs/clip.mp4", "status": "done" | "failed", "output": "/abs/OUT_DIR/clip-1a2b3c4d.npz" | null,
     "seconds": 3.2, "error": null | "one line", "key": "1a2b3c4d", "size": 123456, "mtime_ns": 1700000000000000000,
     "sha256": null | "...", "options": "<hash of the capture options>", "tracks": 1, "person_frames": 40,
     "frames": 40, "worker": "local-1 pid 1234", "attempt": 1, "finished_at": "2026-12-01T16:40:00Z",
     "parts": {"body": true, "hands": true, "face": false},  (parts: what a done clip captured)
     "warnings": ["the floor could not be estimated ..."]}          (warnings: only when the capture had some)

Only one process writes it (the batch's driver), each line with one ``write`` + flush + fsync, so a crash
leaves at most one incomplete last line, which :class:`Manifest` ignores. Resume (:func:`plan`): a clip whose
last record is ``done`` with the same video fingerprint (size + mtime, or the content hash with
``--hash``), the same options and an output that still exists and is whole (its zip directory and headers pass
the result checks of ``core/result_schema.py``) is skipped; a ``failed`` one is skipped too
unless ``retry_failed`` (or its video changed); everything else is captured again.

The headless Blender command keeps its own manifest of the same kind (``blender_manifest.jsonl``: the clip's
capture or motion file is its "video", the ``.blend`` its output, and every file of a record's ``outputs`` list
must still exist for the clip to count as done).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Optional

MANIFEST_NAME = "manifest.jsonl"


def video_fingerprint(path: str, content_hash: bool = False) -> dict:
    """{"size", "mtime_ns", "sha256"} of a file ({} when it cannot be read: such a clip is never "unchanged")."""
    try:
        st = os.stat(path)
    except OSError:
        return {}
    out = {"size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns), "sha256": None}
    if content_hash:
        try:
            with open(path, "rb") as fh:
                out["sha256"] = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            return {}
    return out


def options_hash(options: dict) -> str:
    return hashlib.sha1(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:12]


# settings that change how fast a clip is captured, not its result (left out of the hash, so a batch resumed on
# another device, or by a newer version that added such a setting, does not redo its clips)
_SPEED_ONLY = ("lanes", "stream_features")


def capture_options_hash(config) -> str:
    """:func:`options_hash` of a :class:`core.config.CaptureConfig`, without the device and the speed-only
    settings."""
    import dataclasses

    settings = dataclasses.asdict(config)
    settings.pop("device", None)
    _drop_if_default(settings, config)
    for name in _SPEED_ONLY:
        settings.get("speed", {}).pop(name, None)
    return options_hash(settings)


def _drop_if_default(settings: dict, config) -> None:
    """Leave the hands/face settings out of the hash while they are the defaults, so that clips captured before
    those settings existed are not captured again (an explicit --hands/--face is part of the hash)."""
    from ..config import ExtremitiesConfig, ExtremityRefineConfig

    if config.extremities == ExtremitiesConfig():
        settings.pop("extremities", None)
    if config.refine.extremities == ExtremityRefineConfig():
        settings.get("refine", {}).pop("extremities", None)


class Manifest:
    """Read at start (latest record per clip key), appended to as clips finish."""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self.latest: dict[str, dict] = {}
        self.bad_lines = 0
        if os.path.isfile(self.path):
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        self.bad_lines += 1  # a line cut short by a crash: that clip is simply redone
                        continue
                    if isinstance(rec, dict) and rec.get("key"):
                        self.latest[rec["key"]] = rec

    def append(self, record: dict) -> None:
        """Write one line now (raises OSError when the folder is full or gone: the caller stops the batch)."""
        record = dict(record)
        record.setdefault("finished_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        line = json.dumps(record, sort_keys=False, default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            data = line.encode("utf-8")
            if os.write(fd, data) != len(data):
                raise OSError(28, "short write (disk full?)")
            os.fsync(fd)
        finally:
            os.close(fd)
        self.latest[record["key"]] = record


@dataclass
class Plan:
    todo: list = field(default_factory=list)  # [(clip, fingerprint)]
    done: list = field(default_factory=list)  # clips skipped as done and unchanged
    failed: list = field(default_factory=list)  # clips skipped as failed before (no --retry-failed)


def plan(clips: list, manifest: Manifest, opts_hash_of, out_dir: str, retry_failed: bool = False,
         content_hash: bool = False, force: bool = False, intact=None) -> Plan:
    """Decide per clip: capture, skip as done, or skip as failed. ``opts_hash_of(clip)`` -> options hash;
    ``intact(path)``: is a done clip's output still whole (default: a result file that passes the checks)."""
    intact = intact or _intact
    result = Plan()
    for clip in clips:
        fp = video_fingerprint(clip.video, content_hash)
        rec: Optional[dict] = None if force else manifest.latest.get(clip.key)
        still_missing = not fp and rec is not None and rec.get("size") is None  # failed as missing, still missing
        same_video = still_missing or bool(fp) and rec is not None and rec.get("size") == fp["size"] and (
            rec.get("sha256") == fp["sha256"] if content_hash and rec.get("sha256")
            else rec.get("mtime_ns") == fp["mtime_ns"])
        same = same_video and rec.get("options") == opts_hash_of(clip)
        if same and rec.get("status") == "done" and intact(os.path.join(out_dir, clip.output_name)) and \
                all(os.path.exists(p) for p in rec.get("outputs") or ()):
            result.done.append(clip)
        elif same and rec.get("status") == "failed" and not retry_failed:
            result.failed.append(clip)
        else:
            result.todo.append((clip, fp))
    return result


def _intact(output: str) -> bool:
    """The output of a clip done before is still there and whole (its zip directory and headers pass the result
    checks, core/result_schema.py; no data is read): a damaged one is captured again."""
    from ..result_schema import layout_problem

    return os.path.isfile(output) and layout_problem(output) is None
