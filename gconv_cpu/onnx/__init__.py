"""ONNX import (optional extra: pip install gconv_cpu[onnx]).

    model = gconv_cpu.onnx.load("mobilenet_v3.onnx")                      # static input shape
    model = gconv_cpu.onnx.load("det.onnx", input_shape=(1, 3, 640, 640))  # resolve dynamic dims now
    y = model(x)                                                           # a GraphModel

`load(path_or_bytes, input_shape=None)` returns a gconv_cpu.graph_model.GraphModel over the same graph
IR as the builders, so imported networks get the same fusion and planning (Conv, BatchNormalization and
Relu/Clip become one convolution with a fused epilogue). input_shape: one shape for a one-input model,
a list of shapes, or a dict {input name: shape}. When every input dimension is static (in the file or
given), the model is converted at once, so unsupported operators and bad files fail in load(); a model
with dynamic dimensions is converted at its first call for the shapes it gets (and again per new shape).

Refusals: an operator or attribute value gconv_cpu does not run raises UnsupportedOperatorError (op
type and node name in .op_type/.node_name); a malformed or unsafe file raises OnnxModelError. Both are
ValueErrors. Files are treated as untrusted: see _proto.py (external data is refused, every tensor's
byte size is checked against its dims and type before it is converted, wiring and cycles are checked).
"""
import os

from ..graph_model import GraphModel, unique_param_names
from ._errors import OnnxImportError, OnnxModelError, UnsupportedOperatorError

__all__ = ["load", "supported_operators", "OnnxImportError", "OnnxModelError", "UnsupportedOperatorError"]

MIN_OPSET, MAX_OPSET = 1, 23


def supported_operators():
    """ONNX operator types the importer accepts (some only on constants, some with restrictions)."""
    from ._convert import SUPPORTED
    return list(SUPPORTED)


class _ModelInfo:
    """A parsed and checked ONNX model: what every conversion (one per input shape) starts from."""

    def __init__(self, model):
        from ._convert import FOLD, HANDLERS
        from ._proto import MAX_NODES, attributes, node_label, to_array, topological_order, value_info_shape
        g = model.graph
        opsets = {}
        for o in model.opset_import:
            opsets[o.domain or "ai.onnx"] = int(o.version)
        if "ai.onnx" not in opsets:
            raise OnnxModelError("the model declares no opset for the default ONNX domain")
        self.opset = opsets["ai.onnx"]
        if not MIN_OPSET <= self.opset <= MAX_OPSET:
            raise UnsupportedOperatorError("model", g.name or "graph", f"opset {self.opset} is not supported "
                                           f"({MIN_OPSET}..{MAX_OPSET} are)")
        if len(g.node) > MAX_NODES:
            raise OnnxModelError(f"the graph has {len(g.node)} nodes, more than {MAX_NODES}")
        if len(g.sparse_initializer):
            raise UnsupportedOperatorError("model", g.name or "graph", "sparse initializers are not supported")

        # operators first: the most useful error for an unsupported model
        unsupported = []
        for i, node in enumerate(g.node):
            if node.domain not in ("", "ai.onnx"):
                unsupported.append((f"{node.domain}.{node.op_type}", node_label(node, i)))
            elif node.op_type not in HANDLERS and node.op_type not in FOLD:
                unsupported.append((node.op_type, node_label(node, i)))
        if unsupported:
            op, name = unsupported[0]
            others = sorted({o for o, _ in unsupported[1:]} - {op})
            detail = "is not supported" + (f" (nor are: {', '.join(others)})" if others else "")
            raise UnsupportedOperatorError(op, name, detail)

        self.initializers = {}
        for t in g.initializer:
            if not t.name:
                raise OnnxModelError("an initializer has no name")
            if t.name in self.initializers:
                raise OnnxModelError(f"initializer {t.name!r} is defined twice")
            self.initializers[t.name] = to_array(t, "initializer")

        self.inputs = []
        seen = set()
        for vi in g.input:
            if vi.name in self.initializers:
                continue  # IR < 4 lists initializers as inputs too (with a default value): a constant here
            if not vi.name or vi.name in seen:
                raise OnnxModelError(f"graph input {vi.name!r} is unnamed or repeated")
            seen.add(vi.name)
            elem, dims = value_info_shape(vi, "graph input")
            if elem != 1:
                raise UnsupportedOperatorError("input", vi.name, f"element type {elem} is not supported (FLOAT is)")
            self.inputs.append((vi.name, elem, dims))
        if not self.inputs:
            raise UnsupportedOperatorError("model", g.name or "graph", "a model without runtime inputs is not "
                                           "supported")

        available = set(self.initializers) | seen
        order = topological_order(list(g.node), available)
        labels, used = {}, set()
        for i in order:
            node = g.node[i]
            label = node_label(node, i)
            base, k = label, 1
            while label in used:
                label = f"{base}_{k}"
                k += 1
            used.add(label)
            labels[i] = label
        self.nodes = [(g.node[i], labels[i], attributes(g.node[i], f"{g.node[i].op_type} node {labels[i]!r}"))
                      for i in order]
        produced = available | {o for node in g.node for o in node.output if o}
        self.outputs = []
        for vi in g.output:
            if vi.name not in produced:
                raise OnnxModelError(f"graph output {vi.name!r} is not produced by any node, input or initializer")
            if vi.name in self.outputs:
                raise OnnxModelError(f"graph output {vi.name!r} is listed twice")
            self.outputs.append(vi.name)
        if not self.outputs:
            raise OnnxModelError("the graph has no outputs")

    def build(self, input_shapes):
        from ._convert import Converter
        from ._rewrite import optimize
        cx = Converter(self, input_shapes)
        graph = optimize(cx.run())
        graph.fixed_shapes = cx.fixed
        return unique_param_names(graph)


def _read(source):
    import onnx
    from ._proto import MAX_FILE_BYTES, parse_model
    if isinstance(source, onnx.ModelProto):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return parse_model(bytes(source))
    path = os.fspath(source)
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise OnnxModelError(f"{path}: {size} bytes is larger than protobuf's 2 GiB limit")
    with open(path, "rb") as f:
        return parse_model(f.read())


def _input_shapes(info, input_shape):
    names = [name for name, _, _ in info.inputs]
    if input_shape is None:
        dims = [d for _, _, d in info.inputs]
        return [tuple(d) for d in dims] if all(None not in d for d in dims) else None
    if isinstance(input_shape, dict):
        unknown = set(input_shape) - set(names)
        if unknown or set(names) - set(input_shape):
            raise ValueError(f"input_shape: expected shapes for the inputs {names}, got {sorted(input_shape)}")
        shapes = [input_shape[n] for n in names]
    elif len(input_shape) and all(isinstance(d, int) for d in input_shape):
        shapes = [input_shape]
    else:
        shapes = list(input_shape)
    if len(shapes) != len(names):
        raise ValueError(f"input_shape: the model has {len(names)} inputs ({', '.join(names)}), got {len(shapes)} "
                         "shapes")
    out = []
    for name, shape in zip(names, shapes):
        shape = tuple(shape)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape):
            raise ValueError(f"input_shape: input {name!r} needs positive int dimensions, got {shape}")
        out.append(shape)
    return out


def load(source, input_shape=None):
    """Imports an ONNX model (a path, the file's bytes, or an onnx.ModelProto) -> GraphModel."""
    info = _ModelInfo(_read(source))
    shapes = _input_shapes(info, input_shape)
    return GraphModel(info.build, [n for n, _, _ in info.inputs], info.outputs, input_shapes=shapes)
