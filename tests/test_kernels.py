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
