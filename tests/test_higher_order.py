"""Gradients of gradients against PyTorch (float64, 1e-10 relative): every differentiable
op's backward, recorded with ``create_graph=True``, differentiated again with respect to
its inputs and to the upstream gradient; gradcheck and gradgradcheck on the same ops."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import minigrad
import minigrad.nn.functional as F
from helpers import broadcast_pairs, check_second_order, shapes, values

UNARY = {
    "exp": (lambda x: x.exp(), None, (-2, 2)),
    "log": (lambda x: x.log(), None, (0.2, 4)),
    "sqrt": (lambda x: x.sqrt(), None, (0.2, 4)),
    "sin_cos": (lambda x: x.sin() * x.cos(), None, (-4, 4)),
    "abs": (lambda x: x.abs(), None, (-3, 3)),
    "neg_square": (lambda x: -(x * x), None, (-3, 3)),
    "clamp": (lambda x: x.clamp(-0.5, 0.7) * x, None, (-3, 3)),
    "sigmoid": (lambda x: x.sigmoid(), None, (-6, 6)),
    "tanh": (lambda x: x.tanh(), None, (-3, 3)),
    "relu": (lambda x: x.relu() * x, None, (-3, 3)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.02) * x, lambda x: TF.leaky_relu(x, 0.02) * x, (-3, 3)),
    "gelu": (F.gelu, TF.gelu, (-4, 4)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"), (-4, 4)),
    "softmax": (lambda x: x.softmax(-1), None, (-3, 3)),
    "log_softmax": (lambda x: x.log_softmax(0), None, (-3, 3)),
    "sum": (lambda x: (x * x).sum(), None, (-3, 3)),
    "mean_dim": (lambda x: (x * x).mean(-1, keepdim=True), None, (-3, 3)),
    "max": (lambda x: (x * x).max(), None, (-3, 3)),
}


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data(), shape=shapes)
def test_unary_second_derivatives(name, data, shape, device):
    fn, torch_fn, (low, high) = UNARY[name]
    if name in ("softmax", "log_softmax") and not shape:
        shape = (3,)
    check_second_order(fn, data.draw(values(shape, low, high)), torch_fn=torch_fn)


BINARY = {
    "mul": lambda a, b: a * b * a,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "add_sub": lambda a, b: (a + b) * (a - b),
}


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data(), pair=broadcast_pairs)
def test_binary_second_derivatives_with_broadcasting(name, data, pair, device):
    shape_a, shape_b = pair.input_shapes
    a = data.draw(values(shape_a, 0.5, 2.0))
    b = data.draw(values(shape_b, 0.5, 2.0))
    check_second_order(BINARY[name], a, b)


@given(data=st.data(), n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4), vector=st.booleans())
def test_matmul_and_linear_second_derivatives(data, n, k, m, vector, device):
    a, b = data.draw(values((n, k))), data.draw(values((k,) if vector else (k, m)))
    check_second_order(lambda x, y: (x @ y) ** 2, a, b)
    w, bias = data.draw(values((m, k))), data.draw(values((m,)))
    check_second_order(lambda x, y, z: F.linear(x, y, z).tanh(), a, w, bias,
                       torch_fn=lambda x, y, z: TF.linear(x, y, z).tanh())


@given(data=st.data(), shape=shapes.filter(lambda s: len(s) >= 2))
def test_shape_ops_second_derivatives(data, shape, device):
    a = data.draw(values(shape))
    check_second_order(lambda x: x.transpose(0, 1).reshape(-1) ** 3, a)
    check_second_order(lambda x: x[1:, ..., ::2] ** 3, a)
    check_second_order(lambda x: x[[0, 0, -1]] ** 3, a)          # repeated rows: gradients add
    check_second_order(lambda x: x.unsqueeze(0).expand(2, *x.shape) ** 3, a)
    check_second_order(lambda x: (x * x).max(-1)[0], a)
    check_second_order(lambda x, y: minigrad.cat([x, y * y], 0) ** 2, a, a,
                       torch_fn=lambda x, y: torch.cat([x, y * y], 0) ** 2)
    check_second_order(lambda x, y: minigrad.stack([x, y * y], 1) ** 2, a, a,
                       torch_fn=lambda x, y: torch.stack([x, y * y], 1) ** 2)


@given(data=st.data(), shape=shapes.filter(lambda s: len(s) >= 1))
def test_loss_second_derivatives(data, shape, device):
    x, y = data.draw(values(shape, -3, 3)), data.draw(values(shape, 0, 1))
    check_second_order(F.mse_loss, x, y, torch_fn=TF.mse_loss)
    check_second_order(lambda a, b: F.binary_cross_entropy(a.sigmoid(), b), x, y,
                       torch_fn=lambda a, b: TF.binary_cross_entropy(a.sigmoid(), b))
    check_second_order(F.binary_cross_entropy_with_logits, x, y, torch_fn=TF.binary_cross_entropy_with_logits)


@given(data=st.data(), rows=st.integers(2, 4), features=st.integers(2, 5))
def test_normalisation_second_derivatives(data, rows, features, device):
    x = data.draw(values((rows, features)))
    w, b = data.draw(values((features,))), data.draw(values((features,)))
    check_second_order(lambda a, c, d: F.layer_norm(a, (features,), c, d), x, w, b,
                       torch_fn=lambda a, c, d: TF.layer_norm(a, (features,), c, d))
    check_second_order(lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True), x, w, b,
                       torch_fn=lambda a, c, d: TF.batch_norm(a, None, None, c, d, training=True))


CONVOLUTIONS = [dict(stride=1, padding=0, dilation=1), dict(stride=2, padding=1, dilation=1),
                dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1))]


@pytest.mark.parametrize("args", CONVOLUTIONS)
@settings(max_examples=6)
@given(seed=st.integers(0, 1000), unbatched=st.booleans())
def test_convolution_second_derivatives(args, seed, unbatched, device):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 7, 6) if unbatched else (2, 3, 7, 6))
    w, wt, b = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal((3, 4, 3, 2)), rng.standard_normal(4)
    check_second_order(lambda a, c, d: F.conv2d(a, c, d, **args) ** 2, x, w, b,
                       torch_fn=lambda a, c, d: TF.conv2d(a, c, d, **args) ** 2)
    check_second_order(lambda a, c, d: F.conv_transpose2d(a, c, d, **args) ** 2, x, wt, b,
                       torch_fn=lambda a, c, d: TF.conv_transpose2d(a, c, d, **args) ** 2)


# --- gradcheck and gradgradcheck, a learner's tools without PyTorch -------------------------

GRADCHECKED = {  # inputs are (2, 3), values in [0.5, 1.5]
    "add_sub_neg": (lambda a, b: -(a + b) * (a - b), 2),
    "mul_div": (lambda a, b: a * b / (b * b + 1), 2),
    "pow": (lambda a, b: a ** b, 2),
    "exp_log_sqrt": (lambda a: a.exp() * a.log() + a.sqrt(), 1),
    "sin_cos": (lambda a: a.sin() * a.cos(), 1),
    "abs_clamp": (lambda a: (a - 1.05).abs() * a.clamp(0.7, 1.3), 1),
    "tanh_sigmoid": (lambda a: a.tanh() * a.sigmoid(), 1),
    "relu_leaky_relu": (lambda a: (a - 1.05).relu() * F.leaky_relu(a - 1.05, 0.1), 1),
    "gelu": (lambda a: F.gelu(a - 1) + F.gelu(a - 1, approximate="tanh"), 1),
    "softmax_log_softmax": (lambda a: a.softmax(-1) * a.log_softmax(0), 1),
    "sum_mean": (lambda a: (a * a).sum(0) + (a * a).mean(1, keepdim=True), 1),
    "max": (lambda a: (a * a).max() + (a * a).max(1)[0].sum(), 1),
    "shape": (lambda a: a.reshape(3, 2).T.unsqueeze(0).expand(2, 2, 3)[:, 1:, ::2] ** 2, 1),
    "matmul_linear": (lambda a, b: (a @ b.T) ** 2 + F.linear(a, b, b[:, 0]).sum(), 2),
    "mse_bce": (lambda a, b: F.mse_loss(a, b) + F.binary_cross_entropy((a - 1).sigmoid(), b / 2)
                + F.binary_cross_entropy_with_logits(a, b / 2), 2),
    "layer_norm": (lambda a, b: F.layer_norm(a, (3,), b[0], b[1]), 2),
    "batch_norm": (lambda a, b: F.batch_norm(a, None, None, b[0, :3], b[1, :3], training=True), 2),
    "cat_stack": (lambda a, b: minigrad.cat([a, b * b], 1).sum(1, keepdim=True) * minigrad.stack([a, b], 0).sum(0), 2),
}


@pytest.mark.parametrize("name", GRADCHECKED)
def test_gradcheck_and_gradgradcheck_pass_on_the_ops(name):
    fn, n = GRADCHECKED[name]
    rng = np.random.default_rng(1)
    inputs = [minigrad.tensor(rng.uniform(0.5, 1.5, (2, 3)), requires_grad=True) for _ in range(n)]
    assert minigrad.autograd.gradcheck(fn, inputs)
    assert minigrad.autograd.gradgradcheck(fn, inputs)


def test_gradcheck_and_gradgradcheck_pass_on_the_convolutions():
    rng = np.random.default_rng(2)
    x = minigrad.tensor(rng.standard_normal((1, 2, 4, 4)), requires_grad=True)
    w = minigrad.tensor(rng.standard_normal((2, 2, 2, 2)), requires_grad=True)
    for fn in (lambda a, b: F.conv2d(a, b, stride=2, padding=1), lambda a, b: F.conv_transpose2d(a, b, stride=2)):
        assert minigrad.autograd.gradcheck(fn, (x, w))
        assert minigrad.autograd.gradgradcheck(fn, (x, w))


class WrongSquare(minigrad.autograd.Function):
    """x² with a backward that forgets the 2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x


class SquareWithWrongSecondDerivative(minigrad.autograd.Function):
    """Right first derivative, but computed outside the graph: its own derivative is lost."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * 2 * x.detach()


def test_gradcheck_catches_a_wrong_backward_and_shows_both_jacobians():
    x = minigrad.tensor([0.5, 1.5, -2.0], dtype=minigrad.float64, requires_grad=True)
    with pytest.raises(minigrad.autograd.GradcheckError) as error:
        minigrad.autograd.gradcheck(WrongSquare.apply, (x,))
    message = str(error.value)
    assert "Jacobian mismatch for output 0 with respect to input 0" in message
    assert "numerical" in message and "analytical" in message
    assert minigrad.autograd.gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False
    assert minigrad.autograd.gradcheck(SquareWithWrongSecondDerivative.apply, (x,))
    with pytest.raises(minigrad.autograd.GradcheckError):
        minigrad.autograd.gradgradcheck(SquareWithWrongSecondDerivative.apply, (x,))


def test_backward_with_create_graph_gives_a_grad_in_the_graph():
    for engine in (minigrad, torch):
        x = engine.tensor([1.0, 2.0, 3.0], dtype=engine.float64, requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)
        assert x.grad.requires_grad and x.grad.grad_fn is not None
        g = x.grad
        x.grad = None
        g.sum().backward()
        np.testing.assert_allclose(np.asarray(x.grad.detach().numpy()), [6.0, 12.0, 18.0])


def test_newton_on_the_books_cubic_matches_pytorch():
    """Newton's method x ← x − f'(x)/f''(x) on chapter 1's y = (x−1)(x−2)(x−3), both engines."""
    paths = []
    for engine in (minigrad, torch):
        x = engine.tensor(3.5, dtype=engine.float64, requires_grad=True)
        path = []
        for _ in range(6):
            y = (x - 1) * (x - 2) * (x - 3)
            dy, = engine.autograd.grad(y, x, create_graph=True)
            d2y, = engine.autograd.grad(dy, x)
            with engine.no_grad():
                x -= dy / d2y
            path.append(x.item())
        paths.append(path)
    np.testing.assert_allclose(paths[0], paths[1], rtol=1e-12)
    assert abs(paths[0][-1] - (2 + 1 / 3 ** 0.5)) < 1e-10  # the local minimum 2 + 1/√3
