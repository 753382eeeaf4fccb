"""The graph every model becomes: builders are traced into it, ONNX files are imported into it, the
native format stores it, and the planner (_program.py) fuses and compiles it.

A Graph is a list of Nodes in execution order over Values (tensors identified by index). Shapes are
inferred when a node is added, by the same functions that re-infer them for a new input size, so a
traced or imported graph can be replanned for any input shape its operators accept.

Tensors are float32 and contiguous. A Value's shape is its logical shape: (N, C, H, W) for feature
maps, (N, F) after Flatten/Linear. The executor stores both as NCHW, (N, F) as (N, F, 1, 1), so
Flatten and Reshape between those are free.

Operators (op name: inputs; attrs; params):
    conv:        x [, residual]; spec (13 ints, see _plan.conv_spec), activation; weight, bias, prelu_weight
    deconv:      x; spec (15 ints: conv spec + output_padding h, w); weight, bias
    linear:      x (N, F); -; weight (out, in), bias
    affine:      x; -; scale, shift (per channel: inference BatchNorm)
    unary:       x; kind, alpha, beta; slope (prelu)
    binary:      a, b (NumPy broadcasting); kind, activation
    constant:    -; -; value
    pool:        x; kind, kernel, stride, pads (t, b, l, r), dilation, ceil_mode, count_include_pad
    global_avgpool: x -> (N, C, 1, 1)
    shuffle:     x; groups
    concat:      x0, x1, ...; - (channel axis 1)
    slice_channels: x; start, stop
    reshape:     x; shape (a logical shape with the same element count and memory order)
    softmax:     x; - (over axis 1 of (N, F))
    resize:      x; mode, coord, nearest (names from _ext.RESIZE_MODES, COORD_MODES, NEAREST_MODES),
                 size (out_h, out_w) or scales (sh, sw), onnx (True: ONNX Runtime's output-size rounding)
"""
import numpy as np

from ._ext import BINARY_KINDS, UNARY_KINDS  # noqa: F401  (the C enums' names, in order)
from ._validate import check_alloc, conv_geometry


class GraphError(ValueError):
    """A graph that cannot be built or run as given (shapes, operators, wiring)."""


class Value:
    """A symbolic tensor while tracing: what a layer receives instead of an array."""

    __slots__ = ("graph", "id")

    def __init__(self, graph, vid):
        self.graph, self.id = graph, vid

    @property
    def shape(self):
        return self.graph.shapes[self.id]

    @property
    def ndim(self):
        return len(self.shape)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def _binary(self, other, kind, reverse=False):
        other = self.graph.as_value(other)
        a, b = (other, self) if reverse else (self, other)
        return self.graph.add("binary", [a, b], kind=kind, activation=None)

    def __add__(self, o): return self._binary(o, "add")
    def __radd__(self, o): return self._binary(o, "add", True)
    def __sub__(self, o): return self._binary(o, "sub")
    def __rsub__(self, o): return self._binary(o, "sub", True)
    def __mul__(self, o): return self._binary(o, "mul")
    def __rmul__(self, o): return self._binary(o, "mul", True)
    def __truediv__(self, o): return self._binary(o, "div")
    def __rtruediv__(self, o): return self._binary(o, "div", True)

    def chunk(self, chunks, dim=1):
        from . import functional
        return functional.chunk(self, chunks, dim)

    def flatten(self, start_dim=1):
        from . import functional
        return functional.flatten(self, start_dim)

    def __repr__(self):
        return f"Value(%{self.id}, shape={self.shape})"


class Node:
    __slots__ = ("op", "inputs", "outputs", "attrs", "params", "name")

    def __init__(self, op, inputs, outputs, attrs, params, name):
        self.op, self.inputs, self.outputs, self.attrs, self.params, self.name = op, inputs, outputs, attrs, params, name

    def __repr__(self):
        ins = ", ".join(f"%{i}" for i in self.inputs)
        outs = ", ".join(f"%{o}" for o in self.outputs)
        return f"{outs} = {self.op}({ins}) {self.name}"


class Graph:
    def __init__(self):
        self.nodes = []
        self.shapes = []      # value id -> logical shape
        self.inputs = []      # value ids
        self.input_names = []
        self.outputs = []     # value ids
        self.output_names = []
        self._scope = []

    # ---- building -----------------------------------------------------------------------------------
    def new_value(self, shape):
        self.shapes.append(tuple(int(d) for d in shape))
        return Value(self, len(self.shapes) - 1)

    def input(self, shape, name=None):
        v = self.new_value(shape)
        self.inputs.append(v.id)
        self.input_names.append(name or f"input{len(self.inputs) - 1}")
        return v

    def set_outputs(self, values, names=None):
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        for v in values:
            if not isinstance(v, Value) or v.graph is not self:
                raise GraphError(f"a model output must be a traced tensor, got {type(v).__name__}")
        self.outputs = [v.id for v in values]
        self.output_names = list(names) if names else [f"output{i}" for i in range(len(values))]

    def as_value(self, x):
        if isinstance(x, Value):
            if x.graph is not self:
                raise GraphError("a tensor from another traced graph was used")
            return x
        arr = np.asarray(x, dtype=np.float32)
        return self.add("constant", [], value=np.ascontiguousarray(arr))

    def scope(self, name):
        """Context manager: nodes added inside are named `name` (a module's path in the model)."""
        graph = self

        class _Scope:
            def __enter__(self):
                graph._scope.append(name)

            def __exit__(self, *exc):
                graph._scope.pop()
        return _Scope()

    def add(self, op, inputs, *, n_outputs=1, name=None, **attrs):
        """Appends a node; returns its output Value (or list of them when n_outputs > 1)."""
        if op not in SHAPE_FNS:
            raise GraphError(f"unknown operator {op!r}")
        params = {k: attrs.pop(k) for k in PARAM_NAMES.get(op, ()) if k in attrs}
        node = Node(op, [self.as_value(v).id for v in inputs], [], attrs, params,
                    name if name is not None else (self._scope[-1] if self._scope else ""))
        out_shapes = infer_node(self, node)
        node.outputs = [self.new_value(s).id for s in out_shapes]
        self.nodes.append(node)
        outs = [Value(self, o) for o in node.outputs]
        return outs if n_outputs > 1 or len(outs) != 1 else outs[0]

    # ---- analysis -----------------------------------------------------------------------------------
    def copy(self):
        """A copy of the structure (node lists, attrs and params dicts); parameter arrays are shared."""
        g = Graph()
        g.shapes = list(self.shapes)
        g.inputs, g.input_names = list(self.inputs), list(self.input_names)
        g.outputs, g.output_names = list(self.outputs), list(self.output_names)
        g.nodes = [Node(n.op, list(n.inputs), list(n.outputs), dict(n.attrs), dict(n.params), n.name)
                   for n in self.nodes]
        return g

    def consumers(self):
        """value id -> list of (node index, input position); graph outputs count as a consumer (-1)."""
        users = {}
        for i, node in enumerate(self.nodes):
            for pos, v in enumerate(node.inputs):
                users.setdefault(v, []).append((i, pos))
        for v in self.outputs:
            users.setdefault(v, []).append((-1, 0))
        return users

    def reinfer(self, input_shapes):
        """Recomputes every shape for new input shapes (raises GraphError naming the node if invalid)."""
        if len(input_shapes) != len(self.inputs):
            raise GraphError(f"the graph has {len(self.inputs)} inputs, got {len(input_shapes)} shapes")
        for vid, shape in zip(self.inputs, input_shapes):
            self.shapes[vid] = tuple(int(d) for d in shape)
        for node in self.nodes:
            for vid, shape in zip(node.outputs, infer_node(self, node)):
                self.shapes[vid] = shape

    def validate(self):
        """Wiring checks for graphs that come from files: every input defined before use, no cycles."""
        n_values = len(self.shapes)
        for v in list(self.inputs) + list(self.outputs) + [v for n in self.nodes for v in n.inputs + n.outputs]:
            if not (isinstance(v, int) and 0 <= v < n_values):
                raise GraphError(f"value id {v!r} is out of range (the graph has {n_values} values)")
        defined = set(self.inputs)
        for i, node in enumerate(self.nodes):
            for v in node.inputs:
                if v not in defined:
                    raise GraphError(f"node {i} ({node.op} {node.name!r}) reads value %{v} before it is defined "
                                     "(a dangling input or a cycle)")
            for v in node.outputs:
                if v in defined:
                    raise GraphError(f"node {i} ({node.op} {node.name!r}) redefines value %{v}")
                defined.add(v)
        for v in self.outputs:
            if v not in defined:
                raise GraphError(f"graph output %{v} is never computed")

    def __repr__(self):
        lines = [f"graph({', '.join(f'%{v}: {self.shapes[v]}' for v in self.inputs)}) {{"]
        lines += [f"  {n!r}  -> {[self.shapes[o] for o in n.outputs]}" for n in self.nodes]
        lines.append(f"  return {', '.join(f'%{v}' for v in self.outputs)}\n}}")
        return "\n".join(lines)


# ---- shape inference ------------------------------------------------------------------------------------

PARAM_NAMES = {
    "conv": ("weight", "bias", "prelu_weight"),
    "deconv": ("weight", "bias"),
    "linear": ("weight", "bias"),
    "affine": ("scale", "shift"),
    "unary": ("slope",),
    "constant": ("value",),
}


def _fail(node, msg):
    raise GraphError(f"{node.op} {node.name!r}: {msg}")


def _as4(shape):
    """Logical shape -> the executor's (N, C, H, W)."""
    if len(shape) == 4:
        return tuple(shape)
    if len(shape) == 2:
        return (shape[0], shape[1], 1, 1)
    if len(shape) == 1:
        return (1, shape[0], 1, 1)
    if len(shape) == 0:
        return (1, 1, 1, 1)
    raise GraphError(f"tensors of rank {len(shape)} are not supported (shape {shape})")


def broadcast_shapes(a, b):
    try:
        return tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        raise GraphError(f"shapes {tuple(a)} and {tuple(b)} do not broadcast") from None


def _shape_conv(node, x):
    if len(x) != 4:
        _fail(node, f"expects a 4-D input, got shape {x}")
    try:
        return conv_geometry(x, node.attrs["spec"])
    except ValueError as e:
        _fail(node, str(e))


def _shape_deconv(node, x):
    from ._deconv import deconv_output_shape
    if len(x) != 4:
        _fail(node, f"expects a 4-D input, got shape {x}")
    try:
        return deconv_output_shape(x, node.attrs["spec"])
    except ValueError as e:
        _fail(node, str(e))


def _shape_linear(node, x):
    w = node.params["weight"]
    if len(x) != 2 or x[1] != w.shape[1]:
        _fail(node, f"expects (N, {w.shape[1]}), got {x}")
    return (x[0], w.shape[0])


def _shape_per_channel(node, x):
    c = _as4(x)[1]
    for k in ("scale", "shift", "slope"):
        p = node.params.get(k)
        if p is not None and p.size not in (1, c):
            _fail(node, f"{k} has {p.size} values for {c} channels")
    return x


def _shape_binary(node, a, b):
    out = broadcast_shapes(a, b)
    if len(out) > 4:
        _fail(node, f"rank {len(out)} is not supported")
    return out


def _shape_pool(node, x):
    from ._functional_ops import pool2d_output_shape
    if len(x) != 4:
        _fail(node, f"expects a 4-D input, got shape {x}")
    a = node.attrs
    try:
        return pool2d_output_shape(x, a["kind"], a["kernel"], a["stride"], a["pads"], a["dilation"],
                                   a["ceil_mode"])
    except ValueError as e:
        _fail(node, str(e))


def _shape_global(node, x):
    if len(x) != 4:
        _fail(node, f"expects a 4-D input, got shape {x}")
    if x[2] * x[3] < 1:
        _fail(node, f"empty spatial size {x[2]}x{x[3]}")
    return (x[0], x[1], 1, 1)


def _shape_shuffle(node, x):
    g = node.attrs["groups"]
    if len(x) != 4 or g < 1 or x[1] % g:
        _fail(node, f"groups={g} must divide the channels of a 4-D input, got shape {x}")
    return x


def _shape_concat(node, *xs):
    if not xs:
        _fail(node, "needs at least one input")
    base = xs[0]
    for s in xs[1:]:
        if len(s) != len(base) or s[0] != base[0] or s[2:] != base[2:]:
            _fail(node, f"inputs {xs} differ outside the channel axis")
    return (base[0], sum(s[1] for s in xs)) + tuple(base[2:])


def _shape_slice(node, x):
    start, stop = node.attrs["start"], node.attrs["stop"]
    if len(x) < 2 or not 0 <= start < stop <= x[1]:
        _fail(node, f"channel range [{start}, {stop}) is outside the {x[1] if len(x) > 1 else 0} channels")
    return (x[0], stop - start) + tuple(x[2:])


def _shape_reshape(node, x):
    shape = tuple(node.attrs["shape"])
    if int(np.prod(shape, dtype=object)) != int(np.prod(x, dtype=object)):
        _fail(node, f"cannot reshape {x} to {shape}")
    _as4(shape)
    return shape


def _shape_softmax(node, x):
    if len(x) != 2:
        _fail(node, f"softmax runs over axis 1 of a 2-D tensor, got shape {x}")
    return x


def _shape_resize(node, x):
    from ._functional_ops import resize_output_shape
    if len(x) != 4:
        _fail(node, f"expects a 4-D input, got shape {x}")
    a = node.attrs
    try:
        return resize_output_shape(x, a.get("size"), a.get("scales"), onnx=a.get("onnx", False))
    except ValueError as e:
        _fail(node, str(e))


def _shape_constant(node):
    return node.params["value"].shape


SHAPE_FNS = {
    "conv": _shape_conv, "deconv": _shape_deconv, "linear": _shape_linear, "affine": _shape_per_channel,
    "unary": _shape_per_channel, "binary": _shape_binary, "constant": _shape_constant, "pool": _shape_pool,
    "global_avgpool": _shape_global, "shuffle": _shape_shuffle, "concat": _shape_concat,
    "slice_channels": _shape_slice, "reshape": _shape_reshape, "softmax": _shape_softmax,
    "resize": _shape_resize,
}


def infer_node(graph, node):
    shapes = [graph.shapes[v] for v in node.inputs]
    if node.op == "conv" and len(shapes) == 2:  # a fused residual has the output's shape
        out = _shape_conv(node, shapes[0])
        if tuple(shapes[1]) != tuple(out):
            _fail(node, f"residual shape {shapes[1]} differs from the output {out}")
        outs = [out]
    else:
        out = SHAPE_FNS[node.op](node, *shapes)
        outs = [out]
    for s in outs:
        check_alloc(_as4(s), f"{node.op} {node.name!r} output")
    return outs
