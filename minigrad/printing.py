"""How tensors print: numbers the way PyTorch prints them."""
import numpy as np


def format_values(array, indent):
    """Numbers printed the way PyTorch prints them: ``1.8750``, ``1.``, ``1.0000e-05``."""
    if array.dtype.kind == "b":
        text = str
    elif array.dtype.kind == "f":
        finite = np.abs(array[np.isfinite(array)]).astype(np.float64)
        nonzero = finite[finite > 0]
        if finite.size and np.all(finite == np.round(finite)) and finite.max() < 1e8:
            text = lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
        elif nonzero.size and (nonzero.max() >= 1e8 or nonzero.min() < 1e-4 or nonzero.max() / nonzero.min() > 1e3):
            text = lambda v: f"{v:.4e}" if np.isfinite(v) else str(v)
        else:
            text = lambda v: f"{v:.4f}" if np.isfinite(v) else str(v)
    else:
        text = str
    width = max((len(text(v)) for v in array.reshape(-1)[:2000]), default=0)
    formatter = {"all": lambda v: text(v).rjust(width)}
    return np.array2string(array, separator=", ", formatter=formatter, prefix=" " * indent,
                           threshold=1000, edgeitems=3, max_line_width=80)
