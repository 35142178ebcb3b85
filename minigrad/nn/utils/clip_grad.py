"""Gradient clipping, as ``torch.nn.utils.clip_grad``: between ``loss.backward()`` and
``optimizer.step()``, keep one unlucky batch from taking a huge step.

- ``clip_grad_norm_`` scales all gradients together, by min(1, max_norm / (‖g‖ + 1e-6)),
  where ‖g‖ is the norm of every gradient's values taken as one long vector: the direction
  of the step is kept, its length capped at about ``max_norm``.
- ``clip_grad_value_`` clamps each gradient value into [-clip_value, clip_value].

The gradients are changed in place (``p.grad.mul_``, ``p.grad.clamp_``), so the optimiser,
which reads ``p.grad``, sees the clipped values.  Parameters without a gradient are skipped.
"""
import math

import numpy as np
import types

from ... import backend, creation, user_warnings
from ...autograd import no_grad
from ...tensor import Tensor


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` (an iterable of tensors, or one tensor) in place so
    that their total norm is at most about ``max_norm``; returns the total norm before
    clipping, a 0-d tensor.  ``norm_type`` may be ``inf`` (the largest absolute value).
    ``foreach`` is accepted for PyTorch's signature: minigrad has one implementation."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)  # read twice below: a generator would be spent
        if is_generator and not parameters:
            user_warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.")
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all values of ``tensors`` taken as one vector, computed as
    PyTorch does: the norm of each tensor, then the norm of those norms (a 0-d tensor on
    the first tensor's device; 0 when there are none)."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return creation.tensor(0.0)
    device = backend.device_type_of(tensors[0].array)
    xp = backend.module_for(device)
    norms = [backend.move(vector_norm(t.array, norm_type), device) for t in tensors]
    total = vector_norm(xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return Tensor._make(xp.asarray(total))


def vector_norm(array, norm_type):
    """‖x‖_p of all values of ``array`` (``torch.linalg.vector_norm``): (Σ|xᵢ|^p)^(1/p); for
    p = 2 √(Σxᵢ²), for p = ∞ max |xᵢ|, for p = -∞ min |xᵢ|, for p = 0 the count of non-zeros.
    A float16 array is summed in float32 and the norm rounded back, as PyTorch does (squares of
    half-precision gradients overflow from 256)."""
    if array.dtype == np.float16:
        return vector_norm(array.astype(np.float32), norm_type).astype(np.float16)
    xp = backend.array_module(array)
    if norm_type == 2:
        return xp.sqrt((array * array).sum())
    if norm_type == math.inf:
        return abs(array).max()
    if norm_type == -math.inf:
        return abs(array).min()
    if norm_type == 0:
        return (array != 0).sum().astype(array.dtype)
    if norm_type == 1:
        return abs(array).sum()
    with backend.quiet(xp):  # a negative p of a zero is 1/0 = inf, then 1/inf = 0: PyTorch's value too
        return (abs(array) ** norm_type).sum() ** (1 / norm_type)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Multiply every gradient of ``parameters`` in place by
    min(1, max_norm / (total_norm + 1e-6)) (``clip_grad_norm_`` with the norm given)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    if not isinstance(total_norm, Tensor):
        raise TypeError(f"total_norm must be a Tensor, got {type(total_norm).__name__}")
    total = total_norm.array
    xp = backend.array_module(total)
    # float / tensor is reciprocal(tensor) · float in PyTorch: the same rounding here.  The
    # coefficient stays an array: reading it on the host would make it wait for the GPU.
    with no_grad(), backend.quiet(xp):  # a non-finite norm gives inf·0 = NaN, as in PyTorch, without a warning
        coefficient = xp.asarray(xp.minimum((1 / (total + 1e-6)) * float(max_norm), 1.0))
        for g in grads:
            factor = backend.move(coefficient, backend.device_type_of(g.array)).astype(g.dtype)
            g.mul_(Tensor._make(factor))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient value of ``parameters`` into [-clip_value, clip_value], in place."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    clip_value = float(clip_value)
    with no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
