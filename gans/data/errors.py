"""Exceptions raised by the data layer, and the messages that several readers share.

One base class, so that a caller can catch "the data is missing or malformed" in a single
``except DataError`` without also swallowing bugs. It subclasses ``ValueError`` because a
malformed file is a bad input value, the same way ``int("x")`` is.

Every message starts with the file's path and says what was expected and what was found.
"""

from __future__ import annotations

import gzip
import os
import zlib
from contextlib import contextmanager
from typing import Iterator


class DataError(ValueError):
    """A data file is missing, malformed, or inconsistent. The message names the file."""


class DownloadError(DataError):
    """No mirror delivered a file with the expected checksum. The message lists every attempt."""


def data_size_error(
    path: str | os.PathLike, kind: str, promise: str, expected: int, found: int
) -> DataError:
    """The error for a file holding fewer or more bytes of data than its header promises.

    ``promise`` is what the header declared (``"shape (3, 28, 28)"``); ``expected`` and
    ``found`` count bytes of data, after the header.
    """
    if found < expected:
        return DataError(
            f"{path}: truncated {kind} file: the header promises {promise} = {expected} bytes "
            f"of data, but only {found} bytes follow"
        )
    return DataError(
        f"{path}: {found - expected} unexpected bytes after the {expected} bytes of data that "
        f"the header ({promise}) promises; is the file damaged?"
    )


@contextmanager
def reading(path: str | os.PathLike) -> Iterator[None]:
    """Report the ways Python's own readers fail on a damaged or unreadable file (an
    ``OSError``, a corrupt or cut-off gzip stream) as a :class:`DataError` naming ``path``."""
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:  # BadGzipFile is an OSError: first
        raise DataError(f"{path}: truncated or corrupt gzip data ({err})") from err
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err})") from err
