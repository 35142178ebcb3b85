"""PyTorch's "Autograd mechanics", engine against engine: in-place operations and version
counters, custom Functions with ctx, autograd.grad, hooks, anomaly detection and grad modes.
Each test runs the same code on minigrad and on PyTorch (``engine``) and compares."""
import re

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import minigrad
import minigrad.nn as mnn
from benchmarks.programs import EXAMPLES, load_example
from helpers import assert_close, shapes, to_numpy, values

ENGINES = [minigrad, torch]


def both(fn):
    """fn(engine) on both engines: the results, or the error messages, must agree."""
    results = []
    for engine in ENGINES:
        try:
            results.append(("value", fn(engine)))
        except RuntimeError as error:
            results.append(("error", _message(str(error))))
    (kind_ours, ours), (kind_theirs, theirs) = results
    assert kind_ours == kind_theirs, f"minigrad: {kind_ours} {ours!r}; PyTorch: {kind_theirs} {theirs!r}"
    return ours, theirs


def _message(text):
    """An error message with the engines' names and PyTorch's hint left out."""
    text = text.replace("torch.", "").replace("minigrad.", "").split(" Hint:")[0]
    return re.sub(r"Backward0?\b", "", text)


def _compare(ours, theirs):
    if isinstance(ours, (tuple, list)):
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _compare(o, t)
    elif isinstance(ours, str) or ours is None:
        assert ours == theirs
    else:
        assert_close(ours, theirs)


# --- in-place operations -------------------------------------------------------------------

def test_an_alias_sees_an_in_place_change():
    for engine in ENGINES:
        a = engine.zeros(3)
        b = a
        a += 1
        assert to_numpy(b).tolist() == [1.0, 1.0, 1.0]
        view = a[1:]
        view *= 5
        assert to_numpy(a).tolist() == [1.0, 5.0, 5.0]


def test_the_hand_written_sgd_step_moves_the_weights():
    """``p -= lr * p.grad`` under no_grad: the first update every tutorial teaches."""
    moved = []
    for engine in ENGINES:
        engine.manual_seed(0)
        model = (mnn if engine is minigrad else torch.nn).Linear(2, 1).double()
        with engine.no_grad():
            model.weight.copy_(engine.tensor([[0.5, -0.25]], dtype=engine.float64))
            model.bias.fill_(0.1)
        model(engine.ones(2, dtype=engine.float64)).sum().backward()
        before = model.weight.detach().clone()
        with engine.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        assert not np.allclose(to_numpy(before), to_numpy(model.weight))
        moved.append((to_numpy(model.weight), to_numpy(model.bias), model.weight._version))
    _compare(moved[0][:2], moved[1][:2])
    assert moved[0][2] == moved[1][2]


def test_a_leaf_that_requires_grad_refuses_in_place_ops_in_grad_mode():
    def run(engine):
        x = engine.tensor([1.0, 2.0], requires_grad=True)
        x += 1
    ours, theirs = both(run)
    assert ours == theirs == "a leaf Variable that requires grad is being used in an in-place operation."


IN_PLACE = {
    "iadd": lambda a, b: a.__iadd__(b),
    "isub": lambda a, b: a.__isub__(b),
    "imul": lambda a, b: a.__imul__(b),
    "itruediv": lambda a, b: a.__itruediv__(b),
    "add_alpha": lambda a, b: a.add_(b, alpha=2.5),
    "sub_alpha": lambda a, b: a.sub_(b, alpha=-0.5),
    "mul_": lambda a, b: a.mul_(b),
    "div_": lambda a, b: a.div_(b),
    "clamp_": lambda a, b: a.clamp_(-0.5, 0.8),
    "copy_": lambda a, b: a.copy_(b),
    "zero_": lambda a, b: a.zero_(),
    "fill_": lambda a, b: a.fill_(0.75),
    "setitem": lambda a, b: _assigned(a, (Ellipsis, 0), b[..., -1]),
    "exp_": lambda a, b: a.exp_(),
    "pow_": lambda a, b: a.pow_(2),
    "sigmoid_": lambda a, b: a.sigmoid_(),
}


def _assigned(a, index, value):
    a[index] = value
    return a


@pytest.mark.parametrize("name", IN_PLACE)
@given(data=st.data(), shape=st.sampled_from([(3,), (2, 3), (4, 2)]))
def test_in_place_op_on_a_non_leaf_values_versions_and_gradients(name, data, shape):
    """The op changes the tensor itself (same object), bumps its version once, becomes its
    grad_fn, and the gradients through it to both inputs are PyTorch's."""
    a0 = data.draw(values(shape, 0.5, 2.0))
    b0 = data.draw(values(shape, 0.5, 2.0))
    upstream = data.draw(values(shape))

    def run(engine):
        x = engine.tensor(a0, requires_grad=True)
        y = engine.tensor(b0, requires_grad=True)
        a = x * 1.5  # a non-leaf
        version = a._version
        result = IN_PLACE[name](a, y)
        assert result is a
        assert a._version == version + 1
        assert a.grad_fn is not None
        (a * engine.tensor(upstream)).sum().backward()
        return (to_numpy(a), to_numpy(x.grad) if x.grad is not None else np.zeros(shape),
                to_numpy(y.grad) if y.grad is not None else np.zeros(shape))
    ours, theirs = both(run)
    _compare(ours, theirs)


@given(data=st.data(), shape=shapes)
def test_in_place_ops_without_a_graph_equal_pytorchs_values(data, shape):
    a0, b0 = data.draw(values(shape, 0.5, 2.0)), data.draw(values(shape, 0.5, 2.0))
    for name, op in IN_PLACE.items():
        if name == "setitem" and not shape:
            continue
        results = []
        for engine in ENGINES:
            a, b = engine.tensor(a0), engine.tensor(b0)
            op(a, b)
            results.append(to_numpy(a))
        assert_close(results[0], results[1], what=name)


def test_in_place_op_on_a_view_changes_the_base_and_its_gradient():
    def run(engine):
        x = engine.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        base = x * 1
        view = base[1:3]
        view.mul_(10)
        assert view._version == base._version == 1
        (base * engine.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        return to_numpy(base), to_numpy(x.grad), (base.grad_fn.name() if engine is minigrad
                                                  else type(base.grad_fn).__name__)
    (ours_base, ours_grad, ours_name), (theirs_base, theirs_grad, theirs_name) = both(run)
    _compare((ours_base, ours_grad), (theirs_base, theirs_grad))
    assert ours_name == theirs_name == "CopySlices"


def test_a_view_taken_before_its_base_changed_in_the_graph_follows_the_new_history():
    """Two views of one base: the second, taken before the first changed the base in place,
    is taken again when next used (PyTorch regenerates its grad_fn), and the node that used
    it before the change keeps the old history."""
    def run(engine):
        x = engine.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        base = x * 1
        first, second = base[:2], base.view(2, 2)
        before = second * 3            # used before the change
        first.mul_(10)
        after = second * 5             # used after it: sees 10·x in the first row
        (before.sum() + (after * after).sum()).backward()
        return to_numpy(after), to_numpy(x.grad)
    _compare(*both(run))


def test_indexed_assignment_in_the_graph_sends_the_gradient_to_the_value():
    def run(engine):
        x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
        a = x * 1
        a[0] = y[1] * 5
        (a * a).sum().backward()
        return to_numpy(x.grad), to_numpy(y.grad)
    _compare(*both(run))


@pytest.mark.parametrize("case", ["saved input", "saved output", "a.mul_(a)", "unsaved input", "optimiser step",
                                  "custom Function"])
def test_a_saved_tensor_changed_in_place_stops_backward_with_pytorchs_message(case):
    def run(engine):
        x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
        a = x * 1
        if case == "saved input":
            b = a * a
            a.add_(1)
        elif case == "saved output":
            b = a.sigmoid()
            b.mul_(2)
        elif case == "a.mul_(a)":
            b = a.mul_(a)
        elif case == "unsaved input":  # Add keeps nothing: this is allowed
            b = a + 1
            a.add_(1)
        elif case == "custom Function":
            b = make_functions(engine)[0].apply(a)  # saves its input
            a.add_(1)
        else:  # the classic GAN bug: D's step before G's backward through D
            model = (mnn if engine is minigrad else torch.nn).Linear(3, 1)
            b = model(a)
            optimiser = engine.optim.SGD(model.parameters(), lr=0.1)
            b.sum().backward(retain_graph=True)
            optimiser.step()
        b.sum().backward()
        return to_numpy(x.grad)
    ours, theirs = both(run)
    if case == "optimiser step":  # PyTorch's Linear saves a transposed view of the weight: another name
        assert ours.split(":")[0] == theirs.split(":")[0]
        assert ours.endswith("is at version 2; expected version 1 instead.") and theirs.endswith(ours[-45:])
        return
    _compare(ours, theirs)
    if case != "unsaved input":
        assert "modified by an inplace operation" in ours


def test_data_and_detach_share_storage_detach_shares_the_version():
    for engine in ENGINES:
        x = engine.tensor([1.0, 2.0], requires_grad=True)
        d = x.detach()
        d.add_(1)
        assert x._version == 1 and to_numpy(x).tolist() == [2.0, 3.0]
        x.data.mul_(2)
        assert x._version == 1 and to_numpy(x).tolist() == [4.0, 6.0]


def test_in_place_errors_match_pytorch():
    def bad_dtype(engine):
        engine.ones(3, dtype=engine.int64).mul_(1.5)

    def bad_shape(engine):
        engine.ones(3).add_(engine.ones(2, 3))

    def expanded(engine):
        engine.ones(1).expand(3).add_(1)
    for fn in (bad_dtype, bad_shape, expanded):
        ours, theirs = both(fn)
        assert ours == theirs


# --- the graph a learner walks by hand ----------------------------------------------------

def test_is_leaf_grad_fn_next_functions_and_retain_grad_like_pytorch():
    def run(engine):
        x = engine.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        z = (y + 1).sum()
        z.backward()
        node = z.grad_fn
        names = []
        while node is not None:
            names.append(type(node).__name__ if engine is torch else node.name())
            node = next((n for n, _ in node.next_functions if n is not None), None)
        return (x.is_leaf, y.is_leaf, y.retains_grad, to_numpy(y.grad), to_numpy(x.grad),
                [re.sub(r"Backward0?$", "", n) for n in names])
    ours, theirs = both(run)
    assert ours[:3] == theirs[:3]
    _compare(ours[3:5], theirs[3:5])
    assert ours[5] == theirs[5] == ["Sum", "Add", "Mul", "AccumulateGrad"]


def test_grad_errors_match_pytorch():
    def unused(engine):
        x = engine.tensor([1.0], requires_grad=True)
        engine.autograd.grad((x * 2).sum(), [x, engine.ones(1, requires_grad=True)])

    def no_grad_input(engine):
        x = engine.tensor([1.0], requires_grad=True)
        engine.autograd.grad((x * 2).sum(), engine.ones(1))

    def non_scalar(engine):
        (engine.ones(2, requires_grad=True) * 2).backward()

    def twice(engine):
        x = engine.ones(2, requires_grad=True)
        y = (x * x).sum()
        y.backward()
        y.backward()
    for fn in (unused, no_grad_input, non_scalar, twice):
        ours, theirs = both(fn)
        assert ours == theirs


def test_grad_and_backward_inputs_touch_only_what_was_asked():
    def run(engine):
        x = engine.tensor([1.0, 2.0], requires_grad=True)
        w = engine.tensor([3.0, 4.0], requires_grad=True)
        y = (x * w).sum()
        gx, = engine.autograd.grad(y, x, retain_graph=True)
        assert x.grad is None and w.grad is None
        h = x * w
        g_h, g_w = engine.autograd.grad(y, [h, w], allow_unused=True, retain_graph=True)
        y.backward(inputs=[w])
        return to_numpy(gx), g_h, to_numpy(g_w), x.grad, to_numpy(w.grad)
    ours, theirs = both(run)
    assert ours[1] is None and theirs[1] is None  # h is not part of y's graph
    _compare((ours[0], ours[2], ours[4]), (theirs[0], theirs[2], theirs[4]))
    assert ours[3] is None and theirs[3] is None


# --- custom Functions --------------------------------------------------------------------------

def make_functions(engine):
    # P₃(x) = ½(5x³ − 3x) with its own backward, from the example program, on this engine
    example = load_example(EXAMPLES / "autograd" / "polynomial_fit.py", engine.__name__)
    LegendreP3 = example.LegendrePolynomial3

    class ScaledClampedExp(engine.autograd.Function):
        """k·exp(min(x, 2)) with a number argument; records needs_input_grad."""

        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            ctx.needs = ctx.needs_input_grad
            out = (x.clamp(max=2.0)).exp() * k
            ctx.save_for_backward(x, out)
            return out

        @staticmethod
        def backward(ctx, grad):
            x, out = ctx.saved_tensors
            return grad * out * (x <= 2.0), None

    class SortWithIndices(engine.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, indices = x.sort() if engine is torch else _sort(x)
            ctx.mark_non_differentiable(indices)
            ctx.save_for_backward(indices)
            return values, indices

        @staticmethod
        def backward(ctx, grad_values, grad_indices):
            indices, = ctx.saved_tensors
            grad = grad_values * 0
            grad[indices] = grad_values
            return grad
    return LegendreP3, ScaledClampedExp, SortWithIndices


def _sort(x):
    order = np.argsort(x.detach().numpy(), kind="stable")
    return x[minigrad.tensor(order)], minigrad.tensor(order)


def test_custom_functions_on_both_engines_give_the_same_gradients():
    def run(engine):
        legendre, clamped_exp, sort = make_functions(engine)
        x = engine.tensor([0.3, -1.2, 2.5, 1.0], dtype=engine.float64, requires_grad=True)
        y = legendre.apply(x)
        z = clamped_exp.apply(y, 3.0)
        values, indices = sort.apply(z)
        assert not indices.requires_grad and values.requires_grad
        (values * engine.tensor([1.0, 2.0, 3.0, 4.0], dtype=engine.float64)).sum().backward()
        name = re.sub(r"Backward0?$", "", type(y.grad_fn).__name__ if engine is torch else y.grad_fn.name())
        return to_numpy(z), to_numpy(x.grad), name, len(z.grad_fn.next_functions)
    ours, theirs = both(run)
    _compare(ours[:2], theirs[:2])
    assert ours[2:] == theirs[2:] == ("LegendrePolynomial3", 1)


def test_custom_function_ctx_needs_input_grad_and_double_backward():
    for engine in ENGINES:
        _, clamped_exp, _ = make_functions(engine)
        x = engine.tensor([0.5], dtype=engine.float64, requires_grad=True)
        clamped_exp.apply(x, 2.0).sum().backward()
    legendre = [make_functions(engine)[0] for engine in ENGINES]
    results = []
    for engine, function in zip(ENGINES, legendre):
        x = engine.tensor([0.3, -0.7], dtype=engine.float64, requires_grad=True)
        g, = engine.autograd.grad(function.apply(x).sum(), x, create_graph=True)
        g2, = engine.autograd.grad(g.sum(), x)
        results.append((to_numpy(g), to_numpy(g2)))
    _compare(results[0], results[1])
    np.testing.assert_allclose(results[0][1], 15 * np.array([0.3, -0.7]))  # P₃'' = 15x


def test_linear_with_a_bias_of_the_wrong_size_is_pytorchs_error():
    def run(engine):
        F = (minigrad.nn if engine is minigrad else torch.nn).functional
        F.linear(engine.ones(2, 3), engine.ones(2, 3), engine.ones(3))
    ours, theirs = both(run)
    assert ours == theirs


def test_custom_function_needs_input_grad_and_mark_dirty():
    seen = []
    for engine in ENGINES:
        class AddOneInPlace(engine.autograd.Function):
            @staticmethod
            def forward(ctx, x, y, k):
                seen.append(tuple(ctx.needs_input_grad))
                x.add_(y * k)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, grad):
                return grad, grad * 2, None
        x = engine.tensor([1.0, 2.0], requires_grad=True)
        y = engine.tensor([3.0, 4.0])
        a = x * 1
        out = AddOneInPlace.apply(a, y, 2.0)
        assert out is a and a._version == 2  # add_, then mark_dirty
        (out * engine.tensor([1.0, 10.0])).sum().backward()
        seen.append(to_numpy(x.grad).tolist())
        seen.append(re.sub(r"Backward0?$", "", type(a.grad_fn).__name__ if engine is torch else a.grad_fn.name()))
    assert seen[:3] == seen[3:]
    assert seen[0] == (True, False, False)


def test_node_hooks_like_pytorch():
    def run(engine):
        events = []
        x = engine.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        y.grad_fn.register_prehook(lambda grad_outputs: (events.append("pre"), (grad_outputs[0] * 2,))[1])
        y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: events.append(
            ("after", to_numpy(grad_inputs[0]).tolist(), to_numpy(grad_outputs[0]).tolist())))
        y.sum().backward()
        return events, to_numpy(x.grad)
    ours, theirs = both(run)
    assert ours[0] == theirs[0]
    _compare(ours[1], theirs[1])


def test_custom_function_errors():
    class WrongCount(minigrad.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = minigrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"returned an incorrect number of gradients \(expected 2, got 1\)"):
        WrongCount.apply(x, x).sum().backward()

    class OldStyle(minigrad.autograd.Function):
        def forward(self, x):
            return x
    with pytest.raises(RuntimeError, match="@staticmethod"):
        OldStyle.apply(x)


# --- hooks --------------------------------------------------------------------------------

def test_tensor_hooks_order_and_replacement_like_pytorch():
    def run(engine):
        seen = []
        x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x.register_hook(lambda g: seen.append(("leaf", to_numpy(g).tolist())))
        y = x * 2
        y.register_hook(lambda g: seen.append(("y", to_numpy(g).tolist())))
        y.retain_grad()
        handle = y.register_hook(lambda g: g * 10)
        y.sum().backward(retain_graph=True)
        first = (list(seen), to_numpy(x.grad), to_numpy(y.grad))
        handle.remove()
        seen.clear()
        x.grad = None
        y.sum().backward()
        return first, (list(seen), to_numpy(x.grad))
    ours, theirs = both(run)
    assert ours[0][0] == theirs[0][0] and ours[1][0] == theirs[1][0]
    _compare((ours[0][1], ours[0][2], ours[1][1]), (theirs[0][1], theirs[0][2], theirs[1][1]))


def test_module_hooks_order_and_effect_like_pytorch():
    def run(engine):
        nn = mnn if engine is minigrad else torch.nn
        engine.manual_seed(0)
        model = nn.Linear(2, 1).double()
        with engine.no_grad():
            model.weight.copy_(engine.tensor([[0.5, -1.0]], dtype=engine.float64))
            model.bias.fill_(0.25)
        events = []
        model.register_forward_pre_hook(lambda m, args: (events.append("pre"), (args[0] * 2,))[1])
        model.register_forward_hook(lambda m, args, out: (events.append("forward"), out + 1)[1])
        model.register_full_backward_hook(
            lambda m, grad_in, grad_out: (events.append(("backward", to_numpy(grad_in[0]).tolist(),
                                                         to_numpy(grad_out[0]).tolist())),
                                          (grad_in[0] * 3,))[1])
        x = engine.tensor([[1.0, 1.0]], dtype=engine.float64, requires_grad=True)
        out = model(x)
        out.sum().backward()
        return events, to_numpy(out), to_numpy(x.grad)
    ours, theirs = both(run)
    assert ours[0] == theirs[0]
    _compare(ours[1:], theirs[1:])


# --- anomaly detection and grad modes ---------------------------------------------------------

def test_detect_anomaly_names_the_forward_operation_and_where_it_was_called():
    x = minigrad.tensor([0.0, 1.0], requires_grad=True)
    with minigrad.autograd.detect_anomaly():
        y = x.sqrt()  # d/dx √x = 1/(2√x): infinite at 0, and 0·∞ is NaN below
        z = (y * minigrad.tensor([0.0, 1.0])).sum()
        with pytest.raises(RuntimeError) as error:
            z.backward()
    message = str(error.value)
    assert "SqrtBackward" in message and "nan" in message
    assert "test_autograd_mechanics.py" in message  # the line that called sqrt()
    x.grad = None
    (x.sqrt() * minigrad.tensor([0.0, 1.0])).sum().backward()  # off: no check, NaN as PyTorch
    assert np.isnan(x.grad.numpy()[0])


def test_inference_mode_and_requires_grad_():
    for engine in ENGINES:
        x = engine.ones(2, requires_grad=True)
        with engine.inference_mode():
            y = x * 2
        assert not y.requires_grad
        z = engine.ones(2).requires_grad_()
        assert z.requires_grad and z.is_leaf

        @engine.inference_mode()
        def f(t):
            return t * 2
        assert not f(x).requires_grad
