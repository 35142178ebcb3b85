"""Elementwise operations: arithmetic, exp/log, activations.

Each class holds its forward and, right below it, its backward.  Broadcasting is
handled once by the engine (``autograd.sum_to_shape``), so a binary op may return
gradients in the broadcast shape.
"""
import math

from .. import backend, kernels
from ..autograd import Function


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, (-grad if self.needs_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        return (grad * self.b if self.needs_grad[0] else None,
                grad * self.a if self.needs_grad[1] else None)


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        with backend.quiet(backend.array_module(a)):  # x / 0 is ±inf or nan, without a warning, as in PyTorch
            return a / b

    def backward(self, grad):
        ga = grad / self.b if self.needs_grad[0] else None
        gb = -grad * self.a / (self.b * self.b) if self.needs_grad[1] else None
        return ga, gb


class Pow(Function):
    """a ** b; d/da = b·a^(b-1), d/db = a^b·log(a)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a ** b
        return self.out

    def backward(self, grad):
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_grad[0]:
            ga = grad * (b * a ** (b - 1))  # PyTorch's order of rounding
        if self.needs_grad[1]:
            xp = backend.array_module(self.out)
            gb = grad * self.out * xp.log(a)
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class Exp(Function):
    def forward(self, a):
        self.out = backend.array_module(a).exp(a)
        return self.out

    def backward(self, grad):
        return grad * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return backend.array_module(a).log(a)

    def backward(self, grad):
        return grad / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = backend.array_module(a).sqrt(a)
        return self.out

    def backward(self, grad):
        return grad / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.a = a
        return abs(a)

    def backward(self, grad):
        return grad * backend.array_module(grad).sign(self.a)


class Clamp(Function):
    """Clip into [min, max]; the gradient passes where the value was not clipped
    (PyTorch lets it through at the boundaries too)."""

    def __init__(self, min=None, max=None):
        self.min, self.max = min, max

    def forward(self, a):
        self.a = a
        return backend.array_module(a).clip(a, self.min, self.max)

    def backward(self, grad):
        keep = True
        if self.min is not None:
            keep = self.a >= self.min
        if self.max is not None:
            keep = keep & (self.a <= self.max)
        return grad * keep


class Sigmoid(Function):
    """σ(x) = 1 / (1 + e^(-x)); dσ/dx = σ(1 - σ)."""

    def forward(self, a):
        self.out = kernels.sigmoid(a)
        return self.out

    def backward(self, grad):
        return kernels.sigmoid_backward(grad, self.out)


class Tanh(Function):
    def forward(self, a):
        self.out = backend.array_module(a).tanh(a)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out * self.out)


class Relu(Function):
    def forward(self, a):
        self.positive = a > 0
        return backend.array_module(a).where(self.positive, a, 0)  # 0, not -0.0 from a·0

    def backward(self, grad):
        return grad * self.positive


class LeakyRelu(Function):
    """x for x > 0, slope·x otherwise (PyTorch uses slope at exactly 0 too)."""

    def __init__(self, negative_slope=0.01):
        self.slope = negative_slope

    def forward(self, a):
        self.a = a
        return kernels.leaky_relu(a, self.slope)

    def backward(self, grad):
        return kernels.leaky_relu_backward(grad, self.a, self.slope)


class Gelu(Function):
    """GELU(x) = x·Φ(x), exact with erf (PyTorch's default) or the tanh approximation."""

    def __init__(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
        self.approximate = approximate

    def forward(self, a):
        self.a = a
        if self.approximate == "none":
            return kernels.gelu(a)
        xp = backend.array_module(a)
        inner = math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)
        self.t = xp.tanh(inner)
        return 0.5 * a * (1 + self.t)

    def backward(self, grad):
        a = self.a
        if self.approximate == "none":
            return kernels.gelu_backward(grad, a)
        t = self.t
        d_inner = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * a * a)
        return grad * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * d_inner)
