"""Pictures of the computation graph: what ``backward()`` will walk.

    import minigrad
    x = minigrad.tensor(3.5, requires_grad=True)
    y = (x - 1) * (x - 2) * (x - 3)
    y.backward()
    minigrad.viz.draw(y, "graph.svg", values=True, params={"x": x, "y": y})

:func:`graph` collects the graph behind a tensor as plain data.  Its nodes are the
operations (drawn as boxes, named like PyTorch's ``grad_fn``: ``MulBackward``) and the
tensors that feed them (ellipses): parameters and other leaves with their names, inputs
that need no gradient (data, targets), Python numbers, and intermediate results that were
given a name.  Its edges point the way values flow, input → operation → output;
``backward()`` walks them the other way.

:func:`draw` renders the graph with Graphviz's ``dot`` program when it is installed and
with matplotlib otherwise, so it works on a bare ``pip install``; :func:`to_dot` gives the
Graphviz text.  Pass the trace of a backward pass (``with minigrad.trace() as t``) and each
edge is labelled with the gradient that flowed back along it.
"""
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import backend
from .tensor import Tensor

# how each kind of node looks: (Graphviz shape, fill colour); torchviz's colours where it has them
STYLES = {
    "op": ("box", "lightgrey"),
    "parameter": ("ellipse", "lightblue"),
    "leaf": ("ellipse", "lightblue"),
    "input": ("ellipse", "white"),
    "constant": ("ellipse", "white"),
    "tensor": ("ellipse", "lightyellow"),
    "output": ("ellipse", "darkolivegreen1"),
}


@dataclass
class Node:
    """One node: an operation (``kind='op'``) or a tensor.

    Tensor kinds: ``parameter`` (an ``nn.Parameter``), ``leaf`` (another tensor that
    requires grad), ``input`` (a tensor that needs no gradient: data, targets),
    ``constant`` (a Python number), ``tensor`` (a named intermediate result) and
    ``output`` (the tensor the graph was drawn from).  ``shape`` is the tensor's shape or
    the op's output shape; ``value`` and ``grad`` are NumPy copies, kept with ``values=True``.
    """
    id: str
    kind: str
    name: str
    shape: tuple = ()
    value: np.ndarray = field(default=None, repr=False)
    grad: np.ndarray = field(default=None, repr=False)
    depth: int = 0  # edges on the longest path from here to the output

    @property
    def is_op(self):
        return self.kind == "op"

    def label(self):
        """The text drawn inside the node."""
        if self.is_op:
            return self.name
        if self.kind == "constant" and not self.shape:
            return self.name
        lines = [self.name] if self.name else []
        if self.shape or not self.name:  # a named scalar needs no "()"
            lines.append(_shape_text(self.shape))
        if self.value is not None:
            lines.append(_numbers("", self.value))
        if self.grad is not None:
            lines.append(_numbers("grad ", self.grad))
        return "\n".join(lines)


@dataclass
class Edge:
    """A value flowing from ``source`` into input number ``slot`` of ``target``.

    ``grad`` is the gradient that went back along the edge (from a trace), if known.
    """
    source: str
    target: str
    slot: int = 0
    grad: np.ndarray = field(default=None, repr=False)

    def label(self):
        return "" if self.grad is None else _numbers("", self.grad)


class Graph:
    """The nodes and edges behind a tensor; see :func:`graph`."""

    def __init__(self, nodes, edges, root):
        self.nodes = nodes  # id -> Node, in the order they were found (from the output back)
        self.edges = edges
        self.root = root    # id of the output node

    def __len__(self):
        return len(self.nodes)

    def __iter__(self):
        return iter(self.nodes.values())

    def __getitem__(self, node_id):
        return self.nodes[node_id]

    @property
    def ops(self):
        return [n for n in self if n.is_op]

    @property
    def tensors(self):
        return [n for n in self if not n.is_op]

    def find(self, name):
        """The node called ``name`` (a tensor's name or an op's name, first found)."""
        for n in self:
            if n.name == name:
                return n
        raise KeyError(f"no node named {name!r} in the graph")

    def inputs(self, node):
        """Nodes whose values flow into ``node`` (one entry per edge, in input order)."""
        node_id = getattr(node, "id", node)
        return [self.nodes[e.source] for e in sorted(self.edges, key=lambda e: e.slot) if e.target == node_id]

    def consumers(self, node):
        """Nodes that ``node``'s value flows into (the way gradients come back from)."""
        node_id = getattr(node, "id", node)
        return [self.nodes[e.target] for e in self.edges if e.source == node_id]

    def backward_edges(self):
        """The edges as ``(from, to)`` pairs in the direction gradients flow."""
        return [(e.target, e.source) for e in self.edges]

    def to_dot(self):
        return to_dot(self)

    def _repr_svg_(self):
        """Jupyter shows a graph left at the end of a cell as its picture."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "graph.svg"
            draw(self, path)
            return path.read_text()

    def __repr__(self):
        return f"<Graph: {len(self.ops)} ops, {len(self.tensors)} tensors, {len(self.edges)} edges>"


def graph(tensor, params=None, values=False, constants=True, trace=None):
    """The computation graph that produced ``tensor``, as a :class:`Graph`.

    ``params`` names tensors: a module (its ``named_parameters()`` and buffers, so
    ``model.0.weight``) or a dict ``{name: tensor}`` like torchviz's.  Named intermediate
    results get a node of their own; unnamed ones are only an edge from op to op.
    ``values=True`` keeps each tensor's values and ``.grad`` (shown as the numbers when
    there are at most four, else as a norm).  ``constants=False`` leaves out inputs that
    need no gradient.  ``trace`` (from ``minigrad.trace()``) labels edges with gradients.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph() expects a minigrad Tensor, got {type(tensor).__name__}")
    names = _names(params)
    nodes, edges, made = {}, [], {}

    def tensor_node(t, kind, name=None):
        key = ("tensor", id(t))
        if key not in made:
            node = Node(f"t{len(made)}", kind, name if name is not None else names.get(id(t), ""),
                        tuple(t.shape))
            if values:
                node.value = _host(t.array)
                node.grad = None if t._grad is None else _host(t._grad.array)  # (no non-leaf warning)
            made[key] = node
            nodes[node.id] = node
        return made[key]

    def op_node(fn, output):
        key = ("op", id(fn))
        if key not in made:
            node = Node(f"op{len(made)}", "op", fn.name(), tuple(output.shape))
            made[key] = node
            nodes[node.id] = node
        return made[key]

    root_name = names.get(id(tensor), "")
    root = tensor_node(tensor, "output", root_name)
    if tensor.grad_fn is not None:
        edges.append(Edge(op_node(tensor.grad_fn, tensor).id, root.id))

    # walk from the output back to the leaves; each op is expanded once
    stack, expanded = [tensor.grad_fn] if tensor.grad_fn is not None else [], set()
    while stack:
        fn = stack.pop()
        if id(fn) in expanded:
            continue
        expanded.add(id(fn))
        target = made[("op", id(fn))]
        # optional inputs left out (None: a layer without bias) are not drawn; slots count the
        # others, as the trace lists them
        for slot, (t, needed) in enumerate((t, n) for t, n in zip(fn.inputs, fn.needs_grad) if t is not None):
            producer_fn = fn.edge(t)[0] if needed else None
            if not isinstance(t, Tensor):
                if constants:
                    node = Node(f"c{len(made)}", "constant", _constant_text(t))
                    made[("constant", len(made))] = node
                    nodes[node.id] = node
                    edges.append(Edge(node.id, target.id, slot))
                continue
            if producer_fn is None:
                if not t.requires_grad and not constants:
                    continue
                kind = "input" if not t.requires_grad else "parameter" if _is_parameter(t) else "leaf"
                edges.append(Edge(tensor_node(t, kind).id, target.id, slot))
                continue
            producer = op_node(producer_fn, t)
            if id(t) in names and t is not tensor:  # a named intermediate: op -> tensor -> op
                first_time = ("tensor", id(t)) not in made
                middle = tensor_node(t, "tensor")
                if first_time:
                    edges.append(Edge(producer.id, middle.id))
                edges.append(Edge(middle.id, target.id, slot))
            else:
                edges.append(Edge(producer.id, target.id, slot))
            stack.append(producer_fn)

    result = Graph(nodes, edges, root.id)
    _set_depths(result)
    if trace is not None:
        _label_gradients(result, made, trace)
    return result


def to_dot(g, rankdir="TB"):
    """Graphviz DOT text for a :class:`Graph` (or a tensor, whose graph is taken first)."""
    if isinstance(g, Tensor):
        g = graph(g)
    lines = ["digraph {", f"  graph [rankdir={rankdir}]",
             '  node [fontname="Helvetica" fontsize=10 style=filled]', '  edge [fontname="Helvetica" fontsize=9]']
    for n in g:
        shape, colour = STYLES[n.kind]
        lines.append(f'  {n.id} [label="{_dot_escape(n.label())}" shape={shape} fillcolor={colour}]')
    for e in g.edges:
        label = e.label()
        lines.append(f'  {e.source} -> {e.target}' + (f' [label="{_dot_escape(label)}"]' if label else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(tensor, path, values=False, params=None, constants=True, trace=None, renderer=None):
    """Draw the graph behind ``tensor`` (or a :class:`Graph`) into ``path``; returns the Graph.

    The file type comes from the extension: ``.svg``, ``.png``, ``.pdf``, or ``.dot`` for
    the Graphviz text.  ``renderer`` is ``'graphviz'`` (needs the ``dot`` program),
    ``'matplotlib'``, or ``None``: Graphviz when ``dot`` is on the PATH, else matplotlib.
    """
    g = tensor if isinstance(tensor, Graph) else graph(tensor, params, values, constants, trace)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = path.suffix.lower().lstrip(".")
    if kind == "dot":
        path.write_text(to_dot(g))
        return g
    if kind not in ("svg", "png", "pdf"):
        raise ValueError(f"draw() writes .svg, .png, .pdf or .dot files, not {path.name!r}")
    if renderer is None:
        renderer = "graphviz" if graphviz_available() else "matplotlib"
    if renderer == "graphviz":
        if not graphviz_available():
            raise RuntimeError("renderer='graphviz' needs Graphviz's dot program on the PATH "
                               "(apt install graphviz, brew install graphviz); renderer=None falls back to matplotlib")
        subprocess.run(["dot", f"-T{kind}", "-o", str(path)], input=to_dot(g).encode(), check=True)
    elif renderer == "matplotlib":
        _draw_with_matplotlib(g, path, kind)
    else:
        raise ValueError(f"unknown renderer {renderer!r}; choose 'graphviz', 'matplotlib' or None")
    return g


def graphviz_available():
    """True when Graphviz's ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


# --- building the graph --------------------------------------------------------------------

def _names(params):
    """``{id(tensor): name}`` from a module, a dict of tensors, or None."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        items = list(params.named_parameters())
        items += list(params.named_buffers()) if hasattr(params, "named_buffers") else []
    else:
        items = list(dict(params).items())
    names = {}
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"params[{name!r}] is a {type(t).__name__}, not a minigrad Tensor")
        names.setdefault(id(t), name)
    return names


def _is_parameter(t):
    from .nn.module import Parameter
    return isinstance(t, Parameter)


def _set_depths(g):
    """Each node's depth: the longest path from it to the output (the output is at 0).

    Longest, not shortest, so that every edge points to a shallower layer and a drawing
    by layers has all arrows going the same way.  Relaxed in topological order.
    """
    incoming = {n: [] for n in g.nodes}
    outgoing_count = {n: 0 for n in g.nodes}
    for e in g.edges:
        incoming[e.target].append(e.source)
        outgoing_count[e.source] += 1
    ready = [n for n, count in outgoing_count.items() if count == 0]  # the output
    while ready:
        node_id = ready.pop()
        for source in incoming[node_id]:
            g.nodes[source].depth = max(g.nodes[source].depth, g.nodes[node_id].depth + 1)
            outgoing_count[source] -= 1
            if outgoing_count[source] == 0:
                ready.append(source)


def _label_gradients(g, made, trace):
    """Put on each edge the gradient that went back along it, as the trace recorded it.

    Into an op: what that op sent back to this input.  Out of an op (into a named tensor
    or the output): what that op received, which is also the tensor's gradient, so a
    named intermediate shows its ``grad`` without ``retain_grad()``.
    """
    steps = {id(step.fn): step for step in trace.steps}
    op_of = {node.id: steps.get(key[1]) for key, node in made.items() if key[0] == "op"}
    for e in g.edges:
        if g.nodes[e.target].is_op:
            step = op_of.get(e.target)
            if step is not None and e.slot < len(step.input_grads) and step.input_grads[e.slot] is not None:
                e.grad = _host(step.input_grads[e.slot])
        elif op_of.get(e.source) is not None:
            e.grad = _host(op_of[e.source].grad)
            tensor = g.nodes[e.target]
            if tensor.value is not None and tensor.grad is None:
                tensor.grad = e.grad


def _host(array):
    return np.array(backend.move(array, "cpu"))


def _constant_text(value):
    if isinstance(value, float):
        return f"{value:g}"
    text = repr(value)
    return text if len(text) <= 12 else text[:11] + "…"


def _shape_text(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _numbers(prefix, array):
    """Up to four numbers as they are, more as their norm (what a learner can take in)."""
    array = np.asarray(array)
    if array.size <= 4:
        flat = [f"{v:.4g}" for v in array.reshape(-1).tolist()]
        return prefix + (flat[0] if array.ndim == 0 else "[" + ", ".join(flat) + "]")
    return f"{prefix}norm {np.linalg.norm(array.astype(np.float64).reshape(-1)):.4g}"


def _dot_escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# --- drawing without Graphviz ------------------------------------------------------------

_MPL_COLOURS = {"lightgrey": "#d3d3d3", "lightblue": "#add8e6", "white": "#ffffff",
                "lightyellow": "#ffffe0", "darkolivegreen1": "#caff70"}


def _layers(g):
    """Nodes by depth, and an x position for each.

    Layer 0 is the output, at the bottom of the picture.  Going up layer by layer, each
    node wants to sit at the mean x of the nodes it feeds (the barycentre heuristic).
    Nodes that want the same place are pushed apart to one unit, ops first, so that a
    chain of ops stays one straight column and its parameters fan out beside it.
    """
    depth = max((n.depth for n in g), default=0)
    layers = [[] for _ in range(depth + 1)]
    for n in g:
        layers[n.depth].append(n.id)
    position = {}
    for layer in layers:
        desired = {}
        for node_id in layer:
            xs = [position[m.id] for m in g.consumers(node_id)]
            desired[node_id] = sum(xs) / len(xs) if xs else 0.0
        layer.sort(key=lambda n: (desired[n], g.nodes[n].kind not in ("op", "tensor")))
        xs = []
        for node_id in layer:
            xs.append(desired[node_id] if not xs else max(desired[node_id], xs[-1] + 1.0))
        # anchor the layer on its ops (or, if it has none, on its middle)
        anchors = [i for i, n in enumerate(layer) if g.nodes[n].kind in ("op", "tensor")] or range(len(layer))
        shift = sum(desired[layer[i]] - xs[i] for i in anchors) / len(anchors)
        for node_id, x in zip(layer, xs):
            position[node_id] = x + shift
    return layers, position


def _draw_with_matplotlib(g, path, kind):
    """Layered drawing: inputs at the top, the output at the bottom, arrows along the flow."""
    # a Figure of its own, not pyplot's: nothing changes in the caller's plotting state
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    layers, position = _layers(g)
    left, right = min(position.values()), max(position.values())
    tallest_label = max((n.label().count("\n") + 1 for n in g), default=1)
    row_height = 0.55 + 0.18 * tallest_label
    width, height = min(max(2.0 * (right - left + 1), 3.0), 40), min(max(row_height * len(layers), 1.5), 60)
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(left - 0.6, right + 0.6)
    ax.set_ylim(-0.6, len(layers) - 0.4)
    inches_per_unit = (width / (right - left + 1.2), height / len(layers))
    ax.axis("off")

    texts = {}
    for n in g:
        shape, colour = STYLES[n.kind]
        box = dict(boxstyle="round,pad=0.4" if n.is_op else "ellipse,pad=0.25", facecolor=_MPL_COLOURS[colour],
                   edgecolor="black", linewidth=0.8)
        texts[n.id] = ax.text(position[n.id], n.depth, n.label(), ha="center", va="center", fontsize=8,
                              bbox=box, zorder=3, family="DejaVu Sans")
    between = {}  # x * x: two arrows join one pair of nodes, so they fan out
    for e in g.edges:
        between[(e.source, e.target)] = between.get((e.source, e.target), 0) + 1
    seen = {}
    for e in g.edges:
        pair = (e.source, e.target)
        seen[pair] = seen.get(pair, 0) + 1
        layers_spanned = g.nodes[e.source].depth - g.nodes[e.target].depth
        bend = 0.3 * (seen[pair] - 1 - (between[pair] - 1) / 2)
        if layers_spanned > 1:  # arrows drop downwards, so a negative arc3 bend bulges to the right
            bend -= 0.3 * _free_side(g, e, layers, position)
        start = (position[e.source], g.nodes[e.source].depth)
        end = (position[e.target], g.nodes[e.target].depth)
        # drawn after the boxes (higher zorder), so the boxes they clip to are laid out
        ax.annotate("", xy=end, xytext=start, zorder=4,
                    arrowprops=dict(arrowstyle="-|>", color="#444444", linewidth=0.8, shrinkA=1, shrinkB=1,
                                    patchA=texts[e.source].get_bbox_patch(), patchB=texts[e.target].get_bbox_patch(),
                                    connectionstyle=f"arc3,rad={bend}"))
        label = e.label()
        if label:
            # half a layer above the target: the free band between two rows of nodes
            where = _point_on_arc(start, end, bend, 1 - 0.5 / max(layers_spanned, 1), inches_per_unit)
            ax.text(*where, label, fontsize=7, color="#b22222", ha="center", va="center", zorder=5,
                    bbox=dict(boxstyle="square,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8))
    fig.savefig(path, format=kind, dpi=90, bbox_inches="tight")


def _free_side(g, e, layers, position):
    """+1 if an edge that crosses layers should bulge to the right to miss their nodes, else -1."""
    source, target = g.nodes[e.source], g.nodes[e.target]
    crowd = 0.0
    for depth in range(target.depth + 1, source.depth):
        along = (source.depth - depth) / (source.depth - target.depth)
        x = position[source.id] + along * (position[target.id] - position[source.id])
        nearest = min(layers[depth], key=lambda n: abs(position[n] - x))
        crowd += position[nearest] - x
    return -1 if crowd > 0 else 1


def _point_on_arc(start, end, bend, t, inches_per_unit):
    """The point at ``t`` along matplotlib's ``arc3`` connection from ``start`` to ``end``.

    arc3 is a quadratic Bézier curve whose control point is the chord's midpoint moved
    by ``bend × (dy, −dx)``, measured on the page (so here in inches, not data units).
    """
    sx, sy = inches_per_unit
    x0, y0, x2, y2 = start[0] * sx, start[1] * sy, end[0] * sx, end[1] * sy
    cx, cy = (x0 + x2) / 2 + bend * (y2 - y0), (y0 + y2) / 2 - bend * (x2 - x0)
    x = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t ** 2 * x2
    y = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t ** 2 * y2
    return x / sx, y / sy
