"""Elementwise operations: arithmetic, exp/log, activations.

Each class holds its forward and, right below it, its backward.  Broadcasting is
handled once by the engine (``autograd.sum_to_shape``), so a binary op may return
gradients in the broadcast shape.
"""
import math

from .. import backend
from ..autograd import Function, run


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
    """a·b; d/da = b, d/db = a (each factor's gradient reads the other: only that is kept)."""

    def forward(self, a, b):
        self.save_for_backward(a if self.wants(1) else None, b if self.wants(0) else None)
        return a * b

    def backward(self, grad):
        a, b = self.saved_tensors
        return (grad * b if self.needs_grad[0] else None,
                grad * a if self.needs_grad[1] else None)


class Div(Function):
    """a / b; d/da = 1/b, d/db = -a/b²."""

    def forward(self, a, b):
        self.save_for_backward(a if self.wants(1) else None, b)
        with backend.quiet(backend.array_module(a)):  # x / 0 is ±inf or nan, without a warning, as in PyTorch
            return a / b

    def backward(self, grad):
        a, b = self.saved_tensors
        ga = grad / b if self.needs_grad[0] else None
        gb = -grad * a / (b * b) if self.needs_grad[1] else None
        return ga, gb


class Pow(Function):
    """a ** b; d/da = b·a^(b-1), d/db = a^b·log(a)."""

    def forward(self, a, b):
        out = _integer_power(a, b) if hasattr(b, "dtype") and b.dtype.kind in "iu" else a ** b
        self.save_for_backward(a, b, out if self.wants(1) else None)
        return out

    def backward(self, grad):
        """With PyTorch's values at the edges: no gradient through an exponent of 0 (b·a^(b-1)
        would be 0·∞ at a = 0), none to the exponent where a = 0 and b ≥ 0 (0·log 0)."""
        a, b, out = self.saved_tensors
        xp = backend.array_module(grad)
        ga = gb = None
        with backend.quiet(xp):
            if self.needs_grad[0] and isinstance(b, (int, float)):
                ga = grad * (b * a ** (b - 1)) if b != 0 else xp.zeros_like(grad)  # (PyTorch's order of rounding)
            elif self.needs_grad[0]:  # where b = 0, a^(b-1) is not computed: 0·∞ would differentiate to NaN
                base = xp.where(b == 0, 1, a)
                ga = xp.where(b == 0, 0, grad * (b * base ** (b - 1)))
            if self.needs_grad[1]:
                gb = xp.where((a == 0) & (b >= 0), 0, grad * out * xp.log(a))
        return ga, gb


class FloorDivide(Function):
    """a // b rounded down, as Python's ``//`` (PyTorch's too); not differentiable."""

    def forward(self, a, b):
        xp = backend.array_module(a if hasattr(a, "dtype") else b)
        _refuse_integer_division_by_zero(a, b)
        with backend.quiet(xp):  # x // 0 is ±inf or nan for floats, as in PyTorch
            return xp.floor_divide(a, b)

    def backward(self, grad):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


class Remainder(Function):
    """a % b = a − b·⌊a/b⌋, with the sign of b as Python's ``%`` (a zero takes a's sign, as in
    PyTorch); d/da = 1, d/db = −⌊a/b⌋."""

    def forward(self, a, b):
        xp = backend.array_module(a if hasattr(a, "dtype") else b)
        _refuse_integer_division_by_zero(a, b)
        self.save_for_backward(a, b)
        with backend.quiet(xp):
            out = xp.remainder(a, b)
            return xp.where(out == 0, xp.copysign(out, a), out) if out.dtype.kind == "f" else out

    def backward(self, grad):
        a, b = self.saved_tensors
        gb = None
        if self.needs_grad[1]:
            xp = backend.array_module(grad)
            with backend.quiet(xp):
                gb = -grad * xp.floor_divide(a, b)
        return grad, gb


def _refuse_integer_division_by_zero(a, b):
    """PyTorch refuses an integer division by zero (NumPy would give 0 and a warning).  The
    operands come in the result's dtype, a Python number as it is."""
    array = a if hasattr(a, "dtype") else b
    if array.dtype.kind in "iub" and bool((b == 0).any() if hasattr(b, "dtype") else b == 0):
        raise RuntimeError("ZeroDivisionError")


class Maximum(Function):
    """max(a, b) elementwise (NaN wins).  PyTorch's gradient: each operand gets it unless it
    lost (a NaN beside the other loses to nothing: both get it), half of it on a tie."""

    largest = True

    def forward(self, a, b):
        self.save_for_backward(a, b)
        xp = backend.array_module(a)
        return xp.maximum(a, b) if self.largest else xp.minimum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        share = grad - grad * (a == b) / 2
        a_lost, b_lost = (a < b, b < a) if self.largest else (a > b, b > a)
        return (share * ~a_lost if self.needs_grad[0] else None,
                share * ~b_lost if self.needs_grad[1] else None)


class Minimum(Maximum):
    """min(a, b) elementwise (NaN wins); the gradient goes to the smaller, split on a tie."""

    largest = False


def _integer_power(a, b):
    """Integers to integer exponents, a tensor of them, as PyTorch: a negative exponent gives
    1/aⁿ truncated toward zero, 0 unless a is ±1 (NumPy refuses them all).  (A Python number
    as the exponent is refused by NumPy with PyTorch's own message.)"""
    xp = backend.array_module(b)
    if not (b < 0).any():
        return a ** b
    magnitude = a ** abs(b)
    return xp.where(b >= 0, magnitude, xp.where(abs(xp.asarray(a)) == 1, magnitude, 0)).astype(magnitude.dtype)


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class Exp(Function):
    """eˣ; d/dx = eˣ, the output itself."""

    def forward(self, a):
        out = backend.array_module(a).exp(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out, = self.saved_tensors
        return grad * out


class Log(Function):
    """ln x; d/dx = 1/x."""

    def forward(self, a):
        self.save_for_backward(a)
        return backend.array_module(a).log(a)

    def backward(self, grad):
        a, = self.saved_tensors
        return grad / a


class Sqrt(Function):
    """√x; d/dx = 1/(2√x).  ``zero_gradient_at_zero``: 0 where √x = 0 (the gradient PyTorch gives
    a standard deviation of equal values) instead of 1/0."""

    def __init__(self, zero_gradient_at_zero=False):
        self.zero_gradient_at_zero = zero_gradient_at_zero

    def forward(self, a):
        out = backend.array_module(a).sqrt(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out, = self.saved_tensors
        if self.zero_gradient_at_zero:
            xp = backend.array_module(out)
            with backend.quiet(xp):
                return xp.where(out == 0, 0, grad / (2 * out))
        return grad / (2 * out)


class Sin(Function):
    """sin x; d/dx = cos x."""

    def forward(self, a):
        self.save_for_backward(a)
        return backend.array_module(a).sin(a)

    def backward(self, grad):
        a, = self.saved_tensors
        return grad * backend.array_module(a).cos(a)


class Cos(Function):
    """cos x; d/dx = -sin x."""

    def forward(self, a):
        self.save_for_backward(a)
        return backend.array_module(a).cos(a)

    def backward(self, grad):
        a, = self.saved_tensors
        return -grad * backend.array_module(a).sin(a)


class Abs(Function):
    """|x|; d/dx = sign(x) (0 at 0, as PyTorch)."""

    def forward(self, a):
        self.save_for_backward(a)
        return abs(a)

    def backward(self, grad):
        a, = self.saved_tensors
        return grad * backend.array_module(grad).sign(a)


class Clamp(Function):
    """Clip into [min, max]; the gradient passes where the value was not clipped
    (PyTorch lets it through at the boundaries too)."""

    def __init__(self, min=None, max=None):
        self.min, self.max = min, max

    def forward(self, a):
        self.save_for_backward(a)
        return backend.array_module(a).clip(a, self.min, self.max)

    def backward(self, grad):
        a, = self.saved_tensors
        keep = True
        if self.min is not None:
            keep = a >= self.min
        if self.max is not None:
            keep = keep & (a <= self.max)
        return grad * keep


class Sigmoid(Function):
    """σ(x) = 1 / (1 + e^(-x)); dσ/dx = σ(1 - σ).

    Computed without overflow: e^(-|x|) never overflows, and σ(x) = e^x / (1 + e^x) for x < 0.
    """

    def forward(self, a):
        xp = backend.array_module(a)
        e = xp.exp(-abs(a))
        out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e))
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out, = self.saved_tensors
        return grad * (1 - out) * out


class Tanh(Function):
    """tanh x; d/dx = 1 - tanh²x."""

    def forward(self, a):
        out = backend.array_module(a).tanh(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out, = self.saved_tensors
        return grad * (1 - out * out)


class Relu(Function):
    """max(x, 0); the gradient passes where the output is positive."""

    def forward(self, a):
        out = backend.array_module(a).where(a < 0, 0, a)  # as PyTorch's max(x, 0): NaN and -0.0 stay
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out, = self.saved_tensors
        return grad * (out > 0)


class LeakyRelu(Function):
    """x for x > 0, slope·x otherwise (PyTorch uses slope at exactly 0 too)."""

    def __init__(self, negative_slope=0.01):
        self.slope = negative_slope

    def forward(self, a):
        self.save_for_backward(a)
        return backend.array_module(a).where(a > 0, a, a * self.slope)

    def backward(self, grad):
        a, = self.saved_tensors
        return backend.array_module(grad).where(a > 0, grad, grad * self.slope)


class Gelu(Function):
    """GELU(x) = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2 the normal distribution's CDF, whose
    derivative is Φ(x) + x·φ(x), φ(x) = e^(-x²/2)/√(2π); exact with erf (PyTorch's
    default) or the tanh approximation x/2·(1 + tanh u), u = √(2/π)(x + 0.044715x³), whose
    derivative is (1 + t)/2 + x/2·(1 - t²)·u' with t = tanh u."""

    def __init__(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
        self.approximate = approximate

    def forward(self, a):
        self.save_for_backward(a)
        if self.approximate == "none":
            return a * _normal_cdf(a)
        return 0.5 * a * (1 + self._tanh_u(a))

    def backward(self, grad):
        a, = self.saved_tensors
        if self.approximate == "none":
            density = backend.array_module(a).exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
            return grad * (_normal_cdf(a) + a * density)
        t = self._tanh_u(a)
        du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * a * a)
        return grad * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * du)

    @staticmethod
    def _tanh_u(a):
        return backend.array_module(a).tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3))


def _normal_cdf(x):
    return 0.5 * (1 + backend.erf(x / math.sqrt(2)))


def _in_float32_if_half(a):
    """float16 values in float32, as PyTorch computes half-precision functions (its "opmath"
    type) and rounds once at the end: e^(-x) of a half would overflow from x ≈ -11."""
    return a.astype("float32") if a.dtype == "float16" else a


class Silu(Function):
    """SiLU(x) = x·σ(x) = x / (1 + e^(-x)) (also called swish); d/dx = σ(x)·(1 + x·(1 - σ(x)))."""

    def forward(self, a):
        self.save_for_backward(a)
        xp, x = backend.array_module(a), _in_float32_if_half(a)
        with backend.quiet(xp):  # e^(-x) is inf for x below about -709: x / inf = -0, as in PyTorch
            return (x / (1 + xp.exp(-x))).astype(a.dtype, copy=False)

    def backward(self, grad):
        a, = self.saved_tensors
        s = run(Sigmoid(), a)
        return grad * s * (1 + a * (1 - s))


class Softplus(Function):
    """softplus(x) = log(1 + e^(βx)) / β, a smooth ReLU; d/dx = σ(βx).  Where βx > threshold
    it is x itself (gradient 1), as in PyTorch: the two agree there to rounding, and e^(βx)
    could overflow."""

    def __init__(self, beta=1.0, threshold=20.0):
        self.beta, self.threshold = float(beta), float(threshold)  # Python numbers: constants to a recorded backward

    def forward(self, a):
        self.save_for_backward(a)
        xp, x = backend.array_module(a), _in_float32_if_half(a)
        scaled = x * self.beta
        with backend.quiet(xp):  # e^(βx) may overflow where x itself is taken
            return xp.where(scaled > self.threshold, x, xp.log1p(xp.exp(scaled)) / self.beta).astype(a.dtype,
                                                                                                    copy=False)

    def backward(self, grad):
        a, = self.saved_tensors
        scaled = a * self.beta
        xp = backend.array_module(scaled)
        # σ(βx) where βx ≤ threshold, its argument held constant at βx = threshold: PyTorch's
        # second derivative is 0 there
        below = xp.where(scaled >= self.threshold, self.threshold, scaled)  # (NaN stays NaN)
        return xp.where(scaled > self.threshold, grad, grad * run(Sigmoid(), below))


class Elu(Function):
    """ELU(x) = x for x > 0, α·(e^x - 1) otherwise (``expm1``, exact near 0, as PyTorch);
    d/dx = 1 for x > 0, α·e^x otherwise."""

    def __init__(self, alpha=1.0):
        self.alpha = float(alpha)  # a Python number: a constant to a recorded backward

    def forward(self, a):
        self.save_for_backward(a)
        xp = backend.array_module(a)
        with backend.quiet(xp):  # expm1 overflows where x itself is taken
            return xp.where(a <= 0, xp.expm1(a) * self.alpha, a)

    def backward(self, grad):
        a, = self.saved_tensors
        xp = backend.array_module(a)
        # e^x only of x < 0: an overflow in the branch not taken would make a second derivative
        # 0·inf = NaN; at x = 0 this is e^0 held constant, as PyTorch's second derivative is 0 there
        negative = xp.where(a < 0, a, 0)
        return xp.where(a <= 0, grad * self.alpha * xp.exp(negative), grad)


class LogSigmoid(Function):
    """log σ(x) = min(x, 0) - log(1 + e^(-|x|)) (no overflow either way, as PyTorch);
    d/dx = 1 - σ(x) = σ(-x)."""

    def forward(self, a):
        self.save_for_backward(a)
        xp = backend.array_module(a)
        return xp.minimum(a, 0) - xp.log1p(xp.exp(-abs(a)))

    def backward(self, grad):
        a, = self.saved_tensors
        return grad * run(Sigmoid(), -a)


class Erf(Function):
    """erf(x) = 2/√π ∫₀ˣ e^(-t²) dt; d/dx = 2/√π · e^(-x²)."""

    def forward(self, a):
        self.save_for_backward(a)
        return backend.erf(a)

    def backward(self, grad):
        a, = self.saved_tensors
        return grad * (2 / math.sqrt(math.pi)) * backend.array_module(a).exp(-(a * a))


class Where(Function):
    """``where(condition, a, b)``: a where the (constant) condition holds, b elsewhere; each
    gets the gradient where its value was taken."""

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        return backend.array_module(self.condition).where(self.condition, a, b)

    def backward(self, grad):
        xp = backend.array_module(grad)
        return (xp.where(self.condition, grad, 0) if self.needs_grad[0] else None,
                xp.where(self.condition, 0, grad) if self.needs_grad[1] else None)
