"""Programs one step past a beginner's book, run on both engines: where minigrad once gave
another answer than PyTorch (or a NumPy error from deep inside), it now gives PyTorch's."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import minigrad
from helpers import assert_close, check

ENGINES = [minigrad, torch]


def names(lib):
    return "minigrad" if lib is minigrad else "torch"


@pytest.mark.parametrize("cast", [lambda x: x.long(), lambda x: x.to(x.long().dtype), lambda x: x.type(x.long().dtype)])
def test_a_cast_to_integers_has_no_gradient(cast):
    """x.long() is a constant to autograd: (x.long()·x)' is x.long(), not 2x."""
    grads = []
    for lib in ENGINES:
        x = lib.tensor([1.7, -2.3, 0.4], dtype=lib.float64, requires_grad=True)
        y = cast(x)
        assert not y.requires_grad and y.grad_fn is None, names(lib)
        (y * x).sum().backward()
        grads.append(x.grad)
    assert_close(*grads)


def test_a_custom_function_returning_integers_gives_them_no_gradient():
    outputs = []
    for lib in ENGINES:
        class Rounded(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.round().long() if lib is torch else x.long()

            @staticmethod
            def backward(ctx, grad):
                return grad

        out = Rounded.apply(lib.tensor([1.2, 2.7], requires_grad=True))
        outputs.append((out.requires_grad, out.grad_fn is None))
    assert outputs[0] == outputs[1] == (False, True)


def test_a_custom_functions_gradient_of_the_wrong_shape_is_named():
    class Square(minigrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad):
            return grad.sum(0)  # (4,) for an input of (3, 4)

    x = minigrad.ones(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Function SquareBackward returned an invalid gradient at index 0 - "
                                           r"got \[4\] but expected shape compatible with \[3, 4\]"):
        Square.apply(x).sum().backward()


def test_a_number_saved_as_one_element_loads_into_a_zero_dimensional_buffer():
    """Files of minigrad before this was fixed hold num_batches_tracked as [n]: PyTorch's rule
    reads a [1] into a 0-d tensor."""
    for lib in ENGINES:
        bn = lib.nn.BatchNorm1d(3)
        state = {k: v for k, v in bn.state_dict().items()}
        state["num_batches_tracked"] = lib.tensor([7])
        bn.load_state_dict(state)
        assert bn.num_batches_tracked.shape == () and bn.num_batches_tracked.item() == 7, names(lib)
        bn.reset_parameters()  # with gradients on: the in-place resets are not recorded


def test_save_and_load_keep_zero_dimensional_tensors(tmp_path):
    """A BatchNorm's num_batches_tracked (0-d) survives the round trip, and a saved loss too."""
    bn = minigrad.nn.BatchNorm1d(3)
    bn(minigrad.randn(4, 3))
    minigrad.save({"model": bn.state_dict(), "loss": minigrad.tensor(1.5)}, tmp_path / "c.pt")
    loaded = minigrad.load(tmp_path / "c.pt")
    assert loaded["loss"].shape == () and loaded["loss"].item() == 1.5
    fresh = minigrad.nn.BatchNorm1d(3)
    fresh.load_state_dict(loaded["model"])
    assert fresh.num_batches_tracked.shape == () and fresh.num_batches_tracked.item() == 1
    np.testing.assert_array_equal(fresh.running_mean.numpy(), bn.running_mean.numpy())


@pytest.mark.parametrize("args", [(2, 3), (5,), (), (torch.Size([2, 3]),), ([2.0, 3.0],), ([[1, 2]],)])
@pytest.mark.parametrize("constructor", ["Tensor", "FloatTensor", "LongTensor"])
def test_the_legacy_constructors_take_sizes_or_data(args, constructor):
    theirs = getattr(torch, constructor)(*args)
    ours = getattr(minigrad, constructor)(*(minigrad.Size(a) if isinstance(a, torch.Size) else a for a in args))
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    if args and not isinstance(args[0], int) and not isinstance(args[0], torch.Size):  # data: same values
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(RuntimeError, match=r"Trying to create tensor with negative dimension -1: \[2, -1\]"):
        getattr(minigrad, constructor)(2, -1)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "sigmoid", "tanh"])
def test_float_functions_of_integers_are_in_the_default_float_dtype(name):
    ours, theirs = (getattr(lib.tensor([1, 2, 3]), name)() for lib in ENGINES)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.") == "float32"
    assert_close(ours, theirs, np.float32)


def test_clamp_of_integers_promotes_only_for_float_bounds():
    for bounds in (dict(min=2.5), dict(max=1.5), dict(min=2)):
        ours, theirs = (lib.tensor([1, 2, 3]).clamp(**bounds) for lib in ENGINES)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), bounds
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_format_a_zero_dimensional_tensor_as_its_number():
    for lib in ENGINES:
        loss = lib.tensor(0.123456789, dtype=lib.float64)
        assert f"loss {loss:.4f}" == "loss 0.1235", names(lib)
        assert f"{loss}" == "0.123456789"
        for many in (lib.ones(2), lib.ones(1)):  # a spec for a tensor of dimensions: PyTorch's TypeError
            with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
                f"{many:.4f}"
    assert f"{minigrad.ones(2)}" == repr(minigrad.ones(2))


def test_allclose_and_the_elementwise_max_and_min():
    a, b = np.array([1.0, 5.0, 2.0, np.nan]), np.array([3.0, 2.0, 2.0, 1.0])
    assert minigrad.allclose(minigrad.tensor(a[:3]), minigrad.tensor(a[:3] + 1e-9))
    assert not minigrad.allclose(minigrad.tensor(a[:3]), minigrad.tensor(b[:3]))
    assert minigrad.allclose(minigrad.tensor(a), minigrad.tensor(a), equal_nan=True)
    for mine, theirs in ((lambda x, y: minigrad.max(x, y), lambda x, y: torch.max(x, y)),
                         (lambda x, y: minigrad.min(x, y), lambda x, y: torch.min(x, y)),
                         (minigrad.maximum, torch.maximum), (minigrad.minimum, torch.minimum),
                         (lambda x, y: x.maximum(y) * x.minimum(y), lambda x, y: x.maximum(y) * x.minimum(y))):
        check(mine, a, b, torch_fn=theirs)  # ties split the gradient in half, NaN wins


@given(st.lists(st.sampled_from([-7.5, -3.0, -2.0, -0.5, 0.0, 0.5, 2.0, 3.0, 7.25]), min_size=4, max_size=4),
       st.lists(st.sampled_from([-4.0, -2.0, -0.5, 0.5, 1.5, 2.0, 3.0]), min_size=4, max_size=4))
def test_floor_division_and_remainder_like_python_and_pytorch(a, b):
    a, b = np.array(a), np.array(b)
    check(lambda x, y: x % y, a, b)
    check(lambda x, y: x // y, a, b, grad=False)
    check(lambda x, y: x % 2 + y % 1.5, a, b)
    check(lambda x, y: minigrad.autograd.grad((x * x % y).sum(), (x, y), create_graph=True)[0] * y,
          a, b, torch_fn=lambda x, y: torch.autograd.grad((x * x % y).sum(), (x, y), create_graph=True)[0] * y)
    check(lambda x, y: 7.5 % y - 3 // x, a, b, grad=False)
    for lib in ENGINES:
        ints = lib.tensor([7, -7, 6, 0])
        assert (ints // 2).tolist() == [3, -4, 3, 0] and (ints % 3).tolist() == [1, 2, 0, 0], names(lib)
        assert (ints // 2.0).tolist() == [3.0, -4.0, 3.0, 0.0]
        assert (-7 // lib.tensor([2, -2])).tolist() == [-4, 3]
    zeros = [(lib.tensor([-0.0, 4.0, -6.0, 0.0]) % lib.tensor([2.0, -2.0, 3.0, -1.0])).numpy() for lib in ENGINES]
    np.testing.assert_array_equal(np.signbit(zeros[0]), np.signbit(zeros[1]))  # a zero takes a's sign


def test_division_errors_are_pytorchs():
    for lib in ENGINES:
        for divide in (lambda: lib.tensor([1, 2]) // 0, lambda: lib.tensor([1, 2]) % lib.tensor([1, 0])):
            with pytest.raises(RuntimeError, match="ZeroDivisionError"):
                divide()
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
            (x // 2).sum().backward()
        with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
            lib.tensor([2, 3]) ** -1
        powers = lib.tensor([0, 0, 2, -2, -1, -1, 1, 3]) ** lib.tensor([-1, -2, -2, -1, -2, -3, -5, 2])
        assert powers.tolist() == [0, 0, 0, 0, 1, -1, 1, 9], names(lib)  # 1/aⁿ truncated
        assert (2 ** lib.tensor([-1, 3])).tolist() == [0, 8]
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):  # a shape error stays one
        minigrad.ones(2) ** minigrad.ones(3)


def test_view_refuses_what_only_a_copy_could_give():
    for lib in ENGINES:
        with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's size and stride"):
            lib.ones(2, 3).t().view(6)
        with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's size and stride"):
            lib.ones(2, 3).t().view_as(lib.ones(6))
        x = lib.ones(2, 3, requires_grad=True)
        copied = x.t().reshape(6)  # a copy, not a view of the leaf: changing it in place is fine
        copied.add_(1)
        (copied * 2).sum().backward()
        assert x.grad.tolist() == [[2.0] * 3] * 2, names(lib)
        assert tuple(lib.ones(2, 3).t().reshape(6).shape) == (6,)
        assert tuple(lib.ones(2, 3).view(3, 2).shape) == (3, 2)
        assert tuple(lib.ones(2, 1, 3).transpose(0, 1).view(2, 3).shape) == (2, 3)  # a unit dimension moves


def test_negative_steps_and_views_of_leaves_changed_in_place_are_refused():
    for lib in ENGINES:
        with pytest.raises(ValueError, match="step must be greater than zero"):
            lib.arange(4)[::-1]
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being used in an "
                                               "in-place operation"):
            x[0].add_(1)
        with lib.no_grad():
            x[1:].mul_(3)  # how an update is written: allowed
        assert x.tolist() == [1.0, 3.0, 3.0]


def test_random_floats_are_not_drawn_as_integers():
    for lib in ENGINES:
        with pytest.raises(NotImplementedError):
            lib.rand_like(lib.tensor([1, 2]))
        with pytest.raises(NotImplementedError):
            lib.randn(2, dtype=lib.int64)


def test_utils_data_after_a_plain_import():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import minigrad; print(minigrad.utils.data.DataLoader.__name__)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "DataLoader"


def test_tensors_inside_a_list_are_read_as_numbers():
    for lib in ENGINES:
        made = lib.tensor([lib.tensor(1.0), lib.tensor([2.0]), 3.0])
        assert tuple(made.shape) == (3,) and made.tolist() == [1.0, 2.0, 3.0], names(lib)
    mixes = [lambda lib: [lib.tensor(1.0, dtype=lib.float64), 2.0], lambda lib: [lib.tensor(1.0, dtype=lib.float16), 2.0],
             lambda lib: [lib.tensor(3), 2], lambda lib: [lib.tensor(3), 2.5], lambda lib: [[lib.tensor(True)], [1]],
             lambda lib: [lib.tensor(1.0, dtype=lib.float16), lib.tensor(1.0, dtype=lib.float64)],
             lambda lib: [lib.tensor(3), lib.tensor(1.0, dtype=lib.float16)]]
    for mix in mixes:  # the dtype of the widest kind among them; a Python float counts as float32
        ours, theirs = minigrad.tensor(mix(minigrad)), torch.tensor(mix(torch))
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.") and ours.tolist() == theirs.tolist()
        with pytest.raises(ValueError, match="only one element tensors can be converted to Python scalars"):
            lib.tensor([lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0])])


def test_booleans_subtracted_or_negated_are_refused_and_other_operands_are_type_errors():
    for lib in ENGINES:
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors is not supported"):
            lib.tensor([True]) - lib.tensor([False])
        with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor is not supported"):
            -lib.tensor([True])
        with pytest.raises(TypeError):
            lib.ones(2) + None
        for divide in (lambda: lib.tensor([True]) // lib.tensor([True]), lambda: lib.tensor([True]) % lib.tensor([True])):
            with pytest.raises(NotImplementedError):
                divide()


def test_an_assigned_gradient_must_fit_its_tensor():
    """An optimiser would broadcast a gradient of one element into every weight: refused."""
    for lib in ENGINES:
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match=r"attempting to assign a gradient of size '\[1\]' to a tensor of "
                                               r"size '\[3\]'"):
            x.grad = lib.ones(1)
        with pytest.raises(RuntimeError, match="attempting to assign a gradient with dtype '[dD]ouble'"):
            x.grad = lib.ones(3, dtype=lib.float64)
        with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None but got grad of type list"):
            x.grad = [1.0, 2.0, 3.0]
        x.grad = lib.full((3,), 2.0)
        lib.optim.SGD([x], lr=0.5).step()
        assert x.tolist() == [0.0, 0.0, 0.0], names(lib)
        x.grad = None
        assert x.grad is None


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adadelta"])
def test_a_learning_rate_given_as_a_tensor_moves_the_weights(name):
    """optim.Adam(params, lr=torch.tensor(0.01)): the weights move as with lr=0.01, and stay arrays."""
    moved = []
    for lib in ENGINES:
        p = lib.nn.Parameter(lib.tensor([1.0, -2.0], dtype=lib.float64))
        optimiser = getattr(lib.optim, name)([p], lr=lib.tensor(0.01, dtype=lib.float64))
        for _ in range(3):
            p.grad = lib.tensor([0.5, 1.5], dtype=lib.float64)
            optimiser.step()
        moved.append(p.detach())
    assert isinstance(moved[0].array, np.ndarray) and moved[0].tolist() != [1.0, -2.0]
    assert_close(*moved)


def test_named_parameters_a_closure_and_a_deep_copy_of_an_optimiser():
    results = []
    for lib in ENGINES:
        lib.manual_seed(0)
        model = lib.nn.Linear(3, 1).double()
        with lib.no_grad():
            model.weight.copy_(lib.tensor([[0.5, -1.0, 2.0]], dtype=lib.float64))
            model.bias.zero_()
        optimiser = lib.optim.Adam(model.named_parameters(), lr=0.1)  # names kept beside the tensors
        assert optimiser.param_groups[0]["param_names"] == ["weight", "bias"]

        def closure():
            optimiser.zero_grad()
            loss = (model(lib.ones(2, 3, dtype=lib.float64)) ** 2).mean()
            loss.backward()
            return loss
        losses = [optimiser.step(closure).item() for _ in range(2)]
        import copy
        twin = copy.deepcopy(optimiser)  # after steps with flat buffers: a copy with its own
        twin_params = twin.param_groups[0]["params"]
        for p in twin_params:
            p.grad = lib.ones_like(p)
        twin.step()
        results.append((losses, [p.detach() for p in twin_params], [p.detach() for p in model.parameters()]))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
    for ours, theirs in zip(results[0][1] + results[0][2], results[1][1] + results[1][2]):
        assert_close(ours, theirs)


def test_var_and_std_read_a_bool_as_unbiased():
    for ours, theirs in ((lambda x: x.var(True), lambda x: x.var(True)), (lambda x: x.var(False), lambda x: x.var(False)),
                         (lambda x: x.std(False), lambda x: x.std(False)),
                         (lambda x: minigrad.std(x, False), lambda x: torch.std(x, False))):
        check(ours, np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]]), torch_fn=theirs)


def test_sorting_puts_nan_first_when_descending():
    values = np.array([[3.0, np.nan, 1.0, 3.0, np.nan, -np.inf, np.inf], [0.0, -0.0, 2.0, 2.0, 1.0, np.nan, 5.0]])
    for args in (dict(descending=True), dict(descending=True, dim=0), dict(), dict(dim=0)):
        (ours, our_order), (theirs, their_order) = (lib.tensor(values).sort(**args) for lib in ENGINES)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        np.testing.assert_array_equal(our_order.numpy(), their_order.numpy())
    assert minigrad.tensor(values).topk(2).indices.tolist() == torch.tensor(values).topk(2).indices.tolist()


def test_relu_keeps_nan_and_signed_zero_and_powers_at_a_zero_base_have_pytorchs_gradients():
    values = [np.nan, -0.0, -1.0, 0.0, 2.0]
    ours, theirs = (lib.tensor(values).relu().numpy() for lib in ENGINES)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))
    base, exponent = np.array([0.0, 2.0, 0.0, -0.0, 3.0]), np.array([0.0, 2.0, 2.5, 0.0, -1.0])
    check(lambda a, b: a ** b, base, exponent)
    check(lambda a: a ** 0, base)
    check(lambda b: 0.0 ** b, np.abs(exponent))


def test_train_calls_each_childs_own_train_and_slices_keep_layer_names():
    for lib in ENGINES:
        class FrozenNorm(lib.nn.Module):  # the usual way to keep BatchNorm's statistics fixed
            def __init__(self):
                super().__init__()
                self.norm, self.linear = lib.nn.BatchNorm1d(2), lib.nn.Linear(2, 2)

            def train(self, mode=True):
                super().train(mode)
                self.norm.eval()
                return self
        model = lib.nn.Sequential(FrozenNorm(), lib.nn.Linear(2, 2))
        model.eval()
        model.train()
        assert (model.training, model[0].linear.training, model[0].norm.training) == (True, True, False)
        assert list(model[1:].state_dict()) == ["1.weight", "1.bias"], names(lib)


def test_collated_numbers_and_items_handed_out_one_by_one_are_pytorchs():
    import importlib
    for batch in ([1, 2.5], [True, 2], [True, False], [1, 2], [1.5, 2]):
        ours, theirs = (importlib.import_module(lib.__name__ + ".utils.data").default_collate(batch) for lib in ENGINES)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.") and ours.tolist() == theirs.tolist(), batch
    items = []
    for lib in ENGINES:
        data = importlib.import_module(lib.__name__ + ".utils.data")

        class Items(data.Dataset):
            def __len__(self):
                return 2

            def __getitem__(self, i):
                return {"x": np.full(2, i, np.float32), "y": np.float64(i), "n": i, "pair": (np.int64(3), "a")}
        item = list(data.DataLoader(Items(), batch_size=None))[1]
        items.append({k: (type(v).__name__, str(getattr(v, "dtype", "")).removeprefix("torch."))
                      for k, v in item.items()} | {"pair": [type(v).__name__ for v in item["pair"]]})
    assert items[0] == items[1]


def test_an_expanded_view_changed_in_place_in_the_graph_is_pytorchs_error():
    for lib in ENGINES:
        x = lib.ones(2, 1, requires_grad=True)
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor refers to a single "
                                               "memory location"):
            (x * 1)[:, :1].expand(2, 3).mul_(2)


def test_split_chunk_unbind_index_select_and_friends_with_gradients():
    x = np.arange(1.0, 31.0).reshape(2, 3, 5) / 7
    pieces = [lambda t: t.split(2, 2)[2] * 3, lambda t: t.split([1, 4], -1)[1].sum(-1),
              lambda t: t.chunk(2, 1)[0] * t.chunk(2, 1)[1][:, :1], lambda t: t.unbind(1)[2] ** 2,
              lambda t: t.index_select(2, (minigrad if isinstance(t, minigrad.Tensor) else torch).tensor([4, 0, 4])),
              lambda t: t[:, :1].expand_as(t) * t]
    for piece in pieces:
        check(piece, x)
    for lib in ENGINES:
        t = lib.tensor(x)
        assert [p.shape[-1] for p in t.chunk(4, -1)] == [2, 2, 1], names(lib)  # fewer chunks than asked
        assert str(t.new_zeros(2).dtype).removeprefix("torch.") == "float64"
        assert str(t.new_tensor([1, 2]).dtype).removeprefix("torch.") == "float64"
        assert str(lib.ones(2).type_as(lib.tensor([1])).dtype).removeprefix("torch.") == "int64"
        with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 5"):
            t.split([1, 2], 2)


def test_half_precision_activations_and_clipping_are_computed_in_float32_as_pytorch_does():
    import torch.nn.functional as torch_functional
    values = [-12.0, -3.0, 0.5, 12.0, 25.0, float("nan")]
    for name, kwargs in (("silu", {}), ("softplus", {}), ("softplus", dict(beta=2, threshold=5))):
        ours, theirs = (getattr(functional, name)(lib.tensor(values, dtype=lib.float16), **kwargs)
                        for lib, functional in ((minigrad, minigrad.nn.functional), (torch, torch_functional)))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())  # (softplus(12) was inf, silu(-12) was -0)
    grads = []
    for lib in ENGINES:
        params = [lib.nn.Parameter(lib.zeros(1, dtype=lib.float16)) for _ in range(3)]
        for p in params:
            p.grad = lib.full((1,), 300.0, dtype=lib.float16)  # squares beyond float16's range
        norm = lib.nn.utils.clip_grad_norm_(params, 1.0)
        grads.append([norm.item()] + [p.grad.item() for p in params])
    assert grads[0] == grads[1]
    x = np.array([float("nan"), 1.0, 30.0])
    check(lambda t: minigrad.nn.functional.softplus(t), x, torch_fn=lambda t: torch_functional.softplus(t))


def test_index_select_split_chunk_and_new_tensors_at_their_edges():
    for lib in ENGINES:
        x = lib.arange(5.0)
        with pytest.raises(IndexError, match="index out of range in self"):
            x.index_select(0, lib.tensor([-1]))  # no counting from the end, unlike x[-1]
        with pytest.raises(RuntimeError, match="Expected dtype int32 or int64 for index"):
            x.index_select(0, lib.tensor([1], dtype=lib.uint8))
        assert x.index_select(0, lib.tensor([4, 0], dtype=lib.int32)).tolist() == [4.0, 0.0]
        assert lib.tensor(3.0).index_select(0, lib.tensor([0])).shape == ()
        assert [t.shape[0] for t in lib.zeros(0).split(3)] == [0], names(lib)
        assert [t.shape[0] for t in lib.zeros(0).chunk(3)] == [0, 0, 0]
        with pytest.raises(RuntimeError, match="split expects at least a 1-dimensional tensor"):
            lib.tensor(1.0).split(1)
        assert lib.tensor([-2**63, 5, 0, -1]).sort(descending=True).values.tolist() == [5, 0, -1, -2**63]
        made = [x.new_zeros(2, dtype=lib.int64), x.new_ones((1, 2)), x.new_full((2,), 3, requires_grad=True),
                x.new_tensor([1, 2])]
        assert [(str(t.dtype).removeprefix("torch."), tuple(t.shape), t.requires_grad) for t in made] == \
            [("int64", (2,), False), ("float32", (1, 2), False), ("float32", (2,), True), ("float32", (2,), False)]


def test_a_loop_that_grows_a_tensor_from_an_empty_one_and_gradients_in_their_tensors_dtype():
    for lib in ENGINES:
        grown = lib.tensor([])
        for i in range(2):
            grown = lib.cat([grown, lib.ones(1, 2, dtype=lib.int64) * i])  # (the empty 1-d one is left out)
        assert grown.tolist() == [[0.0, 0.0], [1.0, 1.0]] and str(grown.dtype).endswith("float32"), names(lib)
        x, target = lib.ones(3, requires_grad=True), lib.zeros(3, dtype=lib.float64)
        for loss in (lib.nn.functional.l1_loss, lib.nn.functional.mse_loss, lib.nn.functional.smooth_l1_loss):
            g, = lib.autograd.grad(loss(x * 0.5, target), x, create_graph=loss is not lib.nn.functional.l1_loss)
            assert str(g.dtype).endswith("float32"), (names(lib), loss)
        g, = lib.autograd.grad(lib.nn.functional.mse_loss(x * 0.5, target), x, create_graph=True)
        second, = lib.autograd.grad(g.sum(), x)
        assert second.tolist() == pytest.approx([1 / 6] * 3)
        with pytest.raises(RuntimeError, match="must match the size of tensor b"):
            lib.nn.functional.binary_cross_entropy_with_logits(lib.zeros(2, 3), lib.zeros(2, 3), weight=lib.ones(4))
    check(lambda t: minigrad.autograd.grad((t ** 0.0).sum() + (t ** 2.0).sum(), t, create_graph=True)[0] * t,
          np.array([0.0, 2.0]), torch_fn=lambda t: torch.autograd.grad((t ** 0.0).sum() + (t ** 2.0).sum(), t,
                                                                       create_graph=True)[0] * t)


def test_reading_the_gradient_of_a_non_leaf_warns_as_pytorch_does():
    for lib in ENGINES:
        x = lib.ones(2, requires_grad=True)
        y, z = x * 2, x * 3
        y.retain_grad()
        (y * z).sum().backward()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert x.grad.tolist() == [12.0, 12.0] and y.grad.tolist() == [3.0, 3.0], names(lib)
        with pytest.warns(UserWarning, match="The .grad attribute of a Tensor that is not a leaf Tensor is being "
                                             "accessed"):
            assert z.grad is None


def test_registered_names_follow_pytorchs_rules():
    """A buffer named like a parameter would shadow it in state_dict: refused, as the other names."""
    for lib in ENGINES:
        layer = lib.nn.Linear(2, 2)
        for register, error in ((lambda: layer.register_buffer("a.b", lib.ones(1)), KeyError),
                                (lambda: layer.register_buffer("weight", lib.ones(1)), KeyError),
                                (lambda: layer.register_buffer("", lib.ones(1)), KeyError),
                                (lambda: layer.register_buffer("count", 3), TypeError),
                                (lambda: layer.register_parameter("a.b", None), KeyError),
                                (lambda: layer.register_parameter("scale", lib.ones(1)), TypeError),
                                (lambda: layer.add_module("a.b", lib.nn.ReLU()), KeyError),
                                (lambda: layer.add_module("act", 3), TypeError)):
            with pytest.raises(error):
                register()
        layer.register_buffer("steps", lib.zeros(1))
        layer.register_buffer("steps", lib.ones(1))  # the same kind again: replaced
        assert list(layer.state_dict()) == ["weight", "bias", "steps"], names(lib)
