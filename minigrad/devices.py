"""Where tensors live and what they default to: ``device('cuda:0')``, the default dtype and
device, and ``Size``, the shape a tensor reports."""
from .dtypes import float32


class defaults:
    """Where new floating-point tensors go unless told otherwise
    (``set_default_dtype`` / ``set_default_device``)."""
    dtype = float32
    device_type = "cpu"


class device:
    """Where a tensor lives: ``device('cpu')``, ``device('cuda')``, ``device('cuda:0')``."""

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        type = str(type)
        if ":" in type:
            type, number = type.split(":", 1)
            index = int(number)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {type}")
        self.type, self.index = type, index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and (self.index == other.index or None in (self.index, other.index))

    def __hash__(self):
        return hash(self.type)

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


def device_type(where):
    """'cpu' or 'cuda' from a device, a string, or None (the default device)."""
    if where is None:
        return defaults.device_type
    return where.type if isinstance(where, device) else device(where).type


class Size(tuple):
    """A tensor's shape, a tuple that prints like ``minigrad.Size([1, 784])``."""

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self):
        return f"minigrad.Size({list(self)})"
