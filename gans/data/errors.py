"""Exceptions raised by the data layer.

One base class, so that a caller can catch "the data is missing or malformed" in a single
``except DataError`` without also swallowing bugs. It subclasses ``ValueError`` because a
malformed file is a bad input value, the same way ``int("x")`` is.
"""


class DataError(ValueError):
    """A data file is missing, malformed, or inconsistent. The message names the file."""


class DownloadError(DataError):
    """No mirror delivered a file with the expected checksum. The message lists every attempt."""
