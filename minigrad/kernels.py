"""Fused kernels: one GPU launch where NumPy makes several passes.

At the book's batch size of one a GPU waits for kernel launches, not arithmetic: each
CuPy expression is one launch (~10 µs from Python), so a sigmoid written as five NumPy
expressions costs five launches, and an Adam update thirteen.  Each kernel here is
written twice, side by side: as NumPy expressions (the CPU path, and the reference the
CUDA tests compare against) and as CUDA C for one element (a CuPy ``ElementwiseKernel``
or ``ReductionKernel``, compiled on first use).  The array's module picks which runs.
"""
import math

from . import backend


class Fused:
    """``numpy(*args)`` on NumPy arrays; on CuPy arrays the kernel that ``make(cupy)`` builds."""

    def __init__(self, numpy, make):
        self.numpy, self.make, self.kernel = numpy, make, None

    def __call__(self, *args):
        if not backend.is_gpu_array(args[0]):
            return self.numpy(*args)
        if self.kernel is None:
            self.kernel = self.make(backend.cp)
        return self.kernel(*args)


def elementwise(inputs, outputs, body, name):
    return lambda cp: cp.ElementwiseKernel(inputs, outputs, body, "minigrad_" + name)


# --- activations: forward and backward ----------------------------------------------------

def _sigmoid(x):
    """σ(x) = 1 / (1 + e^(-x)) without overflow warnings: e^(-|x|) never overflows,
    and σ(x) = e^x / (1 + e^x) for x < 0."""
    xp = backend.array_module(x)
    e = xp.exp(-abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


sigmoid = Fused(_sigmoid, elementwise(
    "T x", "T y", "T e = exp(-abs(x)); y = x >= 0 ? 1 / (1 + e) : e / (1 + e)", "sigmoid"))

sigmoid_backward = Fused(lambda grad, y: grad * (1 - y) * y, elementwise(
    "T grad, T y", "T dx", "dx = grad * (1 - y) * y", "sigmoid_backward"))

# PyTorch uses the slope at exactly 0 too
leaky_relu = Fused(lambda x, slope: backend.array_module(x).where(x > 0, x, x * slope), elementwise(
    "T x, T slope", "T y", "y = x > 0 ? x : x * slope", "leaky_relu"))

leaky_relu_backward = Fused(
    lambda grad, x, slope: backend.array_module(grad).where(x > 0, grad, grad * slope), elementwise(
        "T grad, T x, T slope", "T dx", "dx = x > 0 ? grad : grad * slope", "leaky_relu_backward"))


def _gelu_cdf(x):
    return 0.5 * (1 + backend.erf(x / math.sqrt(2)))


# NVRTC has no M_SQRT1_2: 1/√2 and 1/√(2π) are written out
_CDF = "(0.5 * (1 + erf(x * 0.7071067811865476)))"

gelu = Fused(lambda x: x * _gelu_cdf(x), elementwise("T x", "T y", f"y = x * {_CDF}", "gelu"))

gelu_backward = Fused(
    lambda grad, x: grad * (_gelu_cdf(x) + x * (backend.array_module(x).exp(-0.5 * x * x)
                                                 / math.sqrt(2 * math.pi))),
    elementwise("T grad, T x", "T dx",
                f"dx = grad * ({_CDF} + x * (exp(-0.5 * x * x) * 0.3989422804014327))",
                "gelu_backward"))

# --- optimiser updates ---------------------------------------------------------------------


def _sgd(grad, lr, param):
    param -= lr * grad


sgd = Fused(_sgd, elementwise("T grad, T lr", "T param", "param -= lr * grad", "sgd"))

# PyTorch's single-tensor Adam: m.lerp_(g, 1 - β₁); v·β₂ + (1 - β₂)·g·g;
# p.addcdiv_(m, √v / √(1 - β₂ᵗ) + eps, value=-lr / (1 - β₁ᵗ))
_ADAM = """
    m += (grad - m) * (T)(1 - beta1);
    v = v * (T)beta2 + (T)(1 - beta2) * grad * grad;
    param += (T)step_size * (m / (sqrt(v) / (T)correction2 + (T)eps));
"""


def _adam(grad, beta1, beta2, eps, step_size, correction2, param, m, v, scratch):
    """In place, in a scratch buffer kept per parameter (no temporaries: 15% faster on
    784×200); only the last product is in another order than PyTorch's (~1e-16 relative)."""
    xp = backend.array_module(v)
    xp.subtract(grad, m, out=scratch)
    scratch *= 1 - beta1
    m += scratch                                   # m.lerp_(g, 1 - β₁)
    xp.multiply(grad, 1 - beta2, out=scratch)
    scratch *= grad
    v *= beta2
    v += scratch                                   # v·β₂ + (1 - β₂)·g·g
    denom = xp.sqrt(v, out=scratch)
    denom /= correction2
    denom += eps
    update = xp.divide(m, denom, out=scratch)
    update *= step_size                            # m / denom · (-step_size)
    param += update


def _adam_kernel(cp):
    kernel = cp.ElementwiseKernel(
        "T grad, float64 beta1, float64 beta2, float64 eps, float64 step_size, float64 correction2",
        "T param, T m, T v", _ADAM, "minigrad_adam")
    return lambda grad, beta1, beta2, eps, step_size, correction2, param, m, v, scratch: kernel(
        grad, beta1, beta2, eps, step_size, correction2, param, m, v)


adam = Fused(_adam, _adam_kernel)

# Capturable Adam: the step count t is a device scalar, advanced by the caller, and the bias
# corrections are computed from it here (in double precision, as the host computes them)
adam_device_step = Fused(None, elementwise(
    "T grad, float64 beta1, float64 beta2, float64 eps, float64 lr, raw float64 t", "T param, T m, T v",
    "double step_size = -lr / (1 - pow(beta1, t[0]));"
    "double correction2 = sqrt(1 - pow(beta2, t[0]));" + _ADAM, "adam_device_step"))

# --- losses (reduction 'mean' or 'sum'; n is the count for 'mean', 1 for 'sum') -------------
# On the GPU a loss is one reduction launch.  BCE's input must lie in [0, 1]: checking that
# on the host would wait for the GPU, so the kernel makes the loss NaN instead and the
# caller registers it with ``backend.check_later`` (reported at the next read to the host,
# as CUDA reports a device-side assert).


def reduction(map_expr, name):
    return lambda cp: cp.ReductionKernel("T x, T y, T n", "T loss", map_expr, "a + b", "loss = a / n", "0",
                                         "minigrad_" + name)


def _mse(x, y, n):
    diff = x - y
    return (diff * diff).sum() / n


mse = Fused(_mse, reduction("(x - y) * (x - y)", "mse"))

mse_backward = Fused(lambda grad, x, y, n: grad / n * 2 * (x - y), elementwise(
    "T grad, T x, T y, T n", "T dx", "dx = grad / n * 2 * (x - y)", "mse_backward"))


def bce_losses(x, y):
    """-(y·log x + (1 - y)·log(1 - x)), each log clamped at -100 (PyTorch's numerics)."""
    xp = backend.array_module(x)
    with backend.quiet(xp):  # log(0) = -inf is expected here and clamped next
        log_x, log_1mx = xp.log(x), xp.log(1 - x)
    return -(y * xp.maximum(log_x, -100) + (1 - y) * xp.maximum(log_1mx, -100))


bce = Fused(lambda x, y, n: bce_losses(x, y).sum() / n, reduction(
    "x >= 0 && x <= 1 ? -(y * max(log(x), (T)-100) + (1 - y) * max(log(1 - x), (T)-100)) : sqrt((T)-1)", "bce"))

BCE_EPSILON = 9.999999960041972e-13  # PyTorch's 1e-12 is a C float: this is float32(1e-12) exactly

bce_backward = Fused(
    lambda grad, x, y, n: grad / n * (x - y) / backend.array_module(x).maximum((1 - x) * x, BCE_EPSILON),
    elementwise("T grad, T x, T y, T n", "T dx",
                f"dx = grad / n * (x - y) / max((1 - x) * x, (T){BCE_EPSILON!r})", "bce_backward"))
