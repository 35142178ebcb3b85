"""The graph and backward(): the book's chapter 1 examples, accumulation, freeing,
no_grad/detach, deep graphs, introspection and printing."""
import numpy as np
import pytest
import torch

import minigrad
from minigrad.autograd import topological_order


def test_book_chapter1_polynomial():
    x = minigrad.tensor(3.5, requires_grad=True)
    y = (x - 1) * (x - 2) * (x - 3)
    assert y.item() == 1.875
    y.backward()
    assert x.grad.item() == 5.75


def test_book_chapter1_chain():
    x = minigrad.tensor(3.5, requires_grad=True)
    y = x * x
    z = 2 * y + 3
    z.backward()
    assert x.grad.item() == 14.0


def test_book_chapter1_diamond():
    a = minigrad.tensor(2.0, requires_grad=True)
    b = minigrad.tensor(1.0, requires_grad=True)
    x = 2 * a + 3 * b
    y = 5 * a * a + 3 * b * b * b
    z = 2 * x + 3 * y
    z.backward()
    assert (a.grad.item(), b.grad.item()) == (64.0, 33.0)


def test_repr_matches_pytorch_for_the_book():
    x = minigrad.tensor(3.5, requires_grad=True)
    y = (x - 1) * (x - 2) * (x - 3)
    assert repr(y) == "tensor(1.8750, grad_fn=<MulBackward>)"
    assert repr(x) == "tensor(3.5000, requires_grad=True)"
    for values in ([1.0, 2.0], [0.5, -1.25, 3.0], [[1.0, 2.5], [3.0, 4.0]], [1e-6, 1.0], [1, 2, 3], [True, False]):
        assert repr(minigrad.tensor(values)) == repr(torch.tensor(values)), values
    assert repr(minigrad.tensor([1.5], dtype=minigrad.float64)) == "tensor([1.5000], dtype=minigrad.float64)"


def test_gradients_accumulate_until_zeroed():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_shared_subexpression_gets_both_contributions():
    x = minigrad.tensor(2.0, requires_grad=True)
    y = x * x
    z = y * y + y  # dz/dx = (2y + 1)·2x = 36
    z.backward()
    assert x.grad.item() == 36.0


def test_second_backward_through_freed_graph_raises_like_pytorch():
    x = minigrad.tensor(2.0, requires_grad=True)
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = minigrad.tensor(2.0, requires_grad=True)
    y = x * x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 24.0


def test_no_grad_context_and_decorator():
    x = minigrad.tensor(1.0, requires_grad=True)
    with minigrad.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert minigrad.is_grad_enabled()

    @minigrad.no_grad()
    def double(t):
        return t * 2
    assert double(x).grad_fn is None
    assert (x * 2).grad_fn is not None


def test_detach_stops_the_graph():
    x = minigrad.tensor(3.0, requires_grad=True)
    y = x * x.detach()  # only the first factor is differentiated
    y.backward()
    assert x.grad.item() == 3.0


def test_deep_graph_has_no_recursion_limit():
    x = minigrad.tensor(1.0, dtype=minigrad.float64, requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0001
    y.backward()
    assert abs(x.grad.item() - 1.0001 ** 20000) < 1e-9 * 1.0001 ** 20000


def test_topological_order_puts_each_node_before_its_inputs():
    a = minigrad.tensor(1.0, requires_grad=True)
    b = a * 2
    c = b + a
    d = c * b
    order = topological_order(d.grad_fn)
    position = {fn: i for i, fn in enumerate(order)}
    for fn in order:
        for t in fn.inputs:
            if getattr(t, "grad_fn", None) is not None:
                assert position[t.grad_fn] > position[fn]


def test_next_functions_name_the_inputs_like_pytorch():
    x = minigrad.tensor(2.0, requires_grad=True)
    y = (x * 3).exp()
    (mul, _), = y.grad_fn.next_functions
    assert y.grad_fn.name() == "ExpBackward" and mul.name() == "MulBackward"
    leaf, constant = mul.next_functions
    assert leaf[0].name() == "AccumulateGrad" and leaf[0].variable is x
    assert constant == (None, 0)


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = minigrad.tensor(2.0, requires_grad=True)
    y = x * x
    y.retain_grad()
    (y * 3).backward()
    assert y.grad.item() == 3.0 and x.grad.item() == 12.0


def test_backward_with_explicit_gradient():
    x = minigrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(minigrad.tensor([1.0, 0.1, 0.01]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.4, 0.06], rtol=1e-6)


def test_item_assignment_on_targets_like_the_book():
    target = minigrad.zeros((10))
    target[3] = 1.0
    assert target.tolist() == [0, 0, 0, 1.0, 0, 0, 0, 0, 0, 0]


def test_creation_defaults_match_pytorch():
    assert minigrad.tensor([1.0]).dtype == minigrad.float32
    assert minigrad.tensor([1]).dtype == minigrad.int64
    assert minigrad.tensor(np.array([1.0])).dtype == minigrad.float64
    assert minigrad.FloatTensor([1, 2]).dtype == minigrad.float32
    assert minigrad.zeros(2, 3).shape == (2, 3) == minigrad.ones((2, 3)).shape
    assert minigrad.arange(5).dtype == minigrad.int64 and minigrad.arange(0.0, 1.0, 0.5).dtype == minigrad.float32
    assert minigrad.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert minigrad.rand(4, 5).shape == (4, 5) and minigrad.randn((3,)).dtype == minigrad.float32
    r = minigrad.rand(1000).numpy()
    assert r.min() >= 0 and r.max() < 1


def test_manual_seed_repeats_random_numbers():
    minigrad.manual_seed(7)
    a = minigrad.randn(5).tolist()
    minigrad.manual_seed(7)
    assert minigrad.randn(5).tolist() == a


def test_tensor_conversions():
    t = minigrad.tensor([[1.0, 2.0]], requires_grad=True)
    assert t.detach().numpy().tolist() == [[1.0, 2.0]]
    assert t.detach().cpu().numpy().dtype == np.float32
    assert t.double().dtype == minigrad.float64 and t.double().float().dtype == minigrad.float32
    assert t.size() == (1, 2) and t.size(1) == 2 and t.dim() == 2 and t.T.shape == (2, 1)
    assert t.device == minigrad.device("cpu") and str(t.device) == "cpu"
    assert t.to("cpu") is t
    assert minigrad.tensor(2.5).item() == 2.5


def test_leaf_gradients_never_share_memory():
    """x + y hands one gradient array to both inputs, and sum() hands out a read-only broadcast:
    each .grad must still be its own writable array (zero_grad(set_to_none=False) writes to it)."""
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = minigrad.tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()
    x.grad.zero_()
    assert y.grad.tolist() == [1.0, 1.0] and x.grad.tolist() == [0.0, 0.0]
    upstream = minigrad.tensor([5.0, 6.0])
    z = minigrad.tensor([0.0, 0.0], requires_grad=True)
    (z + 0).backward(upstream)
    z.grad.zero_()
    assert upstream.tolist() == [5.0, 6.0]  # the caller's gradient is untouched


def test_grad_modes_change_nothing_until_used():
    assert minigrad.is_grad_enabled()
    minigrad.no_grad()  # made but never entered: like PyTorch, no effect
    assert minigrad.is_grad_enabled()
    with minigrad.set_grad_enabled(False):
        assert not minigrad.is_grad_enabled()
        with minigrad.enable_grad():
            assert minigrad.is_grad_enabled()
    assert minigrad.is_grad_enabled()


def test_grad_modes_as_pytorch_decorates_and_nests_them():
    import torch
    for lib in (minigrad, torch):
        x = lib.ones(2, requires_grad=True)

        @lib.no_grad  # without parentheses
        def doubled(t):
            return t * 2

        @lib.no_grad()
        def steps(t):  # a generator: every resumption runs without a graph
            for _ in range(2):
                yield t * 3

        assert not doubled(x).requires_grad
        assert [y.requires_grad for y in steps(x)] == [False, False]
        assert (x * 2).requires_grad  # switched back after each call
        assert not isinstance(lib.enable_grad(), lib.no_grad)
        with lib.no_grad():
            with lib.enable_grad():
                assert (x * 2).requires_grad
