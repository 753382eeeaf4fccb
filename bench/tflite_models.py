"""LiteRT (.tflite) models of the layer workloads: read their structure and weights, or write new ones.

The shipped models in bench/data/tflite/ are the source of the layer weights every engine gets
(so LiteRT's output is checked like everyone else's). read_layer() parses the flatbuffer with
LiteRT's own schema module and checks that the op really is the workload (op, stride, dilation,
padding, groups, shapes, no fused activation); write_layer() builds a one-op model for any other
layer (--shape, --groups-sweep) from given weights. Needs ai-edge-litert (and its flatbuffers).
"""
import math
import os
from dataclasses import dataclass, field

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tflite")


def _schema():
    from ai_edge_litert import schema_py_generated as schema  # optional: only LiteRT users get here
    return schema


# The network models are 30 MB, so they are not in the repository: they are read from the
# project's shared peer material beside the checkout (where CI and developers have it).
SHARED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "peers", "tflite")


def model_path(name):
    """The .tflite model for a workload or network: bench/data/tflite/, else ../shared/peers/tflite/."""
    local = os.path.join(DATA_DIR, f"{name}.tflite")
    shared = os.path.join(SHARED_DIR, f"{name}.tflite")
    return local if os.path.exists(local) or not os.path.exists(shared) else os.path.abspath(shared)


@dataclass
class TfliteLayer:
    path: str
    weight: np.ndarray = None  # torch layout OIHW
    bias: np.ndarray = None
    problems: list = field(default_factory=list)  # why it is not exactly the workload; empty = it is


def _same_pads(size, kernel, stride, dilation):
    """TensorFlow's SAME padding (before, after): the odd pixel goes after."""
    span = dilation * (kernel - 1) + 1
    total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def _tensor_array(schema, model, tensor, raw):
    if tensor.type != schema.TensorType.FLOAT32 and tensor.type != schema.TensorType.INT32:
        raise ValueError(f"tensor {tensor.name!r} has type {tensor.type}, not float32 (quantized model?)")
    buf = model.buffers[tensor.buffer]
    data = buf.data if buf.data is not None else raw[buf.offset:buf.offset + buf.size]
    dtype = np.float32 if tensor.type == schema.TensorType.FLOAT32 else np.int32
    return np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype=dtype).reshape(tuple(tensor.shape))


def read_layer(workload, path=None):
    """The model's weights in torch layout and how it differs from `workload` (problems)."""
    schema = _schema()
    path = path or model_path(workload.name)
    raw = open(path, "rb").read()
    model = schema.ModelT.InitFromPackedBuf(bytearray(raw), 0)
    graph = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    op_name = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = [(op_name.get(codes[op.opcodeIndex], "?"), op) for op in graph.operators]
    layer = TfliteLayer(path)
    problem = layer.problems.append

    explicit_pad = (0, 0)
    if ops and ops[0][0] == "PAD":  # Keras ZeroPadding2D before a VALID conv
        pads = _tensor_array(schema, model, graph.tensors[ops[0][1].inputs[1]], raw)
        explicit_pad = (int(pads[1][0]), int(pads[1][1]))
        if pads[1].tolist() != pads[2].tolist() or pads[0].any() or pads[3].any():
            problem(f"PAD op pads {pads.tolist()}, not the same on H and W only")
        ops = ops[1:]
    if [name for name, _ in ops] not in (["CONV_2D"], ["DEPTHWISE_CONV_2D"]):
        problem(f"ops are {[name for name, _ in ops]}, expected one CONV_2D or DEPTHWISE_CONV_2D")
        return layer
    name, op = ops[0]
    opts = op.builtinOptions
    x_shape = tuple(graph.tensors[graph.inputs[0]].shape)
    y_shape = tuple(graph.tensors[op.outputs[0]].shape)
    if x_shape != (1, workload.hw, workload.hw, workload.c_in):
        problem(f"input shape {x_shape} (NHWC), expected {(1, workload.hw, workload.hw, workload.c_in)}")
    if y_shape != (1, workload.out_hw, workload.out_hw, workload.c_out):
        problem(f"output shape {y_shape} (NHWC), expected {(1, workload.out_hw, workload.out_hw, workload.c_out)}")
    filt = _tensor_array(schema, model, graph.tensors[op.inputs[1]], raw)
    if name == "CONV_2D":  # (C_out, kH, kW, C_in/groups)
        groups = x_shape[3] // filt.shape[3]
        weight = filt.transpose(0, 3, 1, 2)
    else:  # (1, kH, kW, C_in*multiplier); output channel c*m + j reads input channel c, as in torch
        groups = x_shape[3]
        weight = filt.transpose(3, 0, 1, 2)
    if groups != workload.groups:
        problem(f"groups {groups}, expected {workload.groups}")
    if (opts.strideH, opts.strideW) != (workload.stride,) * 2:
        problem(f"stride {(opts.strideH, opts.strideW)}, expected {workload.stride}")
    if (opts.dilationHFactor, opts.dilationWFactor) != (workload.dilation,) * 2:
        problem(f"dilation {(opts.dilationHFactor, opts.dilationWFactor)}, expected {workload.dilation}")
    if opts.fusedActivationFunction != schema.ActivationFunctionType.NONE:
        problem(f"fused activation {opts.fusedActivationFunction}")
    if opts.padding == schema.Padding.SAME:
        pads = tuple(a + b for a, b in zip(explicit_pad, _same_pads(workload.hw, filt.shape[1], opts.strideH,
                                                                       opts.dilationHFactor)))
    else:
        pads = explicit_pad
    if pads != (workload.pad, workload.pad):
        problem(f"pads {pads} (before, after), expected {workload.pad} on both sides")
    if weight.shape != workload.weight_shape:
        problem(f"weight shape {weight.shape} (OIHW), expected {workload.weight_shape}")
        return layer
    layer.weight = weight.copy()  # C-contiguous and writable (the file buffer is read-only)
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        layer.bias = _tensor_array(schema, model, graph.tensors[op.inputs[2]], raw).copy()
    elif workload.bias:
        problem("no bias")
    return layer


def write_layer(workload, weight, bias, path):
    """A one-op LiteRT model of `workload` with these (OIHW) weights: CONV_2D, or DEPTHWISE_CONV_2D
    when groups == C_in; an explicit PAD op when the padding is not TensorFlow's SAME or VALID."""
    import flatbuffers
    schema = _schema()
    wl = workload
    depthwise = wl.groups == wl.c_in
    model = schema.ModelT()
    model.version = 3
    model.buffers = [schema.BufferT()]  # buffer 0: the empty sentinel
    graph = schema.SubGraphT()
    graph.tensors, graph.operators = [], []

    def tensor(name, shape, data=None, dtype=schema.TensorType.FLOAT32):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), dtype, 0
        if data is not None:
            b = schema.BufferT()
            b.data = np.ascontiguousarray(data).view(np.uint8).ravel()
            model.buffers.append(b)
            t.buffer = len(model.buffers) - 1
        graph.tensors.append(t)
        return len(graph.tensors) - 1

    def opcode(builtin):
        c = schema.OperatorCodeT()
        c.builtinCode = builtin
        c.deprecatedBuiltinCode = min(builtin, 127)
        c.version = 1
        model.operatorCodes.append(c)
        return len(model.operatorCodes) - 1

    model.operatorCodes = []
    x = tensor("input", (1, wl.hw, wl.hw, wl.c_in))
    same = _same_pads(wl.hw, wl.kernel, wl.stride, wl.dilation)
    if wl.pad == 0:
        padding = schema.Padding.VALID
    elif same == (wl.pad, wl.pad):
        padding = schema.Padding.SAME
    else:
        padded = tensor("padded", (1, wl.hw + 2 * wl.pad, wl.hw + 2 * wl.pad, wl.c_in))
        pads = tensor("paddings", (4, 2), np.array([[0, 0], [wl.pad] * 2, [wl.pad] * 2, [0, 0]], np.int32),
                      schema.TensorType.INT32)
        pad_op = schema.OperatorT()
        pad_op.opcodeIndex = opcode(schema.BuiltinOperator.PAD)
        pad_op.inputs, pad_op.outputs = [x, pads], [padded]
        pad_op.builtinOptionsType, pad_op.builtinOptions = schema.BuiltinOptions.PadOptions, schema.PadOptionsT()
        graph.operators.append(pad_op)
        x, padding = padded, schema.Padding.VALID
    if depthwise:
        filt = weight.transpose(1, 2, 3, 0)  # (1, kH, kW, C*m)
        opts = schema.DepthwiseConv2DOptionsT()
        opts.depthMultiplier = wl.c_out // wl.c_in
        kind, opts_type = schema.BuiltinOperator.DEPTHWISE_CONV_2D, schema.BuiltinOptions.DepthwiseConv2DOptions
    else:
        filt = weight.transpose(0, 2, 3, 1)  # (C_out, kH, kW, C_in/groups)
        opts = schema.Conv2DOptionsT()
        kind, opts_type = schema.BuiltinOperator.CONV_2D, schema.BuiltinOptions.Conv2DOptions
    opts.padding, opts.strideH, opts.strideW = padding, wl.stride, wl.stride
    opts.dilationHFactor = opts.dilationWFactor = wl.dilation
    opts.fusedActivationFunction = schema.ActivationFunctionType.NONE
    inputs = [x, tensor("filter", filt.shape, filt.astype(np.float32))]
    if bias is not None:
        inputs.append(tensor("bias", bias.shape, bias.astype(np.float32)))
    y = tensor("output", (1, wl.out_hw, wl.out_hw, wl.c_out))
    conv = schema.OperatorT()
    conv.opcodeIndex = opcode(kind)
    conv.inputs, conv.outputs = inputs, [y]
    conv.builtinOptionsType, conv.builtinOptions = opts_type, opts
    graph.operators.append(conv)
    graph.inputs, graph.outputs = [0], [y]
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(builder.Output())
    os.replace(tmp, path)  # atomic: a concurrent run never reads half a model
    return path
