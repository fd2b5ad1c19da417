"""INPUTS of a batch -> a list of :class:`Clip`: files, folders, globs, and ``.txt``/``.csv`` lists with per-clip options.

- a **video file** is one clip (anything with a video extension, see :data:`VIDEO_EXTENSIONS`; a file named
  explicitly is taken whatever its extension, so that an unreadable one is reported, not silently dropped);
- a **folder** gives the videos in it (``recursive=True``: and in its sub-folders); other files in it (notes,
  images, ...) are counted and reported as ignored;
- a **glob** (``clips/*.mp4``, ``shoot/**/*.mov``) gives the files it matches;
- a **list** (``.txt``/``.lst``: one clip per line, ``path [--option value ...]``, ``#`` comments; ``.csv``: a
  header row with a ``video`` column and any option columns) gives its clips with their own options. Relative
  paths in a list are relative to the list file.

Per-clip options (:data:`CLIP_OPTIONS`; the same names as ``python -m core capture``, without dashes in CSV
headers: ``detections``, ``frames``, ``track``, ``target_fps``, ``focal_length``, ``windowing``,
``no_smoothing``, ``save_vertices``, ``tracker``, ``min_track_frames``, ``max_gap_frames``, and ``output``
(the result file name inside OUT_DIR)). They override the batch's own options for that clip.

Output names cannot collide: ``<video stem>-<8 hex digits>.npz``, the digits a hash of the video's absolute
path and the clip's own options, so two ``walk.mp4`` from different folders, or the same video listed twice
with different options, get different files, and the name of a clip is the same in every run (resume).
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
import shlex
from dataclasses import dataclass, field
from typing import Iterable

from ..cli import values as cli_values
from ..errors import InvalidArgumentError

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv",
                              ".ts", ".mts", ".m2ts", ".3gp", ".ogv", ".mxf", ".dv"})
LIST_EXTENSIONS = frozenset({".txt", ".lst", ".csv"})


def _frames(text: str) -> str:
    first, last = cli_values.frame_range(text)
    return f"{first}:{'' if last is None else last}"


_positive, _count = cli_values.positive, cli_values.count


def _flag(text) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "y", "on", "x"):
        return True
    if value in ("0", "false", "no", "n", "off", ""):
        return False
    raise ValueError(f"expected yes/no, got {text!r}")


def _choice(*allowed):
    def convert(text):
        if str(text) not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {text!r}")
        return str(text)
    return convert


# option name -> (converter, is a path relative to the list file, takes a value on a .txt line)
CLIP_OPTIONS = {
    "detections": (str, True, True),
    "frames": (_frames, False, True),
    "track": (str, False, True),
    "target_fps": (_positive, False, True),
    "focal_length": (_positive, False, True),
    "windowing": (_choice("ours", "official"), False, True),
    "no_smoothing": (_flag, False, False),
    "save_vertices": (_flag, False, False),
    "tracker": (_choice("bytetrack", "botsort"), False, True),
    "min_track_frames": (_count, False, True),
    "max_gap_frames": (_count, False, True),
    "output": (str, False, True),
}


@dataclass(frozen=True)
class Clip:
    """One video to capture. ``options``: its own options (CLIP_OPTIONS names, converted), ``source``: where it
    was named (for messages), ``output_name``: the result file name inside OUT_DIR."""

    video: str  # absolute path
    options: dict = field(default_factory=dict, hash=False, compare=False)
    source: str = ""
    output_name: str = ""

    @property
    def key(self) -> str:
        """Stable id of this clip (video path + own options): the manifest's key and the output name's digits."""
        opts = {k: v for k, v in self.options.items() if k != "output"}
        text = json.dumps([self.video, opts], sort_keys=True)
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


@dataclass
class Collected:
    clips: list  # [Clip]
    ignored: list  # files in folders that are not videos (reported, not captured)
    duplicates: list  # (clip source, first source) pairs of the same video + options named twice (dropped)


def parse_clip_options(pairs: dict, base_dir: str, where: str) -> dict:
    """{name: text} from a list row -> converted options; a bad name or value -> InvalidArgumentError naming ``where``."""
    out = {}
    for raw_name, value in pairs.items():
        name = str(raw_name).strip().lower().lstrip("-").replace("-", "_")
        if value is None or (isinstance(value, str) and not value.strip() and name not in ("no_smoothing",
                                                                                        "save_vertices")):
            continue
        if name not in CLIP_OPTIONS:
            raise InvalidArgumentError(f"{where}: unknown option '{raw_name}' (known: {', '.join(CLIP_OPTIONS)})")
        convert, is_path, _ = CLIP_OPTIONS[name]
        try:
            converted = convert(value.strip() if isinstance(value, str) else value)
        except ValueError as exc:
            raise InvalidArgumentError(f"{where}: option {name}: {exc}") from None
        if is_path:
            converted = os.path.abspath(os.path.join(base_dir, os.path.expanduser(converted)))
        if name == "output":
            converted = _output_name(converted, where)
        if converted is False:
            continue  # a "no" flag is the default: keep options (and the clip's key) minimal
        out[name] = converted
    return out


def _output_name(name: str, where: str) -> str:
    name = name.strip()
    if not name.endswith(".npz"):
        name += ".npz"
    if os.path.isabs(name) or "/" in name or "\\" in name or name.startswith("."):
        raise InvalidArgumentError(f"{where}: output must be a plain file name inside the output folder (no folders), "
                                   f"got {name!r}")
    return name


def _read_txt(path: str) -> list:
    rows = []
    base = os.path.dirname(os.path.abspath(path))
    with open(path, encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, 1):
            where = f"{path}:{number}"
            try:
                words = shlex.split(line, comments=True)
            except ValueError as exc:
                raise InvalidArgumentError(f"{where}: cannot read the line ({exc})") from None
            if not words:
                continue
            video, rest, pairs = words[0], words[1:], {}
            k = 0
            while k < len(rest):
                word = rest[k]
                if not word.startswith("--"):
                    raise InvalidArgumentError(f"{where}: expected --option after the video, got {word!r}")
                name, eq, value = word[2:].partition("=")
                spec = CLIP_OPTIONS.get(name.replace("-", "_"))
                if spec is None:
                    raise InvalidArgumentError(f"{where}: unknown option '--{name}' "
                                               f"(known: {', '.join('--' + n.replace('_', '-') for n in CLIP_OPTIONS)})")
                if not eq:
                    if spec[2]:
                        if k + 1 >= len(rest):
                            raise InvalidArgumentError(f"{where}: --{name} needs a value")
                        value = rest[k + 1]
                        k += 1
                    else:
                        value = "yes"
                pairs[name] = value
                k += 1
            rows.append((video, pairs, base, where))
    return rows


def _read_csv(path: str) -> list:
    rows = []
    base = os.path.dirname(os.path.abspath(path))
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in (reader.fieldnames or [])]
        if "video" not in fields:
            raise InvalidArgumentError(f"{path}: a CSV list needs a header row with a 'video' column "
                                       f"(and option columns such as detections, frames, track)")
        for number, row in enumerate(reader, 2):
            row = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
            video = (row.pop("video") or "").strip()
            if not video or video.startswith("#"):
                continue
            rows.append((video, row, base, f"{path}:{number}"))
    return rows


def _videos_in(folder: str, recursive: bool, ignored: list) -> list:
    found = []
    walker = os.walk(folder) if recursive else [(folder, [], os.listdir(folder))]
    for root, dirs, files in walker:
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(root, name)
            if name.startswith(".") or not os.path.isfile(path):
                continue
            if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                found.append(path)
            else:
                ignored.append(path)
    return found


def collect_clips(inputs: Iterable[str], recursive: bool = False, skip_dirs: Iterable[str] = ()) -> Collected:
    """Expand INPUTS (see the module docstring). Raises InvalidArgumentError for a list file with bad rows, a
    path that matches nothing, or two clips that would write the same explicit output name."""
    ignored, rows = [], []
    skip = {os.path.abspath(d) for d in skip_dirs}
    for item in inputs:
        item = os.path.expanduser(str(item))
        ext = os.path.splitext(item)[1].lower()
        if os.path.isdir(item):
            if os.path.abspath(item) in skip:
                continue
            rows += [(p, {}, "", item) for p in _videos_in(item, recursive, ignored)]
        elif os.path.isfile(item) and ext in LIST_EXTENSIONS:
            rows += _read_csv(item) if ext == ".csv" else _read_txt(item)
        elif glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise InvalidArgumentError(f"{item} matches no file (check the pattern; quote it so the shell "
                                           "does not expand it)")
            for p in matches:
                if os.path.isdir(p):
                    rows += [(q, {}, "", p) for q in _videos_in(p, recursive, ignored)]
                elif os.path.splitext(p)[1].lower() in VIDEO_EXTENSIONS:
                    rows.append((p, {}, "", item))
                else:
                    ignored.append(p)
        else:
            rows.append((item, {}, "", "the command line"))  # a missing or odd file: reported per clip
    clips, seen, duplicates, outputs = [], {}, [], {}
    for video, pairs, base, where in rows:
        path = os.path.abspath(os.path.join(base, os.path.expanduser(video))) if base else os.path.abspath(video)
        options = parse_clip_options(pairs, base or os.getcwd(), where) if pairs else {}
        clip = Clip(video=path, options=options, source=where)
        if clip.key in seen:
            duplicates.append((where, seen[clip.key]))
            continue
        seen[clip.key] = where
        name = options.get("output") or f"{_safe_stem(path)}-{clip.key}.npz"
        if name in outputs:
            raise InvalidArgumentError(f"two clips would write {name}: {outputs[name]} and {where} "
                                       "(give them different output names)")
        outputs[name] = where
        clips.append(Clip(video=path, options=options, source=where, output_name=name))
    return Collected(clips=clips, ignored=ignored, duplicates=duplicates)


def _safe_stem(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0] or "clip"
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip("._")
    return (keep or "clip")[:80]
