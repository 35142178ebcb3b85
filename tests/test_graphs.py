"""CUDA graph capture (minigrad.cuda.graphed): the CPU fallback, capturable Adam, undoing the
warm-up; on a GPU, replayed steps against eager steps."""
import warnings

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
from gans.experiments import EXPERIMENTS


def on_gpu_with_accel(test):
    """A test of capture on the GPU: CUDA graphs are minigrad.accel's (without it, graphed runs
    every step eagerly, on any device)."""
    for mark in (pytest.mark.cuda,
                 pytest.mark.skipif(not minigrad.cuda.is_available(), reason="needs CuPy and a CUDA GPU"),
                 pytest.mark.skipif(not minigrad.accel.ENABLED, reason="minigrad.accel is off")):
        test = mark(test)
    return test


def classifier(seed=0):
    minigrad.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 5), nn.LeakyReLU(0.02), nn.LayerNorm(5), nn.Linear(5, 3), nn.Sigmoid()).double()
    return model


def train_step(model, optimiser):
    loss_function = nn.BCELoss()

    def step(x, y):
        loss = loss_function(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        return loss
    return step


def data(n, device="cpu"):
    rng = np.random.default_rng(0)
    return [(minigrad.tensor(rng.random(6), device=device), minigrad.tensor(rng.random(3), device=device))
            for _ in range(n)]


def test_cpu_fallback_runs_eagerly_and_says_so_once():
    model = classifier()
    step = train_step(model, minigrad.optim.SGD(model.parameters(), lr=0.1))
    batches = data(3)
    minigrad.cuda.EagerStep._warned = False
    with pytest.warns(UserWarning, match=r"no CUDA graph \(the inputs are not on CUDA\), so the step runs eagerly"):
        replay = minigrad.cuda.graphed(step, *batches[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minigrad.cuda.graphed(step, *batches[0])  # no second warning
    reference = classifier()
    eager = train_step(reference, minigrad.optim.SGD(reference.parameters(), lr=0.1))
    for x, y in batches:
        assert replay(x, y).item() == eager(x, y).item()


def test_capturable_adam_matches_adam():
    """The step count on the device gives the same updates as the host count."""
    a, b = classifier(), classifier()
    step_a = train_step(a, minigrad.optim.Adam(a.parameters(), lr=0.01))
    step_b = train_step(b, minigrad.optim.Adam(b.parameters(), lr=0.01, capturable=True))
    for x, y in data(100):
        step_a(x, y)
        step_b(x, y)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_capturable_adam_state_dict_round_trip():
    model = classifier()
    optimiser = minigrad.optim.Adam(model.parameters(), capturable=True)
    step = train_step(model, optimiser)
    for x, y in data(5):
        step(x, y)
    state = optimiser.state_dict()
    assert float(state["state"][0]["step"].item()) == 5.0
    fresh = minigrad.optim.Adam(model.parameters(), capturable=True)
    fresh.load_state_dict(state)
    assert isinstance(fresh.state[next(model.parameters())]["step"], minigrad.Tensor)


def test_warm_up_is_undone_in_place():
    """What the warm-up changes (weights, Adam's moments and step) goes back before capture."""
    from minigrad.accel import graphs
    model = classifier()
    optimiser = minigrad.optim.Adam(model.parameters(), lr=0.01, capturable=True)
    step = train_step(model, optimiser)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    saved = graphs._snapshot((model, optimiser))
    x, y = data(1)[0]
    step(x, y)
    step(x, y)
    moments = [s["exp_avg"].array for s in optimiser.state.values()]
    graphs._restore((model, optimiser), saved)
    for p, original in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.detach().numpy(), original)
    assert all(float(s["step"].item()) == 0 for s in optimiser.state.values())
    assert all(not m.any() for m in moments) and moments[0] is optimiser.state[next(model.parameters())]["exp_avg"].array


@on_gpu_with_accel
def test_replayed_steps_equal_eager_steps_on_the_gpu():
    from minigrad.accel import graphs
    eager_model, graph_model = classifier().to("cuda"), classifier().to("cuda")
    eager = train_step(eager_model, minigrad.optim.Adam(eager_model.parameters(), lr=0.01, capturable=True))
    graph_optimiser = minigrad.optim.Adam(graph_model.parameters(), lr=0.01, capturable=True)
    batches = data(100, "cuda")
    replay = minigrad.cuda.graphed(train_step(graph_model, graph_optimiser), *batches[0],
                                   state=(graph_model, graph_optimiser))
    assert isinstance(replay, graphs.GraphedStep)
    for x, y in batches:
        eager_loss = eager(x, y).item()
        graph_loss = replay(x, y).item()
        assert abs(eager_loss - graph_loss) <= 1e-12 * abs(eager_loss)
    for p, q in zip(eager_model.parameters(), graph_model.parameters()):
        np.testing.assert_allclose(q.detach().cpu().numpy(), p.detach().cpu().numpy(), rtol=1e-12, atol=1e-15)


@on_gpu_with_accel
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_capture_blas_multiplies_like_matmul(dtype):
    """The cuBLAS calls a captured graph makes, checked outside capture against NumPy's @ on
    every layout minigrad hands it: vectors, transposed views, slices, broadcast batches."""
    from minigrad.accel import graphs
    cp = minigrad.backend.module_for("cuda")
    stream = cp.cuda.Stream()
    blas = graphs.CaptureBlas(stream)
    rng = np.random.default_rng(0)

    def r(*shape):
        return cp.asarray(rng.standard_normal(shape).astype(dtype))
    cases = [(r(3, 4), r(4, 5)), (r(1, 784), r(200, 784).T), (r(1, 200), r(200, 784)), (r(200, 1).T, r(200, 784)),
             (r(7, 3).T, r(7, 2)), (r(6, 4)[::2], r(4, 3)), (r(5), r(5, 2)), (r(3, 5), r(5)), (r(5), r(5)),
             (r(2, 3, 4), r(4, 6)), (r(2, 1, 3, 4), r(5, 4, 1)), (r(3, 1, 9), r(3, 9, 1)), (r(0, 4), r(4, 2)),
             (r(2, 0), r(0, 3))]
    for a, b in cases:
        with stream:
            got = blas.matmul(a, b)
        stream.synchronize()
        expected = cp.asnumpy(a) @ cp.asnumpy(b)  # NumPy's rules are the reference
        assert got.shape == expected.shape, (a.shape, b.shape)
        np.testing.assert_allclose(cp.asnumpy(got), expected, rtol=1e-5 if dtype == "float32" else 1e-12,
                                   atol=1e-5 if dtype == "float32" else 1e-12, err_msg=f"{a.shape} @ {b.shape}")
    for a, b in [(r(1, 200), r(1, 784)), (r(2, 3, 4), r(3, 5)), (r(5), r(4))]:
        with pytest.raises(ValueError, match="cannot be multiplied"):
            blas.matmul(a, b)


@on_gpu_with_accel
@pytest.mark.parametrize("eager_blas", ["cupy", "graph"])
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_book_experiment_replays_like_its_eager_steps(name, eager_blas):
    """gans train --cuda-graph on the GPU: 100 replayed steps give the eager run's parameters.

    With the graph's own cuBLAS calls in the eager steps too (``eager_blas='graph'``) every
    experiment agrees to 1e-12.  With CuPy's matrix product in the eager steps (what training
    uses) cuBLAS picks other algorithms for the convolutions' products, which sum in another
    order, and Adam amplifies that rounding where gradients are nearly zero: 1e-9 for them.
    Biases right before a BatchNorm (whose exact gradient is zero: both runs follow rounding
    noise there, see comparisons.compare.NOISE_FLOOR) are not compared."""
    from comparisons.compare import noise_driven
    from gans import experiments, training
    from minigrad.accel import graphs
    from gans.engines import Engine, seed_everything
    experiment = experiments.get(name)
    dataset = training.load_data(experiment, None, limit=100)
    results = []
    for graph in (False, True):
        e = Engine("minigrad", "cuda", "float64", capturable=True)
        seed_everything(0)
        m = experiment.build(e, {})
        constants = experiment.constants(e)
        step = training.make_step(experiment, m, e, constants, graph)
        if not graph and eager_blas == "graph":
            graphs.Capture.blas = graphs.CaptureBlas(minigrad.backend.module_for("cuda").cuda.get_current_stream())
        try:
            for _, batch in experiment.stream(dataset, np.random.default_rng(0), 0, 100):
                step(experiment.tensors(e, batch))
        finally:
            graphs.Capture.blas = None
        results.append({f"{part}.{k}": v.detach().cpu().numpy() for part, module in m.modules().items()
                        for k, v in module.state_dict().items()})
        if not graph:
            noise = noise_driven({f"{part}.{k}.grad": p.grad.cpu().numpy() for part, module in m.modules().items()
                                  for k, p in module.named_parameters() if p.grad is not None}, np.finfo(float).eps)
    convolutional = experiment.image_shape[0] == 1  # (1, C, H, W)
    tolerance = 1e-9 if convolutional and eager_blas == "cupy" else 1e-12
    differing = []
    for key, eager in results[0].items():
        if key not in noise and not np.allclose(results[1][key], eager, rtol=tolerance, atol=tolerance * 1e-2):
            differing.append(f"{key}: {np.max(np.abs(results[1][key] - eager)) / np.max(np.abs(eager)):.2e}")
    assert not differing, "replayed vs eager, max relative difference: " + ", ".join(differing)
