"""``gradcheck`` and ``gradgradcheck``: backward compared with finite differences.

For f: inputs → outputs, the Jacobian J[i, j] = ∂output_j / ∂input_i is computed twice:
numerically, one input element at a time, with central differences
(f(x + eps) − f(x − eps)) / 2·eps, and analytically, one output element at a time, by
backward with a one-hot gradient.  They must agree to ``atol + rtol·|numerical|``.
``gradgradcheck`` does the same for the function that *computes the gradients*
(``autograd.grad`` with ``create_graph=True``), which checks second derivatives.
"""

import numpy as np

from .. import user_warnings
from . import engine
from . import function


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical Jacobians differ."""


def _differentiable(inputs):
    return [(i, t) for i, t in enumerate(inputs) if isinstance(t, function.Tensor) and t.requires_grad]


def _outputs(func, inputs):
    out = func(*inputs)
    return tuple(o for o in (out if isinstance(out, (tuple, list)) else (out,)) if isinstance(o, function.Tensor))


def numerical_jacobian(func, inputs, eps=1e-6):
    """One (numel(input), numel(output)) matrix per (differentiable input, output) pair."""
    outputs = _outputs(func, inputs)
    jacobians = []
    for _, t in _differentiable(inputs):
        rows = [np.zeros((t.numel(), o.numel())) for o in outputs]
        for k in range(t.numel()):
            position = np.unravel_index(k, t.shape)
            original = t.array[position].item()
            values = []
            for step in (eps, -eps):
                t.array[position] = original + step  # in place, on purpose: func sees the same tensor
                values.append([np.asarray(o.detach().cpu().array, dtype=np.float64).reshape(-1)
                               for o in _outputs(func, inputs)])
            t.array[position] = original
            for row, plus, minus in zip(rows, *values):
                row[k] = (plus - minus) / (2 * eps)
        jacobians.append(rows)
    return jacobians


def analytical_jacobian(func, inputs):
    """The same matrices from backward: one backward pass per output element."""
    outputs = _outputs(func, inputs)
    differentiable = [t for _, t in _differentiable(inputs)]
    jacobians = [[np.zeros((t.numel(), o.numel())) for o in outputs] for t in differentiable]
    for j, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        for k in range(out.numel()):
            one_hot = out.array_module.zeros(out.numel(), dtype=out.dtype)
            one_hot[k] = 1
            grads = engine.grad(out, differentiable, function.Tensor._make(one_hot.reshape(out.shape)),
                                retain_graph=True, allow_unused=True)
            for i, g in enumerate(grads):
                if g is not None:
                    jacobians[i][j][:, k] = np.asarray(g.detach().cpu().array, dtype=np.float64).reshape(-1)
    return jacobians


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True if backward agrees with central differences for every input and output;
    otherwise raises :class:`GradcheckError` showing both Jacobians (or returns False)."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for i, t in _differentiable(inputs):
        if t.dtype != np.float64:
            user_warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. "
                               "This check will likely fail if all the inputs are not of double precision "
                               "floating point.")
    numerical = numerical_jacobian(func, inputs, eps)
    analytical = analytical_jacobian(func, inputs)
    for (i, _), num_rows, ana_rows in zip(_differentiable(inputs), numerical, analytical):
        for j, (num, ana) in enumerate(zip(num_rows, ana_rows)):
            if not np.allclose(ana, num, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(f"Jacobian mismatch for output {j} with respect to input {i},\n"
                                     f"numerical:{function.Tensor._make(num)}\n"
                                     f"analytical:{function.Tensor._make(ana)}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """gradcheck of the gradients themselves: checks second derivatives.

    The function checked maps (inputs, grad_outputs) to autograd.grad(func(inputs), inputs,
    grad_outputs, create_graph=True); ``grad_outputs`` default to random values."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outputs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(function.Tensor._make(
            o.array_module.asarray(rng.standard_normal(o.shape)).astype(o.dtype)).requires_grad_()
            for o in outputs)
    grad_outputs = tuple(grad_outputs)
    n = len(inputs)

    def first_derivatives(*args):
        ins, gos = args[:n], args[n:]
        outs = [o for o in _outputs(func, ins) if o.requires_grad]
        wrt = [t for t in ins if isinstance(t, function.Tensor) and t.requires_grad]
        grads = engine.grad(outs, wrt, gos[:len(outs)], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
