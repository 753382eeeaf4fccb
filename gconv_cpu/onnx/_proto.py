"""Reading an untrusted ONNX file: parse, check every tensor's declared size against its bytes before
converting it, refuse external data, check the wiring and order the nodes (Kahn's algorithm).

Nothing here touches the file system beyond reading the one file the caller names: tensors stored as
external data are refused, because resolving their locations would let a model file make the loader read
other files (a path-traversal and resource hazard) and because a single self-contained file is the
format this importer supports. onnx.checker and onnx.shape_inference are not used: shapes are inferred
by gconv_cpu's own graph for the input shape the caller gives.
"""
import heapq

import numpy as np

from .._validate import check_alloc
from ._errors import OnnxModelError, UnsupportedOperatorError

MAX_FILE_BYTES = 2**31 - 1          # protobuf's own message limit
MAX_DIMS = 8
MAX_NODES = 1_000_000
MAX_ELEMENTS = 1 << 34

# TensorProto.DataType -> (numpy dtype, the typed field that may hold the values)
TENSOR_TYPES = {
    1: (np.float32, "float_data"),
    2: (np.uint8, "int32_data"),
    3: (np.int8, "int32_data"),
    4: (np.uint16, "int32_data"),
    5: (np.int16, "int32_data"),
    6: (np.int32, "int32_data"),
    7: (np.int64, "int64_data"),
    9: (np.bool_, "int32_data"),
    10: (np.float16, "int32_data"),
    11: (np.float64, "double_data"),
    12: (np.uint32, "uint64_data"),
    13: (np.uint64, "uint64_data"),
}
TYPE_NAMES = {0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
              8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
              15: "COMPLEX128", 16: "BFLOAT16"}


def parse_model(data):
    """bytes -> onnx.ModelProto; any decoding failure is an OnnxModelError."""
    try:
        import onnx
    except ImportError:  # pragma: no cover
        raise ImportError("gconv_cpu.onnx needs the onnx package: pip install gconv_cpu[onnx]") from None
    from google.protobuf.message import DecodeError
    if len(data) > MAX_FILE_BYTES:
        raise OnnxModelError(f"the model is {len(data)} bytes, larger than protobuf's 2 GiB limit")
    try:
        model = onnx.load_model_from_string(bytes(data))
    except (DecodeError, ValueError, TypeError, RuntimeError, RecursionError, UnicodeDecodeError,
            OverflowError) as e:
        raise OnnxModelError(f"not a valid ONNX model (protobuf decoding failed: {str(e)[:200]})") from None
    if not model.HasField("graph"):
        raise OnnxModelError("not a valid ONNX model: it has no graph")
    return model


def tensor_name(t):
    return t.name or "<unnamed tensor>"


def to_array(t, where):
    """TensorProto -> numpy array, after checking dims, type, location and the data's byte size."""
    name = f"{where} {tensor_name(t)!r}"
    if t.data_location == 1 or len(t.external_data):
        raise OnnxModelError(f"{name}: tensors stored as external data are refused (they would make the loader "
                             "read other files); save the model with all tensors inside the .onnx file")
    if t.HasField("segment"):
        raise OnnxModelError(f"{name}: segmented tensors are not supported")
    if len(t.dims) > MAX_DIMS:
        raise OnnxModelError(f"{name}: {len(t.dims)} dimensions is too many")
    dims = tuple(int(d) for d in t.dims)
    if any(d < 0 for d in dims):
        raise OnnxModelError(f"{name}: negative dimension in {dims}")
    n = 1
    for d in dims:
        n *= d
    if n > MAX_ELEMENTS:
        raise OnnxModelError(f"{name}: {dims} declares {n} elements")
    if t.data_type not in TENSOR_TYPES:
        raise UnsupportedOperatorError("tensor", tensor_name(t),
                                       f"data type {TYPE_NAMES.get(t.data_type, t.data_type)} is not supported")
    dtype, field = TENSOR_TYPES[t.data_type]
    dtype = np.dtype(dtype).newbyteorder("<")
    raw = t.raw_data
    typed = getattr(t, field)
    if t.HasField("raw_data"):  # present (even empty): it is the data, as ONNX Runtime reads it
        if len(typed):
            raise OnnxModelError(f"{name}: has both raw_data and {field}")
        if len(raw) != n * dtype.itemsize:
            raise OnnxModelError(f"{name}: raw_data holds {len(raw)} bytes, dims {dims} of "
                                 f"{TYPE_NAMES[t.data_type]} need {n * dtype.itemsize}")
        check_alloc((n,), name, dtype.itemsize)
        return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="), copy=True).reshape(dims)
    if len(typed) != n:
        raise OnnxModelError(f"{name}: {field} holds {len(typed)} values, dims {dims} need {n}")
    if n == 0:
        return np.zeros(dims, dtype.newbyteorder("="))
    if t.data_type == 10:  # float16 values are stored as their bit patterns in int32_data
        bits = np.array(typed, np.int64)
        if bits.min() < 0 or bits.max() > 0xFFFF:
            raise OnnxModelError(f"{name}: float16 bit pattern out of range")
        return bits.astype(np.uint16).view(np.float16).reshape(dims)
    values = np.array(typed)
    if dtype.kind in "iub":
        if values.dtype.kind == "f":
            raise OnnxModelError(f"{name}: integer tensor with non-integer data")
        if dtype.kind != "b":
            info = np.iinfo(dtype)
            if values.size and (values.min() < info.min or values.max() > info.max):
                raise OnnxModelError(f"{name}: values out of range for {TYPE_NAMES[t.data_type]}")
    return values.astype(dtype.newbyteorder("=")).reshape(dims)


def attributes(node, where):
    """AttributeProtos -> {name: python value}; tensors stay TensorProto (converted where used),
    graphs are kept as a marker (the operators that take them are not supported)."""
    out = {}
    for a in node.attribute:
        if a.name in out:
            raise OnnxModelError(f"{where}: attribute {a.name!r} given twice")
        if a.ref_attr_name:
            raise UnsupportedOperatorError(node.op_type, node.name, "attribute references (functions) are not supported")
        t = a.type
        if t == 0:  # UNDEFINED in old files: infer from the field present
            t = next((code for code, f in ((1, "f"), (2, "i"), (3, "s"), (4, "t")) if a.HasField(f)), 0)
            if not t:
                t = 7 if len(a.ints) else 6 if len(a.floats) else 8 if len(a.strings) else 0
        if t == 1:
            out[a.name] = float(a.f)
        elif t == 2:
            out[a.name] = int(a.i)
        elif t == 3:
            out[a.name] = a.s.decode("utf-8", errors="replace")
        elif t == 4:
            out[a.name] = a.t
        elif t == 6:
            out[a.name] = [float(v) for v in a.floats]
        elif t == 7:
            out[a.name] = [int(v) for v in a.ints]
        elif t == 8:
            out[a.name] = [s.decode("utf-8", errors="replace") for s in a.strings]
        else:
            out[a.name] = _Opaque(t)
    return out


class _Opaque:
    """An attribute of a kind the importer never reads (graphs, sparse tensors, type protos)."""

    def __init__(self, code):
        self.code = code

    def __repr__(self):
        return f"<attribute type {self.code}>"


def node_label(node, index):
    return node.name or f"{node.op_type}_{index}"


def value_info_shape(vi, where):
    """(elem_type, [dim or None]) of a graph input."""
    if not vi.type.HasField("tensor_type"):
        raise UnsupportedOperatorError("input", vi.name, "only tensor inputs are supported")
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        raise OnnxModelError(f"{where} {vi.name!r}: has no shape (its rank must be known)")
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(int(d.dim_value))
        else:  # a symbolic dimension; exporters also write -1 (PaddlePaddle) or 0 for "dynamic"
            dims.append(None)
    if len(dims) > MAX_DIMS:
        raise OnnxModelError(f"{where} {vi.name!r}: rank {len(dims)} is too large")
    return tt.elem_type, dims


def topological_order(nodes, available, where="graph"):
    """Indices of nodes in an order where every input is produced first. available: names defined
    before any node (inputs, initializers). Raises OnnxModelError for dangling inputs, values produced
    twice, and cycles."""
    producer = {}
    for i, node in enumerate(nodes):
        for o in node.output:
            if not o:
                continue
            if o in producer or o in available:
                raise OnnxModelError(f"{where}: tensor {o!r} is produced twice (by node "
                                     f"{node_label(node, i)!r} and by another node or an input/initializer)")
            producer[o] = i
    pending = []
    users = {}
    for i, node in enumerate(nodes):
        deps = set()
        for name in node.input:
            if not name or name in available:
                continue
            if name not in producer:
                raise OnnxModelError(f"node {node_label(node, i)!r} ({node.op_type}): input {name!r} is not produced by "
                                     "any node, input or initializer (a dangling input)")
            deps.add(producer[name])
        pending.append(len(deps))
        for d in deps:
            users.setdefault(d, []).append(i)
    ready = [i for i, c in enumerate(pending) if c == 0]
    heapq.heapify(ready)  # smallest index first: a sorted graph keeps its order
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users.get(i, ()):
            pending[u] -= 1
            if pending[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = [node_label(nodes[i], i) for i, c in enumerate(pending) if c > 0][:5]
        raise OnnxModelError(f"{where}: the nodes form a cycle (e.g. {', '.join(repr(s) for s in stuck)})")
    return order
