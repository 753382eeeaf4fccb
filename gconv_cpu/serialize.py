"""gconv_cpu's native model format: one file, a NumPy .npz (an uncompressed zip of .npy arrays).

    model.save("net.gcv")                 # any gconv_cpu model (traced at its input_shape) or GraphModel
    model = gconv_cpu.load("net.gcv")     # -> GraphModel, bit-identical outputs

Members:
    graph.npy    uint8: a UTF-8 JSON document (below)
    param_<i>.npy  float32, little-endian, C order: parameter i

The JSON document:
    {"format": "gconv_cpu.model", "version": 1,
     "num_values": V,                             # tensors are numbered 0 .. V-1
     "inputs":  [{"name": str, "value": int, "shape": [int, ...]}, ...],
     "outputs": [{"name": str, "value": int}, ...],
     "fixed_shapes": bool,                        # true: valid only for the stored input shapes
     "params":  [{"shape": [int, ...], "dtype": "float32"}, ...],   # param_<i>.npy holds params[i]
     "nodes":   [{"op": str, "name": str, "inputs": [int], "outputs": [int],
                  "attrs": {...}, "params": {"weight": i, ...}}, ...]}   # in execution order

A graph is stored before fusion (as traced or imported), so a loaded model is planned exactly as the
original and gives bit-identical outputs. Intermediate shapes are not stored: they are re-inferred from
the input shapes, which also checks every node against its inputs.

Files are untrusted. Loading checks, in order and before any allocation derived from a declared size:
the zip structure and member sizes, the JSON's size, syntax, version and the type and range of every
field (known operators only, attrs of the right types, tuple lengths and ranges, no negative sizes),
each parameter's declared shape against what its operator needs (a conv weight is (C_out, C_in/groups,
kH, kW) from its spec) and against the .npy header in the file (float32, C order, that shape, that many
bytes), the wiring (graph.validate(): no dangling input, no cycle, no value defined twice), and then
shape inference for the stored input shapes. Any failure raises ModelFormatError (a ValueError) naming
the field. The reader does not use np.load: it parses each .npy header itself and reads at most the
declared number of bytes, so neither a zip bomb nor a lying header can make it allocate more than the
JSON declares (which is bounded by this machine's memory).
"""
import io
import json
import lzma
import math
import os
import struct
import zipfile
import zlib

import numpy as np

from ._validate import check_alloc
from .graph import BINARY_KINDS, UNARY_KINDS, Graph, GraphError, Node

FORMAT = "gconv_cpu.model"
VERSION = 1
MAX_JSON_BYTES = 256 << 20
MAX_DIM = 2**31 - 1
MAX_VALUES = 10_000_000
MAX_NAME = 4096


class ModelFormatError(ValueError):
    """A native model file that is malformed, inconsistent or unsupported (names what is wrong)."""


# ---- writing -----------------------------------------------------------------------------------------------

def _json_attr(value, where):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        return [_json_attr(v, where) for v in value]
    raise TypeError(f"{where}: attribute of type {type(value).__name__} cannot be stored")


def graph_document(graph, fixed_shapes=False):
    """(JSON-able dict, list of parameter arrays) for a graph."""
    graph.validate()
    params, nodes = [], []
    for i, node in enumerate(graph.nodes):
        where = f"node {i} ({node.op} {node.name!r})"
        refs = {}
        for pname, value in node.params.items():
            if value is None:
                continue
            arr = np.asarray(value)
            if arr.dtype != np.float32:
                raise TypeError(f"{where}: parameter {pname} has dtype {arr.dtype}, expected float32")
            refs[pname] = len(params)
            params.append(np.ascontiguousarray(arr))
        nodes.append({"op": node.op, "name": str(node.name), "inputs": [int(v) for v in node.inputs],
                      "outputs": [int(v) for v in node.outputs],
                      "attrs": {str(k): _json_attr(v, f"{where} attr {k}") for k, v in node.attrs.items()},
                      "params": refs})
    doc = {"format": FORMAT, "version": VERSION, "num_values": len(graph.shapes),
           "inputs": [{"name": n, "value": int(v), "shape": [int(d) for d in graph.shapes[v]]}
                      for n, v in zip(graph.input_names, graph.inputs)],
           "outputs": [{"name": n, "value": int(v)} for n, v in zip(graph.output_names, graph.outputs)],
           "fixed_shapes": bool(fixed_shapes),
           "params": [{"shape": list(p.shape), "dtype": "float32"} for p in params],
           "nodes": nodes}
    return doc, params


def save_graph(graph, path, fixed_shapes=False):
    """Writes graph (unfused, with its parameters) to path (a file name or a writable binary file)."""
    from .graph_model import unique_param_names
    graph = unique_param_names(graph.copy())
    doc, params = graph_document(graph, fixed_shapes)
    text = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    members = {"graph": np.frombuffer(text, np.uint8)}
    members.update({f"param_{i}": p for i, p in enumerate(params)})
    if hasattr(path, "write"):
        np.savez(path, **members)
        return
    with open(os.fspath(path), "wb") as f:  # a file object: np.savez would append .npz to a name
        np.savez(f, **members)


def save_module(module, path, input_shape=None):
    """Module.save: traces module at input_shape (or module.input_shape) and writes it."""
    from .graph_model import GraphModel
    if isinstance(module, GraphModel):
        return module.save(path, input_shape)
    graph = module.trace(*module._default_input_shapes(input_shape, "save(path, input_shape=(1, 3, 224, 224))"))
    save_graph(graph, path)


# ---- reading: schema ---------------------------------------------------------------------------------------

def _fail(where, msg):
    raise ModelFormatError(f"{where}: {msg}")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _int(v, where, lo=0, hi=MAX_DIM):
    if not _is_int(v):
        _fail(where, f"expected an int, got {type(v).__name__}")
    if not lo <= v <= hi:
        _fail(where, f"{v} is outside [{lo}, {hi}]")
    return v


def _float(v, where, allow_inf=False):
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        _fail(where, f"expected a number, got {type(v).__name__}")
    v = float(v)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        _fail(where, f"{v} is not a finite number")
    return v


def _ints(v, where, n, lo=0, hi=MAX_DIM):
    if not isinstance(v, list):
        _fail(where, f"expected a list of {n} ints, got {type(v).__name__}")
    if len(v) != n:
        _fail(where, f"expected {n} values, got {len(v)}")
    return tuple(_int(e, f"{where}[{i}]", lo, hi) for i, e in enumerate(v))


def _str(v, where, choices=None, max_len=MAX_NAME):
    if not isinstance(v, str):
        _fail(where, f"expected a string, got {type(v).__name__}")
    if len(v) > max_len:
        _fail(where, f"string of {len(v)} characters is too long")
    if choices is not None and v not in choices:
        _fail(where, f"{v!r} is not one of {', '.join(repr(c) for c in choices)}")
    return v


def _bool(v, where):
    if not isinstance(v, bool):
        _fail(where, f"expected true or false, got {type(v).__name__}")
    return v


def _dict(v, where):
    if not isinstance(v, dict):
        _fail(where, f"expected an object, got {type(v).__name__}")
    return v


def _list(v, where, max_len=MAX_VALUES):
    if not isinstance(v, list):
        _fail(where, f"expected a list, got {type(v).__name__}")
    if len(v) > max_len:
        _fail(where, f"{len(v)} entries is too many")
    return v


def _conv_spec(v, where, n=13):
    spec = _ints(v, where, n)
    c_in, c_out, groups, kh, kw, sh, sw, dh, dw = spec[:9]
    for i, name in enumerate(("in_channels", "out_channels", "groups", "kernel_h", "kernel_w", "stride_h",
                              "stride_w", "dilation_h", "dilation_w")):
        if spec[i] < 1:
            _fail(where, f"{name} must be >= 1, got {spec[i]}")
    if c_in % groups or c_out % groups:
        _fail(where, f"groups={groups} must divide in_channels={c_in} and out_channels={c_out}")
    if n == 15:
        for op, s, d, axis in ((spec[13], sh, dh, "height"), (spec[14], sw, dw, "width")):
            if not (op < s or op < d):
                _fail(where, f"output_padding {op} ({axis}) must be smaller than the stride or the dilation")
    return spec


def _unary_attrs(a, where):
    kind = _str(a.get("kind"), f"{where}.kind", tuple(k for k in UNARY_KINDS if k != "affine"))
    alpha = _float(a.get("alpha", 0.0), f"{where}.alpha", allow_inf=kind == "clip")
    beta = _float(a.get("beta", 0.0), f"{where}.beta", allow_inf=kind == "clip")
    if kind == "clip" and not alpha <= beta:
        _fail(where, f"clip bounds must satisfy min <= max, got {alpha} > {beta}")
    return {"kind": kind, "alpha": alpha, "beta": beta}


def _resize_attrs(a, where):
    from ._program import COORD_MODES, NEAREST_MODES, RESIZE_MODES
    out = {"mode": _str(a.get("mode"), f"{where}.mode", RESIZE_MODES),
           "coord": _str(a.get("coord"), f"{where}.coord", COORD_MODES),
           "nearest": _str(a.get("nearest", "floor"), f"{where}.nearest", NEAREST_MODES)}
    size = a.get("size")
    out["size"] = None if size is None else _ints(size, f"{where}.size", 2, 1)
    scales = a.get("scales")
    if scales is not None:
        if not isinstance(scales, list) or len(scales) != 2:
            _fail(f"{where}.scales", "expected null or a list of 2 numbers")
        scales = tuple(_float(s, f"{where}.scales[{i}]") for i, s in enumerate(scales))
        if not all(0 < s <= 65536 for s in scales):
            _fail(f"{where}.scales", f"scales must be in (0, 65536], got {scales}")
    out["scales"] = scales
    if size is None and scales is None:
        _fail(where, "one of size and scales is required")
    if "onnx" in a:
        out["onnx"] = _bool(a["onnx"], f"{where}.onnx")
    return out


def _pool_attrs(a, where):
    return {"kind": _str(a.get("kind"), f"{where}.kind", ("max", "avg")),
            "kernel": _ints(a.get("kernel"), f"{where}.kernel", 2, 1),
            "stride": _ints(a.get("stride"), f"{where}.stride", 2, 1),
            "pads": _ints(a.get("pads"), f"{where}.pads", 4, 0),
            "dilation": _ints(a.get("dilation"), f"{where}.dilation", 2, 1),
            "ceil_mode": _bool(a.get("ceil_mode"), f"{where}.ceil_mode"),
            "count_include_pad": _bool(a.get("count_include_pad"), f"{where}.count_include_pad")}


def _binary_attrs(a, where):
    act = a.get("activation")
    if act is not None:
        _str(act, f"{where}.activation", ("relu", "relu6"))
    return {"kind": _str(a.get("kind"), f"{where}.kind", BINARY_KINDS), "activation": act}


def _conv_attrs(a, where):
    from ._plan import ACTIVATIONS
    act = a.get("activation")
    if act is not None:
        _str(act, f"{where}.activation", tuple(x for x in ACTIVATIONS if x))
    return {"spec": _conv_spec(a.get("spec"), f"{where}.spec"), "activation": act}


def _reshape_attrs(a, where):
    shape = _list(a.get("shape"), f"{where}.shape", 4)
    if len(shape) == 3:
        _fail(f"{where}.shape", "rank-3 tensors are not supported")
    return {"shape": tuple(_int(d, f"{where}.shape[{i}]", 1) for i, d in enumerate(shape))}


def _slice_attrs(a, where):
    start = _int(a.get("start"), f"{where}.start")
    stop = _int(a.get("stop"), f"{where}.stop")
    if stop <= start:
        _fail(where, f"empty channel range [{start}, {stop})")
    return {"start": start, "stop": stop}


# op -> (attrs checker, number of inputs (None: at least 1), allowed params, required params)
OPS = {
    "conv": (_conv_attrs, 1, ("weight", "bias", "prelu_weight"), ("weight",)),
    "deconv": (lambda a, w: {"spec": _conv_spec(a.get("spec"), f"{w}.spec", 15)}, 1, ("weight", "bias"), ("weight",)),
    "linear": (lambda a, w: {}, 1, ("weight", "bias"), ("weight",)),
    "affine": (lambda a, w: {}, 1, ("scale", "shift"), ("scale", "shift")),
    "unary": (_unary_attrs, 1, ("slope",), ()),
    "binary": (_binary_attrs, 2, (), ()),
    "constant": (lambda a, w: {}, 0, ("value",), ("value",)),
    "pool": (_pool_attrs, 1, (), ()),
    "global_avgpool": (lambda a, w: {}, 1, (), ()),
    "shuffle": (lambda a, w: {"groups": _int(a.get("groups"), f"{w}.groups", 1)}, 1, (), ()),
    "concat": (lambda a, w: {}, None, (), ()),
    "slice_channels": (_slice_attrs, 1, (), ()),
    "reshape": (_reshape_attrs, 1, (), ()),
    "softmax": (lambda a, w: {}, 1, (), ()),
    "resize": (_resize_attrs, 1, (), ()),
}
_ATTR_NAMES = {"conv": {"spec", "activation"}, "deconv": {"spec"}, "unary": {"kind", "alpha", "beta"},
               "binary": {"kind", "activation"}, "pool": {"kind", "kernel", "stride", "pads", "dilation", "ceil_mode",
                                                           "count_include_pad"},
               "shuffle": {"groups"}, "slice_channels": {"start", "stop"}, "reshape": {"shape"},
               "resize": {"mode", "coord", "nearest", "size", "scales", "onnx"}}


def _expected_param_shapes(op, attrs, declared, where):
    """Checks declared parameter shapes against what the operator needs (before reading any array)."""
    def need(name, shape):
        got = declared.get(name)
        if got is not None and got != tuple(shape):
            _fail(where, f"parameter {name} must have shape {tuple(shape)}, the file declares {got}")

    if op == "conv":
        c_in, c_out, g, kh, kw = attrs["spec"][:5]
        need("weight", (c_out, c_in // g, kh, kw))
        need("bias", (c_out,))
        if (attrs["activation"] == "prelu") != ("prelu_weight" in declared):
            _fail(where, "prelu_weight is required with activation 'prelu' and only then")
        if "prelu_weight" in declared and declared["prelu_weight"] not in ((c_out,), (1,)):
            _fail(where, f"prelu_weight must have shape ({c_out},) or (1,), got {declared['prelu_weight']}")
    elif op == "deconv":
        c_in, c_out, g, kh, kw = attrs["spec"][:5]
        need("weight", (c_in, c_out // g, kh, kw))
        need("bias", (c_out,))
    elif op == "linear":
        w = declared["weight"]
        if len(w) != 2 or min(w) < 1:
            _fail(where, f"weight must be 2-D (out_features, in_features), got shape {w}")
        need("bias", (w[0],))
    elif op == "affine":
        for k in ("scale", "shift"):
            if len(declared[k]) != 1 or declared[k][0] < 1:
                _fail(where, f"{k} must be 1-D with at least one value, got shape {declared[k]}")
    elif op == "unary":
        if (attrs["kind"] == "prelu") != ("slope" in declared):
            _fail(where, "slope is required with kind 'prelu' and only then")
        if "slope" in declared and (len(declared["slope"]) != 1 or declared["slope"][0] < 1):
            _fail(where, f"slope must be 1-D with at least one value, got shape {declared['slope']}")
    elif op == "constant":
        if len(declared["value"]) == 3:
            _fail(where, "rank-3 constants are not supported")


def parse_document(doc):
    """Validates the JSON document. Returns (inputs, outputs, num_values, fixed, param decls, nodes)."""
    _dict(doc, "document")
    if doc.get("format") != FORMAT:
        _fail("format", f"expected {FORMAT!r}, got {doc.get('format')!r}")
    version = doc.get("version")
    if not _is_int(version) or version != VERSION:
        _fail("version", f"this gconv_cpu reads version {VERSION}, the file has {version!r}")
    num_values = _int(doc.get("num_values"), "num_values", 1, MAX_VALUES)

    def value_id(v, where):
        return _int(v, where, 0, num_values - 1)

    inputs = []
    for i, e in enumerate(_list(doc.get("inputs"), "inputs", 1024)):
        w = f"inputs[{i}]"
        _dict(e, w)
        shape = _list(e.get("shape"), f"{w}.shape", 4)
        if len(shape) not in (1, 2, 4):
            _fail(f"{w}.shape", f"inputs must be 1-D, 2-D or 4-D, got rank {len(shape)}")
        shape = tuple(_int(d, f"{w}.shape[{k}]", 1) for k, d in enumerate(shape))
        _nbytes(shape, f"{w}.shape")
        inputs.append((_str(e.get("name"), f"{w}.name"), value_id(e.get("value"), f"{w}.value"), shape))
    if not inputs:
        _fail("inputs", "a model needs at least one input")
    if len({v for _, v, _ in inputs}) != len(inputs) or len({n for n, _, _ in inputs}) != len(inputs):
        _fail("inputs", "input names and values must be distinct")
    outputs = []
    for i, e in enumerate(_list(doc.get("outputs"), "outputs", 1024)):
        w = f"outputs[{i}]"
        _dict(e, w)
        outputs.append((_str(e.get("name"), f"{w}.name"), value_id(e.get("value"), f"{w}.value")))
    if not outputs:
        _fail("outputs", "a model needs at least one output")
    fixed = _bool(doc.get("fixed_shapes", False), "fixed_shapes")

    decls = []
    total = 0
    for i, e in enumerate(_list(doc.get("params"), "params")):
        w = f"params[{i}]"
        _dict(e, w)
        _str(e.get("dtype"), f"{w}.dtype", ("float32",))
        shape = _list(e.get("shape"), f"{w}.shape", 4)
        shape = tuple(_int(d, f"{w}.shape[{k}]", 0) for k, d in enumerate(shape))
        total += _nbytes(shape, f"{w}.shape")
        decls.append(shape)
    _nbytes((total,), "params (all together)", 1)

    nodes = []
    used_params = set()
    defined = {v for _, v, _ in inputs}
    for i, e in enumerate(_list(doc.get("nodes"), "nodes")):
        w = f"nodes[{i}]"
        _dict(e, w)
        op = _str(e.get("op"), f"{w}.op", tuple(OPS))
        name = _str(e.get("name", ""), f"{w}.name")
        w = f"{w} ({op} {name!r})"
        check_attrs, n_in, allowed, required = OPS[op]
        ins = [value_id(v, f"{w}.inputs[{k}]") for k, v in enumerate(_list(e.get("inputs"), f"{w}.inputs", 4096))]
        if (n_in is None and not ins) or (n_in is not None and len(ins) != n_in):
            _fail(f"{w}.inputs", f"expected {n_in if n_in is not None else 'at least 1'} inputs, got {len(ins)}")
        outs = [value_id(v, f"{w}.outputs[{k}]") for k, v in enumerate(_list(e.get("outputs"), f"{w}.outputs", 1))]
        if len(outs) != 1:
            _fail(f"{w}.outputs", f"expected 1 output, got {len(outs)}")
        if outs[0] in defined:
            _fail(f"{w}.outputs", f"value {outs[0]} is defined twice")
        defined.add(outs[0])
        raw_attrs = _dict(e.get("attrs", {}), f"{w}.attrs")
        unknown = set(raw_attrs) - _ATTR_NAMES.get(op, set())
        if unknown:
            _fail(f"{w}.attrs", f"unknown attribute(s) {sorted(unknown)} for {op}")
        attrs = check_attrs(raw_attrs, f"{w}.attrs")
        refs = _dict(e.get("params", {}), f"{w}.params")
        declared = {}
        for pname, ref in refs.items():
            if pname not in allowed:
                _fail(f"{w}.params", f"unknown parameter {pname!r} for {op}")
            idx = _int(ref, f"{w}.params.{pname}", 0, len(decls) - 1) if decls else _fail(
                f"{w}.params.{pname}", "the file declares no parameters")
            if idx in used_params:
                _fail(f"{w}.params.{pname}", f"parameter {idx} is used twice")
            used_params.add(idx)
            declared[pname] = decls[idx]
        for pname in required:
            if pname not in declared:
                _fail(f"{w}.params", f"missing parameter {pname!r}")
        _expected_param_shapes(op, attrs, declared, w)
        nodes.append((op, name, ins, outs, attrs, dict(refs)))
    return inputs, outputs, num_values, fixed, decls, nodes


def _nbytes(shape, where, itemsize=4):
    try:
        return check_alloc(shape, where, itemsize)
    except (MemoryError, OverflowError, ValueError) as e:
        raise ModelFormatError(str(e)) from None


# ---- reading: arrays -------------------------------------------------------------------------------------

def _read_exact(f, n, where):
    chunks, left = [], n
    while left:
        chunk = f.read(min(left, 1 << 24))
        if not chunk:
            _fail(where, f"truncated: {n - left} of {n} bytes")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_npy(zf, member, shape, dtype, where):
    """The array in zip member `member`, which must have exactly this shape and dtype."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        _fail(where, f"member {member} is missing from the file")
    nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    if info.file_size > nbytes + 65536 + 128:
        _fail(where, f"member {member} declares {info.file_size} bytes for {nbytes} bytes of data")
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                hshape, fortran, hdtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                hshape, fortran, hdtype = np.lib.format.read_array_header_2_0(f)
            else:
                _fail(where, f"unsupported .npy version {version}")
        except ModelFormatError:
            raise
        except (ValueError, SyntaxError, TypeError, KeyError, EOFError, OverflowError) as e:
            _fail(where, f"bad .npy header in {member}: {e}")
        if hdtype != np.dtype(dtype) or fortran or tuple(hshape) != tuple(shape):
            _fail(where, f"{member} holds {hdtype} {tuple(hshape)}{' (Fortran order)' if fortran else ''}, expected "
                         f"{np.dtype(dtype)} {tuple(shape)} in C order")
        data = _read_exact(f, nbytes, f"{where} ({member})")
        if f.read(1):
            _fail(where, f"{member} has data past its declared {nbytes} bytes")
    return np.frombuffer(data, dtype).reshape(shape).copy() if nbytes else np.zeros(shape, dtype)


# ---- reading: the model --------------------------------------------------------------------------------------

def load_bytes(data):
    """A GraphModel from the bytes of a native model file (see the module docstring for the checks)."""
    from .graph_model import GraphModel
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
            UnicodeDecodeError, IndexError, KeyError, TypeError, OverflowError) as e:
        raise ModelFormatError(f"not a gconv_cpu model file (not a valid zip archive: {e})") from None
    try:
        with zf:
            text = _read_npy_any_uint8(zf)
            try:
                doc = json.loads(text.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as e:
                raise ModelFormatError(f"graph.npy: not valid UTF-8 JSON: {str(e)[:200]}") from None
            inputs, outputs, num_values, fixed, decls, nodes = parse_document(doc)
            arrays = [_read_npy(zf, f"param_{i}.npy", shape, "<f4", f"params[{i}]") for i, shape in enumerate(decls)]
    except ModelFormatError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError,
            UnicodeDecodeError, OverflowError, zlib.error, struct.error, lzma.LZMAError) as e:
        raise ModelFormatError(f"corrupt model file: {type(e).__name__}: {e}") from None

    graph = Graph()
    graph.shapes = [()] * num_values
    for name, vid, shape in inputs:
        graph.inputs.append(vid)
        graph.input_names.append(name)
        graph.shapes[vid] = shape
    for op, name, ins, outs, attrs, refs in nodes:
        params = {pname: arrays[idx] for pname, idx in refs.items()}
        graph.nodes.append(Node(op, ins, outs, attrs, params, name))
    graph.outputs = [v for _, v in outputs]
    graph.output_names = [n for n, _ in outputs]
    try:
        graph.validate()
        graph.reinfer([shape for _, _, shape in inputs])
    except (GraphError, ValueError, MemoryError, OverflowError) as e:
        raise ModelFormatError(f"invalid graph: {e}") from None
    seen = set()
    for node in graph.nodes:
        for pname, value in node.params.items():
            if value is not None:
                key = f"{node.name}.{pname}" if node.name else pname
                if key in seen:
                    raise ModelFormatError(f"two nodes are named {node.name!r} and define parameter {key!r}")
                seen.add(key)
    try:
        return GraphModel.from_graph(graph, fixed_shapes=fixed)
    except (GraphError, ValueError, MemoryError, OverflowError) as e:
        raise ModelFormatError(f"invalid graph: {e}") from None


def _read_npy_any_uint8(zf):
    try:
        info = zf.getinfo("graph.npy")
    except KeyError:
        raise ModelFormatError("not a gconv_cpu model file: graph.npy is missing") from None
    if info.file_size > MAX_JSON_BYTES + 4096:
        raise ModelFormatError(f"graph.npy: {info.file_size} bytes is larger than the {MAX_JSON_BYTES} allowed")
    with zf.open(info) as f:
        head = f.read(info.file_size + 1)
    buf = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(buf)
        reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if reader is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, fortran, dtype = reader(buf)
    except (ValueError, SyntaxError, TypeError, KeyError, EOFError, OverflowError) as e:
        raise ModelFormatError(f"graph.npy: bad .npy header: {e}") from None
    if dtype != np.uint8 or len(shape) != 1:
        raise ModelFormatError(f"graph.npy: expected a 1-D uint8 array, got {dtype} {shape}")
    body = head[buf.tell():]
    if len(body) != shape[0]:
        raise ModelFormatError(f"graph.npy: declares {shape[0]} bytes, holds {len(body)}")
    return body


def load(path):
    """Reads a native model file (path, or the file's bytes) -> GraphModel. Raises ModelFormatError (a
    ValueError) for anything malformed; the file is treated as untrusted."""
    if isinstance(path, (bytes, bytearray, memoryview)):
        return load_bytes(path)
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    return load_bytes(data)
