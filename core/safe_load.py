"""Pickles from files we did not write: scanning them without running them, and loading them with allow-lists.

Scanning (``pickletools`` only, nothing is imported or executed): :func:`pickle_globals_in_zip` lists the
globals a torch zip's pickles name and :func:`unsafe_pickle_globals` picks those that run commands or code (for the
detector, the one file ultralytics unpickles in full: ``core.assets.checks`` refuses it first).

Loading: two entry points, both refuse every global that is not on a short allow-list:

- :func:`load_smpl_pickle` reads the official ``SMPL_*.pkl`` (a latin-1 Python 2 pickle holding numpy arrays,
  ``chumpy`` objects and a ``scipy.sparse`` ``J_regressor``) *without* chumpy or scipy: chumpy objects become
  the array they wrap (their state's ``x``) and sparse matrices are densified from their state.
- :func:`torch_load_weights` reads a torch checkpoint with ``weights_only=True`` and allow-lists only the numpy
  scalar globals that the official TCMR trainer files hold (``performance`` is a numpy float32).

A refused or broken file raises :class:`~core.errors.InvalidModelFileError` (one line, naming the file).

:func:`numpy_array_global` is the allow-list of globals that plain numpy arrays/scalars need in a pickle (under
numpy 1 and numpy 2 names); the SMPL unpickler here and the add-on's TCMR-output unpickler
(``blender_addon.scene.tcmr_pickle``) both build on it. This module imports only the standard library and numpy at
module level, so the add-on can use it.
"""

from __future__ import annotations

import codecs
import importlib
import io
import os
import pickle
import pickletools
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import InvalidModelFileError, MissingModelFileError, one_line

# ---------------------------------------------------------------------------------------- scanning
# Globals no model file needs and that run commands or code when a pickle calls them. The detector is the one
# file ultralytics unpickles in full, so its pickle is scanned for these first (:func:`unsafe_pickle_globals`).
_UNSAFE_MODULES = ("os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "pty",
                   "ctypes", "pickle", "marshal", "code", "codeop", "webbrowser", "multiprocessing", "tempfile")
_UNSAFE_BUILTINS = ("eval", "exec", "compile", "__import__", "open", "breakpoint", "input", "globals", "locals",
                    "vars", "setattr", "delattr")
UNRESOLVED_GLOBAL = ("?", "?")  # a STACK_GLOBAL whose names the scan could not follow


def pickle_globals_in_zip(path) -> Optional[set[tuple[str, str]]]:
    """(module, name) pairs referenced by the ``data.pkl`` of a torch zip checkpoint, or None if not one.
    Every pickle in the zip is scanned (whichever one a loader reads, its globals are in the set).

    Uses ``pickletools`` only: nothing in the file is imported or executed.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if not any(n.endswith("data.pkl") for n in names):
                return None
            found: set[tuple[str, str]] = set()
            for name in names:
                if name.endswith(".pkl"):
                    found |= _pickle_globals(zf.read(name))
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return found


def unsafe_pickle_globals(globals_) -> list[str]:
    """The ``module.name`` of each global in ``globals_`` (from :func:`pickle_globals_in_zip`) that can run a
    command or code (os/posix/nt/subprocess/..., builtins.eval/exec/...), or one the scan could not resolve."""
    bad = set()
    for module, name in globals_:
        top = module.split(".")[0]
        if (module, name) == UNRESOLVED_GLOBAL:
            bad.add("an unresolvable global")
        elif top in _UNSAFE_MODULES or (top in ("builtins", "__builtin__") and name in _UNSAFE_BUILTINS):
            bad.add(f"{module}.{name}")
    return sorted(bad)


def _pickle_globals(data: bytes) -> set[tuple[str, str]]:
    """Globals of a pickle: GLOBAL args and STACK_GLOBAL (module, name) from the strings pushed before
    (:data:`UNRESOLVED_GLOBAL` when those are not plain strings the scan can follow)."""
    found: set[tuple[str, str]] = set()
    memo: dict[int, str] = {}
    recent: list[Optional[str]] = []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST"):
                module, _, name = str(arg).partition(" ")
                found.add((module, name))
            elif op.name == "STACK_GLOBAL":
                resolved = len(recent) >= 2 and None not in recent[-2:]
                found.add((recent[-2], recent[-1]) if resolved else UNRESOLVED_GLOBAL)
            elif op.name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif op.name in ("BINPUT", "LONG_BINPUT", "PUT") and recent:
                memo[int(arg)] = recent[-1]
            elif op.name in ("BINGET", "LONG_BINGET", "GET"):
                recent.append(memo.get(int(arg)))
            elif isinstance(arg, str) and ("UNICODE" in op.name or "STRING" in op.name):
                recent.append(str(arg))
            else:
                recent.append(None)
            del recent[:-4]
    except (ValueError, EOFError):
        pass  # truncated pickle: report what was seen
    return found


# ---------------------------------------------------------------------------------------- numpy globals
# (module, name) of numpy's array/scalar reconstructors, as numpy 1 (numpy.core) and numpy 2 (numpy._core) write them
_NUMPY_ARRAY_GLOBALS = frozenset(
    [("numpy", "ndarray"), ("numpy", "dtype")]
    + [(f"numpy.{core}.multiarray", name) for core in ("core", "_core") for name in ("_reconstruct", "scalar")]
    + [(f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")]
)


def _numpy_core(submodule: str):
    """numpy's ``core.<submodule>`` under its current name (``numpy._core`` from numpy 2 on)."""
    package = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"
    return importlib.import_module(f"{package}.{submodule}")


def numpy_array_global(module: str, name: str):
    """What a pickle of plain numpy arrays may reference as ``module.name``: numpy's array/dtype/scalar
    reconstructors (numpy 1 or 2 names, resolved for the numpy installed) and ``_codecs.encode`` (how protocol 2
    stores bytes). None for anything else: the caller refuses it."""
    if (module, name) == ("_codecs", "encode"):
        return codecs.encode
    if (module, name) not in _NUMPY_ARRAY_GLOBALS:
        return None
    if module == "numpy":
        return getattr(np, name)
    return getattr(_numpy_core(module.rpartition(".")[2]), name)


# ---------------------------------------------------------------------------------------- SMPL pickles
_SPARSE_FORMATS = {"csc_matrix": "csc", "csr_matrix": "csr", "csc_array": "csc", "csr_array": "csr"}


class _ChumpyStub:
    """Stands in for any ``chumpy`` class: keeps the unpickled state; ``x`` is the wrapped array."""

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"state": state}


class _SparseStub:
    """Stands in for ``scipy.sparse`` csc/csr matrices; :meth:`dense` rebuilds the full array from the state."""

    fmt = "csc"

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {}

    def dense(self) -> np.ndarray:
        s = self.state
        shape = s.get("_shape", s.get("shape"))
        try:
            data = np.asarray(s["data"])
            indices = np.asarray(s["indices"], dtype=np.int64)
            indptr = np.asarray(s["indptr"], dtype=np.int64)
            n_rows, n_cols = (int(v) for v in shape)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"unreadable sparse matrix ({exc})") from None
        out = np.zeros((n_rows, n_cols), dtype=np.float64)
        major = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))  # column (csc) or row (csr) of each entry
        if self.fmt == "csc":
            np.add.at(out, (indices, major), data)
        else:
            np.add.at(out, (major, indices), data)
        return out


def _sparse_class(fmt: str):
    return type(f"_Sparse_{fmt}", (_SparseStub,), {"fmt": fmt})


def _reconstructor(cls, base, state):
    """``copyreg._reconstructor`` (protocol 0/1 pickles), restricted to our stub classes."""
    if not (isinstance(cls, type) and issubclass(cls, (_ChumpyStub, _SparseStub)) and base is object):
        raise pickle.UnpicklingError("refused object reconstruction")
    return object.__new__(cls)


class _SmplUnpickler(pickle.Unpickler):
    """Resolves only numpy array reconstruction, chumpy/scipy.sparse stand-ins and a few harmless builtins."""

    def find_class(self, module, name):
        found = numpy_array_global(module, name)
        if found is not None:
            return found
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "object"):
            return {"set": set, "frozenset": frozenset, "object": object}[name]
        if module in ("copyreg", "copy_reg") and name == "_reconstructor":
            return _reconstructor
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyStub
        if (module == "scipy.sparse" or module.startswith("scipy.sparse.")) and name in _SPARSE_FORMATS:
            return _sparse_class(_SPARSE_FORMATS[name])
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def _plain(value):
    """Replace stand-ins by numpy arrays (chumpy -> its ``x``, sparse -> dense). A chumpy expression that
    holds no array of its own becomes None (the SMPL arrays we read are all plain ``Ch`` terminals)."""
    if isinstance(value, _ChumpyStub):
        x = value.state.get("x")
        return None if x is None else np.asarray(x)
    if isinstance(value, _SparseStub):
        return value.dense()
    return value


def load_smpl_pickle(path) -> dict:
    """Read an official SMPL ``.pkl`` safely. Returns {key: value} with chumpy/sparse values as numpy arrays.

    Raises MissingModelFileError (no file) or InvalidModelFileError (not a pickle, refused global, truncated).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingModelFileError(f"SMPL model file not found: {path}")
    try:
        data = path.read_bytes()
        obj = _SmplUnpickler(io.BytesIO(data), encoding="latin1").load()
        if not isinstance(obj, dict):
            raise ValueError("the pickle does not hold a dictionary")
        return {str(k): _plain(v) for k, v in obj.items()}
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            ImportError, OverflowError, MemoryError, UnicodeDecodeError) as exc:
        raise InvalidModelFileError(f"{path.name} is not a readable SMPL model file ({one_line(exc, 160)}); "
                                    "see models/README.md") from None


# ---------------------------------------------------------------------------------------- torch files
def _numpy_scalar_globals() -> list:
    """The numpy globals a trainer checkpoint's numpy-scalar ``performance`` needs, under numpy 1 and 2 names."""
    scalar = _numpy_core("multiarray").scalar
    allowed = [(scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"), np.dtype]
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25: np.dtype('f4') is a Float32DType instance
    if dtypes is not None:
        allowed += [dtypes.Float32DType, dtypes.Float64DType]
    return allowed


def torch_load_weights(path, what: str = "checkpoint"):
    """``torch.load(path, map_location="cpu", weights_only=True)`` with only the numpy scalar globals added.

    Works for zip and legacy torch files. ``what`` names the expected content in error messages.
    Raises MissingModelFileError / InvalidModelFileError; never executes code from the file.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise MissingModelFileError(f"{what} not found: {path}")
    if os.path.getsize(path) == 0:
        raise InvalidModelFileError(f"{path.name} is empty (0 bytes), not a {what}; re-download it, "
                                    "see models/README.md")
    try:
        with torch.serialization.safe_globals(_numpy_scalar_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        full = str(exc).lower()
        reason = one_line(exc, 160)
        if "global" in full or "weights only" in full or "weights_only" in full:
            reason = "it contains objects other than plain weights and was refused for safety"
        raise InvalidModelFileError(f"{path.name} is not a {what} ({reason}); re-download it, "
                                    "see models/README.md") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for truncated/garbage files
        raise InvalidModelFileError(f"{path.name} is not a {what} ({type(exc).__name__}: {one_line(exc, 160)}); "
                                    "re-download it, see models/README.md") from None
