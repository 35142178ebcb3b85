"""One update for all parameters (minigrad/accel/flat.py): step for step against torch.optim
in float64 (1e-10), with several modules, parameter groups and what a user may do between
steps (replace ``p.data``, drop or assign gradients, add a group, load a state_dict,
``zero_grad`` either way); and the fast path taken where it can be and left where it cannot,
where the updates equal those of the loop over parameters (``foreach=False``) exactly."""
import weakref

import numpy as np
import pytest
import torch
import torch.nn as tnn

import minigrad
import minigrad.nn as nn
from helpers import to_numpy
from minigrad.accel import flat

pytestmark = pytest.mark.skipif(not minigrad.accel.ENABLED, reason="minigrad.accel is off: the loop over "
                                "parameters alone, tested with every optimiser")

CONFIGS = {
    "SGD": ("SGD", dict(lr=0.1)),  # one expression per parameter: the loop on the CPU, flat on a GPU
    "SGD weight_decay": ("SGD", dict(lr=0.1, weight_decay=0.01)),
    "SGD momentum dampening weight_decay": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    "SGD nesterov maximize": ("SGD", dict(lr=0.01, momentum=0.8, nesterov=True, maximize=True)),
    "Adam": ("Adam", dict(lr=0.01)),
    "Adam weight_decay amsgrad": ("Adam", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    "Adam maximize": ("Adam", dict(lr=0.01, betas=(0.5, 0.9), maximize=True)),
    "AdamW": ("AdamW", dict(lr=0.01, weight_decay=0.1)),
}


def two_groups(modules, optim, name, kwargs):
    """The encoder with its own learning rate (and Adam's betas); the head and extra with the defaults."""
    encoder, head, extra = modules
    first = {"params": encoder.parameters(), "lr": 0.03}
    if name != "SGD":
        first["betas"] = (0.8, 0.99)
    return getattr(optim, name)([first, {"params": list(head.parameters()) + list(extra.parameters())}], **kwargs)


class Twins:
    """The same three modules on minigrad and on PyTorch (float64, PyTorch's initial weights)
    with an optimiser each, stepped on the same data; ``ours``/``theirs``: (modules, optimiser)."""

    def __init__(self, build, device="cpu"):
        torch.manual_seed(0)
        theirs = [tnn.Linear(4, 3), tnn.Sequential(tnn.Linear(3, 3), tnn.LayerNorm(3)), tnn.Linear(3, 2)]
        ours = [nn.Linear(4, 3), nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3)), nn.Linear(3, 2)]
        for o, t in zip(ours, theirs):
            t.double()
            o.double().load_state_dict(t.state_dict())
            o.to(device)
        self.device, self.rng, self.steps = device, np.random.default_rng(0), 0
        self.ours = [ours, build(ours, minigrad.optim)]
        self.theirs = [theirs, build(theirs, torch.optim)]

    def sides(self):
        return ((self.ours, minigrad), (self.theirs, torch))

    def step(self, use_extra=True, set_to_none=True, after_backward=None):
        x = self.rng.standard_normal((2, 4))
        for (modules, optimiser), lib in self.sides():
            encoder, head, extra = modules
            h = head(encoder(lib.tensor(x, device=self.device if lib is minigrad else "cpu")))
            loss = ((extra(h) if use_extra else h).sigmoid() ** 2).sum()
            optimiser.zero_grad(set_to_none=set_to_none)
            loss.backward()
            if after_backward:
                after_backward(modules, lib)
            optimiser.step()
        self.steps += 1
        self.compare()

    def do(self, change):
        """``change(modules, optimiser, lib)`` on both sides."""
        for (modules, optimiser), lib in self.sides():
            with lib.no_grad():
                change(modules, optimiser, lib)

    def compare(self):
        for o, t in zip(params(self.ours[0]), params(self.theirs[0])):
            np.testing.assert_allclose(to_numpy(o), to_numpy(t), rtol=1e-10, atol=1e-12,
                                       err_msg=f"after step {self.steps}")

    @property
    def counts(self):
        return counts(self.ours[1])


def counts(optimiser):
    """How many updates went each way: one per flat buffer, or one per parameter."""
    return {way: optimiser.update_counts[way] for way in ("flat", "per_parameter")}


def params(modules):
    return [p for m in modules for p in m.parameters()]


def buffers_of(group):
    """The distinct flat buffers a group's parameters are views of (None: not a view)."""
    return {id(p.array.base) if p.array.base is not None else None for p in group["params"]}


@pytest.mark.parametrize("label", CONFIGS)
def test_groups_of_several_modules_match_pytorch(label, device):
    name, kwargs = CONFIGS[label]
    twins = Twins(lambda modules, optim: two_groups(modules, optim, name, kwargs), device)
    for _ in range(15):
        twins.step()
    if label == "SGD" and device == "cpu":
        assert twins.counts == {"flat": 0, "per_parameter": 15 * 8}
        return
    assert twins.counts == {"flat": 30, "per_parameter": 0}  # one update per group and step
    for group in twins.ours[1].param_groups:
        assert len(buffers_of(group)) == 1 and None not in buffers_of(group)


@pytest.mark.parametrize("label", ["SGD momentum dampening weight_decay", "Adam weight_decay amsgrad"])
def test_add_param_group_mid_run(label):
    name, kwargs = CONFIGS[label]

    def build(modules, optim):
        encoder, head, _ = modules
        return getattr(optim, name)(list(encoder.parameters()) + list(head.parameters()), **kwargs)
    twins = Twins(build)
    for _ in range(4):
        twins.step()
    twins.do(lambda modules, optimiser, lib: optimiser.add_param_group(
        {"params": modules[2].parameters(), "lr": 0.2, "weight_decay": 0.0}))
    for _ in range(6):
        twins.step()
    assert twins.counts == {"flat": 4 + 2 * 6, "per_parameter": 0}
    with pytest.raises(ValueError, match="more than one parameter group"):
        twins.ours[1].add_param_group({"params": [twins.ours[0][0].weight]})


@pytest.mark.parametrize("label", ["SGD momentum dampening weight_decay", "Adam", "AdamW"])
def test_replaced_data_and_assigned_gradients(label):
    name, kwargs = CONFIGS[label]
    twins = Twins(lambda modules, optim: two_groups(modules, optim, name, kwargs))
    for _ in range(3):
        twins.step()
    # a new array: moved into a rebuilt buffer, the update stays flat
    twins.do(lambda modules, optimiser, lib: setattr(modules[0].weight, "data", modules[0].weight.data * 0.5))
    twins.step()
    assert twins.counts["per_parameter"] == 0
    assert len(buffers_of(twins.ours[1].param_groups[0])) == 1
    # a tensor the user keeps: sharing its storage with the parameter must go on
    kept = {}

    def share(modules, optimiser, lib):
        kept[lib] = lib.full((3,), 0.25, dtype=lib.float64)
        modules[1][0].bias.data = kept[lib]
    twins.do(share)
    twins.step()
    twins.do(lambda modules, optimiser, lib: kept[lib].mul_(-2))
    twins.step()
    assert twins.ours[0][1][0].bias.array is kept[minigrad].array
    # a gradient assigned by hand, of the parameter's dtype and shape, is gathered like any other
    twins.step(after_backward=lambda modules, lib: setattr(modules[2].bias, "grad",
                                                            lib.tensor([0.5, -1.0], dtype=lib.float64)))
    for _ in range(2):
        twins.step()


@pytest.mark.parametrize("label", ["SGD momentum dampening weight_decay", "Adam", "Adam weight_decay amsgrad"])
def test_parameters_without_gradients_are_skipped(label):
    """``extra`` has no gradient for 3 steps, then every other step: PyTorch leaves it (and its
    step count) alone.  Once it has a gradient it joins a buffer (Adam: one of its own, for
    its step count differs) and its updates are flat again."""
    name, kwargs = CONFIGS[label]
    twins = Twins(lambda modules, optim: two_groups(modules, optim, name, kwargs))
    for _ in range(3):
        twins.step(use_extra=False)
    twins.step()  # its first update: one by one, and the layout is rebuilt with it
    joined = twins.counts["per_parameter"]
    twins.step()
    assert twins.counts["per_parameter"] == joined
    for i in range(10):
        twins.step(use_extra=i % 2 == 0)
    if name == "Adam":  # regrouped by step count: one update per bucket, none one by one
        before = twins.counts["per_parameter"]
        for i in range(4):
            twins.step(use_extra=i % 2 == 0)
        assert twins.counts["per_parameter"] == before


@pytest.mark.parametrize("label", ["SGD nesterov maximize", "Adam weight_decay amsgrad"])
def test_zero_grad_to_none_or_to_zeros(label):
    name, kwargs = CONFIGS[label]
    twins = Twins(lambda modules, optim: two_groups(modules, optim, name, kwargs))
    for i in range(8):
        twins.step(set_to_none=i % 3 == 0)
    assert twins.counts == {"flat": 16, "per_parameter": 0}


def test_state_changed_by_hand_and_momentum_switched_on():
    """A moment replaced in ``optimizer.state``, and SGD's momentum turned on while a parameter
    has no gradient (its buffer starts later, as a copy of its first step's direction)."""
    twins = Twins(lambda modules, optim: two_groups(modules, optim, "Adam", dict(lr=0.01)))
    for _ in range(3):
        twins.step()
    twins.do(lambda modules, optimiser, lib: optimiser.state[modules[1][0].weight].update(
        exp_avg=lib.full((3, 3), 0.1, dtype=lib.float64)))
    for _ in range(3):
        twins.step()
    twins = Twins(lambda modules, optim: two_groups(modules, optim, "SGD", dict(lr=0.05)))
    twins.step()
    twins.do(lambda modules, optimiser, lib: optimiser.param_groups[1].update(momentum=0.9, dampening=0.5))
    twins.step(use_extra=False)
    for _ in range(3):
        twins.step()


def _to_torch(state_dict):
    return {"param_groups": state_dict["param_groups"],
            "state": {k: {key: torch.tensor(to_numpy(v)) if isinstance(v, minigrad.Tensor) else v
                          for key, v in s.items()} for k, s in state_dict["state"].items()}}


@pytest.mark.parametrize("label", ["SGD momentum dampening weight_decay", "Adam weight_decay amsgrad"])
def test_state_dict_round_trip(label):
    """After 5 steps each engine's optimiser is replaced by a new one that loads the other's
    state_dict; 5 more steps on both are the same, and the new optimiser's updates are flat."""
    name, kwargs = CONFIGS[label]
    build = lambda modules, optim: two_groups(modules, optim, name, kwargs)  # noqa: E731
    twins = Twins(build)
    for _ in range(5):
        twins.step()
    ours_saved, theirs_saved = twins.ours[1].state_dict(), twins.theirs[1].state_dict()
    previous = twins.ours[1]  # still alive: the new optimiser takes the parameters from its buffers
    twins.ours[1], twins.theirs[1] = build(twins.ours[0], minigrad.optim), build(twins.theirs[0], torch.optim)
    twins.ours[1].load_state_dict(theirs_saved)
    twins.theirs[1].load_state_dict(_to_torch(ours_saved))
    for _ in range(5):
        twins.step()
    assert twins.counts == {"flat": 10, "per_parameter": 0} and counts(previous)["flat"] == 10
    # and once more within minigrad, into the optimiser that holds the buffers now
    twins.ours[1].load_state_dict(twins.ours[1].state_dict())
    twins.theirs[1].load_state_dict(twins.theirs[1].state_dict())
    twins.step()
    assert twins.counts == {"flat": 12, "per_parameter": 0}


# --- where the flat layout cannot hold: the loop over parameters, exactly ---------------------

def trained(make_optimiser, steps=6, between=None, dtype=None):
    """Three modules trained ``steps`` steps (``between(i, modules, optimiser)`` first);
    returns (parameters as arrays, optimiser)."""
    minigrad.manual_seed(0)
    modules = [nn.Linear(4, 3), nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3)), nn.Linear(3, 2)]
    for m in modules:
        m.double()
    if dtype is not None:
        modules[0].to(dtype)
    optimiser = make_optimiser([p for m in modules for p in m.parameters()])
    rng = np.random.default_rng(1)
    for i in range(steps):
        if between:
            between(i, modules, optimiser)
        x = minigrad.tensor(rng.standard_normal((2, 4)), dtype=modules[0].weight.dtype)
        h = modules[0](x).double()
        loss = (modules[2](modules[1](h)).sigmoid() ** 2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return [p.detach().numpy().copy() for m in modules for p in m.parameters()], optimiser


def assert_same_as_loop(make, **options):
    """The flat optimiser and the loop over parameters give exactly the same weights."""
    flat, optimiser = trained(lambda params: make(params), **options)
    loop, _ = trained(lambda params: make(params, foreach=False), **options)
    for a, b in zip(flat, loop):
        np.testing.assert_array_equal(a, b)
    return optimiser


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_foreach_false_is_the_loop_over_parameters(name):
    _, optimiser = trained(lambda params: getattr(minigrad.optim, name)(params, lr=0.01, foreach=False))
    assert counts(optimiser) == {"flat": 0, "per_parameter": 8 * 6}
    assert buffers_of(optimiser.param_groups[0]) == {None}


def test_mixed_dtypes_make_a_buffer_each():
    optimiser = assert_same_as_loop(lambda params, **kw: minigrad.optim.Adam(params, lr=0.01, **kw),
                                    dtype=minigrad.float32)
    assert counts(optimiser) == {"flat": 2 * 6, "per_parameter": 0}
    assert len(buffers_of(optimiser.param_groups[0])) == 2


def test_capturable_adam_keeps_its_step_counts_in_one_array():
    optimiser = assert_same_as_loop(lambda params, **kw: minigrad.optim.Adam(params, lr=0.01, capturable=True, **kw))
    steps = [s["step"] for s in optimiser.state.values()]
    assert len({id(s.array.base) for s in steps}) == 1 and all(float(s.item()) == 6 for s in steps)
    assert counts(optimiser) == {"flat": 6, "per_parameter": 0}


def test_a_parameter_held_elsewhere_stays_where_it_is():
    """Moving an array that a view or another tensor shares would silently end the sharing:
    held before the first step, the parameter is never moved; a view of a buffer taken
    later keeps the whole buffer where it is when the layout is rebuilt."""
    held = {}

    def hold(i, modules, optimiser):
        if i == 3:
            modules[0].bias.data = modules[0].bias.data * 2  # the layout is rebuilt
        if held.setdefault("run", optimiser) is not optimiser:  # (the flat run comes first)
            return
        if i == 0:
            held["alias"] = modules[0].weight.detach()    # a tensor sharing the weight's array
            held["row"] = modules[1][0].weight.detach().numpy()[0]  # a NumPy view of a row of another
        if i == 2:
            held["late row"] = modules[2].weight.detach().numpy()[0]  # a view into a flat buffer
    optimiser = assert_same_as_loop(lambda params, **kw: minigrad.optim.SGD(params, lr=0.1, momentum=0.9, **kw),
                                    between=hold)
    params = optimiser.param_groups[0]["params"]
    assert held["alias"].array is params[0].array and np.shares_memory(held["row"], params[2].array)
    assert np.shares_memory(held["late row"], params[6].array)
    np.testing.assert_array_equal(held["late row"], params[6].detach().numpy()[0])
    # the weight and the row's parameter one by one, the other six in one buffer; from the bias's
    # new array on, the bias alone (the row holds a view of the six's buffer: they stay put)
    assert counts(optimiser) == {"flat": 3 + 3, "per_parameter": 2 * 3 + 7 * 3}


@pytest.mark.parametrize("keep_a_view", [False, True])
def test_an_optimiser_dropped(keep_a_view):
    """Its buffers are freed once a new optimiser takes the parameters over; unless someone
    holds a view of them, which then keeps showing the parameters' values."""
    model = nn.Linear(4, 3).double()

    def step(optimiser):
        optimiser.zero_grad()
        (model(minigrad.ones(1, 4, dtype=minigrad.float64)) ** 2).sum().backward()
        optimiser.step()
    step(minigrad.optim.Adam(model.parameters()))
    buffer = weakref.ref(model.weight.array.base)  # the first optimiser's parameter buffer
    row = model.weight.detach().numpy()[0] if keep_a_view else None
    replacement = minigrad.optim.Adam(model.parameters())  # the first optimiser is gone
    step(replacement)
    if keep_a_view:
        assert counts(replacement) == {"flat": 0, "per_parameter": 2}
        np.testing.assert_array_equal(row, model.weight.detach().numpy()[0])
    else:
        assert buffer() is None and counts(replacement) == {"flat": 1, "per_parameter": 0}


def test_gradients_of_another_dtype_and_duplicates_are_updated_one_by_one():
    def make(params, **kw):
        optimiser = minigrad.optim.Adam(params, lr=0.01, **kw)
        step, steps = optimiser.step, []

        def step_with_an_odd_gradient():  # on the fourth step one gradient is float32 (.grad = refuses it)
            if len(steps) == 3:
                params[-1].grad.data = minigrad.tensor(params[-1].grad.numpy().astype(np.float32))
            steps.append(step())
        optimiser.step = step_with_an_odd_gradient
        return optimiser
    optimiser = assert_same_as_loop(make)
    assert counts(optimiser) == {"flat": 5, "per_parameter": 8}
    duplicated = assert_same_as_loop(lambda params, **kw: minigrad.optim.SGD(params + params[:1], lr=0.1, **kw))
    assert counts(duplicated) == {"flat": 0, "per_parameter": 9 * 6}


def test_a_gradient_of_another_shape_is_refused_as_in_the_loop():
    """A hand-made gradient of another shape but as many values must not be read as the
    parameter's (the flat buffer would take it): the update one by one refuses it."""
    model = nn.Linear(4, 3).double()
    optimiser = minigrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    for shape in [(3, 4), (4, 3)]:
        model.weight.grad = minigrad.ones(3, 4, dtype=minigrad.float64)
        model.weight.grad.data = minigrad.ones(*shape, dtype=minigrad.float64)  # (.grad = refuses it)
        model.bias.grad = minigrad.ones(3, dtype=minigrad.float64)
        if shape == (3, 4):
            optimiser.step()
        else:
            with pytest.raises(ValueError, match="broadcast"):
                optimiser.step()
    assert counts(optimiser) == {"flat": 1, "per_parameter": 2}


def test_capturable_adam_with_missing_gradients():
    """The step counts on the device, advanced one by one for some parameters, are read again
    when the buffers are regrouped."""
    def skip_some(i, modules, optimiser):
        if i % 2:
            modules[2].weight.requires_grad_(False)
        else:
            modules[2].weight.requires_grad_(True)
    optimiser = assert_same_as_loop(
        lambda params, **kw: minigrad.optim.Adam(params, lr=0.01, capturable=True, **kw), steps=9, between=skip_some)
    assert len({float(s["step"].item()) for s in optimiser.state.values()}) == 2


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_a_large_tensor_keeps_its_own_update_on_the_cpu(name):
    """Copying a large gradient costs more than the calls a shared update saves."""
    kwargs = dict(momentum=0.9) if name == "SGD" else {}  # (plain SGD is one expression: see below)
    def train(**kw):
        minigrad.manual_seed(0)
        model = nn.Sequential(nn.Linear(100, 100), nn.LayerNorm(100), nn.Linear(100, 2)).double()
        assert model[0].weight.array.nbytes >= flat.OWN_UPDATE_BYTES > model[2].weight.array.nbytes
        optimiser = getattr(minigrad.optim, name)(model.parameters(), lr=0.01, **kwargs, **kw)
        for i in range(3):
            optimiser.zero_grad()
            (model(minigrad.ones(2, 100, dtype=minigrad.float64) * i).sigmoid() ** 2).sum().backward()
            optimiser.step()
        return model, optimiser
    (model, optimiser), (loop, _) = train(), train(foreach=False)
    assert counts(optimiser) == {"flat": 3, "per_parameter": 3}
    assert model[0].weight.array.base is None and model[0].bias.array.base is not None
    for p, q in zip(model.parameters(), loop.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_plain_sgd_on_the_cpu_updates_one_by_one():
    """p −= lr·g is one expression per parameter already: on the CPU a buffer would add its
    checks and the gather and save nothing, so the loop does it (momentum makes it flat)."""
    for kwargs, expected in ((dict(), {"flat": 0, "per_parameter": 4 * 3}),
                             (dict(momentum=0.9), {"flat": 3, "per_parameter": 0})):
        minigrad.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
        optimiser = minigrad.optim.SGD(model.parameters(), lr=0.1, **kwargs)
        for _ in range(3):
            optimiser.zero_grad()
            model(minigrad.ones(2, 3)).sum().backward()
            optimiser.step()
        assert counts(optimiser) == expected, kwargs


def test_sgd_settings_changed_mid_run_move_parameters_in_and_out_of_buffers():
    """Momentum or weight decay switched on makes the group flat; switched off, each parameter
    has its own update again: every step the same as the loop's."""
    def train(**kw):
        minigrad.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double()
        optimiser = minigrad.optim.SGD(model.parameters(), lr=0.1, **kw)
        seen = []
        for settings in (dict(), dict(momentum=0.9), dict(momentum=0), dict(weight_decay=0.1), dict(weight_decay=0)):
            optimiser.param_groups[0].update(settings)
            before = dict(optimiser.update_counts)
            optimiser.zero_grad()
            (model(minigrad.ones(2, 3, dtype=minigrad.float64)) ** 2).sum().backward()
            optimiser.step()
            seen.append({k: v - before.get(k, 0) for k, v in optimiser.update_counts.items() if v != before.get(k, 0)})
        return model, seen
    (model, seen), (loop, _) = train(), train(foreach=False)
    assert seen == [{"per_parameter": 4}, {"flat": 1}, {"per_parameter": 4}, {"flat": 1}, {"per_parameter": 4}]
    for p, q in zip(model.parameters(), loop.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_own_update_rule_per_parameter():
    """On the CPU a one-expression update or a large tensor keeps its own update; otherwise the
    parameter may share a buffer."""
    small, large = np.zeros(4), np.zeros(flat.OWN_UPDATE_BYTES // 8)
    assert [flat._own_update(a, one) for a in (small, large) for one in (False, True)] == [False, True, True, True]


def test_module_to_another_dtype_with_state_keeps_the_loops_numbers():
    """After ``.to(float32)`` the moments stay float64 (as in the loop): never cast silently."""
    def to_float32(i, modules, optimiser):
        if i == 3:
            modules[0].float()
    assert_same_as_loop(lambda params, **kw: minigrad.optim.Adam(params, lr=0.01, **kw), between=to_float32)


def test_every_flat_update_bumps_each_parameters_version():
    """As in PyTorch, a saved weight changed by step() stops a later backward through it."""
    model = nn.Linear(3, 2).double()
    optimiser = minigrad.optim.Adam(model.parameters(), lr=0.1)
    x = minigrad.ones(1, 3, dtype=minigrad.float64, requires_grad=True)
    model(x).sum().backward()
    optimiser.step()  # the parameters move into a buffer (a graph kept alive would hold the weight)
    y = model(x).sigmoid().sum()  # Linear saves its weight
    y.backward(retain_graph=True)
    versions = [p._version for p in model.parameters()]
    optimiser.step()
    assert counts(optimiser) == {"flat": 2, "per_parameter": 0}
    assert [p._version for p in model.parameters()] == [v + 1 for v in versions]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_an_empty_parameter_group_is_skipped(name):
    model = nn.Linear(3, 2)
    optimiser = getattr(minigrad.optim, name)(model.parameters(), lr=0.1)
    optimiser.add_param_group({"params": []})
    model(minigrad.ones(3)).sum().backward()
    optimiser.step()
    assert counts(optimiser)["flat" if name == "Adam" else "per_parameter"] > 0
