"""Warnings that point at the user's line, as PyTorch's do."""
import sys
import warnings


def warn(message, category=UserWarning):
    """``warnings.warn`` attributed to the first caller outside minigrad, however many of
    minigrad's own frames (modules, ops, attached speed machinery) lie in between."""
    frame, level = sys._getframe(1), 2
    while frame is not None and _in_minigrad(frame):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _in_minigrad(frame):
    name = frame.f_globals.get("__name__", "")
    return name == "minigrad" or name.startswith("minigrad.")
