"""The fused CUDA kernels (minigrad.accel.kernels) against the engine's formulas they replace
on the GPU (the same function or op run on the host), and the deferred input check of BCE."""
import numpy as np
import pytest

import minigrad
from minigrad import backend
from minigrad.accel import convolution
from minigrad.ops import normalization

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not minigrad.cuda.is_available(), reason="needs CuPy and a CUDA GPU"),
              pytest.mark.skipif(not minigrad.accel.ENABLED, reason="minigrad.accel is off")]

TOLERANCE = {"float32": 2e-6, "float64": 1e-13}


def arrays(seed, dtype, shape=(7, 33)):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    x[0, :3] = [0.0, -0.0, 1e-30]  # the edges: exactly 0 (slope side), tiny values
    probabilities = rng.uniform(0, 1, shape)
    probabilities[0, :2] = [0.0, 1.0]  # log(0) clamped at -100
    return {"x": x.astype(dtype), "g": rng.standard_normal(shape).astype(dtype),
            "p": probabilities.astype(dtype), "y": rng.uniform(0, 1, shape).astype(dtype),
            "w": rng.uniform(0.5, 2, shape).astype(dtype)}


# Each case runs forward and backward on the GPU (the kernels) and on the CPU (the engine's
# formulas), through autograd; y, the target, wants a gradient too
OPS = {
    "sigmoid": lambda F, x, p, y, w: F.sigmoid(x),
    "leaky_relu": lambda F, x, p, y, w: F.leaky_relu(x, 0.02),
    "leaky_relu 0.2": lambda F, x, p, y, w: F.leaky_relu(x, 0.2),
    "gelu": lambda F, x, p, y, w: F.gelu(x),
    "mse": lambda F, x, p, y, w: F.mse_loss(x, y),
    "mse sum": lambda F, x, p, y, w: F.mse_loss(x, y, reduction="sum"),
    "mse none": lambda F, x, p, y, w: F.mse_loss(x, y, reduction="none"),
    "mse broadcast": lambda F, x, p, y, w: F.mse_loss(x, y[:1]),
    "bce": lambda F, x, p, y, w: F.binary_cross_entropy(p, y),
    "bce sum": lambda F, x, p, y, w: F.binary_cross_entropy(p, y, reduction="sum"),
    "bce none": lambda F, x, p, y, w: F.binary_cross_entropy(p, y, reduction="none"),
    "bce weight": lambda F, x, p, y, w: F.binary_cross_entropy(p, y, weight=w),
}


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("seed", range(3))
def test_kernels_compute_what_the_engine_formulas_compute(name, dtype, seed):
    a = arrays(seed, dtype)
    results = {}
    for device in ("cpu", "cuda"):
        inputs = {k: minigrad.tensor(a[k], device=device, requires_grad=k != "w") for k in ("x", "p", "y", "w")}
        out = OPS[name](minigrad.nn.functional, *(inputs[k] for k in ("x", "p", "y", "w")))
        upstream = minigrad.tensor(a["g"] if out.ndim else a["g"][0, 0], device=device)  # (losses: scalars)
        with minigrad.no_grad():  # the node's own gradients: as many on either device
            count = len(out.grad_fn.backward(upstream.array))
        out.backward(upstream)
        results[device] = [count, out.detach().cpu().numpy()] + [
            inputs[k].grad.cpu().numpy() for k in ("x", "p", "y") if inputs[k].grad is not None]
    assert results["cuda"][0] == results["cpu"][0] and len(results["cuda"]) == len(results["cpu"])
    for i, (got, expected) in enumerate(zip(results["cuda"][1:], results["cpu"][1:])):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype],
                                   err_msg=f"{name}: {'forward' if i == 0 else 'gradient'}")


def test_the_kernels_are_attached():
    attached = minigrad.accel.replacements()
    for name in ("ops.elementwise.Sigmoid.forward", "ops.elementwise.Gelu.backward", "ops.loss.BCELoss.forward",
                 "optim.adam.Adam._adam_step", "optim.sgd.SGD._descend", "ops.normalization.batch_norm",
                 "accel.convolution.gather_sum", "backend.matmul", "cuda.graphed"):
        assert "minigrad." + name in attached


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimiser", ["Adam", "Adam capturable", "SGD momentum"])
@pytest.mark.parametrize("foreach", [None, False])  # a flat buffer, or one parameter (0-d step count)
def test_optimiser_kernels_match_the_engine_over_steps(dtype, optimiser, foreach):
    a = arrays(0, dtype)
    params = {device: minigrad.tensor(a["x"], device=device, requires_grad=True) for device in ("cpu", "cuda")}
    make = {"Adam": lambda p: minigrad.optim.Adam(p, lr=1e-3, foreach=foreach),
            "Adam capturable": lambda p: minigrad.optim.Adam(p, lr=1e-3, capturable=True, foreach=foreach),
            "SGD momentum": lambda p: minigrad.optim.SGD(p, lr=0.01, momentum=0.9, foreach=foreach)}[optimiser]
    optimisers = {device: make([p]) for device, p in params.items()}
    for step in range(1, 21):
        for device, p in params.items():
            p.grad = minigrad.tensor((a["g"] * step % 3).astype(dtype), device=device)
            optimisers[device].step()
    for key in optimisers["cpu"].state[params["cpu"]]:
        if key == "step":
            continue
        np.testing.assert_allclose(optimisers["cuda"].state[params["cuda"]][key].cpu().numpy(),
                                   optimisers["cpu"].state[params["cpu"]][key].numpy(),
                                   rtol=TOLERANCE[dtype] * 10, atol=1e-12)
    np.testing.assert_allclose(params["cuda"].detach().cpu().numpy(), params["cpu"].detach().numpy(),
                               rtol=TOLERANCE[dtype] * 10, atol=1e-12)


def test_bce_input_outside_0_1_is_reported_at_the_next_read():
    """The GPU does not stop to check; the error comes when a value is read back."""
    bad = minigrad.tensor([0.5, 1.5], device="cuda", requires_grad=True)
    loss = minigrad.nn.BCELoss()(bad, minigrad.tensor([1.0, 0.0], device="cuda"))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        loss.item()
    good = minigrad.nn.BCELoss()(minigrad.tensor([0.25], device="cuda"), minigrad.tensor([1.0], device="cuda"))
    assert good.item() == pytest.approx(-np.log(0.25))  # the error was reported once, then cleared


def _on_gpu(values):
    return [backend.move(v, "cuda") if isinstance(v, np.ndarray) else v for v in values]


def _assert_same(got, expected, dtype, what):
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        if e is None:
            assert g is None, f"{what}[{i}]"
            continue
        assert g.dtype == e.dtype and g.shape == e.shape, f"{what}[{i}]"
        np.testing.assert_allclose(backend.move(g, "cpu"), e, rtol=TOLERANCE[dtype] * 5,
                                   atol=TOLERANCE[dtype] * 5, err_msg=f"{what}[{i}]")


# rows × m: one block per row, m below, at and above the 256 threads of a block
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows, m", [(1, 200), (3, 7), (2, 256), (4, 1000)])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_layer_norm_kernels_match_the_engine(dtype, rows, m, affine):
    rng = np.random.default_rng(rows * m)
    x = (rng.standard_normal((rows, m)) * 3 + 1).astype(dtype)
    weight = rng.uniform(0.5, 1.5, m).astype(dtype) if affine in ("both", "weight") else None
    bias = rng.standard_normal(m).astype(dtype) if affine in ("both", "bias") else None
    grad = rng.standard_normal((rows, m)).astype(dtype)
    expected = normalization.layer_norm(x, weight, bias, 1e-5)
    _assert_same(normalization.layer_norm(*_on_gpu([x, weight, bias, 1e-5])), expected, dtype, "forward")
    for needs in [(True, weight is not None, bias is not None), (False, True, True), (True, False, False)]:
        args = [grad, x, weight, expected[1], expected[2], needs]
        _assert_same(normalization.layer_norm_backward(*_on_gpu(args)), normalization.layer_norm_backward(*args),
                     dtype, f"backward {needs}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 256, 13, 13), (2, 3, 5, 4), (5, 3), (2, 3, 4), (1, 4, 61, 61)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_kernels_match_the_engine(dtype, shape, training, affine):
    rng = np.random.default_rng(len(shape))
    channels = shape[1]
    x = (rng.standard_normal(shape) * 2 + rng.standard_normal((1, channels) + (1,) * (len(shape) - 2))).astype(dtype)
    weight, bias = (rng.uniform(0.5, 1.5, channels).astype(dtype), rng.standard_normal(channels).astype(dtype)) \
        if affine else (None, None)
    running = [rng.standard_normal(channels).astype(dtype), rng.uniform(0.5, 2, channels).astype(dtype)]
    on_gpu = _on_gpu(running)
    expected = normalization.batch_norm(x, weight, bias, 1e-5, *running, 0.1, training)
    got = normalization.batch_norm(*_on_gpu([x, weight, bias, 1e-5]), *on_gpu, 0.1, training)
    _assert_same(got, expected, dtype, "forward")
    _assert_same(on_gpu, running, dtype, "running estimates")  # updated in place while training
    grad = rng.standard_normal(shape).astype(dtype)
    for needs_x in (True, False):
        args = [grad, x, weight, expected[1], expected[2], training, needs_x]
        _assert_same(normalization.batch_norm_backward(*_on_gpu(args)), normalization.batch_norm_backward(*args),
                     dtype, f"backward needs_x={needs_x}")


def test_batch_norm_kernel_updates_strided_running_estimates():
    """Running estimates that are views with a stride (allowed, as in PyTorch) are updated in place."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5))
    running = [np.zeros(6)[::2], np.ones(6)[::2]]
    on_gpu = [backend.move(np.zeros(6), "cuda")[::2], backend.move(np.ones(6), "cuda")[::2]]
    normalization.batch_norm(x, None, None, 1e-5, *running, 0.1, True)
    normalization.batch_norm(backend.move(x, "cuda"), None, None, 1e-5, *on_gpu, 0.1, True)
    for g, e in zip(on_gpu, running):
        np.testing.assert_allclose(backend.move(g, "cpu"), e, rtol=1e-13)


def test_normalisation_kernels_with_nothing_to_sum():
    """Empty batches, and a backward asked for nothing: what the engine's formulas give."""
    x, w = np.zeros((0, 3, 4)), np.ones(3)
    running = [np.zeros(3), np.ones(3)]
    y, mean, rstd = normalization.batch_norm(*_on_gpu([x, w, None, 1e-5, *running, 0.1, False]))
    assert y.shape == x.shape
    _assert_same([mean, rstd], normalization.batch_norm(x, w, None, 1e-5, *running, 0.1, False)[1:], "float64",
                 "stats")
    gx, gw, gb = normalization.batch_norm_backward(*_on_gpu([x, x, w, mean, rstd, False, True]))
    assert gx.shape == x.shape and not backend.move(gw, "cpu").any() and not backend.move(gb, "cpu").any()
    rows = np.zeros((0, 5))
    y, mean, rstd = normalization.layer_norm(*_on_gpu([rows, np.ones(5), None, 1e-5]))
    assert y.shape == (0, 5)
    gx, gw, gb = normalization.layer_norm_backward(*_on_gpu([rows, rows, np.ones(5), mean, rstd, (True, True, True)]))
    assert gx.shape == (0, 5) and not backend.move(gw, "cpu").any() and not backend.move(gb, "cpu").any()
    assert normalization.layer_norm_backward(*_on_gpu([rows, rows, None, mean, rstd, (False, False, False)])) == (
        None, None, None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
def test_gather_sum_kernel_matches_the_engine(dtype, index_dtype):
    rng = np.random.default_rng(2)
    values = rng.standard_normal(500).astype(dtype)
    plan = rng.integers(-1, 500, (300, 7)).astype(index_dtype)  # −1: an empty slot
    plan[0] = -1                                                 # a position nothing lands on
    expected = convolution.gather_sum(values, plan)
    got = convolution.gather_sum(*_on_gpu([values, plan]))
    _assert_same([got], [expected], dtype, "gather_sum")
    assert float(got[0]) == 0.0


def test_col2im_on_the_gpu_gives_the_same_numbers_every_run():
    """A transposed convolution (col2im with 16 windows overlapping per pixel) and a
    convolution's input gradient, twice each: bit for bit the same (no atomic adds)."""
    rng = np.random.default_rng(3)
    x = minigrad.tensor(rng.standard_normal((1, 64, 13, 13)), device="cuda", requires_grad=True)
    w = minigrad.tensor(rng.standard_normal((64, 32, 8, 8)), device="cuda")
    runs = []
    for _ in range(2):
        x.grad = None
        y = minigrad.nn.functional.conv_transpose2d(x, w, stride=2)
        minigrad.nn.functional.conv2d(y, w, stride=2).sum().backward()  # col2im again, for x's gradient
        runs.append((y.detach().cpu().numpy(), x.grad.cpu().numpy()))
    for first, second in zip(*runs):
        np.testing.assert_array_equal(first, second)
