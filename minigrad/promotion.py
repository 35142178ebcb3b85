"""PyTorch's type promotion: the dtype of ``a + b`` for tensors, arrays and Python numbers.

It is not NumPy's: a Python float with an int32 tensor gives the default float dtype
(float32), a float64 0-d tensor with a float32 tensor gives float32, and so on.
"""
import numpy as np

from . import tensor as tensor_module  # (imported by tensor.py itself: Tensor is read when called)
from .devices import defaults
from .dtypes import int64


def result_dtype(a, b, true_division=False):
    """PyTorch's type promotion, which is not NumPy's: operands rank as tensors with
    dimensions, then 0-d tensors, then Python numbers (NumPy scalars count as numbers), and
    a lower rank decides the dtype only when its kind (bool < int < float) is higher; a
    number's float is the default dtype (float32).  ``/`` of integers gives the default float."""
    common = _common_case(a, b) or _common_case(b, a)
    if common is not None:
        return np.dtype(defaults.dtype) if true_division and common.kind in "biu" else common
    ranked = {0: [], 1: [], 2: []}
    for x in (a, b):
        if isinstance(x, tensor_module.Tensor) or getattr(x, "ndim", 0):  # tensors, and arrays with dimensions
            ranked[0 if x.ndim else 1].append(np.dtype(x.dtype))
        else:
            kind = np.asarray(x).dtype.kind
            ranked[2].append(np.dtype(bool) if kind == "b" else np.dtype(int64) if kind in "iu" else defaults.dtype)
    result = None
    for dtypes in ranked.values():
        if not dtypes:
            continue
        candidate = promote_types(*dtypes)
        if result is None or _KIND_RANK[candidate.kind] > _KIND_RANK[result.kind]:
            result = candidate if result is None or result.kind != "b" else np.result_type(result, candidate)
    if true_division and result.kind in "biu":
        result = np.dtype(defaults.dtype)
    return result


def promote_types(*dtypes):
    """PyTorch's ``promote_types`` for operands of one rank (``cat``, ``stack``, two tensors with
    dimensions): the highest kind (bool < int < float) wins, the wider type within it, as in
    NumPy; but an int never widens a float (int64 with float16 is float16, NumPy's float64)."""
    dtypes = [np.dtype(d) for d in dtypes]
    floats = [d for d in dtypes if d.kind == "f"]
    return np.result_type(*(floats or dtypes))


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}
_NUMBER_RANK = {bool: 0, int: 1, float: 2}


def _common_case(tensor, other):
    """The dtype without the ranking when it is ``tensor``'s: a tensor of the same dtype, or a
    Python number of no higher kind (``x * 2.0`` on a float tensor).  Every arithmetic op asks;
    this answers most of them without the general rule, which is slow in Python."""
    if not isinstance(tensor, tensor_module.Tensor):
        return None
    dtype = tensor.dtype
    if isinstance(other, tensor_module.Tensor):
        return dtype if other.dtype == dtype else None
    rank = _NUMBER_RANK.get(type(other))
    return dtype if rank is not None and _KIND_RANK[dtype.kind] >= rank else None
