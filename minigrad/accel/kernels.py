"""Fused CUDA kernels: one launch where the engine's formulas make several.

At the book's batch size of one a GPU waits for kernel launches, not arithmetic: each
CuPy expression is one launch, so the overflow-safe sigmoid (a handful of expressions) is as
many launches, and an Adam update a dozen.  Each kernel here computes what an engine
formula computes (the formula, in NumPy, is in the op; ``tests/test_kernels.py`` compares
the two), compiled on first use: for one element (a CuPy ``ElementwiseKernel`` or
``ReductionKernel``) or, where values must be summed per row or channel first
(normalisation, col2im), a whole kernel (a ``RawModule``).  Each is attached to the engine
for GPU arrays (``replaces(..., when=on_gpu)``); on the CPU the engine's formula runs.
"""
import functools
import math

import numpy as np

from .. import backend
from ..ops import loss, normalization
from ..ops.elementwise import Gelu, LeakyRelu, Sigmoid
from ..optim.adam import Adam
from ..optim.sgd import SGD
from . import convolution, graphs, replaces


def on_gpu(self, first, *rest, **options):
    """``when`` for a method whose first argument is a CuPy array."""
    return backend.is_gpu_array(first)


def on_gpu_function(first, *rest, **options):
    """``when`` for a function whose first argument is a CuPy array."""
    return backend.is_gpu_array(first)


class Compiled:
    """A CuPy kernel that ``make(cupy)`` builds, compiled on first use."""

    def __init__(self, make):
        self.make, self.kernel = make, None

    def __call__(self, *args):
        if self.kernel is None:
            self.kernel = self.make(backend.module_for("cuda"))
        return self.kernel(*args)


def elementwise(inputs, outputs, body, name):
    return Compiled(lambda cp: cp.ElementwiseKernel(inputs, outputs, body, "minigrad_" + name))


def reduction(map_expr, name):
    return Compiled(lambda cp: cp.ReductionKernel("T x, T y, T n", "T loss", map_expr, "a + b", "loss = a / n",
                                                  "0", "minigrad_" + name))


# --- activations: forward and backward ----------------------------------------------------

sigmoid = elementwise("T x", "T y", "T e = exp(-abs(x)); y = x >= 0 ? 1 / (1 + e) : e / (1 + e)", "sigmoid")
sigmoid_backward = elementwise("T grad, T y", "T dx", "dx = grad * (1 - y) * y", "sigmoid_backward")
leaky_relu = elementwise("T x, T slope", "T y", "y = x > 0 ? x : x * slope", "leaky_relu")
leaky_relu_backward = elementwise("T grad, T x, T slope", "T dx", "dx = x > 0 ? grad : grad * slope",
                                  "leaky_relu_backward")
# NVRTC has no M_SQRT1_2: 1/√2 and 1/√(2π) are written out
_CDF = "(0.5 * (1 + erf(x * 0.7071067811865476)))"
gelu = elementwise("T x", "T y", f"y = x * {_CDF}", "gelu")
gelu_backward = elementwise("T grad, T x", "T dx",
                            f"dx = grad * ({_CDF} + x * (exp(-0.5 * x * x) * 0.3989422804014327))", "gelu_backward")


@replaces(Sigmoid, "forward", on_gpu)
def sigmoid_forward_on_gpu(op, a):
    out = sigmoid(a)
    op.save_for_backward(out)
    return out


@replaces(Sigmoid, "backward", on_gpu)
def sigmoid_backward_on_gpu(op, grad):
    out, = op.saved_tensors
    return sigmoid_backward(grad, out)


@replaces(LeakyRelu, "forward", on_gpu)
def leaky_relu_forward_on_gpu(op, a):
    op.save_for_backward(a)
    return leaky_relu(a, op.slope)


@replaces(LeakyRelu, "backward", on_gpu)
def leaky_relu_backward_on_gpu(op, grad):
    a, = op.saved_tensors
    return leaky_relu_backward(grad, a, op.slope)


def _exact_gelu_on_gpu(op, first, *rest):
    return op.approximate == "none" and backend.is_gpu_array(first)


@replaces(Gelu, "forward", _exact_gelu_on_gpu)
def gelu_forward_on_gpu(op, a):
    op.save_for_backward(a)
    return gelu(a)


@replaces(Gelu, "backward", _exact_gelu_on_gpu)
def gelu_backward_on_gpu(op, grad):
    a, = op.saved_tensors
    return gelu_backward(grad, a)


# --- optimisers: one launch per update ------------------------------------------------------------

sgd = elementwise("T d, T lr", "T param", "param -= lr * d", "sgd")


@replaces(SGD, "_descend", on_gpu_function)
def descend_on_gpu(param, d, lr):
    sgd(d, lr, param)


# PyTorch's single-tensor Adam, as ``Adam._adam_step`` computes it
_ADAM = """
    m += (grad - m) * (T)(1 - beta1);
    v = v * (T)beta2 + (T)(1 - beta2) * grad * grad;
    param += (T)step_size * (m / (sqrt(v) / (T)correction2 + (T)eps));
"""
_ADAM_INPUTS = "T grad, float64 beta1, float64 beta2, float64 eps"
adam = elementwise(_ADAM_INPUTS + ", float64 step_size, float64 correction2", "T param, T m, T v", _ADAM, "adam")
# Capturable Adam: the step count t is a device scalar, advanced by the caller, and the bias
# corrections are computed from it here (in double precision, as the host computes them)
adam_device_step = elementwise(
    _ADAM_INPUTS + ", float64 lr, raw float64 t", "T param, T m, T v",
    "double step_size = -lr / (1 - pow(beta1, t[0]));"
    "double correction2 = sqrt(1 - pow(beta2, t[0]));" + _ADAM, "adam_device_step")


@replaces(Adam, "_adam_step", on_gpu)
def adam_step_on_gpu(optimizer, param, grad, m, v, beta1, beta2, eps, lr, t, work_buffer):
    if backend.is_gpu_array(t):  # capturable: t and the corrections stay on the GPU
        adam_device_step(grad, beta1, beta2, eps, lr, t, param, m, v)
    else:
        adam(grad, beta1, beta2, eps, -lr / (1 - beta1 ** t), (1 - beta2 ** t) ** 0.5, param, m, v)


# --- losses (reduction 'mean' or 'sum'; n is the count for 'mean', 1 for 'sum') -------------
# On the GPU a loss is one reduction launch.  BCE's input must lie in [0, 1]: checking that
# on the host would wait for the GPU, so the kernel makes the loss NaN instead and registers
# it with ``backend.check_later`` (reported at the next read to the host, as CUDA reports a
# device-side assert).

mse = reduction("(x - y) * (x - y)", "mse")
mse_backward = elementwise("T grad, T x, T y, T n", "T dx", "dx = grad / n * 2 * (x - y)", "mse_backward")
bce = reduction("x >= 0 && x <= 1 ? -(y * max(log(x), (T)-100) + (1 - y) * max(log(1 - x), (T)-100)) : sqrt((T)-1)",
                "bce")
bce_backward = elementwise("T grad, T x, T y, T n", "T dx",
                           f"dx = grad / n * (x - y) / max((1 - x) * x, (T){loss.BCE_EPSILON!r})", "bce_backward")


def _reduced_mse_on_gpu(op, input, target):
    """(broadcast targets, warned about, and reduction='none' take the engine's way)"""
    return backend.is_gpu_array(input) and input.shape == target.shape and op.reduction != "none"


@replaces(loss.MSELoss, "forward", _reduced_mse_on_gpu)
def mse_forward_on_gpu(op, input, target):
    op.save_for_backward(input, target)
    input, target = loss._common_dtype(input, target)
    op.n = math.prod(input.shape) if op.reduction == "mean" else 1
    return mse(input, target, op.n)


@replaces(loss.MSELoss, "backward", on_gpu)
def mse_backward_on_gpu(op, grad):  # (op.n is the engine's count for either way of forward)
    input, target = loss._common_dtype(*op.saved_tensors)
    g = mse_backward(grad, input, target, op.n)
    return g, (-g if op.needs_grad[1] else None)


@replaces(loss.BCELoss, "forward", on_gpu)
def bce_forward_on_gpu(op, input, target, weight=None):
    loss.check_same_shape("binary_cross_entropy", input, target)
    op.save_for_backward(input, target, weight)
    if weight is None and op.reduction != "none":
        result = bce(input, target, op.count(input))
    else:  # an input outside [0, 1] makes these NaN too
        losses = loss.bce_losses(input, target)
        result = op.reduce(losses if weight is None else losses * weight)
    if not graphs.capturing():
        backend.check_later(result if result.ndim == 0 else result.sum(), loss.BCE_RANGE)
    return result


@replaces(loss.BCELoss, "backward", on_gpu)
def bce_backward_on_gpu(op, grad):
    x, y, weight = op.saved_tensors
    g = bce_backward(grad, x, y, op.count(x))
    if weight is not None:
        g = g * weight
    gy = None
    if op.needs_grad[1]:  # as the engine's
        with backend.quiet(backend.array_module(x)):
            gy = grad / op.count(x) * (backend.array_module(x).log(1 - x) - backend.array_module(x).log(x))
        if weight is not None:
            gy = gy * weight
    return g, gy, None


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
    """The three kernels above, compiled per dtype, behind the signatures of the engine's
    formulas (minigrad.ops.normalization).
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
        elif not training:  # nothing to normalise: the statistics are the running ones, as the engine computes them
            mean[...], rstd[...] = running_mean_c, 1 / cp.sqrt(running_var_c + eps)
        else:  # no values to average: 0/0, as the engine computes
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


def _cuda_normalization(name):
    def on_gpu_kernel(*args):
        return _normalize_kernels(backend.module_for("cuda"))[name](*args)
    on_gpu_kernel.__name__ = name + "_on_gpu"
    return on_gpu_kernel


for _name in ("layer_norm", "layer_norm_backward", "batch_norm", "batch_norm_backward"):
    replaces(normalization, _name, on_gpu_function)(_cuda_normalization(_name))


# --- col2im: sums in a fixed order ------------------------------------------------------------

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


replaces(convolution, "gather_sum", on_gpu_function)(Compiled(_gather_sum_kernel))
