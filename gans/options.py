"""Options several ``gans`` commands share, and the argparse types that check values at the
boundary: a bad value stops the command with one line naming the option, before anything
is written."""
import argparse
from pathlib import Path

from .run_folder import RUN_FILES, RUN_OUTPUTS
from .threads import DEFAULT_THREADS

MAX_SEED = 2 ** 32 - 1  # what every engine's generator takes


def add_threads_argument(parser):
    """``--threads N``, with the same default and meaning in every command (see ``gans.threads``)."""
    parser.add_argument("--threads", type=positive_int, default=DEFAULT_THREADS, metavar="N",
                        help="threads for both engines (NumPy's BLAS and PyTorch), so that their times compare")


def positive_int(text):
    """An integer ≥ 1."""
    return _int_at_least(text, 1)


def non_negative_int(text):
    """An integer ≥ 0."""
    return _int_at_least(text, 0)


def positive_float(text):
    """A number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def _int_at_least(text, low):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


def path(text):
    """A file or folder name: not empty (an empty one would quietly mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file or folder name, got an empty one")
    return text


def seed(text):
    """A random seed: 0 to 2³² − 1, which NumPy, PyTorch and CuPy all accept."""
    value = _int_at_least(text, 0)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be at most 2**32 - 1 = {MAX_SEED}, got {value}")
    return value


def check_output(path, option, suffixes):
    """A file an option names for writing: a file name (not a folder) with one of
    ``suffixes``, and not a file of a training run's folder; checked before the work that
    fills it, so that a typo costs nothing and no run loses its files."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{option} {path}: cannot write {path.suffix or 'a name without a suffix'}; "
                         f"use {', '.join(suffixes)}")
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name")
    if path.name in RUN_OUTPUTS and any((path.parent / name).exists() for name in RUN_FILES):
        raise ValueError(f"{option} {path} is a file of the training run in {path.parent}; write elsewhere")
    return path
