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


class Fit:
    """A small fit on one engine: weights w (2, 3) and b (2,), an optimiser, a schedule."""

    def __init__(self, engine, name, kwargs, schedule=None):
        self.engine = engine
        self.w = engine.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=engine.float64, requires_grad=True)
        self.b = engine.tensor([0.5, -0.5], dtype=engine.float64, requires_grad=True)
        self.optimiser = getattr(engine.optim, name)([self.w, self.b], **kwargs)
        self.scheduler = schedule(engine.optim.lr_scheduler, self.optimiser) if schedule else None
        self.step, self.rates = 0, []

    def train(self, steps):
        """``steps`` updates; the weights after them."""
        engine = self.engine
        for self.step in range(self.step, self.step + steps):
            x = engine.tensor(np.sin(np.arange(3) + self.step), dtype=engine.float64)
            loss = ((self.w @ x + self.b) ** 2).sum() + (self.w ** 4).sum()
            self.optimiser.zero_grad()
            loss.backward()
            self.optimiser.step()
            if self.scheduler:
                self.scheduler.step()
                self.rates.append(self.scheduler.get_last_lr()[0])
        self.step += 1
        return self.w.detach().numpy().copy(), self.b.detach().numpy().copy()

    def take_over(self, other, state_dict):
        """Continue from ``other``'s weights, with ``state_dict`` as the optimiser's state."""
        with self.engine.no_grad():
            for mine, theirs in ((self.w, other.w), (self.b, other.b)):
                mine.copy_(self.engine.tensor(theirs.detach().numpy()))
        self.optimiser.load_state_dict(state_dict)
        self.step = other.step


@pytest.mark.parametrize("label", OPTIMISERS)
def test_optimiser_equals_pytorchs_over_200_updates(label):
    name, kwargs = OPTIMISERS[label]
    ours, theirs = Fit(minigrad, name, kwargs).train(200), Fit(torch, name, kwargs).train(200)
    assert np.isfinite(ours[0]).all() and not np.allclose(ours[0], np.linspace(-1, 1, 6).reshape(2, 3))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("label", SCHEDULES)
def test_schedule_equals_pytorchs(label):
    ours, theirs = (Fit(engine, "SGD", dict(lr=0.01, momentum=0.9), SCHEDULES[label]) for engine in (minigrad, torch))
    weights = ours.train(200)[0]
    assert np.isfinite(weights).all()
    np.testing.assert_allclose(weights, theirs.train(200)[0], rtol=1e-10)
    np.testing.assert_allclose(ours.rates, theirs.rates, rtol=1e-13)


def _to_torch(state_dict):
    """A minigrad optimiser state_dict with PyTorch tensors, the structure as it is."""
    return {"param_groups": state_dict["param_groups"],
            "state": {k: {key: torch.tensor(v.numpy() if isinstance(v, minigrad.Tensor) else v)
                          for key, v in s.items()} for k, s in state_dict["state"].items()}}


@pytest.mark.parametrize("direction", ["from PyTorch", "to PyTorch"])
@pytest.mark.parametrize("label", ["RMSprop centered momentum", "Adadelta", "AdamW amsgrad", "SGD nesterov"])
def test_state_dicts_exchange_with_pytorch(label, direction):
    """One engine's optimiser after 100 steps, its weights and state_dict taken over by the
    other's: the next 100 steps on both are the same."""
    name, kwargs = OPTIMISERS[label]
    ours, theirs = Fit(minigrad, name, kwargs), Fit(torch, name, kwargs)
    if direction == "from PyTorch":
        theirs.train(100)
        ours.take_over(theirs, theirs.optimiser.state_dict())
    else:
        ours.train(100)
        theirs.take_over(ours, _to_torch(ours.optimiser.state_dict()))
    np.testing.assert_allclose(ours.train(100)[0], theirs.train(100)[0], rtol=1e-10)
