"""ONNX graph -> gconv_cpu Graph, for static input shapes.

Every ONNX tensor becomes one of:
  - a Value of the gconv_cpu graph (a runtime float32 tensor of rank 1, 2 or 4);
  - a numpy array (a constant: initializers, Constant nodes, and everything computed from constants and
    from static shapes: Shape/Gather/Concat/... chains are evaluated here, in NumPy);
  - a _Lazy view (the rank-5 tensors of a Reshape-Transpose-Reshape channel shuffle), which must be
    completed by the pattern or the import fails;
  - a _Poison marker for outputs gconv_cpu does not compute (MaxPool indices, Dropout's mask): reading it
    fails with UnsupportedOperatorError.
Anything else is refused with UnsupportedOperatorError naming the operator and the node.
"""
import math

import numpy as np

from .._plan import conv_spec
from .._validate import check_alloc
from ..graph import Graph, GraphError, Value
from ._errors import OnnxModelError, UnsupportedOperatorError
from ._proto import TENSOR_TYPES, to_array

INF = float("inf")
FLT_MAX = float(np.finfo(np.float32).max)
MAX_FOLD_ELEMENTS = 1 << 26   # a constant computed at import (Expand, Tile, ConstantOfShape, Range) may not exceed this


class _Lazy:
    """x (N, C, H, W) viewed as (N, a, C/a, H, W) ('split'), or that view transposed to (N, C/a, a, H, W)
    ('swapped'): the first two steps of a channel shuffle."""
    __slots__ = ("kind", "src", "groups", "shape")

    def __init__(self, kind, src, groups, shape):
        self.kind, self.src, self.groups, self.shape = kind, src, groups, tuple(shape)


class _Poison:
    __slots__ = ("op", "name", "what")

    def __init__(self, op, name, what):
        self.op, self.name, self.what = op, name, what


class _Node:
    __slots__ = ("op", "name", "attrs", "ins", "in_names", "out_names", "opset")

    def __init__(self, op, name, attrs, ins, in_names, out_names, opset):
        self.op, self.name, self.attrs, self.ins = op, name, attrs, ins
        self.in_names, self.out_names, self.opset = in_names, out_names, opset

    def fail(self, detail):
        raise UnsupportedOperatorError(self.op, self.name, detail)

    def bad(self, detail):
        raise OnnxModelError(f"{self.op} node {self.name!r}: {detail}")

    def inp(self, i):
        return self.ins[i] if i < len(self.ins) else None

    # attributes, type-checked
    def a_int(self, key, default=None):
        v = self.attrs.get(key, default)
        if not (isinstance(v, int) or (v is None and default is None)):
            self.bad(f"attribute {key} must be an int, got {type(v).__name__}")
        return v

    def a_float(self, key, default=None):
        v = self.attrs.get(key, default)
        if isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not (isinstance(v, float) or (v is None and default is None)):
            self.bad(f"attribute {key} must be a float, got {type(v).__name__}")
        return v

    def a_str(self, key, default=None):
        v = self.attrs.get(key, default)
        if not (isinstance(v, str) or (v is None and default is None)):
            self.bad(f"attribute {key} must be a string, got {type(v).__name__}")
        return v

    def a_ints(self, key, default=None, length=None):
        v = self.attrs.get(key, default)
        if v is None:
            return None
        if not isinstance(v, list) or not all(isinstance(e, int) for e in v):
            self.bad(f"attribute {key} must be a list of ints, got {v!r}"[:300])
        if length is not None and len(v) != length:
            self.fail(f"attribute {key} must have {length} values for a 2-D operator, got {len(v)}")
        return list(v)

    def a_floats(self, key, default=None):
        v = self.attrs.get(key, default)
        if v is None:
            return None
        if not isinstance(v, list) or not all(isinstance(e, (int, float)) for e in v):
            self.bad(f"attribute {key} must be a list of floats")
        return [float(e) for e in v]


def _is_const(x):
    return isinstance(x, np.ndarray)


class Converter:
    def __init__(self, info, input_shapes):
        self.info = info
        self.g = Graph()
        self.env = {}
        self.fixed = False   # the graph depends on the input sizes (padding, reshape targets, resize sizes)
        for (name, _, dims), shape in zip(info.inputs, input_shapes):
            shape = tuple(int(d) for d in shape)
            if len(shape) != len(dims):
                raise ValueError(f"input_shape: input {name!r} has rank {len(dims)}, got shape {shape}")
            for k, (d, s) in enumerate(zip(dims, shape)):
                if s < 1:
                    raise ValueError(f"input_shape: input {name!r} dimension {k} must be >= 1, got {s}")
                if d is not None and d != s:
                    raise ValueError(f"input_shape: input {name!r} has static dimension {k} = {d}, got {s}")
            if len(shape) not in (1, 2, 4):
                raise UnsupportedOperatorError("input", name, f"rank-{len(shape)} inputs are not supported "
                                               "(1-D, 2-D and 4-D NCHW are)")
            check_alloc(shape, f"input {name!r}")
            self.env[name] = self.g.input(shape, name)

    # ---- values ------------------------------------------------------------------------------------------
    def const(self, n, i, what=None, optional=False):
        x = n.inp(i)
        if x is None:
            if optional:
                return None
            n.bad(f"input {i} ({what or 'required'}) is missing")
        if isinstance(x, np.ndarray):
            return x
        n.fail(f"input {i}{' (' + what + ')' if what else ''} must be a constant (an initializer or computed from "
               "constants and static shapes); runtime values are not supported there")

    def value(self, n, i, what="X"):
        x = n.inp(i)
        if isinstance(x, Value):
            return x
        if x is None:
            n.bad(f"input {i} ({what}) is missing")
        if isinstance(x, np.ndarray):
            return self.const_node(x, n)
        if isinstance(x, _Lazy):
            n.fail("a rank-5 view is only supported as part of a channel shuffle (Reshape, Transpose(0,2,1,3,4), "
                   "Reshape)")
        n.fail("unsupported input")

    def const_node(self, arr, n, rank=None):
        if arr.dtype.kind not in "fiub":
            n.fail(f"constant of dtype {arr.dtype} cannot be a runtime tensor")
        arr = np.asarray(arr, np.float32)
        if rank is not None and arr.ndim < rank:
            arr = arr.reshape((1,) * (rank - arr.ndim) + arr.shape)
        if arr.ndim == 3 or arr.ndim > 4:
            n.fail(f"a constant of shape {arr.shape} as a runtime tensor (rank 3 or > 4) is not supported")
        return self.add("constant", [], n, value=np.ascontiguousarray(arr))

    def add(self, op, inputs, n, **kw):
        try:
            return self.g.add(op, inputs, name=n.name, **kw)
        except GraphError as e:
            raise OnnxModelError(f"{n.op} node {n.name!r}: {e}") from None
        except MemoryError as e:
            raise OnnxModelError(f"{n.op} node {n.name!r}: {e}") from None

    # ---- the walk ----------------------------------------------------------------------------------------
    def run(self):
        info = self.info
        for name, arr in info.initializers.items():
            if name not in self.env:
                self.env[name] = arr
        for onode, label, attrs in info.nodes:
            ins = []
            for nm in onode.input:
                if not nm:
                    ins.append(None)
                    continue
                x = self.env[nm]
                if isinstance(x, _Poison):
                    raise UnsupportedOperatorError(x.op, x.name, f"{x.what} is used by node {label!r}, and gconv_cpu "
                                                   "does not compute it")
                ins.append(x)
            n = _Node(onode.op_type, label, attrs, ins, list(onode.input), list(onode.output), info.opset)
            outs = self.convert(n)
            for k, name in enumerate(onode.output):
                if not name:
                    continue
                if k >= len(outs) or outs[k] is None:
                    self.env[name] = _Poison(n.op, n.name, f"output {k} ({name!r})")
                else:
                    self.env[name] = outs[k]
        values = []
        for name in info.outputs:
            x = self.env.get(name)
            if isinstance(x, _Poison):
                raise UnsupportedOperatorError(x.op, x.name, f"{x.what} is a graph output, and gconv_cpu does not "
                                               "compute it")
            n = _Node("output", name, {}, [x], [name], [name], info.opset)
            if isinstance(x, np.ndarray):
                x = self.const_node(x, n)
            elif not isinstance(x, Value):
                n.fail("a rank-5 view cannot be a model output")
            values.append(x)
        self.g.set_outputs(values, list(info.outputs))
        return self.g

    def convert(self, n):
        fold = FOLD.get(n.op)
        if fold is not None and all(x is None or _is_const(x) for x in n.ins) and n.ins:
            try:
                with np.errstate(all="ignore"):
                    out = fold(n)
            except (UnsupportedOperatorError, OnnxModelError):
                raise
            except (ValueError, IndexError, TypeError, OverflowError, ZeroDivisionError, MemoryError, AttributeError,
                    KeyError, FloatingPointError) as e:
                n.bad(f"cannot evaluate on constants: {e}")
            outs = [np.asarray(o) if isinstance(o, (np.generic, bool, int, float)) else o
                    for o in (out if isinstance(out, list) else [out])]
            for o in outs:
                if isinstance(o, np.ndarray) and o.size > MAX_FOLD_ELEMENTS and o.size > sum(
                        x.size for x in n.ins if _is_const(x)):
                    n.bad(f"the constant result has {o.size} elements")
            return outs
        handler = HANDLERS.get(n.op)
        if handler is None:
            if fold is not None:
                n.fail("is supported only on constants (it is evaluated at import); here it reads a runtime tensor")
            n.fail("is not supported")
        out = handler(self, n)
        return out if isinstance(out, list) else [out]


# ---- helpers ----------------------------------------------------------------------------------------------

def _norm_axis(n, axis, rank):
    if not -rank <= axis < max(rank, 1):
        n.bad(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def _int_list(n, arr, what):
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iu" or arr.ndim > 1:
        n.bad(f"{what} must be a 1-D integer tensor, got {arr.dtype} {arr.shape}")
    return [int(v) for v in arr.reshape(-1)]


def _scalar(n, arr, what):
    arr = np.asarray(arr)
    if arr.size != 1:
        n.fail(f"{what} must be a scalar, got shape {arr.shape}")
    return arr.reshape(-1)[0]


def _reshape_target(n, in_shape, target, allowzero):
    target = list(target)
    if len(target) > 8:
        n.fail(f"reshape to rank {len(target)} is not supported")
    out, infer = [], None
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(in_shape):
                n.bad(f"shape {target}: 0 at axis {i} copies a dimension the input does not have")
            out.append(in_shape[i])
        elif d == -1:
            if infer is not None:
                n.bad(f"shape {target} has more than one -1")
            infer = i
            out.append(1)
        elif d < 0:
            n.bad(f"shape {target} has a negative dimension")
        else:
            out.append(d)
    total = int(np.prod(in_shape, dtype=object)) if in_shape else 1
    known = int(np.prod(out, dtype=object)) if out else 1
    if infer is not None:
        if known == 0 or total % known:
            n.bad(f"cannot reshape {tuple(in_shape)} to {target}")
        out[infer] = total // known
    elif known != total:
        n.bad(f"cannot reshape {tuple(in_shape)} ({total} elements) to {target}")
    return tuple(out)


def _slices(n, shape, starts, ends, axes, steps):
    rank = len(shape)
    if axes is None:
        axes = list(range(len(starts)))
    if steps is None:
        steps = [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        n.bad("starts, ends, axes and steps must have the same length")
    index = [slice(None)] * rank
    seen = set()
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = _norm_axis(n, a, rank)
        if a in seen:
            n.bad(f"axis {a} repeated")
        seen.add(a)
        if st == 0:
            n.bad("slice step 0")
        dim = shape[a]
        if st > 0:
            s = min(max(s + dim if s < 0 else s, 0), dim)
            e = min(max(e + dim if e < 0 else e, 0), dim)
            index[a] = slice(s, e, st)
        else:
            s = min(max(s + dim if s < 0 else s, 0), dim - 1)
            e = min(max(e + dim if e < 0 else e, -1), dim - 1)
            index[a] = slice(s, e if e >= 0 else None, st)
    return index


def _pair(n, key, default):
    v = n.a_ints(key, [default, default], 2)
    return tuple(v)


def _onnx_pads(n, rank2=True):
    pads = n.a_ints("pads", [0, 0, 0, 0], 4)
    if any(p < 0 for p in pads):
        n.fail(f"negative pads {pads} are not supported")
    return (pads[0], pads[2], pads[1], pads[3])  # ONNX (t, l, b, r) -> (t, b, l, r)


def _auto_pads(cx, n, in_hw, kernel, stride, dilation):
    """(t, b, l, r) from auto_pad, or None when auto_pad is NOTSET."""
    mode = n.a_str("auto_pad", "NOTSET")
    if mode == "NOTSET":
        return None
    if mode == "VALID":
        return (0, 0, 0, 0)
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        n.bad(f"auto_pad {mode!r} is not a valid value")
    if min(stride) < 1 or min(dilation) < 1:  # before the division below (conv_spec checks them later)
        n.bad(f"strides {list(stride)} and dilations {list(dilation)} must be >= 1")
    cx.fixed = True
    pads = []
    for size, k, s, d in zip(in_hw, kernel, stride, dilation):
        out = -(-size // s)
        total = (out - 1) * s + (k - 1) * d + 1 - size
        if total < 0:  # the spec's formula (and ONNX Runtime) then crop the input: negative padding
            n.fail(f"auto_pad {mode} needs negative padding ({total}) here (a stride larger than the kernel); "
                   "cropping is not supported")
        small, big = total // 2, total - total // 2
        pads.append((small, big) if mode == "SAME_UPPER" else (big, small))
    return (pads[0][0], pads[0][1], pads[1][0], pads[1][1])


def _float32(arr):
    return np.ascontiguousarray(np.asarray(arr, np.float32))


def _per_channel(c_arr, x_shape):
    """c as a (C,) or (1,) per-channel vector of x when broadcasting c against x changes nothing but
    the channel axis (axis 1), else None."""
    r = len(x_shape)
    if c_arr.ndim > r or r not in (2, 4):
        return None
    s = (1,) * (r - c_arr.ndim) + c_arr.shape
    if any(d != 1 for k, d in enumerate(s) if k != 1):
        return None
    if s[1] not in (1, x_shape[1]):
        return None
    return c_arr.reshape(-1)


# ---- operators ---------------------------------------------------------------------------------------------

def op_conv(cx, n):
    x = cx.value(n, 0)
    w = cx.const(n, 1, "W")
    b = cx.const(n, 2, "B", optional=True)
    if len(x.shape) != 4 or w.ndim != 4:
        n.fail(f"only 2-D convolution is supported (4-D input and weight), got input {x.shape}, weight {w.shape}")
    group = n.a_int("group", 1)
    kernel = tuple(w.shape[2:])
    ks = n.a_ints("kernel_shape", None)
    if ks is not None and tuple(ks) != kernel:
        n.bad(f"kernel_shape {ks} differs from the weight's {kernel}")
    stride, dilation = _pair(n, "strides", 1), _pair(n, "dilations", 1)
    if group < 1 or x.shape[1] != w.shape[1] * group or w.shape[0] % group:
        n.bad(f"weight {w.shape} with group={group} does not fit an input with {x.shape[1]} channels")
    pads = _auto_pads(cx, n, x.shape[2:], kernel, stride, dilation) or _onnx_pads(n)
    if b is not None and b.shape != (w.shape[0],):
        n.bad(f"bias shape {b.shape} != ({w.shape[0]},)")
    try:
        spec = conv_spec(x.shape[1], w.shape[0], kernel, stride, pads, dilation, group)
    except (ValueError, TypeError) as e:
        n.bad(str(e))
    return cx.add("conv", [x], n, spec=spec, activation=None, weight=_float32(w),
                  bias=None if b is None else _float32(b))


def op_conv_transpose(cx, n):
    x = cx.value(n, 0)
    w = cx.const(n, 1, "W")
    b = cx.const(n, 2, "B", optional=True)
    if len(x.shape) != 4 or w.ndim != 4:
        n.fail(f"only 2-D transposed convolution is supported, got input {x.shape}, weight {w.shape}")
    group = n.a_int("group", 1)
    c_in, c_out = w.shape[0], w.shape[1] * group
    if group < 1 or x.shape[1] != c_in or c_in % group:
        n.bad(f"weight {w.shape} with group={group} does not fit an input with {x.shape[1]} channels")
    kernel = tuple(w.shape[2:])
    ks = n.a_ints("kernel_shape", None)
    if ks is not None and tuple(ks) != kernel:
        n.bad(f"kernel_shape {ks} differs from the weight's {kernel}")
    stride, dilation = _pair(n, "strides", 1), _pair(n, "dilations", 1)
    opad = list(_pair(n, "output_padding", 0))
    if min(stride) < 1 or min(dilation) < 1 or min(kernel) < 1 or min(opad) < 0:
        n.bad("strides, dilations and kernel must be >= 1 and output_padding >= 0")
    out_shape = n.a_ints("output_shape", None)
    auto = n.a_str("auto_pad", "NOTSET")
    if auto not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        n.bad(f"auto_pad {auto!r} is not a valid value")
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        if out_shape is not None:
            if len(out_shape) == 4:
                out_shape = out_shape[2:]
            if len(out_shape) != 2:
                n.fail(f"output_shape must have 2 values, got {out_shape}")
        else:
            out_shape = [x.shape[2] * stride[0], x.shape[3] * stride[1]]
        cx.fixed = True
        pads = []
        for k, (size, o) in enumerate(zip(x.shape[2:], out_shape)):
            natural = (size - 1) * stride[k] + opad[k] + (kernel[k] - 1) * dilation[k] + 1
            total = natural - o
            if total < 0:  # a larger output: the extra rows are output padding (as ONNX Runtime computes it)
                opad[k] -= total
                total = 0
            head = total // 2 if auto == "SAME_UPPER" else total - total // 2  # the ONNX spec's split (and ORT's)
            pads += [head, total - head]
        pads = tuple(pads)
    elif auto == "VALID":
        pads = (0, 0, 0, 0)
    else:
        pads = _onnx_pads(n)
    for op_, s, d in zip(opad, stride, dilation):
        if not (op_ < s or op_ < d):
            n.fail(f"output_padding {tuple(opad)} must be smaller than the stride or the dilation")
    if b is not None and b.shape != (c_out,):
        n.bad(f"bias shape {b.shape} != ({c_out},)")
    spec = (c_in, c_out, group, *kernel, *stride, *dilation, *pads, *opad)
    return cx.add("deconv", [x], n, spec=spec, weight=_float32(w), bias=None if b is None else _float32(b))


def op_batchnorm(cx, n):
    x = cx.value(n, 0)
    if n.a_int("training_mode", 0) != 0:
        n.fail("training_mode=1 is not supported (inference only)")
    if n.opset < 9 and n.a_int("spatial", 1) != 1:
        n.fail("spatial=0 is not supported")
    gamma, beta, mean, var = (cx.const(n, i, w) for i, w in ((1, "scale"), (2, "B"), (3, "mean"), (4, "var")))
    eps = n.a_float("epsilon", 1e-5)
    if len(x.shape) not in (2, 4):
        n.fail(f"input rank {len(x.shape)} is not supported (2-D or 4-D)")
    c = x.shape[1]
    for arr, what in ((gamma, "scale"), (beta, "B"), (mean, "mean"), (var, "var")):
        if arr.size != c or arr.ndim != 1:
            n.bad(f"{what} has shape {arr.shape}, expected ({c},)")
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    shift = beta.astype(np.float64) - mean.astype(np.float64) * scale
    return [cx.add("affine", [x], n, scale=_float32(scale), shift=_float32(shift))]


def _unary(cx, n, kind, alpha=0.0, beta=0.0, x=None):
    x = cx.value(n, 0) if x is None else x
    return cx.add("unary", [x], n, kind=kind, alpha=float(alpha), beta=float(beta))


def op_clip(cx, n):
    if n.opset < 11:
        lo, hi = n.a_float("min", -INF), n.a_float("max", INF)
    else:
        lo_a, hi_a = cx.const(n, 1, "min", optional=True), cx.const(n, 2, "max", optional=True)
        lo = -INF if lo_a is None else float(_scalar(n, lo_a, "min"))
        hi = INF if hi_a is None else float(_scalar(n, hi_a, "max"))
    if math.isnan(lo) or math.isnan(hi):
        n.fail("NaN clip bounds are not supported")
    lo = -INF if lo <= -FLT_MAX else lo
    hi = INF if hi >= FLT_MAX else hi
    if lo > hi:
        n.fail(f"min {lo} > max {hi} is not supported")
    if lo == 0.0 and hi == 6.0:
        return _unary(cx, n, "relu6")
    if lo == 0.0 and hi == INF:
        return _unary(cx, n, "relu")
    return _unary(cx, n, "clip", lo, hi)


def op_prelu(cx, n):
    x = cx.value(n, 0)
    slope = cx.const(n, 1, "slope")
    pc = _per_channel(slope, x.shape) if slope.ndim <= len(x.shape) else None
    if pc is not None and pc.size in (1, x.shape[1] if len(x.shape) > 1 else 1) and len(x.shape) in (2, 4):
        return cx.add("unary", [x], n, kind="prelu", alpha=0.0, beta=0.0, slope=_float32(pc))
    # any other unidirectional broadcast: relu(x) + min(x, 0) * slope
    try:
        out = np.broadcast_shapes(x.shape, slope.shape)
    except ValueError:
        n.bad(f"slope {slope.shape} does not broadcast to the input {x.shape}")
    if out != x.shape:
        n.bad(f"slope {slope.shape} must broadcast to the input {x.shape}")
    pos = cx.add("unary", [x], n, kind="relu", alpha=0.0, beta=0.0)
    neg = cx.add("binary", [x, cx.const_node(np.zeros((), np.float32), n)], n, kind="min", activation=None)
    scaled = cx.add("binary", [neg, cx.const_node(slope, n, rank=len(x.shape))], n, kind="mul", activation=None)
    return cx.add("binary", [pos, scaled], n, kind="add", activation=None)


BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Max": "max", "Min": "min"}


def _binary(cx, n, kind, a, b):
    """kind(a, b) with NumPy broadcasting; a per-channel constant operand becomes an affine node."""
    va, vb = isinstance(a, Value), isinstance(b, Value)
    if va != vb and kind in ("add", "sub", "mul", "div"):
        x, c = (a, b) if va else (b, a)
        if c.dtype.kind in "fiub" and c.ndim <= len(x.shape):
            pc = _per_channel(np.asarray(c, np.float64), x.shape)
            if pc is not None and np.broadcast_shapes(x.shape, c.shape) == tuple(x.shape):
                one, zero = np.ones(1), np.zeros(1)
                if kind == "mul":
                    scale, shift = pc, zero
                elif kind == "add":
                    scale, shift = one, pc
                elif kind == "sub":
                    scale, shift = (one, -pc) if va else (-one, pc)
                elif va and np.all(pc != 0):  # x / c
                    scale, shift = 1.0 / pc, zero
                else:
                    scale = None
                if scale is not None:
                    return cx.add("affine", [x], n, scale=_float32(scale), shift=_float32(shift))
    shapes = [x.shape for x in (a, b)]
    try:
        out = np.broadcast_shapes(*shapes)
    except ValueError:
        n.bad(f"shapes {shapes[0]} and {shapes[1]} do not broadcast")
    if len(out) not in (1, 2, 4) and not (len(out) == 0):
        n.fail(f"element-wise result of rank {len(out)} (shape {out}) is not supported")
    ops = [v if isinstance(v, Value) else cx.const_node(v, n, rank=len(out)) for v in (a, b)]
    return cx.add("binary", ops, n, kind=kind, activation=None)


def op_binary(cx, n):
    if len(n.ins) != 2:
        n.fail(f"{len(n.ins)} inputs are not supported (2 are)")
    a, b = n.ins
    if a is None or b is None:
        n.bad("an input is missing")
    for i, v in enumerate((a, b)):
        if isinstance(v, _Lazy):
            cx.value(n, i)
    if n.opset < 7 and n.a_int("broadcast", 0):
        n.fail("legacy broadcast attribute (opset < 7) is not supported")
    return _binary(cx, n, BINARY[n.op], a, b)


def op_global_avgpool(cx, n):
    x = cx.value(n, 0)
    if len(x.shape) != 4:
        n.fail(f"only 4-D input is supported, got {x.shape}")
    return cx.add("global_avgpool", [x], n)


def op_global_maxpool(cx, n):
    x = cx.value(n, 0)
    if len(x.shape) != 4:
        n.fail(f"only 4-D input is supported, got {x.shape}")
    k = tuple(x.shape[2:])
    return cx.add("pool", [x], n, kind="max", kernel=k, stride=k, pads=(0, 0, 0, 0), dilation=(1, 1),
                  ceil_mode=False, count_include_pad=False)


def op_pool(cx, n):
    x = cx.value(n, 0)
    if len(x.shape) != 4:
        n.fail(f"only 2-D pooling (4-D input) is supported, got {x.shape}")
    kind = "max" if n.op == "MaxPool" else "avg"
    kernel = n.a_ints("kernel_shape", None, 2)
    if kernel is None:
        n.bad("kernel_shape is required")
    kernel = tuple(kernel)
    stride, dilation = _pair(n, "strides", 1), _pair(n, "dilations", 1)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        n.bad("kernel_shape, strides and dilations must be >= 1")
    if kind == "max":
        if n.a_int("storage_order", 0) != 0:
            n.fail("storage_order=1 is not supported")
        # a second output (Indices) is not computed: any use of it fails (_Poison)
    elif dilation != (1, 1):
        n.fail("dilated average pooling is not supported")
    ceil_mode = n.a_int("ceil_mode", 0)
    count_include_pad = n.a_int("count_include_pad", 0) if kind == "avg" else 0
    pads = _auto_pads(cx, n, x.shape[2:], kernel, stride, dilation)
    if pads is None:
        pads = _onnx_pads(n)
    for p_a, p_b, k, d in ((pads[0], pads[1], kernel[0], dilation[0]), (pads[2], pads[3], kernel[1], dilation[1])):
        if max(p_a, p_b) >= d * (k - 1) + 1:
            n.fail(f"pads {pads} must be smaller than the (dilated) kernel {kernel}")
    return [cx.add("pool", [x], n, kind=kind, kernel=kernel, stride=stride, pads=pads, dilation=dilation,
                   ceil_mode=bool(ceil_mode), count_include_pad=bool(count_include_pad))]


def op_reduce_mean(cx, n):
    x = cx.value(n, 0)
    if n.opset >= 18:
        axes_a = cx.const(n, 1, "axes", optional=True)
        axes = None if axes_a is None else _int_list(n, axes_a, "axes")
    else:
        axes = n.a_ints("axes", None)
    keep = n.a_int("keepdims", 1)
    r = len(x.shape)
    if axes is None or r != 4 or sorted(_norm_axis(n, a, r) for a in axes) != [2, 3]:
        n.fail(f"only the mean over axes (2, 3) of a 4-D tensor is supported, got axes {axes} of shape {x.shape}")
    y = cx.add("global_avgpool", [x], n)
    return y if keep else cx.add("reshape", [y], n, shape=(x.shape[0], x.shape[1]))


def op_concat(cx, n):
    if "axis" not in n.attrs:
        n.bad("attribute axis is required")
    ins = [x for x in n.ins if x is not None]
    rank = len(ins[0].shape) if ins else 0
    axis = _norm_axis(n, n.a_int("axis"), rank)
    if axis != 1 or rank not in (2, 4):
        n.fail(f"only concatenation over channels (axis 1 of a 2-D or 4-D tensor) is supported, got axis "
               f"{n.a_int('axis')} of rank {rank}")
    vals = [x if isinstance(x, Value) else cx.const_node(x, n) if _is_const(x) else cx.value(n, i)
            for i, x in enumerate(ins)]
    if len(vals) == 1:
        return vals[0]
    return cx.add("concat", vals, n)


def _split_sizes(cx, n, dim):
    if n.opset >= 13:
        s = cx.const(n, 1, "split", optional=True)
        sizes = None if s is None else _int_list(n, s, "split")
    else:
        sizes = n.a_ints("split", None)
    k = len(n.out_names)
    if sizes is None:
        parts = n.a_int("num_outputs", k) if n.opset >= 18 else k
        if parts < 1:
            n.bad("num_outputs must be >= 1")
        if n.opset >= 18 and "num_outputs" in n.attrs:
            step = -(-dim // parts)
            sizes = [min(step, dim - i * step) for i in range(parts)]
        else:
            if dim % parts:
                n.bad(f"cannot split {dim} into {parts} equal parts")
            sizes = [dim // parts] * parts
    if any(s < 0 for s in sizes) or sum(sizes) != dim or len(sizes) != k:
        n.bad(f"split sizes {sizes} do not divide {dim} into {k} outputs")
    return sizes


def op_split(cx, n):
    x = n.inp(0)
    if x is None:
        n.bad("input is missing")
    rank = len(x.shape)
    axis = _norm_axis(n, n.a_int("axis", 0), rank)
    sizes = _split_sizes(cx, n, x.shape[axis] if rank else 0)
    if _is_const(x):
        bounds = np.cumsum([0] + sizes)
        return [np.take(x, range(a, b), axis=axis) for a, b in zip(bounds[:-1], bounds[1:])]
    x = cx.value(n, 0)
    if axis != 1:
        n.fail(f"only splits over channels (axis 1) are supported, got axis {axis}")
    outs, c0 = [], 0
    for s in sizes:
        if s == 0:
            n.fail("empty split outputs are not supported")
        outs.append(x if s == x.shape[1] else cx.add("slice_channels", [x], n, start=c0, stop=c0 + s))
        c0 += s
    return outs


def _slice_args(cx, n):
    if n.opset < 10:
        starts, ends = n.a_ints("starts"), n.a_ints("ends")
        axes, steps = n.a_ints("axes"), None
        if starts is None or ends is None:
            n.bad("starts and ends are required")
    else:
        starts = _int_list(n, cx.const(n, 1, "starts"), "starts")
        ends = _int_list(n, cx.const(n, 2, "ends"), "ends")
        a, s = cx.const(n, 3, "axes", optional=True), cx.const(n, 4, "steps", optional=True)
        axes = None if a is None else _int_list(n, a, "axes")
        steps = None if s is None else _int_list(n, s, "steps")
    return starts, ends, axes, steps


def op_slice(cx, n):
    x = cx.value(n, 0)
    starts, ends, axes, steps = _slice_args(cx, n)
    index = _slices(n, x.shape, starts, ends, axes, steps)
    start = stop = None
    for axis, sl in enumerate(index):
        begin, end, step = sl.indices(x.shape[axis])
        full = step == 1 and begin == 0 and end == x.shape[axis]
        if full:
            continue
        if axis != 1 or step != 1:
            n.fail(f"only channel slices (axis 1, step 1) are supported, got {sl} on axis {axis} of {x.shape}")
        if end <= begin:
            n.fail("empty slices are not supported")
        start, stop = begin, end
    if start is None:
        return x
    return cx.add("slice_channels", [x], n, start=start, stop=stop)


def _reshape_value(cx, n, x, shape):
    shape = tuple(int(d) for d in shape)
    if shape == tuple(x.shape):
        return x
    if len(shape) not in (1, 2, 4):
        n.fail(f"reshape of {x.shape} to rank {len(shape)} ({shape}) is not supported (ranks 1, 2 and 4 are)")
    return cx.add("reshape", [x], n, shape=shape)


def op_reshape(cx, n):
    x = n.inp(0)
    if n.opset < 5:
        target = n.a_ints("shape")
        if target is None:
            n.bad("shape is required")
    else:
        target = _int_list(n, cx.const(n, 1, "shape"), "shape")
    allowzero = n.a_int("allowzero", 0) if n.opset >= 14 else 0
    if isinstance(x, _Lazy):
        shape = _reshape_target(n, x.shape, target, allowzero)
        if x.kind == "swapped" and len(shape) == 4 and shape == tuple(x.src.shape):
            return cx.add("shuffle", [x.src], n, groups=x.groups)
        if shape == x.shape:
            return x
        n.fail("a rank-5 view is only supported as part of a channel shuffle (Reshape, Transpose(0,2,1,3,4), "
               "Reshape)")
    x = cx.value(n, 0)
    shape = _reshape_target(n, x.shape, target, allowzero)
    if len(shape) == 5 and len(x.shape) == 4 and shape[0] == x.shape[0] and shape[3:] == tuple(x.shape[2:]) \
            and shape[1] * shape[2] == x.shape[1]:
        return _Lazy("split", x, shape[1], shape)
    return _reshape_value(cx, n, x, shape)


def op_transpose(cx, n):
    x = n.inp(0)
    perm = n.a_ints("perm", None)
    rank = len(x.shape) if x is not None else 0
    if perm is None:
        perm = list(range(rank))[::-1]
    if sorted(perm) != list(range(rank)):
        n.bad(f"perm {perm} is not a permutation of {rank} axes")
    if isinstance(x, _Lazy):
        if x.kind == "split" and perm == [0, 2, 1, 3, 4]:
            s = x.shape
            return _Lazy("swapped", x.src, s[1], (s[0], s[2], s[1], s[3], s[4]))
        n.fail(f"Transpose {perm} of a rank-5 view is not a channel shuffle")
    x = cx.value(n, 0)
    if perm == list(range(rank)):
        return x
    moved = [d for d in (x.shape[p] for p in perm)]
    # a permutation that only moves axes of size 1 keeps the memory order: a reshape
    if [d for d in x.shape if d != 1] == [d for d in moved if d != 1] and \
            [p for p in perm if x.shape[p] != 1] == sorted(p for p in perm if x.shape[p] != 1):
        return _reshape_value(cx, n, x, moved)
    n.fail(f"Transpose with perm {perm} of shape {x.shape} is not supported (only as part of a channel shuffle)")


def op_flatten(cx, n):
    x = cx.value(n, 0)
    rank = len(x.shape)
    axis = n.a_int("axis", 1)
    if not -rank <= axis <= rank:
        n.bad(f"axis {axis} out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    a = int(np.prod(x.shape[:axis], dtype=object)) if axis else 1
    b = int(np.prod(x.shape[axis:], dtype=object))
    return _reshape_value(cx, n, x, (a, b))


def _axes_arg(cx, n, idx=1):
    if n.opset >= 13:
        a = cx.const(n, idx, "axes", optional=True)
        return None if a is None else _int_list(n, a, "axes")
    return n.a_ints("axes", None)


def op_squeeze(cx, n):
    x = cx.value(n, 0)
    axes = _axes_arg(cx, n)
    rank = len(x.shape)
    if axes is None:
        shape = tuple(d for d in x.shape if d != 1)
    else:
        axes = {_norm_axis(n, a, rank) for a in axes}
        if any(x.shape[a] != 1 for a in axes):
            n.bad(f"cannot squeeze axes {sorted(axes)} of shape {x.shape}")
        shape = tuple(d for k, d in enumerate(x.shape) if k not in axes)
    return _reshape_value(cx, n, x, shape)


def op_unsqueeze(cx, n):
    x = cx.value(n, 0)
    axes = _axes_arg(cx, n)
    if axes is None:
        n.bad("axes are required")
    shape = list(x.shape)
    out_rank = len(shape) + len(axes)
    axes = sorted(_norm_axis(n, a, out_rank) for a in axes)
    if len(set(axes)) != len(axes):
        n.bad("repeated axes")
    for a in axes:
        shape.insert(a, 1)
    return _reshape_value(cx, n, x, shape)


def op_gemm(cx, n):
    a = cx.value(n, 0)
    b = cx.const(n, 1, "B")
    c = cx.const(n, 2, "C", optional=True)
    if n.a_int("transA", 0):
        n.fail("transA=1 is not supported")
    trans_b = n.a_int("transB", 0)
    alpha, beta = n.a_float("alpha", 1.0), n.a_float("beta", 1.0)
    if len(a.shape) != 2 or b.ndim != 2:
        n.fail(f"expects 2-D A and B, got {a.shape} and {b.shape}")
    w = b if trans_b else b.T
    if w.shape[1] != a.shape[1]:
        n.bad(f"B {b.shape} (transB={trans_b}) does not fit A {a.shape}")
    m = w.shape[0]
    weight = w.astype(np.float64) * alpha if alpha != 1.0 else w
    bias = None
    if c is not None and beta != 0.0:
        if c.size == 1 or c.shape in ((m,), (1, m)):
            bias = np.broadcast_to(c.reshape(-1).astype(np.float64) * beta if beta != 1.0 else c.reshape(-1), (m,))
        else:
            n.fail(f"bias C of shape {c.shape} is not supported (only (M,) or (1, M))")
    return cx.add("linear", [a], n, weight=_float32(weight), bias=None if bias is None else _float32(bias))


def op_matmul(cx, n):
    a = cx.value(n, 0)
    b = cx.const(n, 1, "B")
    if len(a.shape) != 2 or b.ndim != 2 or b.shape[0] != a.shape[1]:
        n.fail(f"only (N, K) x constant (K, M) is supported, got {a.shape} x {b.shape}")
    return cx.add("linear", [a], n, weight=_float32(b.T), bias=None)


def op_softmax(cx, n):
    x = cx.value(n, 0)
    rank = len(x.shape)
    axis = _norm_axis(n, n.a_int("axis", 1 if n.opset < 13 else -1), rank)
    if n.opset < 13:  # the input is coerced to 2-D (prod(shape[:axis]), prod(shape[axis:]))
        ok = axis == 1
    else:
        ok = axis >= 1 and all(d == 1 for k, d in enumerate(x.shape) if k not in (0, axis))
    if not ok or rank not in (2, 4):
        n.fail(f"softmax over axis {n.a_int('axis', None)} of {x.shape} is not supported (only over all but the "
               "batch axis, e.g. the last axis of (N, F))")
    if rank == 2:
        return cx.add("softmax", [x], n)
    flat = cx.add("reshape", [x], n, shape=(x.shape[0], int(np.prod(x.shape[1:], dtype=object))))
    y = cx.add("softmax", [flat], n)
    return cx.add("reshape", [y], n, shape=tuple(x.shape))


def _resize(cx, n, x, mode, coord, nearest, scales, sizes):
    if len(x.shape) != 4:
        n.fail(f"only 4-D input is supported, got {x.shape}")
    if mode == "linear":
        mode = "bilinear"
    if mode not in ("nearest", "bilinear"):
        n.fail(f"mode {mode!r} is not supported (nearest and linear are)")
    if sizes is not None:
        sizes = _int_list(n, sizes, "sizes")
        if len(sizes) != 4 or tuple(sizes[:2]) != tuple(x.shape[:2]) or min(sizes) < 1:
            n.fail(f"sizes {sizes} must be (N, C, H_out, W_out) with N and C unchanged")
        cx.fixed = True
        size, sc = (sizes[2], sizes[3]), None
    else:
        scales = np.asarray(scales)
        if scales.dtype.kind != "f" or scales.shape != (4,):
            n.bad(f"scales must be 4 floats, got {scales.dtype} {scales.shape}")
        s = [float(v) for v in scales.astype(np.float32)]
        if s[0] != 1.0 or s[1] != 1.0:
            n.fail(f"scales {s} resize the batch or channel axis")
        if not all(math.isfinite(v) and v > 0 for v in s):
            n.fail(f"scales {s} must be positive and finite")
        out = tuple(int(np.float32(s[k]) * np.float32(x.shape[k])) for k in (2, 3))
        if min(out) < 1:
            n.fail(f"scales {s} give an empty output for input {x.shape}")
        size, sc = None, (s[2], s[3])  # the output size follows the input: ONNX Runtime's float32 rounding
    return cx.add("resize", [x], n, mode=mode, coord=coord, nearest=nearest, size=size, scales=sc, onnx=True)


def op_resize(cx, n):
    x = cx.value(n, 0)
    mode = n.a_str("mode", "nearest")
    if n.opset < 11:
        scales = cx.const(n, 1, "scales")
        return _resize(cx, n, x, mode, "asymmetric", _legacy_nearest(scales), scales, None)
    coord = n.a_str("coordinate_transformation_mode", "half_pixel")
    from .._program import COORD_MODES, NEAREST_MODES
    if coord not in COORD_MODES or coord.startswith("torch_"):
        n.fail(f"coordinate_transformation_mode {coord!r} is not supported")
    nearest = n.a_str("nearest_mode", "round_prefer_floor")
    if nearest not in NEAREST_MODES:
        n.fail(f"nearest_mode {nearest!r} is not supported")
    if n.a_int("exclude_outside", 0) and mode != "nearest":
        n.fail("exclude_outside=1 is not supported")
    if n.a_str("keep_aspect_ratio_policy", "stretch") != "stretch":
        n.fail("keep_aspect_ratio_policy other than 'stretch' is not supported")
    scales = cx.const(n, 2, "scales", optional=True)
    sizes = cx.const(n, 3, "sizes", optional=True)
    if scales is not None and scales.size == 0:
        scales = None
    if sizes is not None and sizes.size == 0:
        sizes = None
    axes = n.a_ints("axes", None)
    if axes is not None:
        if sorted(_norm_axis(n, a, 4) for a in axes) != [2, 3]:
            n.fail(f"axes {axes} are not supported (only the spatial axes)")
        if list(axes) != sorted(axes) and [a % 4 for a in axes] != [2, 3]:
            n.fail(f"axes {axes} must be in order")
        if scales is not None:
            scales = np.concatenate([np.ones(2, scales.dtype), scales.reshape(-1)])
        if sizes is not None:
            sizes = np.concatenate([np.asarray(x.shape[:2], np.int64), sizes.reshape(-1).astype(np.int64)])
    if (scales is None) == (sizes is None):
        n.bad("exactly one of scales and sizes must be given")
    if n.a_int("antialias", 0):
        s = scales if scales is not None else np.asarray(sizes[2:], np.float64) / np.asarray(x.shape[2:])
        if np.any(np.asarray(s).reshape(-1)[-2:] < 1):
            n.fail("antialias=1 when downsampling is not supported")
    return _resize(cx, n, x, mode, coord, nearest, scales, sizes)


def _legacy_nearest(scales):
    """Resize-10/Upsample: ONNX Runtime's 'simple' nearest mode (floor upsampling, ceil downsampling)."""
    s = np.asarray(scales, np.float64).reshape(-1)
    return "ceil" if s.size and np.any(s < 1) else "floor"


def op_upsample(cx, n):
    x = cx.value(n, 0)
    mode = n.a_str("mode", "nearest")
    if mode == "bilinear":
        mode = "linear"
    if n.opset < 9:
        sc = n.a_floats("scales")
        if sc is None:
            n.bad("scales is required")
        scales = np.asarray(sc, np.float32)
    else:
        scales = cx.const(n, 1, "scales")
    return _resize(cx, n, x, mode, "asymmetric", _legacy_nearest(scales), scales, None)


def op_identity(cx, n):
    x = n.inp(0)
    if x is None:
        n.bad("input is missing")
    return x


def op_dropout(cx, n):
    x = n.inp(0)
    if n.opset >= 12:
        tm = cx.const(n, 2, "training_mode", optional=True)
        if tm is not None and bool(_scalar(n, tm, "training_mode")):
            n.fail("training_mode=true is not supported")
    elif n.a_int("is_test", 1) == 0 and n.opset < 7:
        n.fail("is_test=0 is not supported")
    return [x]


def op_cast(cx, n):
    x = cx.value(n, 0)
    to = n.a_int("to")
    if to != 1:
        n.fail(f"casting a runtime tensor to type {to} is not supported (only to FLOAT)")
    return x


def op_shape(cx, n):
    cx.fixed = True
    return fold_shape(n)


def fold_shape(n):
    x = n.inp(0)
    if x is None:
        n.bad("input is missing")
    shape = np.asarray(x.shape, np.int64)
    if n.opset >= 15:
        rank = len(shape)
        start, end = n.a_int("start", 0), n.a_int("end", rank)
        start = min(max(start + rank if start < 0 else start, 0), rank)
        end = min(max(end + rank if end < 0 else end, 0), rank)
        shape = shape[start:end]
    return shape


def op_size(cx, n):
    cx.fixed = True
    return fold_size(n)


def fold_size(n):
    return np.asarray(int(np.prod(n.ins[0].shape, dtype=object)), np.int64)


def op_constant(cx, n):
    a = n.attrs
    if len(a) != 1:
        n.bad(f"expects exactly one value attribute, got {sorted(a)}")
    key, v = next(iter(a.items()))
    if key == "value":
        if not hasattr(v, "dims"):
            n.bad("value must be a tensor")
        return to_array(v, f"Constant node {n.name!r} value")
    if key == "value_float":
        return np.asarray(n.a_float(key), np.float32)
    if key == "value_floats":
        return np.asarray(n.a_floats(key), np.float32)
    if key == "value_int":
        return np.asarray(n.a_int(key), np.int64)
    if key == "value_ints":
        return np.asarray(n.a_ints(key), np.int64)
    n.fail(f"a Constant with {key} is not supported")


# ---- constant folding (all inputs constant) ---------------------------------------------------------------

def _fold_binary(fn):
    def f(n):
        a, b = n.ins[0], n.ins[1]
        if len(n.ins) != 2 or a is None or b is None:
            n.bad("expects 2 inputs")
        _check_broadcast(n, a.shape, b.shape)
        if n.op == "Div" and a.dtype.kind in "iu" and b.dtype.kind in "iu":
            if np.any(b == 0):
                n.bad("integer division by zero")
            q = np.abs(a) // np.abs(b)
            return (q * np.sign(a) * np.sign(b)).astype(np.result_type(a, b))
        out = fn(a, b)
        return np.asarray(out, dtype=a.dtype if out.dtype.kind == a.dtype.kind else out.dtype)
    return f


def _check_broadcast(n, *shapes):
    try:
        out = np.broadcast_shapes(*shapes)
    except ValueError:
        n.bad(f"shapes {shapes} do not broadcast")
    if int(np.prod(out, dtype=object)) > MAX_FOLD_ELEMENTS:
        n.bad(f"the result {out} is too large")
    return out


def _fold_unary(fn):
    return lambda n: np.asarray(fn(n.ins[0])).astype(n.ins[0].dtype, copy=False) if n.ins[0].dtype.kind == "f" \
        else np.asarray(fn(n.ins[0]))


def fold_gather(n):
    data, idx = n.ins[0], n.ins[1]
    if data is None or idx is None:
        n.bad("expects 2 inputs")
    if idx.dtype.kind not in "iu":
        n.bad("indices must be integers")
    rank = data.ndim
    axis = _norm_axis(n, n.a_int("axis", 0), rank)
    dim = data.shape[axis]
    idx = np.where(idx < 0, idx + dim, idx)
    if idx.size and (idx.min() < 0 or idx.max() >= dim):
        n.bad("index out of range")
    return np.take(data, idx.astype(np.int64), axis=axis)


def fold_unsqueeze(n):
    x = n.ins[0]
    axes = _int_list(n, n.ins[1], "axes") if n.opset >= 13 and len(n.ins) > 1 and n.ins[1] is not None \
        else n.a_ints("axes")
    if axes is None:
        n.bad("axes are required")
    out_rank = x.ndim + len(axes)
    axes = sorted(_norm_axis(n, a, out_rank) for a in axes)
    if len(set(axes)) != len(axes):
        n.bad("repeated axes")
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return x.reshape(shape)


def fold_squeeze(n):
    x = n.ins[0]
    axes = _int_list(n, n.ins[1], "axes") if n.opset >= 13 and len(n.ins) > 1 and n.ins[1] is not None \
        else n.a_ints("axes")
    if axes is None:
        return x.reshape(tuple(d for d in x.shape if d != 1))
    axes = {_norm_axis(n, a, x.ndim) for a in axes}
    if any(x.shape[a] != 1 for a in axes):
        n.bad("cannot squeeze a dimension that is not 1")
    return x.reshape(tuple(d for k, d in enumerate(x.shape) if k not in axes))


def fold_concat(n):
    xs = [x for x in n.ins if x is not None]
    if not xs:
        n.bad("no inputs")
    axis = _norm_axis(n, n.a_int("axis", 0), xs[0].ndim)
    if any(x.ndim != xs[0].ndim for x in xs):
        n.bad("inputs have different ranks")
    return np.concatenate(xs, axis=axis)


CAST = {k: v[0] for k, v in TENSOR_TYPES.items()}


def fold_cast(n):
    to = n.a_int("to")
    if to not in CAST:
        n.fail(f"cast to type {to} is not supported")
    x = n.ins[0]
    if x.dtype.kind == "f" and np.dtype(CAST[to]).kind in "iu":
        if not np.all(np.isfinite(x)):
            n.bad("casting a non-finite float to an integer")
        info = np.iinfo(CAST[to])
        if x.size and (x.min() < info.min or x.max() > info.max):
            n.bad("cast out of range")
    return x.astype(CAST[to])


def fold_slice(n):
    x = n.ins[0]
    if n.opset < 10:
        starts, ends, axes, steps = n.a_ints("starts"), n.a_ints("ends"), n.a_ints("axes"), None
        if starts is None or ends is None:
            n.bad("starts and ends are required")
    else:
        starts, ends = _int_list(n, n.ins[1], "starts"), _int_list(n, n.ins[2], "ends")
        axes = _int_list(n, n.ins[3], "axes") if len(n.ins) > 3 and n.ins[3] is not None else None
        steps = _int_list(n, n.ins[4], "steps") if len(n.ins) > 4 and n.ins[4] is not None else None
    return x[tuple(_slices(n, x.shape, starts, ends, axes, steps))]


def fold_reshape(n):
    x = n.ins[0]
    target = n.a_ints("shape") if n.opset < 5 else _int_list(n, n.ins[1], "shape")
    if target is None:
        n.bad("shape is required")
    return x.reshape(_reshape_target(n, x.shape, target, n.a_int("allowzero", 0) if n.opset >= 14 else 0))


def fold_flatten(n):
    x = n.ins[0]
    axis = n.a_int("axis", 1)
    if not -x.ndim <= axis <= x.ndim:
        n.bad("axis out of range")
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis], dtype=object)), -1) if x.size else \
        x.reshape(int(np.prod(x.shape[:axis], dtype=object)), int(np.prod(x.shape[axis:], dtype=object)))


def fold_transpose(n):
    x = n.ins[0]
    perm = n.a_ints("perm", None)
    if perm is None:
        perm = list(range(x.ndim))[::-1]
    if sorted(perm) != list(range(x.ndim)):
        n.bad(f"perm {perm} is not a permutation")
    return np.ascontiguousarray(np.transpose(x, perm))


def _shape_arg(n, arr):
    dims = _int_list(n, arr, "shape")
    if any(d < 0 for d in dims):
        n.bad(f"negative dimension in {dims}")
    total = int(np.prod(dims, dtype=object)) if dims else 1
    if total > MAX_FOLD_ELEMENTS:
        n.bad(f"shape {dims} is too large to evaluate at import")
    return dims


def fold_constant_of_shape(n):
    dims = _shape_arg(n, n.ins[0])
    v = n.attrs.get("value")
    value = np.zeros(1, np.float32) if v is None else to_array(v, f"ConstantOfShape {n.name!r} value")
    if value.size != 1:
        n.bad("value must have one element")
    return np.full(dims, value.reshape(-1)[0], value.dtype)


def fold_expand(n):
    x, shape = n.ins[0], _shape_arg(n, n.ins[1])
    out = _check_broadcast(n, x.shape, tuple(shape))
    return np.array(np.broadcast_to(x, out))


def fold_tile(n):
    x, reps = n.ins[0], _int_list(n, n.ins[1], "repeats")
    if len(reps) != x.ndim or any(r < 0 for r in reps):
        n.bad("repeats must be one non-negative int per axis")
    if x.size * int(np.prod(reps, dtype=object)) > MAX_FOLD_ELEMENTS:
        n.bad("the result is too large")
    return np.tile(x, reps)


def fold_range(n):
    start, limit, delta = (_scalar(n, v, w) for v, w in zip(n.ins[:3], ("start", "limit", "delta")))
    if delta == 0:
        n.bad("delta is 0")
    count = max(int(math.ceil((float(limit) - float(start)) / float(delta))), 0)
    if count > MAX_FOLD_ELEMENTS:
        n.bad("the range is too long")
    return np.arange(count, dtype=np.asarray(n.ins[0]).dtype) * delta + start


def fold_where(n):
    c, a, b = n.ins[:3]
    _check_broadcast(n, c.shape, a.shape, b.shape)
    return np.where(c.astype(bool), a, b)


def _reduce(fn):
    def f(n):
        x = n.ins[0]
        if n.opset >= 18 or (n.op == "ReduceSum" and n.opset >= 13):
            axes = _int_list(n, n.ins[1], "axes") if len(n.ins) > 1 and n.ins[1] is not None else None
        else:
            axes = n.a_ints("axes", None)
        keep = bool(n.a_int("keepdims", 1))
        axes = None if not axes else tuple(_norm_axis(n, a, x.ndim) for a in axes)
        return np.asarray(fn(x, axis=axes, keepdims=keep))
    return f


def fold_clip(n):
    x = n.ins[0]
    if n.opset < 11:
        lo, hi = n.a_float("min", -INF), n.a_float("max", INF)
    else:
        lo = _scalar(n, n.ins[1], "min") if len(n.ins) > 1 and n.ins[1] is not None else -INF
        hi = _scalar(n, n.ins[2], "max") if len(n.ins) > 2 and n.ins[2] is not None else INF
    return np.minimum(np.maximum(x, lo), hi).astype(x.dtype)


def fold_identity(n):
    return n.ins[0]


def fold_split(n):
    x = n.ins[0]
    axis = _norm_axis(n, n.a_int("axis", 0), x.ndim)
    sizes = _split_sizes(None, n, x.shape[axis]) if n.opset < 13 else None
    if sizes is None:
        s = n.ins[1] if len(n.ins) > 1 else None
        if s is not None:
            sizes = _int_list(n, s, "split")
        else:
            k = len(n.out_names)
            if x.shape[axis] % k:
                n.bad("uneven split")
            sizes = [x.shape[axis] // k] * k
    if sum(sizes) != x.shape[axis] or any(s < 0 for s in sizes) or len(sizes) != len(n.out_names):
        n.bad(f"split sizes {sizes} do not fit")
    bounds = np.cumsum([0] + sizes)
    return [np.take(x, range(a, b), axis=axis) for a, b in zip(bounds[:-1], bounds[1:])]


def fold_batchnorm(n):
    x, g, b, m, v = n.ins[:5]
    eps = n.a_float("epsilon", 1e-5)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return ((x - m.reshape(shape)) / np.sqrt(v.reshape(shape) + eps) * g.reshape(shape) + b.reshape(shape)).astype(
        x.dtype)


FOLD = {
    "Shape": fold_shape, "Size": fold_size, "Gather": fold_gather, "Unsqueeze": fold_unsqueeze, "Squeeze": fold_squeeze,
    "Concat": fold_concat, "Cast": fold_cast, "Slice": fold_slice, "Reshape": fold_reshape, "Flatten": fold_flatten,
    "Transpose": fold_transpose, "Identity": fold_identity, "Dropout": lambda n: [n.ins[0]],
    "Add": _fold_binary(np.add), "Sub": _fold_binary(np.subtract), "Mul": _fold_binary(np.multiply),
    "Div": _fold_binary(np.divide), "Pow": _fold_binary(np.power), "Max": _fold_binary(np.maximum),
    "Min": _fold_binary(np.minimum), "Equal": _fold_binary(np.equal), "Less": _fold_binary(np.less),
    "Greater": _fold_binary(np.greater), "And": _fold_binary(np.logical_and), "Or": _fold_binary(np.logical_or),
    "Mod": _fold_binary(np.fmod),
    "Neg": _fold_unary(np.negative), "Abs": _fold_unary(np.abs), "Floor": _fold_unary(np.floor),
    "Ceil": _fold_unary(np.ceil), "Sqrt": _fold_unary(np.sqrt), "Reciprocal": _fold_unary(np.reciprocal),
    "Exp": _fold_unary(np.exp), "Log": _fold_unary(np.log), "Not": _fold_unary(np.logical_not),
    "Relu": _fold_unary(lambda x: np.maximum(x, 0)), "Sigmoid": _fold_unary(lambda x: 1 / (1 + np.exp(-x))),
    "Tanh": _fold_unary(np.tanh), "Round": _fold_unary(np.round),
    "ConstantOfShape": fold_constant_of_shape, "Expand": fold_expand, "Tile": fold_tile, "Range": fold_range,
    "Where": fold_where, "ReduceProd": _reduce(np.prod), "ReduceSum": _reduce(np.sum), "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min), "ReduceMean": _reduce(np.mean), "Clip": fold_clip, "Split": fold_split,
    "BatchNormalization": fold_batchnorm,
}

HANDLERS = {
    "Conv": op_conv, "ConvTranspose": op_conv_transpose, "BatchNormalization": op_batchnorm,
    "Relu": lambda cx, n: _unary(cx, n, "relu"), "Sigmoid": lambda cx, n: _unary(cx, n, "sigmoid"),
    "Tanh": lambda cx, n: _unary(cx, n, "tanh"), "HardSwish": lambda cx, n: _unary(cx, n, "hardswish"),
    "HardSigmoid": lambda cx, n: _unary(cx, n, "hardsigmoid", n.a_float("alpha", 0.2), n.a_float("beta", 0.5)),
    "LeakyRelu": lambda cx, n: _unary(cx, n, "leaky_relu", n.a_float("alpha", 0.01)),
    "Elu": lambda cx, n: _unary(cx, n, "elu", n.a_float("alpha", 1.0)),
    "Clip": op_clip, "PRelu": op_prelu,
    "Add": op_binary, "Sub": op_binary, "Mul": op_binary, "Div": op_binary, "Max": op_binary, "Min": op_binary,
    "GlobalAveragePool": op_global_avgpool, "GlobalMaxPool": op_global_maxpool, "AveragePool": op_pool,
    "MaxPool": op_pool, "ReduceMean": op_reduce_mean, "Concat": op_concat, "Split": op_split, "Slice": op_slice,
    "Reshape": op_reshape, "Transpose": op_transpose, "Flatten": op_flatten, "Squeeze": op_squeeze,
    "Unsqueeze": op_unsqueeze, "Gemm": op_gemm, "MatMul": op_matmul, "Softmax": op_softmax, "Resize": op_resize,
    "Upsample": op_upsample, "Identity": op_identity, "Dropout": op_dropout, "Cast": op_cast, "Shape": op_shape,
    "Size": op_size, "Constant": op_constant,
}
SUPPORTED = sorted(set(HANDLERS) | set(FOLD))
