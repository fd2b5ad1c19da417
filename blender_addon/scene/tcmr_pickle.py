"""Read the official TCMR demo output (``tcmr_output.pkl``) without running code from the file.

The demo writes it with ``joblib.dump`` (no compression): a pickle in which every numpy array is replaced by
a ``joblib.numpy_pickle.NumpyArrayWrapper`` object (subclass, shape, order, dtype, alignment) whose raw bytes
follow right after it in the same file (one padding-length byte, that many padding bytes, then the data).
Plain ``pickle.dump`` files of the same dict are read too.

The unpickler is restricted: it resolves only numpy's array/dtype/scalar reconstructors and ``codecs.encode``
(protocol 2 bytes) -- the allow-list of :func:`core.safe_load.numpy_array_global` --, ``OrderedDict`` and the
joblib wrapper (mapped to a stand-in class of ours); anything else in the file is refused. numpy only, no
joblib needed.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict

import numpy as np

from ...core.errors import InvalidMotionFileError
from ...core.safe_load import numpy_array_global

_COMPRESSED_MAGIC = (b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00", b"\x04\x22\x4d\x18")


class _JoblibArrayWrapper:
    """Stand-in for ``joblib.numpy_pickle.NumpyArrayWrapper``: only carries the pickled attributes."""


class _RestrictedUnpickler(pickle._Unpickler):  # the pure-Python unpickler: its BUILD can be extended
    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, file_handle, source: str):
        super().__init__(file_handle, encoding="latin1")
        self._raw = file_handle
        self._source = source

    def find_class(self, module, name):
        found = numpy_array_global(module, name)
        if found is not None:
            return found
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("joblib.numpy_pickle", "NumpyArrayWrapper"):
            return _JoblibArrayWrapper
        raise InvalidMotionFileError(
            f"{self._source}: refusing to load {module}.{name} (only numpy arrays and plain containers are read)"
        )

    def load_build(self):
        pickle._Unpickler.dispatch[pickle.BUILD[0]](self)
        if isinstance(self.stack[-1], _JoblibArrayWrapper):
            self.stack[-1] = self._read_joblib_array(self.stack[-1])

    dispatch[pickle.BUILD[0]] = load_build

    def _read_joblib_array(self, wrapper: _JoblibArrayWrapper) -> np.ndarray:
        dtype = np.dtype(wrapper.dtype)
        if dtype.hasobject:
            raise InvalidMotionFileError(f"{self._source}: arrays of Python objects are not supported")
        if getattr(wrapper, "numpy_array_alignment_bytes", None) is not None:  # joblib >= 1.2
            pad = self._raw.read(1)
            if len(pad) == 1 and pad[0]:
                self._raw.read(pad[0])
        shape = tuple(int(s) for s in wrapper.shape)
        count = int(np.prod(shape, dtype=np.int64))
        data = self._raw.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise InvalidMotionFileError(f"{self._source}: the file ends inside an array (truncated?)")
        flat = np.frombuffer(data, dtype=dtype, count=count)
        array = flat.reshape(shape[::-1]).T if wrapper.order == "F" else flat.reshape(shape)
        return np.ascontiguousarray(array, dtype=dtype.newbyteorder("="))


def load_tcmr_pickle(path) -> dict:
    """The demo output as ``{track_id: {key: array}}``. Raises InvalidMotionFileError for anything else."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
            if any(head.startswith(m) for m in _COMPRESSED_MAGIC):
                raise InvalidMotionFileError(
                    f"{source} is a compressed joblib file; load it with joblib and save it again with compress=0"
                )
            fh.seek(0)
            data = _RestrictedUnpickler(fh, source).load()
    except FileNotFoundError as exc:
        raise InvalidMotionFileError(f"motion file not found: {source}") from exc
    except InvalidMotionFileError:
        raise
    except Exception as exc:  # every kind of pickle corruption
        raise InvalidMotionFileError(f"{source} is not a readable TCMR output pickle ({exc})") from exc
    if not isinstance(data, dict) or not data or not all(isinstance(v, dict) for v in data.values()):
        raise InvalidMotionFileError(f"{source} is not a TCMR output (expected {{track_id: {{pose, betas, ...}}}})")
    return data
