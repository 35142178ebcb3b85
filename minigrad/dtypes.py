"""Data types, as NumPy dtypes under PyTorch's names (``minigrad.float32`` is the default)."""
import numpy as np

float16 = half = np.dtype("float16")
float32 = float = np.dtype("float32")
float64 = double = np.dtype("float64")
int32 = int = np.dtype("int32")
int64 = long = np.dtype("int64")
uint8 = np.dtype("uint8")
bool = np.dtype("bool")

_SCALAR_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "int16": "Short",
                 "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool"}


def scalar_name(dtype):
    """A dtype as PyTorch's errors name it: ``Float``, ``Long``."""
    name = np.dtype(dtype).name
    return _SCALAR_NAMES.get(name, name)
