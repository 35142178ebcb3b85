"""One helper runs the same function on minigrad and on PyTorch and compares everything.

    check(lambda x, y: x * y, a, b)

builds tensors from the NumPy arrays ``a`` and ``b`` on both engines, runs the lambda,
compares the outputs, then back-propagates the same random upstream gradient through
both and compares the gradient of every input.  Adding an op's test is one line.
"""
import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad

TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def to_numpy(t):
    if isinstance(t, torch.Tensor):
        if t._is_zerotensor():  # PyTorch's symbolic zeros (e.g. the second derivative of |x|)
            return np.zeros(tuple(t.shape))
        return t.detach().cpu().numpy()
    if isinstance(t, minigrad.Tensor):
        return minigrad.backend.move(t.detach().array, "cpu")
    return np.asarray(t)


def assert_close(ours, theirs, dtype=np.float64, what="value", scale=None):
    ours, theirs = to_numpy(ours), to_numpy(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != PyTorch's {theirs.shape}"
    tol = dict(TOLERANCE[np.dtype(dtype).type])
    if np.dtype(dtype) == np.float32 and theirs.size:
        # float32 keeps ~7 digits of the largest values: cancellation elsewhere is rounding
        tol["atol"] = max(tol["atol"], tol["rtol"] * float(np.abs(theirs).max()))
    if scale is not None:  # compare relative to the size of the values involved
        tol["atol"] = max(tol["atol"], tol["rtol"] * scale)
    np.testing.assert_allclose(ours, theirs, err_msg=what, **tol)


DEVICE = {"current": "cpu"}  # set per test by conftest.py from the test's ``device`` parameter


def check(fn, *arrays, torch_fn=None, dtype=np.float64, grad=True, seed=0, scale=None, device=None):
    """Run ``fn`` on both engines (``torch_fn`` for PyTorch if the call differs) and compare
    the outputs and, with ``grad``, the input gradients for a random upstream gradient.
    minigrad runs on ``device`` (default: the test's device); PyTorch on the CPU is the
    reference either way."""
    torch_fn = torch_fn or fn
    device = device or DEVICE["current"]
    arrays = [a.astype(dtype) for a in arrays]
    if device == "cuda" and np.dtype(dtype) == np.float32:
        # CuPy compiles every kernel with -ftz=true: its GPU reads float32 subnormals as 0
        # (PyTorch keeps them), so both engines get them as 0 (README, "Known differences")
        arrays = [np.where(np.abs(a) < np.finfo(np.float32).tiny, np.float32(0), a) for a in arrays]
    ours_in = [minigrad.tensor(a, requires_grad=grad, device=device) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=grad) for a in arrays]
    ours_out, theirs_out = fn(*ours_in), torch_fn(*theirs_in)
    assert ours_out.dtype == np.dtype(dtype), f"dtype {ours_out.dtype}, expected {np.dtype(dtype)}"
    assert ours_out.device.type == device, f"result on {ours_out.device}, expected {device}"
    assert_close(ours_out, theirs_out, dtype, "forward", scale)
    if not grad:
        return
    upstream = np.random.default_rng(seed).standard_normal(tuple(theirs_out.shape)).astype(dtype)
    ours_out.backward(minigrad.tensor(upstream, device=device))
    theirs_out.backward(torch.tensor(upstream))
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        if t.grad is None:
            assert o.grad is None or not np.any(to_numpy(o.grad)), f"input {i}: PyTorch has no gradient"
            continue
        assert o.grad is not None, f"input {i}: no gradient"
        assert_close(o.grad, t.grad, dtype, f"gradient of input {i}", scale)


# --- strategies ------------------------------------------------------------------------

def values(shape, low=-3.0, high=3.0, away_from_zero=0.0):
    """Arrays of float64 values in [low, high], optionally kept |x| ≥ away_from_zero."""
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
    if away_from_zero:
        elements = elements.filter(lambda v: abs(v) >= away_from_zero)
    return hnp.arrays(np.float64, shape, elements=elements)


shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=5)
matrix_shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)
broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4)
dtypes = st.sampled_from([np.float64, np.float32])


def check_second_order(fn, *arrays, torch_fn=None, seed=0, device=None):
    """Second derivatives against PyTorch (float64): the gradients of ``fn`` are taken with
    ``create_graph=True``, then a random weighted sum of them is differentiated again with
    respect to every input and to the upstream gradient.  Gradients that PyTorch leaves
    undefined (the function is linear there) must be absent or zero here."""
    torch_fn = torch_fn or fn
    device = device or DEVICE["current"]
    results = []
    for engine, tensor, f in ((minigrad, lambda a: minigrad.tensor(a, requires_grad=True, device=device), fn),
                              (torch, lambda a: torch.tensor(a, requires_grad=True), torch_fn)):
        inputs = [tensor(np.asarray(a, dtype=np.float64)) for a in arrays]
        out = f(*inputs)
        upstream = tensor(np.random.default_rng(seed).standard_normal(tuple(out.shape)))
        firsts = engine.autograd.grad(out, inputs, upstream, create_graph=True, allow_unused=True)
        weights = [np.random.default_rng(seed + 1 + i).standard_normal(tuple(x.shape)) for i, x in enumerate(inputs)]
        total = None
        for g, w in zip(firsts, weights):
            if g is not None and g.requires_grad:
                term = (g * engine.tensor(w)).sum()
                total = term if total is None else total + term
        seconds = [None] * (len(inputs) + 1) if total is None else \
            engine.autograd.grad(total, inputs + [upstream], allow_unused=True)
        results.append((firsts, seconds))
    (ours_first, ours_second), (theirs_first, theirs_second) = results
    for kind, ours, theirs in (("gradient", ours_first, theirs_first), ("second derivative", ours_second, theirs_second)):
        for i, (o, t) in enumerate(zip(ours, theirs)):
            what = f"{kind} of {'the upstream gradient' if i == len(arrays) else f'input {i}'}"
            if t is None:
                assert o is None or not np.any(to_numpy(o)), f"{what}: PyTorch has none"
                continue
            # relative to the largest value, and to the terms summed into it (of order 1 here:
            # their cancellation is rounding, e.g. a normalisation of nearly equal values
            # divides by √eps, and a derivative of the weighted sum can cancel to 1e-3)
            theirs = to_numpy(t)
            assert_close(o if o is not None else np.zeros(theirs.shape), theirs, np.float64, what,
                         scale=max(1.0, float(np.abs(theirs).max())) if theirs.size else None)
