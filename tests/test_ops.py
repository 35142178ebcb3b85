"""Every op against PyTorch: forward values and the gradient of every input, on random
shapes (broadcasting and size-1 dimensions included) and values, float64 and float32."""
import operator

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, strategies as st

import minigrad
import minigrad.nn.functional as F
from helpers import broadcast_pairs, check, dtypes, shapes, values

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data(), pair=broadcast_pairs, dtype=dtypes)
def test_binary_broadcasting(name, data, pair, dtype, device):
    shape_a, shape_b = pair.input_shapes
    if name == "pow":  # positive base keeps a ** b real
        a = data.draw(values(shape_a, 0.5, 2.0))
    else:
        a = data.draw(values(shape_a))
    b = data.draw(values(shape_b, away_from_zero=0.5 if name == "div" else 0.0))
    check(BINARY[name], a, b, dtype=dtype)


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data(), shape=shapes, scalar=st.floats(0.5, 3.0), reflected=st.booleans())
def test_binary_with_python_number(name, data, shape, scalar, reflected, device):
    low = 0.5 if (name == "pow" and not reflected) or (name == "div" and reflected) else -3.0
    a = data.draw(values(shape, low, 3.0))
    op = BINARY[name]
    check((lambda x: op(scalar, x)) if reflected else (lambda x: op(x, scalar)), a)


UNARY = {
    "neg": (lambda x: -x, None, (-3, 3)),
    "exp": (lambda x: x.exp(), None, (-3, 3)),
    "sin": (lambda x: x.sin(), None, (-4, 4)),
    "cos": (lambda x: x.cos(), None, (-4, 4)),
    "log": (lambda x: x.log(), None, (0.1, 5)),
    "sqrt": (lambda x: x.sqrt(), None, (0.1, 5)),
    "abs": (lambda x: x.abs(), None, (-3, 3)),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), None, (-3, 3)),
    "clamp_min": (lambda x: x.clamp(min=0.2), None, (-3, 3)),
    "sigmoid": (lambda x: x.sigmoid(), None, (-30, 30)),
    "tanh": (lambda x: x.tanh(), None, (-5, 5)),
    "relu": (lambda x: x.relu(), None, (-3, 3)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.02), lambda x: TF.leaky_relu(x, 0.02), (-3, 3)),
    "gelu": (lambda x: F.gelu(x), lambda x: TF.gelu(x), (-5, 5)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"), (-5, 5)),
    "softmax": (lambda x: F.softmax(x, -1), lambda x: TF.softmax(x, -1), (-5, 5)),
    "log_softmax": (lambda x: F.log_softmax(x, 0), lambda x: TF.log_softmax(x, 0), (-5, 5)),
}


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data(), shape=shapes, dtype=dtypes)
def test_unary(name, data, shape, dtype, device):
    fn, torch_fn, (low, high) = UNARY[name]
    if name in ("softmax", "log_softmax") and len(shape) == 0:
        shape = (3,)
    check(fn, data.draw(values(shape, low, high)), torch_fn=torch_fn, dtype=dtype)


def _dims(draw_data, ndim):
    if ndim == 0:
        return None
    return draw_data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                                    st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
                                    .map(tuple)))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@given(data=st.data(), shape=shapes, keepdim=st.booleans(), dtype=dtypes)
def test_sum_mean(reduction, data, shape, keepdim, dtype, device):
    dim = _dims(data, len(shape))
    a = data.draw(values(shape))
    if dim is None:
        check(lambda x: getattr(x, reduction)(), a, dtype=dtype)
    else:
        check(lambda x: getattr(x, reduction)(dim, keepdim), a, dtype=dtype)


def _distinct(shape, seed):
    """Values without ties, so the arg-max is unique on both engines."""
    n = int(np.prod(shape)) if shape else 1
    return np.random.default_rng(seed).permutation(n).reshape(shape).astype(np.float64) / max(n, 1)


@pytest.mark.parametrize("op", ["max", "min"])
@given(shape=shapes, seed=st.integers(0, 1000), keepdim=st.booleans(), data=st.data())
def test_max_min_along_dim_values_and_indices(op, shape, seed, keepdim, data, device):
    a = _distinct(shape, seed)
    dim = data.draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    check(lambda x: getattr(x, op)(dim, keepdim)[0], a)
    ours = getattr(minigrad.tensor(a), op)(dim, keepdim)
    theirs = getattr(torch.tensor(a), op)(dim, keepdim)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(minigrad.tensor(a).argmax(dim, keepdim).numpy(),
                                  torch.tensor(a).argmax(dim, keepdim).numpy())


@given(shape=shapes, data=st.data())
def test_max_of_all_shares_gradient_among_ties(shape, data, device):
    a = data.draw(values(shape).map(lambda x: np.round(x)))  # rounding makes ties likely
    check(lambda x: x.max(), a)
    check(lambda x: x.min(), a)


@given(data=st.data(), shape=shapes)
def test_view_reshape_flatten_squeeze_unsqueeze(data, shape, device):
    a = data.draw(values(shape))
    check(lambda x: x.reshape(-1) * 2, a)
    check(lambda x: x.view(*reversed(x.shape)) if x.dim() else x.view(1), a)
    check(lambda x: x.flatten(), a)
    check(lambda x: x.squeeze(), a)
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check(lambda x: x.unsqueeze(dim), a)
    if shape:
        sq = data.draw(st.integers(-len(shape), len(shape) - 1))
        check(lambda x: x.squeeze(sq), a)


@given(data=st.data(), shape=shapes.filter(lambda s: len(s) >= 1))
def test_permute_transpose(data, shape, device):
    a = data.draw(values(shape))
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    check(lambda x: x.permute(*perm), a)
    d0, d1 = data.draw(st.integers(0, len(shape) - 1)), data.draw(st.integers(0, len(shape) - 1))
    check(lambda x: x.transpose(d0, d1), a)
    if len(shape) == 2:
        check(lambda x: x.T, a)


@given(data=st.data(), shape=shapes.filter(lambda s: len(s) >= 1))
def test_indexing(data, shape, device):
    a = data.draw(values(shape))
    i = data.draw(st.integers(-shape[0], shape[0] - 1))
    check(lambda x: x[i], a)
    check(lambda x: x[1:], a)
    check(lambda x: x[::2], a)
    picks = data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=6))  # repeats add up
    check(lambda x: x[minigrad.tensor(picks)] if isinstance(x, minigrad.Tensor) else x[torch.tensor(picks)], a)
    if len(shape) >= 2:
        check(lambda x: x[..., 0], a)
        check(lambda x: x[:, None, -1], a)


@given(data=st.data(), shape=shapes.filter(lambda s: len(s) >= 1), n=st.integers(1, 3))
def test_cat_stack(data, shape, n, device):
    arrays = [data.draw(values(shape)) for _ in range(n)]
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    check(lambda *xs: minigrad.cat(xs, dim), *arrays, torch_fn=lambda *xs: torch.cat(xs, dim))
    sdim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check(lambda *xs: minigrad.stack(xs, sdim), *arrays, torch_fn=lambda *xs: torch.stack(xs, sdim))


@given(data=st.data(), batch=st.lists(st.integers(1, 3), max_size=2),
       n=st.integers(1, 5), k=st.integers(1, 5), m=st.integers(1, 5),
       a_vector=st.booleans(), b_vector=st.booleans(), dtype=dtypes)
def test_matmul(data, batch, n, k, m, a_vector, b_vector, dtype, device):
    shape_a = (k,) if a_vector else tuple(batch) + (n, k)
    shape_b = (k,) if b_vector else (k, m)
    check(lambda x, y: x @ y, data.draw(values(shape_a)), data.draw(values(shape_b)), dtype=dtype, scale=10)


@given(data=st.data(), lead=st.lists(st.integers(1, 4), max_size=2), n_in=st.integers(1, 6),
       n_out=st.integers(1, 6), bias=st.booleans(), dtype=dtypes)
def test_linear(data, lead, n_in, n_out, bias, dtype, device):
    x = data.draw(values(tuple(lead) + (n_in,)))
    w = data.draw(values((n_out, n_in)))
    b = data.draw(values((n_out,)))
    if bias:
        check(F.linear, x, w, b, torch_fn=TF.linear, dtype=dtype, scale=10)
    else:
        check(F.linear, x, w, torch_fn=TF.linear, dtype=dtype, scale=10)


@given(data=st.data(), lead=st.lists(st.integers(1, 3), max_size=2), norm=st.lists(st.integers(1, 5), min_size=1,
                                                                                  max_size=2), dtype=dtypes)
def test_layer_norm(data, lead, norm, dtype, device):
    norm = tuple(norm)
    x = data.draw(values(tuple(lead) + norm))
    # a ramp in every group: a (nearly) constant group has no spread, and normalising it
    # only amplifies rounding noise, differently in each engine
    x = x + np.arange(int(np.prod(norm))).reshape(norm) * 0.3
    # ... which drawn values can still cancel: in float32, a group whose variance is not well
    # above eps (1e-5) has an input gradient made of rounding (for two values it is exactly
    # eps-driven, ~eps/var of terms ~rstd), differently in each engine
    groups = x.reshape(-1, int(np.prod(norm)))
    assume(dtype == np.float64 or int(np.prod(norm)) == 1 or bool(np.all(groups.var(axis=1) >= 1e-2)))
    w, b = data.draw(values(norm)), data.draw(values(norm))
    check(lambda x, w, b: F.layer_norm(x, norm, w, b), x, w, b,
          torch_fn=lambda x, w, b: TF.layer_norm(x, norm, w, b), dtype=dtype, scale=10)
    check(lambda x: F.layer_norm(x, norm), x, torch_fn=lambda x: TF.layer_norm(x, norm), dtype=dtype, scale=10)


LOSSES = {
    "mse": (F.mse_loss, TF.mse_loss, (-3, 3)),
    "bce": (F.binary_cross_entropy, TF.binary_cross_entropy, (0.02, 0.98)),
    "bce_logits": (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, (-20, 20)),
}


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=st.data(), shape=shapes, dtype=dtypes)
def test_losses(name, reduction, data, shape, dtype, device):
    ours, theirs, (low, high) = LOSSES[name]
    x = data.draw(values(shape, low, high))
    y = data.draw(values(shape, 0.0, 1.0))
    check(lambda x, y: ours(x, y, reduction=reduction), x, y,
          torch_fn=lambda x, y: theirs(x, y, reduction=reduction), dtype=dtype, scale=10)


@pytest.mark.parametrize("x", [0.0, 1.0, 1e-50, 1 - 1e-16])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
def test_bce_clamps_log_at_minus_100_like_pytorch(x, y, device):
    """At 0 and 1 PyTorch clamps log at -100 and keeps the gradient finite."""
    check(lambda a, b: F.binary_cross_entropy(a, b.detach()), np.array([x]), np.array([y]),
          torch_fn=lambda a, b: TF.binary_cross_entropy(a, b.detach()))


def test_conversions_are_differentiable(device):
    a = np.linspace(-1, 1, 6).reshape(2, 3)
    check(lambda x: x.float().double() * 3, a)
    check(lambda x: x.to(minigrad.float32).to(minigrad.float64) if isinstance(x, minigrad.Tensor)
          else x.to(torch.float32).to(torch.float64), a)


PROMOTION_OPERANDS = {
    "int tensor": lambda lib: lib.tensor([1, 2, 3]),
    "float32 tensor": lambda lib: lib.tensor([1.5, -2.0, 4.0]),
    "float64 tensor": lambda lib: lib.tensor([0.5, 2.0, 3.0], dtype=lib.float64),
    "bool tensor": lambda lib: lib.tensor([True, False, True]),
    "0-d float64": lambda lib: lib.tensor(2.5, dtype=lib.float64),
    "0-d int": lambda lib: lib.tensor(3),
    "python float": lambda lib: 1.5,
    "python int": lambda lib: 2,
    "numpy float64": lambda lib: np.float64(1.25),
    "python bool": lambda lib: True,
}


@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv"])
@pytest.mark.parametrize("left", list(PROMOTION_OPERANDS))
@pytest.mark.parametrize("right", list(PROMOTION_OPERANDS))
def test_result_dtype_follows_pytorchs_promotion(op, left, right):
    """Tensors with dimensions outrank 0-d tensors, which outrank numbers; a number's float is
    float32; int / int is float32 — not NumPy's rules (int tensor * 1.5 would be float64)."""
    fn = getattr(operator, op)
    theirs_args = [PROMOTION_OPERANDS[k](torch) for k in (left, right)]
    if not any(isinstance(x, torch.Tensor) for x in theirs_args):
        pytest.skip("two numbers")
    try:
        expected = fn(*theirs_args)
    except RuntimeError:  # e.g. bool - bool
        pytest.skip("PyTorch refuses this combination")
    got = fn(*[PROMOTION_OPERANDS[k](minigrad) for k in (left, right)])
    assert str(got.dtype) == str(expected.dtype).removeprefix("torch."), (left, op, right)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


def test_a_promoted_operand_gets_its_gradient_in_its_own_dtype():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)               # float32
    s = minigrad.tensor(3.0, dtype=minigrad.float64, requires_grad=True)  # 0-d float64
    y = x * s
    assert y.dtype == minigrad.float32
    y.sum().backward()
    assert s.grad.dtype == minigrad.float64 and s.grad.item() == pytest.approx(3.0)
    assert x.grad.dtype == minigrad.float32 and x.grad.tolist() == [3.0, 3.0]


@pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")  # PyTorch's own __array_wrap__
def test_numpy_functions_of_tensors_give_tensors_like_pytorch():
    values = [1.0, 2.0]
    for ours, theirs in ((np.exp(minigrad.tensor(values)), np.exp(torch.tensor(values))),
                         (np.maximum(minigrad.tensor(values), 1.5), np.maximum(torch.tensor(values), 1.5))):
        assert isinstance(ours, minigrad.Tensor) and ours.dtype == np.float32
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    x = minigrad.tensor(values, requires_grad=True)
    assert (np.float64(2) * x).requires_grad and (np.ones(2) * x).requires_grad  # the tensor's operators
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        np.exp(x)
