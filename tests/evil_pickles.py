"""Hostile files for the restricted loaders: pickles whose unpickling would run a command that creates a marker
file, packed as a plain pickle, a torch checkpoint (zip and legacy layouts) or an ``.npz`` member (a pickled
object array). A loader is safe when it raises a clean error and the marker does not appear.

The payloads are written opcode by opcode, so a global can be named under any module (``os``, ``posix``,
``nt``, ``subprocess``, ``builtins``), whatever Python's pickler would call it on this machine.
"""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import shlex
import sys
import types
import zipfile
from pathlib import Path

import numpy as np

# (module, name) of globals that run a command or code when called
TARGETS = (
    ("os", "system"),
    ("posix", "system"),
    ("nt", "system"),
    ("subprocess", "call"),
    ("subprocess", "check_output"),
    ("subprocess", "Popen"),
    ("builtins", "exec"),
)


def target_ids():
    return [f"{m}.{n}" for m, n in TARGETS]


def _args(module: str, name: str, marker: Path) -> tuple:
    if module == "subprocess":
        return (["touch", str(marker)],)
    if module == "builtins":
        return (f"open({str(marker)!r}, 'w').close()",)
    return (f"touch {shlex.quote(str(marker))}",)


def reduce_call(module: str, name: str, marker: Path) -> bytes:
    """Opcodes (no PROTO, no STOP) that push ``module.name(*args)`` -- a call that creates ``marker``."""
    args = pickle.dumps(_args(module, name, marker), protocol=2)[2:-1]  # the args tuple without PROTO/STOP
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n" + args + b"R"


def payload(module: str, name: str, marker: Path, top_level: bool = False) -> bytes:
    """A protocol-2 pickle of ``{"pose": module.name(...)}`` (or of the call's result alone)."""
    call = reduce_call(module, name, marker)
    if top_level:
        return b"\x80\x02" + call + b"."
    return b"\x80\x02}X\x04\x00\x00\x00pose" + call + b"s."


def marker_for(folder: Path, module: str, name: str) -> Path:
    """The marker file a payload for ``module.name`` creates (its name carries the target, see :func:`ran`)."""
    return Path(folder) / f"MARKER_{module}.{name}"


def ran(marker: Path) -> bool:
    """Whether the payload ran: the marker exists (for ``Popen``, whose child runs on its own, after a moment)."""
    if marker.name.endswith(".Popen"):
        import time

        deadline = time.monotonic() + 0.5
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    return marker.exists()


def is_live(module: str) -> bool:
    """Whether the module exists here (``nt`` only on Windows, ``posix`` not there), so the payload would run."""
    return module in sys.modules or importlib.util.find_spec(module) is not None


def make_all_targets_live(monkeypatch) -> None:
    """Where ``nt`` (Windows) or ``posix`` is missing, stand one in whose ``system`` really runs the command,
    so a loader that resolved the global would run the payload on this platform too (and the test fail)."""
    for module in ("nt", "posix"):
        if not is_live(module):
            stand_in = types.ModuleType(module)
            stand_in.system = os.system
            monkeypatch.setitem(sys.modules, module, stand_in)


def write_torch_zip(path: Path, data_pkl: bytes) -> Path:
    """A torch zip checkpoint (``torch.save`` layout) whose ``data.pkl`` is ``data_pkl``."""
    import torch

    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(2)}, buffer)
    buffer.seek(0)
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            content = data_pkl if info.filename.endswith("/data.pkl") else src.read(info.filename)
            dst.writestr(info.filename, content)
    return path


def write_torch_legacy(path: Path, main_pickle: bytes) -> Path:
    """A legacy (pre-1.6, non-zip) torch file: magic number, protocol, system info, then ``main_pickle``."""
    head = [0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True,
                                            "type_sizes": {"short": 2, "int": 4, "long": 4}}]
    storage_keys = pickle.dumps([], protocol=2)  # no tensor data follows
    Path(path).write_bytes(b"".join(pickle.dumps(h, protocol=2) for h in head) + main_pickle + storage_keys)
    return path


def npy_object_member(pickled: bytes) -> bytes:
    """The bytes of an ``.npy`` holding a (1,) object array: the header, then the pickle numpy would load."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    return out.getvalue() + pickled


def write_npz(path: Path, plain: dict, pickled_members: dict) -> Path:
    """An ``.npz`` with the arrays of ``plain`` and, for each ``{name: pickle bytes}``, a pickled object array."""
    buffer = io.BytesIO()
    np.savez(buffer, **plain)
    buffer.seek(0)
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        for name, data in pickled_members.items():
            dst.writestr(f"{name}.npy", npy_object_member(data))
    return path
