"""Fused kernels: one GPU launch where NumPy makes several passes.

At the book's batch size of one a GPU waits for kernel launches, not arithmetic: each
CuPy expression is one launch (~10 µs from Python), so the overflow-safe sigmoid below,
nine NumPy expressions, costs nine launches, and an Adam update thirteen.  Each kernel here is
written twice, side by side: as NumPy expressions (the CPU path, and the reference the
CUDA tests compare against) and as CUDA C, compiled on first use: for one element (a CuPy
``ElementwiseKernel`` or ``ReductionKernel``), or, where values must be summed per row or
channel first (normalisation, col2im), a whole kernel (a ``RawModule``).  The array's
module picks which runs.
"""
import functools
import math

import numpy as np

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

# --- kernels written in CUDA C (a RawModule per source and element types) -----------------

_FLOAT_TYPES = {np.dtype("float32"): "float", np.dtype("float64"): "double"}
_INDEX_TYPES = {np.dtype("int32"): "int", np.dtype("int64"): "long long"}


def _c_type(dtype, types=_FLOAT_TYPES):
    if np.dtype(dtype) not in types:
        raise TypeError(f"minigrad's CUDA kernels take {' or '.join(map(str, types))}, not {dtype}")
    return types[np.dtype(dtype)]


@functools.lru_cache(maxsize=None)
def _raw_module(cp, source, types):
    """``source`` compiled with ``typedef <c type> <name>;`` for each (name, c type) of ``types``."""
    return cp.RawModule(code="".join(f"typedef {c} {t};\n" for t, c in types) + source)


@functools.lru_cache(maxsize=None)
def _raw_kernel(cp, source, name, **types):
    return _raw_module(cp, source, tuple(sorted(types.items()))).get_function(name)


# --- normalisation: one launch forward, one backward (LayerNorm's parameter gradients: one more) -
# Layer norm normalises each row of a (rows, m) array; batch norm each channel c of an
# (N, C, S) array over its m = N·S values.  On the GPU both are one kernel with one thread
# block per group: the block sums its group (mean, then the variance of the centred values:
# two passes, no cancellation), then writes the output.  NumPy needs ~12 expressions for a
# layer norm forward and batch norm's per-channel sums another 2 each, every one of them a
# launch on the GPU.


def _layer_norm(x, weight, bias, eps):
    """x (rows, m) → (x̂·weight + bias, mean, rstd) with x̂ = (x − mean)·rstd,
    rstd = 1/sqrt(var + eps), mean and biased var per row."""
    xp = backend.array_module(x)
    m = x.shape[1]
    # sum / m is what ndarray.mean computes, without its Python-level overhead
    mean = x.sum(axis=1, keepdims=True) / m
    centred = x - mean
    var = (centred * centred).sum(axis=1, keepdims=True) / m
    rstd = 1 / xp.sqrt(var + eps)
    out = centred * rstd
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out, mean[:, 0], rstd[:, 0]


def _layer_norm_backward(grad, x, weight, mean, rstd, needs):
    """With ĝ = grad·weight: dx = rstd/m·(m·ĝ − Σĝ − x̂·Σĝx̂) per row; dweight = Σ grad·x̂,
    dbias = Σ grad over the rows.  ``needs`` says which of (dx, dweight, dbias) to compute."""
    mean, rstd = mean[:, None], rstd[:, None]
    xhat = (x - mean) * rstd
    gx = gw = gb = None
    if needs[0]:
        g = grad * weight if weight is not None else grad
        m = x.shape[1]
        gx = (m * g - g.sum(axis=1, keepdims=True) - xhat * (g * xhat).sum(axis=1, keepdims=True)) * (rstd / m)
    if needs[1]:
        gw = (grad * xhat).sum(axis=0)
    if needs[2]:
        gb = grad.sum(axis=0)
    return gx, gw, gb


def _batch_norm(x, weight, bias, eps, running_mean, running_var, momentum, training):
    """x (N, C, ...) → (y, mean, rstd) per channel, with the batch's mean and biased variance
    (``training``, moving the running estimates by ``momentum``, with the unbiased variance)
    or the running ones.  Like PyTorch's CPU kernel, y = x·α + β with α = w·rstd and
    β = b − mean·α."""
    xp = backend.array_module(x)
    channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        count = math.prod(x.shape) // x.shape[1]
        mean = _channel_sums(x) / count
        centred = x - mean.reshape(channel)
        var = _channel_sums(centred, centred) / count
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * var * (count / (count - 1))
    else:
        mean, var = running_mean.copy(), running_var.copy()  # kept for backward; training moves the originals
    rstd = 1 / xp.sqrt(var + eps)
    alpha = rstd if weight is None else weight * rstd
    beta = -mean * alpha if bias is None else bias - mean * alpha
    out = x * alpha.reshape(channel)
    out += beta.reshape(channel)
    return out, mean, rstd


def _batch_norm_backward(grad, x, weight, mean, rstd, training, needs_x):
    """With α = w·rstd and M values per channel: training dx = α·(g − Σg/M − x̂·Σ(g·x̂)/M),
    evaluation dx = α·g; returns (dx or None, Σ g·x̂ = dweight, Σ g = dbias)."""
    channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    centred = x - mean.reshape(channel)
    grad_sum = _channel_sums(grad)
    grad_dot_xhat = _channel_sums(grad, centred) * rstd    # Σ g·x̂ = rstd·Σ g·(x − mean)
    gx = None
    if needs_x:
        alpha = rstd if weight is None else weight * rstd
        gx = grad * alpha.reshape(channel)
        if training:  # the batch statistics depend on x too
            count = math.prod(x.shape) // x.shape[1]
            gx -= centred * (alpha * rstd * grad_dot_xhat / count).reshape(channel)
            gx -= (alpha * grad_sum / count).reshape(channel)
    return gx, grad_dot_xhat, grad_sum


def _channel_sums(a, b=None):
    """Σ a (or Σ a·b) over every axis but dimension 1, the channels.

    Written as matrix products (each channel's values times a vector of ones, or times
    the same channel of b) so that BLAS does the reduction, with no temporary for a·b (faster
    than ``a.sum(axis=(0, 2, 3))`` and ``(a * b).sum(...)`` on the book's images).
    """
    if a.ndim == 2 or 0 in a.shape or not (type(a) is np.ndarray or backend.is_gpu_array(a)):  # (N, C), nothing
        # to sum, or tensors (a recorded backward)
        return (a if b is None else a * b).sum(axis=tuple(i for i in range(a.ndim) if i != 1))
    xp = backend.array_module(a)
    n, c = a.shape[:2]
    if b is None:
        return backend.matmul(a.reshape(n, c, -1), xp.ones(a.size // (n * c), dtype=a.dtype)).sum(axis=0)
    return backend.matmul(a.reshape(n, c, 1, -1), b.reshape(n, c, -1, 1)).reshape(n, c).sum(axis=0)


# Flags of the CUDA kernels below (C bit masks, defined once here)
_NORM_FLAGS = {"BATCH_STATS": 1, "UPDATE_RUNNING": 2, "HAS_WEIGHT": 4, "HAS_BIAS": 8, "PER_GROUP": 16,
               "GRAD_X": 32, "GRAD_PARAMS": 64}
_BLOCK = 256  # threads per block (per group in the normalisation kernels): a power of two for the tree sum

_NORMALIZE = r"""
// Element i (0 ≤ i < m) of group g: rows (inner = m) or channel g of (N, C, S) (inner = S, stride = C·S)
__device__ long long at(long long g, long long i, long long inner, long long stride) {
    return (i / inner) * stride + g * inner + i % inner;
}

__device__ T block_sum(T value, T* shared) {
    shared[threadIdx.x] = value;
    __syncthreads();
    for (int half = BLOCK / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
        __syncthreads();
    }
    T total = shared[0];
    __syncthreads();  // before the next sum writes shared again
    return total;
}

extern "C" __global__ void normalize(const T* x, const T* weight, const T* bias, T* y, T* mean_out, T* rstd_out,
                                     T* running_mean, T* running_var, long long m, long long inner,
                                     long long stride, double eps, double momentum, int flags) {
    __shared__ T shared[BLOCK];
    const long long g = blockIdx.x;
    T mean, var;
    if (flags & BATCH_STATS) {
        T sum = 0;
        for (long long i = threadIdx.x; i < m; i += BLOCK) sum += x[at(g, i, inner, stride)];
        mean = block_sum(sum, shared) / (T)m;
        T squares = 0;
        for (long long i = threadIdx.x; i < m; i += BLOCK) {
            T d = x[at(g, i, inner, stride)] - mean;
            squares += d * d;
        }
        var = block_sum(squares, shared) / (T)m;
        if ((flags & UPDATE_RUNNING) && threadIdx.x == 0) {  // PyTorch's: the unbiased variance
            running_mean[g] = (T)(1 - momentum) * running_mean[g] + (T)momentum * mean;
            running_var[g] = (T)(1 - momentum) * running_var[g] + (T)momentum * var * (T)((double)m / (m - 1));
        }
    } else {
        mean = running_mean[g];
        var = running_var[g];
    }
    const T rstd = 1 / sqrt(var + (T)eps);
    for (long long i = threadIdx.x; i < m; i += BLOCK) {
        const long long k = at(g, i, inner, stride), p = (flags & PER_GROUP) ? g : i;
        T value = (x[k] - mean) * rstd;
        if (flags & HAS_WEIGHT) value *= weight[p];
        if (flags & HAS_BIAS) value += bias[p];
        y[k] = value;
    }
    if (threadIdx.x == 0) {
        mean_out[g] = mean;
        rstd_out[g] = rstd;
    }
}

// ĝ = grad·weight, x̂ = (x − mean)·rstd.  Batch statistics: dx = rstd/m·(m·ĝ − Σĝ − x̂·Σĝx̂);
// fixed statistics: dx = rstd·ĝ.  A per-group weight is a factor of both sums, so the block
// sums grad and grad·x̂ (the weight's and bias's gradients) and scales them after.
extern "C" __global__ void normalize_backward(const T* grad, const T* x, const T* weight, const T* mean,
                                              const T* rstd, T* grad_x, T* grad_weight, T* grad_bias,
                                              long long m, long long inner, long long stride, int flags) {
    __shared__ T shared[BLOCK];
    const long long g = blockIdx.x;
    const bool per_group = flags & PER_GROUP, element_weight = (flags & HAS_WEIGHT) && !per_group;
    const T mu = mean[g], r = rstd[g];
    T sum = 0, dot = 0;
    for (long long i = threadIdx.x; i < m; i += BLOCK) {
        const long long k = at(g, i, inner, stride);
        const T gi = element_weight ? grad[k] * weight[i] : grad[k];
        sum += gi;
        dot += gi * (x[k] - mu) * r;
    }
    sum = block_sum(sum, shared);
    dot = block_sum(dot, shared);
    if ((flags & GRAD_PARAMS) && threadIdx.x == 0) {
        grad_weight[g] = dot;
        grad_bias[g] = sum;
    }
    if (!(flags & GRAD_X)) return;
    const T w = (per_group && (flags & HAS_WEIGHT)) ? weight[g] : (T)1;
    sum *= w;
    dot *= w;
    for (long long i = threadIdx.x; i < m; i += BLOCK) {
        const long long k = at(g, i, inner, stride);
        T gi = grad[k] * w;
        if (element_weight) gi *= weight[i];
        grad_x[k] = (flags & BATCH_STATS) ? r / (T)m * ((T)m * gi - sum - (x[k] - mu) * r * dot) : r * gi;
    }
}

// Layer norm's weight and bias gradients: Σ over the rows of grad·x̂ and grad, one thread per column
extern "C" __global__ void layer_norm_param_grads(const T* grad, const T* x, const T* mean, const T* rstd,
                                                  T* grad_weight, T* grad_bias, long long rows, long long m) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= m) return;
    T gw = 0, gb = 0;
    for (long long row = 0; row < rows; ++row) {
        const T gi = grad[row * m + i];
        gw += gi * (x[row * m + i] - mean[row]) * rstd[row];
        gb += gi;
    }
    grad_weight[i] = gw;
    grad_bias[i] = gb;
}
"""


@functools.lru_cache(maxsize=None)
def _normalize_kernels(cp):
    """The three kernels above, compiled per dtype, behind the NumPy twins' signatures.
    (minigrad.nn.functional has checked that every array has the input's dtype.)  Where a
    kernel takes no weight, bias or running estimate, another array stands in for the
    pointer: its flag is off, so the kernel never touches it."""
    source = "".join(f"#define {k} {v}\n" for k, v in {**_NORM_FLAGS, "BLOCK": _BLOCK}.items()) + _NORMALIZE

    def kernel(dtype, name):
        return _raw_kernel(cp, source, name, T=_c_type(dtype))

    def flags(*names):
        return np.int32(sum(_NORM_FLAGS[n] for n in names if n))

    def contiguous(*arrays):  # the kernels index every array as a C-ordered block
        return [None if a is None else cp.ascontiguousarray(a) for a in arrays]

    def normalize(x, weight, bias, eps, running_mean, running_var, momentum, training, groups, inner, stride,
                  per_group):
        x, weight, bias, running_mean_c, running_var_c = contiguous(x, weight, bias, running_mean, running_var)
        y, mean, rstd = cp.empty_like(x), cp.empty(groups, x.dtype), cp.empty(groups, x.dtype)
        update = training and running_mean is not None
        if groups and x.size:  # (an empty grid is not a launch)
            kernel(x.dtype, "normalize")((groups,), (_BLOCK,), (
                x, weight if weight is not None else x, bias if bias is not None else x, y, mean, rstd,
                running_mean_c if running_mean is not None else mean,
                running_var_c if running_var is not None else rstd,
                np.int64(x.size // groups), np.int64(inner), np.int64(stride), np.float64(eps), np.float64(momentum),
                flags(training and "BATCH_STATS", update and "UPDATE_RUNNING", weight is not None and "HAS_WEIGHT",
                      bias is not None and "HAS_BIAS", per_group and "PER_GROUP")))
        elif not training:  # nothing to normalise: the statistics are the running ones, as in the twin
            mean[...], rstd[...] = running_mean_c, 1 / cp.sqrt(running_var_c + eps)
        else:  # no values to average: 0/0, as NumPy gives
            mean.fill(np.nan)
            rstd.fill(np.nan)
        if update and running_mean_c is not running_mean:  # strided running estimates: updated in a copy
            running_mean[...], running_var[...] = running_mean_c, running_var_c
        return y, mean, rstd

    def normalize_backward(grad, x, weight, mean, rstd, training, needs_x, groups, inner, stride, per_group):
        """(dx or None, and per group — batch norm's channels — Σ grad·x̂ and Σ grad, else None)."""
        grad, x, weight = contiguous(grad, x, weight)
        gx = cp.empty_like(x) if needs_x else None
        gw, gb = (cp.empty(groups, x.dtype), cp.empty(groups, x.dtype)) if per_group else (None, None)
        if not (groups and x.size):  # nothing to sum: zero gradients
            for g in (gw, gb):
                if g is not None:
                    g.fill(0)
            return gx, gw, gb
        kernel(x.dtype, "normalize_backward")((groups,), (_BLOCK,), (
            grad, x, weight if weight is not None else x, mean, rstd, gx if gx is not None else x,
            gw if per_group else mean, gb if per_group else rstd,
            np.int64(x.size // groups), np.int64(inner), np.int64(stride),
            flags(training and "BATCH_STATS", weight is not None and "HAS_WEIGHT", per_group and "PER_GROUP",
                  needs_x and "GRAD_X", per_group and "GRAD_PARAMS")))
        return gx, gw, gb

    # the layouts: (groups, inner, stride, per_group) as the kernels' ``at`` reads them
    def rows(x):
        return x.shape[0], x.shape[1], x.shape[1], False

    def channels(x):
        inner = math.prod(x.shape[2:])
        return x.shape[1], inner, x.shape[1] * inner, True

    def layer_norm(x, weight, bias, eps):
        return normalize(x, weight, bias, eps, None, None, 0.0, True, *rows(x))

    def layer_norm_backward(grad, x, weight, mean, rstd, needs):
        gx = normalize_backward(grad, x, weight, mean, rstd, True, True, *rows(x))[0] if needs[0] else None
        gw = gb = None
        if needs[1] or needs[2]:
            grad, x = contiguous(grad, x)
            count, m = x.shape
            gw, gb = cp.empty(m, x.dtype), cp.empty(m, x.dtype)
            if m:  # (with no rows the sums are 0, written by the kernel too)
                kernel(x.dtype, "layer_norm_param_grads")(((m + _BLOCK - 1) // _BLOCK,), (_BLOCK,),
                                                          (grad, x, mean, rstd, gw, gb, np.int64(count), np.int64(m)))
        return gx, gw if needs[1] else None, gb if needs[2] else None

    def batch_norm(x, weight, bias, eps, running_mean, running_var, momentum, training):
        return normalize(x, weight, bias, eps, running_mean, running_var, momentum, training, *channels(x))

    def batch_norm_backward(grad, x, weight, mean, rstd, training, needs_x):
        return normalize_backward(grad, x, weight, mean, rstd, training, needs_x, *channels(x))

    return {"layer_norm": layer_norm, "layer_norm_backward": layer_norm_backward, "batch_norm": batch_norm,
            "batch_norm_backward": batch_norm_backward}


def _normalize_kernel(name):
    return lambda cp: _normalize_kernels(cp)[name]


layer_norm = Fused(_layer_norm, _normalize_kernel("layer_norm"))
layer_norm_backward = Fused(_layer_norm_backward, _normalize_kernel("layer_norm_backward"))
batch_norm = Fused(_batch_norm, _normalize_kernel("batch_norm"))
batch_norm_backward = Fused(_batch_norm_backward, _normalize_kernel("batch_norm_backward"))


# --- col2im: sums in a fixed order ------------------------------------------------------------

def _gather_sum(values, plan):
    """out[p] = Σ_j values[plan[p, j]] over the slots j with plan[p, j] ≥ 0, for a flat
    ``values`` and a (P, slots) ``plan``."""
    xp = backend.array_module(values)
    return xp.where(plan >= 0, values[plan], 0).sum(axis=1)


# One thread per output, its slots added in the plan's order: the same sums every run, where
# atomic adds (cupyx.scatter_add) add in whatever order the threads arrive
_GATHER_SUM = r"""
extern "C" __global__ void gather_sum(const T* values, const I* plan, T* out, long long outputs, long long slots) {
    const long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= outputs) return;
    T total = 0;
    for (long long j = 0; j < slots; ++j) {
        const long long k = plan[p * slots + j];
        if (k >= 0) total += values[k];
    }
    out[p] = total;
}
"""


def _gather_sum_kernel(cp):
    def gather_sum(values, plan):
        outputs, slots = plan.shape
        out = cp.empty(outputs, dtype=values.dtype)
        if outputs:
            _raw_kernel(cp, _GATHER_SUM, "gather_sum", T=_c_type(values.dtype), I=_c_type(plan.dtype, _INDEX_TYPES))(
                ((outputs + _BLOCK - 1) // _BLOCK,), (_BLOCK,),
                (cp.ascontiguousarray(values), cp.ascontiguousarray(plan), out, np.int64(outputs), np.int64(slots)))
        return out
    return gather_sum


gather_sum = Fused(_gather_sum, _gather_sum_kernel)
