"""Optimisers and learning-rate schedules past the book against PyTorch: 200 updates each,
float64, 1e-10; state_dicts exchanged with PyTorch's."""
import numpy as np
import pytest
import torch

import minigrad

OPTIMISERS = {
    "Adam amsgrad": ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.01)),
    "AdamW": ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    "AdamW amsgrad": ("AdamW", dict(lr=0.05, amsgrad=True)),
    "RMSprop": ("RMSprop", dict(lr=0.01)),
    "RMSprop centered momentum": ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.05)),
    "Adadelta": ("Adadelta", dict()),
    "Adadelta decay": ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    "SGD nesterov": ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01)),
}
SCHEDULES = {
    "StepLR": lambda s, o: s.StepLR(o, step_size=30, gamma=0.5),
    "MultiStepLR": lambda s, o: s.MultiStepLR(o, milestones=[20, 50, 50, 120], gamma=0.3),
    "ExponentialLR": lambda s, o: s.ExponentialLR(o, gamma=0.99),
    "CosineAnnealingLR": lambda s, o: s.CosineAnnealingLR(o, T_max=40, eta_min=0.001),
    "LambdaLR": lambda s, o: s.LambdaLR(o, lambda epoch: 0.95 ** epoch),
}


def run(engine, name, kwargs, schedule=None, steps=200):
    w = engine.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=engine.float64, requires_grad=True)
    b = engine.tensor([0.5, -0.5], dtype=engine.float64, requires_grad=True)
    optimiser = getattr(engine.optim, name)([w, b], **kwargs)
    scheduler = schedule(engine.optim.lr_scheduler, optimiser) if schedule else None
    rates = []
    for step in range(steps):
        x = engine.tensor(np.sin(np.arange(3) + step), dtype=engine.float64)
        loss = ((w @ x + b) ** 2).sum() + (w ** 4).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if scheduler:
            scheduler.step()
            rates.append(scheduler.get_last_lr()[0])
    return w.detach().numpy().copy(), b.detach().numpy().copy(), rates, optimiser


@pytest.mark.parametrize("label", OPTIMISERS)
def test_optimiser_equals_pytorchs_over_200_updates(label):
    name, kwargs = OPTIMISERS[label]
    ours, theirs = run(minigrad, name, kwargs), run(torch, name, kwargs)
    assert np.isfinite(ours[0]).all() and not np.allclose(ours[0], np.linspace(-1, 1, 6).reshape(2, 3))
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("label", SCHEDULES)
def test_schedule_equals_pytorchs(label):
    ours = run(minigrad, "SGD", dict(lr=0.01, momentum=0.9), SCHEDULES[label])
    theirs = run(torch, "SGD", dict(lr=0.01, momentum=0.9), SCHEDULES[label])
    assert np.isfinite(ours[0]).all()
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-13)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)


def train(engine, w, b, optimiser, start, steps):
    for step in range(start, start + steps):
        x = engine.tensor(np.sin(np.arange(3) + step), dtype=engine.float64)
        loss = ((w @ x + b) ** 2).sum() + (w ** 4).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return w.detach().numpy().copy()


@pytest.mark.parametrize("label", ["RMSprop centered momentum", "Adadelta", "AdamW amsgrad", "SGD nesterov"])
def test_state_dicts_exchange_with_pytorch(label):
    """PyTorch's optimiser after 100 steps, its state_dict and weights loaded into minigrad's:
    the next 100 steps on minigrad equal PyTorch's."""
    name, kwargs = OPTIMISERS[label]
    tensors = {}
    for engine in (torch, minigrad):
        w = engine.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=engine.float64, requires_grad=True)
        b = engine.tensor([0.5, -0.5], dtype=engine.float64, requires_grad=True)
        tensors[engine] = (w, b, getattr(engine.optim, name)([w, b], **kwargs))
    w_t, b_t, theirs = tensors[torch]
    train(torch, w_t, b_t, theirs, 0, 100)
    w, b, ours = tensors[minigrad]
    with minigrad.no_grad():
        w.copy_(minigrad.tensor(w_t.detach().numpy()))
        b.copy_(minigrad.tensor(b_t.detach().numpy()))
    ours.load_state_dict(theirs.state_dict())
    np.testing.assert_allclose(train(minigrad, w, b, ours, 100, 100), train(torch, w_t, b_t, theirs, 100, 100),
                               rtol=1e-10)


@pytest.mark.parametrize("label", ["RMSprop centered momentum", "AdamW amsgrad"])
def test_minigrad_state_dicts_go_to_pytorch(label):
    """And the other way: minigrad's state after 100 steps, loaded into PyTorch's optimiser
    (tensors converted, the structure as it is), gives the same next 100 steps."""
    name, kwargs = OPTIMISERS[label]
    tensors = {}
    for engine in (minigrad, torch):
        w = engine.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=engine.float64, requires_grad=True)
        b = engine.tensor([0.5, -0.5], dtype=engine.float64, requires_grad=True)
        tensors[engine] = (w, b, getattr(engine.optim, name)([w, b], **kwargs))
    w, b, ours = tensors[minigrad]
    train(minigrad, w, b, ours, 0, 100)
    w_t, b_t, theirs = tensors[torch]
    with torch.no_grad():
        w_t.copy_(torch.tensor(w.detach().numpy()))
        b_t.copy_(torch.tensor(b.detach().numpy()))
    state = ours.state_dict()
    theirs.load_state_dict({"param_groups": state["param_groups"], "state": {
        k: {key: torch.tensor(v.numpy()) if isinstance(v, minigrad.Tensor) else torch.tensor(v)
            for key, v in s.items()} for k, s in state["state"].items()}})
    np.testing.assert_allclose(train(minigrad, w, b, ours, 100, 100), train(torch, w_t, b_t, theirs, 100, 100),
                               rtol=1e-10)
