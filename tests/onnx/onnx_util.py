"""Helpers shared by the ONNX tests: building models with onnx.helper, exporting torch twins, running
ONNX Runtime as the oracle, and the relative comparison every test uses."""
import io
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RTOL = 1e-4  # max |ours - ort| relative to max |ort|


def rel_err(y, ref):
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    assert y.shape == ref.shape, f"shape {y.shape} != reference {ref.shape}"
    scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-30)
    return float(np.max(np.abs(y - ref))) / scale if ref.size else 0.0


def assert_close(y, ref, tol=RTOL):
    err = rel_err(y, ref)
    assert err <= tol, f"max abs diff relative to max|ref| = {err:.3g} > {tol}"


def make_model(nodes, inputs, outputs, inits=None, opset=13, ir_version=8):
    """nodes: onnx NodeProtos; inputs: {name: shape}; outputs: [name]; inits: {name: array}."""
    inits = inits or {}
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return model.SerializeToString()


def ort_session(data):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def ort_run(data, feeds):
    sess = ort_session(data)
    if not isinstance(feeds, dict):
        feeds = {sess.get_inputs()[0].name: feeds}
    return sess.run(None, feeds)


def export_torch(module, x, opset, **kw):
    """torch.onnx.export with the TorchScript-based exporter (dynamo=False): the dynamo exporter needs
    onnxscript, which torch 2.13 does not install; the legacy one works offline."""
    import torch
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), f, opset_version=opset, dynamo=False, **kw)
    return f.getvalue()


def rand(*shape, seed=0, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


def node(op, ins, outs, name=None, **attrs):
    return helper.make_node(op, ins, outs, name=name or f"{op}_{'_'.join(outs)}", **attrs)


# ---- small seed models (the fuzz corpus and several tests) ---------------------------------------------------

def seed_models():
    """(name, bytes, input shape) of small valid models covering the main operators."""
    c = 8
    seeds = []
    inits = {"w1": rand(c, 3, 3, 3, seed=1), "b1": rand(c, seed=2), "w2": rand(c, 1, 3, 3, seed=3),
             "g": rand(c, seed=4, lo=0.5, hi=1.5), "be": rand(c, seed=5), "m": rand(c, seed=6),
             "v": rand(c, seed=7, lo=0.5, hi=2.0), "fc": rand(10, 2 * c, seed=8), "fb": rand(10, seed=9),
             "lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32)}
    nodes = [node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
             node("BatchNormalization", ["c1", "g", "be", "m", "v"], ["bn"], epsilon=1e-5),
             node("Clip", ["bn", "lo", "hi"], ["r1"]),
             node("Conv", ["r1", "w2"], ["c2"], group=c, kernel_shape=[3, 3], pads=[0, 1, 2, 1], strides=[2, 2]),
             node("HardSwish", ["c2"], ["h"]),
             node("MaxPool", ["r1"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             node("Concat", ["h", "mp"], ["cat"], axis=1),
             node("GlobalAveragePool", ["cat"], ["gap"]),
             node("Flatten", ["gap"], ["fl"], axis=1),
             node("Gemm", ["fl", "fc", "fb"], ["y"], transB=1),
             node("Softmax", ["y"], ["p"], axis=1)]
    seeds.append(("convnet", make_model(nodes, {"x": (1, 3, 8, 8)}, ["p"], inits, opset=14), (1, 3, 8, 8)))

    shape = np.array([1, 2, c // 2, 4, 4], np.int64)
    nodes = [node("Reshape", ["x", "s5"], ["r5"]), node("Transpose", ["r5"], ["t5"], perm=[0, 2, 1, 3, 4]),
             node("Reshape", ["t5", "s4"], ["sh"]),
             node("Split", ["sh", "sp"], ["a", "b"], axis=1),
             node("Mul", ["b", "k"], ["bk"]), node("Add", ["bk", "k2"], ["bk2"]), node("Sigmoid", ["bk2"], ["sg"]),
             node("Concat", ["a", "sg"], ["y"], axis=1),
             node("AveragePool", ["y"], ["ap"], kernel_shape=[2, 2], strides=[2, 2], count_include_pad=1),
             node("Resize", ["ap", "", "sc"], ["up"], mode="linear", coordinate_transformation_mode="half_pixel")]
    inits = {"s5": shape, "s4": np.array([1, c, 4, 4], np.int64), "sp": np.array([c // 2, c // 2], np.int64),
             "k": rand(1, c // 2, 1, 1, seed=10), "k2": rand(c // 2, 1, 1, seed=11),
             "sc": np.array([1, 1, 2, 2], np.float32)}
    seeds.append(("shuffle", make_model(nodes, {"x": (1, c, 4, 4)}, ["up"], inits, opset=13), (1, c, 4, 4)))

    nodes = [node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2, 2]),
             node("PRelu", ["c", "sl"], ["p"]),
             node("ConvTranspose", ["p", "wt", "bt"], ["d"], group=4, strides=[2, 2], kernel_shape=[4, 4],
                  pads=[1, 1, 1, 1]),
             node("LeakyRelu", ["d"], ["l"], alpha=0.1),
             node("Resize", ["l", "", "", "sz"], ["y"], mode="nearest", coordinate_transformation_mode="asymmetric",
                  nearest_mode="floor")]
    inits = {"w": rand(4, 3, 3, 3, seed=12), "sl": rand(4, 1, 1, seed=13, lo=0, hi=0.5),
             "wt": rand(4, 1, 4, 4, seed=14), "bt": rand(4, seed=15), "sz": np.array([1, 4, 12, 10], np.int64)}
    seeds.append(("deconv", make_model(nodes, {"x": (1, 3, 7, 9)}, ["y"], inits, opset=13), (1, 3, 7, 9)))
    return seeds
