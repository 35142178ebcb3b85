"""CUDA graph capture (minigrad.cuda.graphed): the CPU fallback, capturable Adam, undoing the
warm-up; on a GPU, replayed steps against eager steps."""
import warnings

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
from minigrad import graphs


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
    graphs.EagerStep._warned = False
    with pytest.warns(UserWarning, match="runs eagerly"):
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


@pytest.mark.cuda
@pytest.mark.skipif(not minigrad.cuda.is_available(), reason="needs CuPy and a CUDA GPU")
def test_replayed_steps_equal_eager_steps_on_the_gpu():
    eager_model, graph_model = classifier().to("cuda"), classifier().to("cuda")
    eager = train_step(eager_model, minigrad.optim.Adam(eager_model.parameters(), lr=0.01, capturable=True))
    graph_optimiser = minigrad.optim.Adam(graph_model.parameters(), lr=0.01, capturable=True)
    batches = data(100, "cuda")
    replay = minigrad.cuda.graphed(train_step(graph_model, graph_optimiser), *batches[0],
                                   state=(graph_model, graph_optimiser))
    for x, y in batches:
        eager_loss = eager(x, y).item()
        graph_loss = replay(x, y).item()
        assert abs(eager_loss - graph_loss) <= 1e-12 * abs(eager_loss)
    for p, q in zip(eager_model.parameters(), graph_model.parameters()):
        np.testing.assert_allclose(q.detach().cpu().numpy(), p.detach().cpu().numpy(), rtol=1e-12, atol=1e-15)
