"""Computation-graph pictures: the structure of known expressions, parameter names, both
drawing back ends (Graphviz when installed, matplotlib always), and ``gans graph``."""
from collections import Counter

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
from minigrad import viz


def book_first():
    """Chapter 1: y = (x - 1)(x - 2)(x - 3) at x = 3.5."""
    x = minigrad.tensor(3.5, requires_grad=True)
    y = (x - 1) * (x - 2) * (x - 3)
    return x, y


def book_diamond():
    """Chapter 1: a, b → x, y → z."""
    a = minigrad.tensor(2.0, requires_grad=True)
    b = minigrad.tensor(1.0, requires_grad=True)
    x = 2 * a + 3 * b
    y = 5 * a * a + 3 * b * b * b
    z = 2 * x + 3 * y
    return a, b, x, y, z


def kinds(g):
    return Counter(n.kind for n in g)


def test_first_graph_has_five_ops_three_constants_and_eleven_edges():
    x, y = book_first()
    g = viz.graph(y, params={"x": x})
    assert Counter(n.name for n in g.ops) == {"SubBackward": 3, "MulBackward": 2}
    assert kinds(g) == {"op": 5, "constant": 3, "leaf": 1, "output": 1}
    assert len(g) == 10 and len(g.edges) == 11
    assert g.find("x").kind == "leaf" and g.find("x").shape == ()
    assert sorted(n.name for n in g if n.kind == "constant") == ["1", "2", "3"]
    # x feeds the three subtractions; the output is made by the last multiplication
    assert [n.name for n in g.consumers(g.find("x"))] == ["SubBackward"] * 3
    assert [n.name for n in g.inputs(g.root)] == ["MulBackward"]


def test_constants_can_be_left_out():
    x, y = book_first()
    g = viz.graph(y, constants=False)
    assert kinds(g) == {"op": 5, "leaf": 1, "output": 1} and len(g.edges) == 8


def test_x_times_x_has_two_edges_from_x():
    x = minigrad.tensor(3.5, requires_grad=True)
    y = x * x
    z = 2 * y + 3
    g = viz.graph(z, params={"x": x, "y": y, "z": z})
    mul = g.inputs(g.find("y"))[0]
    assert mul.name == "MulBackward"
    assert [n.name for n in g.inputs(mul)] == ["x", "x"]
    assert sorted(e.slot for e in g.edges if e.target == mul.id) == [0, 1]
    assert g.find("y").kind == "tensor"  # a named intermediate gets its own node
    assert g.root == g.find("z").id and g.find("z").kind == "output"


def test_diamond_graph_counts_and_named_intermediates():
    a, b, x, y, z = book_diamond()
    g = viz.graph(z, params={"a": a, "b": b, "x": x, "y": y, "z": z})
    assert len(g.ops) == 12 and len(g.edges) == 27
    assert kinds(g) == {"op": 12, "leaf": 2, "tensor": 2, "output": 1, "constant": 6}
    assert [n.name for n in g.inputs(g.find("x"))] == ["AddBackward"]
    assert {n.name for n in g.consumers(g.find("a"))} == {"MulBackward"}
    assert len(g.consumers(g.find("a"))) == 3  # 2·a, 5·a, (5a)·a
    assert len(g.consumers(g.find("b"))) == 4  # 3·b, 3b·b, 3b²·b, and 3·b in x


def test_unnamed_intermediates_are_edges_between_ops():
    a, b, x, y, z = book_diamond()
    g = viz.graph(z, params={"a": a, "b": b})
    assert "tensor" not in kinds(g)
    assert len(g.ops) == 12 and len(g.edges) == 25


def test_edges_point_down_the_layers_and_backward_edges_reverse_them():
    a, b, x, y, z = book_diamond()
    g = viz.graph(z)
    assert g[g.root].depth == 0
    for e in g.edges:
        assert g[e.source].depth > g[e.target].depth
    assert g.backward_edges() == [(e.target, e.source) for e in g.edges]


def test_parameter_names_come_from_the_module():
    class Classifier(nn.Module):  # the book keeps its layers in self.model
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2), nn.Sigmoid())
            self.loss_function = nn.MSELoss()

        def forward(self, inputs):
            return self.model(inputs)

    C = Classifier()
    loss = C.loss_function(C.forward(minigrad.rand(4)), minigrad.zeros(2))
    g = viz.graph(loss, params=C)
    params = sorted(n.name for n in g if n.kind == "parameter")
    assert params == ["model.0.bias", "model.0.weight", "model.2.bias", "model.2.weight"]
    assert g.find("model.0.weight").shape == (3, 4)
    assert Counter(n.name for n in g.ops) == {"LinearBackward": 2, "SigmoidBackward": 2, "MSELossBackward": 1}
    assert kinds(g)["input"] == 2  # the image and the target need no gradient
    # the same names as torchviz takes them: a dict
    g2 = viz.graph(loss, params=dict(C.named_parameters()))
    assert sorted(n.name for n in g2 if n.kind == "parameter") == params
    # without names the parameters are still there, unnamed
    assert sum(n.kind == "parameter" and n.name == "" for n in viz.graph(loss)) == 4


def test_values_and_gradients_in_labels():
    x, y = book_first()
    y.backward()
    g = viz.graph(y, params={"x": x, "y": y}, values=True)
    assert g.find("x").label() == "x\n3.5\ngrad 5.75"
    assert float(g.find("y").value) == pytest.approx(1.875)
    w = nn.Parameter(minigrad.ones(10, 10))
    loss = (w * 2).sum()
    loss.backward()
    label = viz.graph(loss, params={"w": w}, values=True).find("w").label()
    assert label == "w\n(10, 10)\nnorm 10\ngrad norm 20"
    assert viz.graph(y, params={"x": x}).find("x").value is None  # values only when asked


def test_a_trace_labels_each_edge_with_its_gradient():
    x, y = book_first()
    with minigrad.trace() as t:
        y.backward()
    g = viz.graph(y, params={"x": x}, trace=t)
    from_x = sorted(float(e.grad) for e in g.edges if e.source == g.find("x").id)
    assert from_x == pytest.approx([0.75, 1.25, 3.75])
    assert sum(from_x) == pytest.approx(x.grad.item())
    into_root = [e for e in g.edges if e.target == g.root]
    assert float(into_root[0].grad) == 1.0
    # a named intermediate gets its gradient from the trace, without retain_grad()
    a, b, xx, yy, z = book_diamond()
    with minigrad.trace() as t:
        z.backward()
    g = viz.graph(z, params={"a": a, "b": b, "x": xx, "y": yy}, values=True, trace=t)
    assert float(g.find("x").grad) == 2.0 and float(g.find("y").grad) == 3.0


def test_graph_of_a_leaf_and_of_a_freed_graph():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    g = viz.graph(x)
    assert len(g) == 1 and g.edges == [] and g[g.root].kind == "output"
    y = (x * x).sum()
    y.backward()  # frees what forward saved, but not the graph's shape
    assert Counter(n.name for n in viz.graph(y).ops) == {"SumBackward": 1, "MulBackward": 1}
    with pytest.raises(TypeError, match="minigrad Tensor"):
        viz.graph(np.ones(3))


def test_to_dot_text():
    x, y = book_first()
    text = viz.to_dot(viz.graph(y, params={"x": x}))
    assert text.startswith("digraph {") and text.rstrip().endswith("}")
    assert text.count(" -> ") == 11
    assert 'label="SubBackward" shape=box' in text and 'label="x" shape=ellipse' in text
    assert viz.to_dot(y).count(" -> ") == 11
    quoted = viz.to_dot(viz.graph(y, params={'say "x"': x}))
    assert 'label="say \\"x\\""' in quoted


@pytest.fixture
def no_graphviz(monkeypatch):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_draw_without_graphviz_uses_matplotlib(no_graphviz, tmp_path, suffix):
    a, b, x, y, z = book_diamond()
    with minigrad.trace() as t:
        z.backward()
    path = tmp_path / f"diamond.{suffix}"
    g = viz.draw(z, path, values=True, params={"a": a, "b": b, "x": x, "y": y, "z": z}, trace=t)
    assert len(g.ops) == 12
    content = path.read_bytes()
    assert content.startswith(b"\x89PNG") if suffix == "png" else \
        content.startswith(b"%PDF") if suffix == "pdf" else b"<svg" in content


def test_draw_graphviz_renderer_needs_dot(no_graphviz, tmp_path):
    x, y = book_first()
    with pytest.raises(RuntimeError, match="Graphviz"):
        viz.draw(y, tmp_path / "g.svg", renderer="graphviz")
    with pytest.raises(ValueError, match="svg"):
        viz.draw(y, tmp_path / "g.jpg")
    viz.draw(y, tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert "<svg" in viz.graph(y)._repr_svg_()  # shown inline in notebooks


@pytest.mark.skipif(not viz.graphviz_available(), reason="Graphviz's dot program is not installed")
def test_draw_with_graphviz(tmp_path):
    x, y = book_first()
    viz.draw(y, tmp_path / "g.svg", renderer="graphviz")
    assert b"<svg" in (tmp_path / "g.svg").read_bytes()


def test_a_big_model_draws(no_graphviz, tmp_path):
    from gans.graph import draw_training_step
    g = draw_training_step("mnist-cgan", tmp_path / "cgan.png")
    assert (tmp_path / "cgan.png").stat().st_size > 10_000
    assert "CatBackward" in {n.name for n in g.ops}


# --- gans graph ------------------------------------------------------------------------------

def test_generator_step_reaches_every_parameter_of_both_networks():
    from gans.graph import training_step
    from gans.training import build
    loss, names = training_step("mnist-gan", "G")
    g = viz.graph(loss, params=names)
    drawn = {n.name for n in g if n.kind == "parameter"}
    _, _, m = build("mnist-gan")
    expected = {f"{part}.{n}" for part, module in m.modules().items() for n, _ in module.named_parameters()}
    assert drawn == expected and len(drawn) == 12
    assert g.find("G(z)").kind == "tensor" and g.find("seed").kind == "input"
    d_loss, d_names = training_step("mnist-gan", "D")
    assert {n.name for n in viz.graph(d_loss, params=d_names) if n.kind == "parameter"} == \
        {e for e in expected if e.startswith("D.")}


@pytest.mark.parametrize("name", ["classifier", "pattern-1010", "mnist-cgan"])
def test_cli_graph(name, tmp_path, capsys, no_graphviz):
    from gans import cli
    out = tmp_path / "graph.svg"
    assert cli.main(["graph", name, "--out", str(out), "--values"]) == 0
    assert b"<svg" in out.read_bytes()
    assert "parameters" in capsys.readouterr().out


def test_cli_graph_of_a_conv_model_names_its_layers(tmp_path, no_graphviz):
    if not hasattr(nn, "Conv2d"):
        pytest.skip("minigrad has no Conv2d yet")
    from gans.graph import training_step
    loss, names = training_step("mnist-cnn")
    g = viz.graph(loss, params=names)
    assert {"classifier.0.weight", "classifier.2.weight", "classifier.7.weight"} <= {n.name for n in g}
    assert {"Conv2dBackward", "LinearBackward", "BCELossBackward"} <= {n.name for n in g.ops}


def test_a_left_out_bias_is_not_drawn_and_gradients_stay_on_their_edges():
    x = minigrad.tensor(np.ones((2, 3)), requires_grad=True)
    bias = minigrad.tensor(np.arange(3.0), requires_grad=True)
    with minigrad.trace() as t:
        y = minigrad.nn.functional.layer_norm(x, (3,), None, bias)  # weight left out
        (y * y).sum().backward()
    g = viz.graph(y, params={"x": x, "bias": bias}, trace=t)
    norm = next(n for n in g.ops if n.name == "LayerNormBackward")
    assert [n.name for n in g.inputs(norm)] == ["x", "bias"]
    edge = next(e for e in g.edges if g.nodes[e.source].name == "bias")
    np.testing.assert_allclose(edge.grad, bias.grad.numpy())
