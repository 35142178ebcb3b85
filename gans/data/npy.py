"""One NumPy array from a ``.npy`` file that came from somewhere else, read without trusting it.

``np.load`` is built for one's own files: given a ``.npz`` it returns an archive, given a
pickle it would unpickle it (which can run any code) unless told not to, a damaged header can
make it allocate whatever size it declares, and its errors do not name the file. So the
header is read and checked first, by NumPy's own format functions, and the data only after.
"""

from __future__ import annotations

import math
import os
import tokenize
from pathlib import Path

import numpy as np

from .errors import DataError, data_size_error, reading

# Version 3.0 differs from 2.0 only in allowing UTF-8 in the header, which only the field
# names of structured arrays use; decoded as Latin-1 they stay readable, and such arrays are
# no digit images anyway.
_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
    (3, 0): np.lib.format.read_array_header_2_0,
}


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """The array in the ``.npy`` file ``path``; never unpickles anything.

    Raises :class:`DataError` naming the file for a file that is not ``.npy`` (a ``.npz``
    archive, a pickle, anything else), a damaged or unknown header, an array of Python
    objects (which only a pickle could restore), and data shorter or longer than the header
    promises.
    """
    path = Path(path)
    magic = np.lib.format.MAGIC_PREFIX
    with reading(path), open(path, "rb") as f:
        start = f.read(len(magic) + 2)  # the magic string, then the format version
        if len(start) < len(magic) + 2 and magic.startswith(start[:len(magic)]):
            raise DataError(
                f"{path}: truncated .npy file: {len(start)} bytes, fewer than the "
                f"{len(magic) + 2} that start every .npy file"
            )
        if not start.startswith(magic):
            zip_hint = " (a zip archive: an .npz? save a single array with np.save)"
            npz = zip_hint if start[:2] == b"PK" else ""
            raise DataError(
                f"{path}: not a .npy file: it starts with {start[:len(magic)]!r}, a .npy file "
                f"with {magic!r}{npz}"
            )
        version = tuple(start[len(magic):])
        if version not in _HEADER_READERS:
            raise DataError(
                f"{path}: .npy format version {'.'.join(map(str, version))} is not one NumPy "
                "writes (1.0, 2.0 or 3.0)"
            )
        try:
            shape, fortran_order, dtype = _HEADER_READERS[version](f)
        # The header is a Python literal: besides NumPy's ValueErrors, damage can surface from
        # ast.literal_eval (TypeError, SyntaxError) or from the tokenizer that NumPy runs over
        # headers that Python 2 may have written (TokenError).
        except (ValueError, TypeError, SyntaxError, tokenize.TokenError) as err:
            raise DataError(f"{path}: damaged .npy header ({err})") from err
        if any(size < 0 for size in shape):
            raise DataError(f"{path}: the header declares shape {shape}, with a negative size")
        if dtype.hasobject:
            raise DataError(
                f"{path}: holds Python objects (dtype {dtype}), which only unpickling could "
                "restore; expected an array of numbers, and pickles are never loaded"
            )
        expected = math.prod(shape) * dtype.itemsize
        found = os.fstat(f.fileno()).st_size - f.tell()
        # Checked before reading, so that a damaged header cannot ask for terabytes.
        if found != expected:
            raise data_size_error(path, ".npy", f"shape {shape} of {dtype}", expected, found)
        f.seek(0)
        return np.lib.format.read_array(f, allow_pickle=False)
