"""How tensors print: PyTorch's rules (``torch/_tensor_str.py``, default print options) on
NumPy arrays, so that ``repr`` matches PyTorch's character for character with ``torch.``
read as ``minigrad.``."""
import math

import numpy as np

from .devices import defaults

# PyTorch's default print options (``torch.set_printoptions(profile="default")``).
PRECISION = 4      # digits after the point
THRESHOLD = 1000   # more elements than this and only the edges of each dimension print
EDGEITEMS = 3      # how many at each edge
LINEWIDTH = 80     # where 1-d rows wrap and where suffixes such as dtype= go on a new line


class Formatter:
    """One number format for a whole tensor, chosen the way PyTorch's ``_Formatter`` chooses it.

    For floats only the finite nonzero values decide:
    - all whole numbers: *int mode*, ``2.`` (the dot says the tensor is floating point);
    - scientific notation (``2.0000e+03``) when max/min > 1000, max > 1e8 or min < 1e-4,
      whole numbers or not;
    - otherwise fixed point, ``1.5000``.
    Every number is right-aligned to the widest of those finite nonzero values. Zeros, inf
    and nan neither choose the format nor widen the column, which is why PyTorch prints
    ``tensor([inf, 1., 2.])`` and ``tensor([-0., 1.])`` without padding. Integers and bools
    print as Python prints them, aligned to the widest.
    """

    def __init__(self, array):
        self.floating = array.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        values = array.reshape(-1)
        if not self.floating:
            self.width = max([1] + [len(str(value)) for value in values.tolist()])
            return
        chosen_by = values[np.isfinite(values) & (values != 0)]
        if chosen_by.size == 0:
            return  # only zeros, inf and nan: PyTorch keeps int mode at width 1
        # In float64, as PyTorch does: in float16, max/min would overflow.
        magnitudes = np.abs(chosen_by).astype(np.float64)
        smallest, largest = magnitudes.min(), magnitudes.max()
        self.int_mode = bool(np.all(chosen_by == np.ceil(chosen_by)))
        with np.errstate(over="ignore"):  # max/min may overflow to inf, which still means e-notation
            self.sci_mode = bool(largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4)
        self.width = max(len(self.format(value)) for value in chosen_by.tolist())

    def format(self, value):
        """``value`` (a Python number) as text, right-aligned to the column width."""
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:.{PRECISION}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("." if math.isfinite(value) else "")
        else:
            text = f"{value:.{PRECISION}f}"
        return text.rjust(self.width)


def edges(array):
    """The elements a summarised print shows: the first and last ``EDGEITEMS`` along every
    dimension longer than twice that (PyTorch's ``get_summarized_data``). The format is chosen
    from these alone, so a hidden 1e-9 in the middle does not switch the print to e-notation."""
    if array.ndim == 0:
        return array
    if array.shape[0] > 2 * EDGEITEMS:
        array = np.concatenate([array[:EDGEITEMS], array[-EDGEITEMS:]])
    if array.ndim == 1:
        return array
    return np.stack([edges(row) for row in array])


def _rows_text(array, indent, summarize, formatter):
    """The bracketed numbers of ``array``, nested rows starting ``indent`` columns in."""
    if array.ndim == 0:
        return formatter.format(array.item())
    hide_middle = summarize and array.shape[0] > 2 * EDGEITEMS
    if array.ndim == 1:
        if hide_middle:
            # PyTorch's " ..." entry, joined with ", " like a number: "3.,  ..., 7."
            items = ([formatter.format(v) for v in array[:EDGEITEMS].tolist()] + [" ..."]
                     + [formatter.format(v) for v in array[-EDGEITEMS:].tolist()])
        else:
            items = [formatter.format(v) for v in array.tolist()]
        # As many numbers per line as fit in LINEWIDTH, counting each one's ", ".
        per_line = max(1, (LINEWIDTH - indent) // (formatter.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    if hide_middle:
        rows = ([_rows_text(row, indent + 1, summarize, formatter) for row in array[:EDGEITEMS]] + ["..."]
                + [_rows_text(row, indent + 1, summarize, formatter) for row in array[-EDGEITEMS:]])
    else:
        rows = [_rows_text(row, indent + 1, summarize, formatter) for row in array]
    # Matrices are separated by one blank line per extra dimension, as in PyTorch.
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def format_values(array, indent):
    """The numbers of ``array`` as PyTorch prints them (``[1.0000e+00, 2.0000e+03]``,
    ``[1., 2.]``, ``[]``); continuation lines are indented by ``indent`` columns."""
    if array.size == 0:
        return "[]"
    summarize = array.size > THRESHOLD
    formatter = Formatter(edges(array) if summarize else array)
    return _rows_text(array, indent, summarize, formatter)


def _add_suffixes(text, suffixes, indent):
    """Append ``, dtype=...`` and friends, each moving to its own line when it would pass
    LINEWIDTH (PyTorch's ``_add_suffixes``, including its count of the last line's length)."""
    parts = [text]
    last_line_length = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        # Measured as PyTorch's "dtype=torch.float16", so that lines break where PyTorch's do
        # and the two prints differ only in the name.
        length = len(suffix.replace("minigrad.", "torch."))
        if last_line_length + length + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_length = indent + length
        else:
            parts.append(", " + suffix)
            last_line_length += length + 2
    return "".join(parts) + ")"


def tensor_repr(array, device=None, grad_fn=None, requires_grad=False):
    """``tensor([1., 2.], device='cuda:0', dtype=minigrad.float64, requires_grad=True)``.

    ``array`` is a NumPy array; ``device`` is given only when it should print (not the
    default device); ``grad_fn`` is the name of the function that made the tensor, if any."""
    prefix = "tensor("
    suffixes = [f"device='{device}'"] if device is not None else []
    if array.size == 0:
        # No numbers to show the shape or the dtype, so PyTorch names both (the shape
        # unless it is (0,), the dtype unless it is the default float).
        if array.ndim != 1:
            suffixes.append(f"size={tuple(array.shape)}")
        if array.dtype != defaults.dtype:
            suffixes.append(f"dtype=minigrad.{array.dtype}")
    elif array.dtype not in (defaults.dtype, np.dtype("int64"), np.dtype("bool")):
        suffixes.append(f"dtype=minigrad.{array.dtype}")
    if grad_fn is not None:
        suffixes.append(f"grad_fn=<{grad_fn}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + format_values(array, len(prefix)), suffixes, len(prefix))
