"""The fused CUDA kernels (minigrad.kernels) against their NumPy twins, and the deferred
input check of BCE on the GPU."""
import numpy as np
import pytest

import minigrad
from minigrad import backend, kernels

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not minigrad.cuda.is_available(), reason="needs CuPy and a CUDA GPU")]

TOLERANCE = {"float32": 2e-6, "float64": 1e-13}


def arrays(seed, dtype, shape=(7, 33)):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    x[0, :3] = [0.0, -0.0, 1e-30]  # the edges: exactly 0 (slope side), tiny values
    probabilities = rng.uniform(0, 1, shape)
    probabilities[0, :2] = [0.0, 1.0]  # log(0) clamped at -100
    return {"x": x.astype(dtype), "g": rng.standard_normal(shape).astype(dtype),
            "p": probabilities.astype(dtype), "y": rng.uniform(0, 1, shape).astype(dtype)}


CASES = {
    "sigmoid": lambda a: (a["x"],),
    "sigmoid_backward": lambda a: (a["g"], a["p"]),
    "leaky_relu": lambda a: (a["x"], 0.02),
    "leaky_relu_backward": lambda a: (a["g"], a["x"], 0.2),
    "gelu": lambda a: (a["x"],),
    "gelu_backward": lambda a: (a["g"], a["x"]),
    "mse": lambda a: (a["x"], a["y"], a["x"].size),
    "mse_backward": lambda a: (np.asarray(a["g"][0, 0]), a["x"], a["y"], a["x"].size),
    "bce": lambda a: (a["p"], a["y"], 1),
    "bce_backward": lambda a: (np.asarray(a["g"][0, 0]), a["p"], a["y"], a["p"].size),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("seed", range(3))
def test_kernel_matches_its_numpy_twin(name, dtype, seed):
    args = CASES[name](arrays(seed, dtype))
    expected = getattr(kernels, name)(*args)
    got = getattr(kernels, name)(*[backend.move(a, "cuda") if isinstance(a, np.ndarray) else a for a in args])
    assert got.dtype == expected.dtype and got.shape == np.shape(expected)
    np.testing.assert_allclose(backend.move(got, "cpu"), expected, rtol=TOLERANCE[dtype],
                               atol=TOLERANCE[dtype], err_msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("capturable", [False, True])
def test_adam_kernel_matches_numpy_over_steps(dtype, capturable):
    a = arrays(0, dtype)
    host = [a["x"].copy(), np.zeros_like(a["x"]), np.zeros_like(a["x"])]
    device = [backend.move(h, "cuda") for h in host]
    t = backend.cp.zeros((), dtype=np.float64)
    lr, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-8
    for step in range(1, 21):
        grad = (a["g"] * step % 3).astype(dtype)
        step_size, correction2 = -lr / (1 - beta1 ** step), (1 - beta2 ** step) ** 0.5
        kernels.adam(grad, beta1, beta2, eps, step_size, correction2, *host, np.empty_like(grad))
        if capturable:
            t += 1
            kernels.adam_device_step(backend.move(grad, "cuda"), beta1, beta2, eps, lr, t, *device)
        else:
            kernels.adam(backend.move(grad, "cuda"), beta1, beta2, eps, step_size, correction2, *device, None)
    for h, d in zip(host, device):
        np.testing.assert_allclose(backend.move(d, "cpu"), h, rtol=TOLERANCE[dtype] * 10, atol=1e-12)


def test_sgd_kernel_updates_in_place():
    a = arrays(1, "float32")
    param = backend.move(a["x"], "cuda")
    kernels.sgd(backend.move(a["g"], "cuda"), 0.01, param)
    np.testing.assert_allclose(backend.move(param, "cpu"), a["x"] - np.float32(0.01) * a["g"], rtol=1e-6)


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


def _assert_twins(got, expected, dtype, what):
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
def test_layer_norm_kernels_match_their_numpy_twins(dtype, rows, m, affine):
    rng = np.random.default_rng(rows * m)
    x = (rng.standard_normal((rows, m)) * 3 + 1).astype(dtype)
    weight = rng.uniform(0.5, 1.5, m).astype(dtype) if affine in ("both", "weight") else None
    bias = rng.standard_normal(m).astype(dtype) if affine in ("both", "bias") else None
    grad = rng.standard_normal((rows, m)).astype(dtype)
    expected = kernels.layer_norm(x, weight, bias, 1e-5)
    _assert_twins(kernels.layer_norm(*_on_gpu([x, weight, bias, 1e-5])), expected, dtype, "forward")
    for needs in [(True, weight is not None, bias is not None), (False, True, True), (True, False, False)]:
        args = [grad, x, weight, expected[1], expected[2], needs]
        _assert_twins(kernels.layer_norm_backward(*_on_gpu(args)), kernels.layer_norm_backward(*args), dtype,
                      f"backward {needs}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 256, 13, 13), (2, 3, 5, 4), (5, 3), (2, 3, 4), (1, 4, 61, 61)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_kernels_match_their_numpy_twins(dtype, shape, training, affine):
    rng = np.random.default_rng(len(shape))
    channels = shape[1]
    x = (rng.standard_normal(shape) * 2 + rng.standard_normal((1, channels) + (1,) * (len(shape) - 2))).astype(dtype)
    weight, bias = (rng.uniform(0.5, 1.5, channels).astype(dtype), rng.standard_normal(channels).astype(dtype)) \
        if affine else (None, None)
    running = [rng.standard_normal(channels).astype(dtype), rng.uniform(0.5, 2, channels).astype(dtype)]
    on_gpu = _on_gpu(running)
    expected = kernels.batch_norm(x, weight, bias, 1e-5, *running, 0.1, training)
    got = kernels.batch_norm(*_on_gpu([x, weight, bias, 1e-5]), *on_gpu, 0.1, training)
    _assert_twins(got, expected, dtype, "forward")
    _assert_twins(on_gpu, running, dtype, "running estimates")  # updated in place while training
    grad = rng.standard_normal(shape).astype(dtype)
    for needs_x in (True, False):
        args = [grad, x, weight, expected[1], expected[2], training, needs_x]
        _assert_twins(kernels.batch_norm_backward(*_on_gpu(args)), kernels.batch_norm_backward(*args), dtype,
                      f"backward needs_x={needs_x}")


def test_batch_norm_kernel_updates_strided_running_estimates():
    """Running estimates that are views with a stride (allowed, as in PyTorch) are updated in place."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5))
    running = [np.zeros(6)[::2], np.ones(6)[::2]]
    on_gpu = [backend.move(np.zeros(6), "cuda")[::2], backend.move(np.ones(6), "cuda")[::2]]
    kernels.batch_norm(x, None, None, 1e-5, *running, 0.1, True)
    kernels.batch_norm(backend.move(x, "cuda"), None, None, 1e-5, *on_gpu, 0.1, True)
    for g, e in zip(on_gpu, running):
        np.testing.assert_allclose(backend.move(g, "cpu"), e, rtol=1e-13)


def test_normalisation_kernels_with_nothing_to_sum():
    """Empty batches, and a backward asked for nothing: what the NumPy twins give."""
    x, w = np.zeros((0, 3, 4)), np.ones(3)
    running = [np.zeros(3), np.ones(3)]
    y, mean, rstd = kernels.batch_norm(*_on_gpu([x, w, None, 1e-5, *running, 0.1, False]))
    assert y.shape == x.shape
    _assert_twins([mean, rstd], kernels.batch_norm(x, w, None, 1e-5, *running, 0.1, False)[1:], "float64", "stats")
    gx, gw, gb = kernels.batch_norm_backward(*_on_gpu([x, x, w, mean, rstd, False, True]))
    assert gx.shape == x.shape and not backend.move(gw, "cpu").any() and not backend.move(gb, "cpu").any()
    rows = np.zeros((0, 5))
    y, mean, rstd = kernels.layer_norm(*_on_gpu([rows, np.ones(5), None, 1e-5]))
    assert y.shape == (0, 5)
    gx, gw, gb = kernels.layer_norm_backward(*_on_gpu([rows, rows, np.ones(5), mean, rstd, (True, True, True)]))
    assert gx.shape == (0, 5) and not backend.move(gw, "cpu").any() and not backend.move(gb, "cpu").any()
    assert kernels.layer_norm_backward(*_on_gpu([rows, rows, None, mean, rstd, (False, False, False)])) == (
        None, None, None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
def test_gather_sum_kernel_matches_its_numpy_twin(dtype, index_dtype):
    rng = np.random.default_rng(2)
    values = rng.standard_normal(500).astype(dtype)
    plan = rng.integers(-1, 500, (300, 7)).astype(index_dtype)  # −1: an empty slot
    plan[0] = -1                                                 # a position nothing lands on
    expected = kernels.gather_sum(values, plan)
    got = kernels.gather_sum(*_on_gpu([values, plan]))
    _assert_twins([got], [expected], dtype, "gather_sum")
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
