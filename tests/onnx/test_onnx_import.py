"""gconv_cpu.onnx.load against ONNX Runtime (the oracle): max |ours - ort| / max |ort| <= 1e-4.

Models come from three sources: PyTorch twins exported with torch.onnx.export (the TorchScript-based
exporter, dynamo=False: the dynamo exporter needs onnxscript, which is not installed with torch 2.13),
at opsets 11 and 17; models built node by node with onnx.helper (every attribute variant); and
third-party PP-OCR models (PaddlePaddle exports, paddle2onnx conventions) shipped by the
rapidocr-onnxruntime wheel, when installed.

Operator coverage (op -> tests):
  Conv                 test_torch_nets, test_op[conv_*] (asymmetric pads, SAME_UPPER/SAME_LOWER/VALID,
                       dilations, groups, no bias)
  ConvTranspose        test_op[deconv_*] (group=C, output_padding, pads, output_shape, SAME_UPPER),
                       test_upsampling_twin, test_ppocr_det
  BatchNormalization   test_op[bn_*], test_ppocr_cls (unfolded, 4-D and 2-D)
  Relu                 test_torch_nets, test_op[relu]
  Clip                 test_op[clip_*] (opset 6 attrs; opset 11/13 inputs, missing min or max)
  PRelu                test_op[prelu_*] ((C,1,1), (1,), (C,) on 2-D, (W,) broadcast on 4-D)
  HardSigmoid          test_op[hardsigmoid], test_mobilenet_v3_twin (SE)
  HardSwish            test_op[hardswish], test_mobilenet_v3_twin (opset 17), hardswish patterns below
  x*hardsigmoid(x), x*relu6(x+3)/6 -> hardswish   test_hardswish_patterns, test_mobilenet_v3_twin (opset 11)
  Sigmoid, Tanh, LeakyRelu, Elu   test_op[sigmoid|tanh|leaky_relu|elu]
  Add/Sub/Mul/Div      test_op[binary_*] (tensor-tensor broadcast, per-channel constants, scalars, const - x,
                       const / x, non-channel constant broadcast, 2-D)
  GlobalAveragePool    test_torch_nets, test_op[global_avgpool]; GlobalMaxPool test_op[global_maxpool]
  ReduceMean           test_op[reduce_mean_*] (axes attr, opset 18 axes input, keepdims 0/1)
  AveragePool          test_op[avgpool_*] (count_include_pad, ceil_mode, pads)
  MaxPool              test_op[maxpool_*] (ceil_mode, dilations, pads, SAME_UPPER), test_refusals
  Concat               test_op[concat_*] (axis -3 of 4-D, 1 of 2-D, a constant input)
  Split                test_op[split_*] (opset 11 attr, opset 13 input, equal, opset 18 num_outputs)
  Slice                test_op[slice_*] (channel axis, negative starts, opset 9 attrs), test_refusals
  Reshape+Transpose+Reshape -> shuffle   test_torch_nets[shufflenet_v2], test_op[shuffle_*]
  Reshape, Flatten, Squeeze, Unsqueeze   test_op[reshape_*|flatten|squeeze_*|unsqueeze]
  Transpose            test_op[shuffle_*], test_op[transpose_unit_axes], test_refusals
  Gemm                 test_torch_nets, test_op[gemm_*] (transB 0/1, alpha, beta, C (M,) and (1, M))
  MatMul               test_op[matmul], test_ppocr_cls
  Softmax              test_op[softmax_*] (opset 11 coerced 4-D, opset 13 last axis)
  Resize               test_op[resize_*] (nearest x 4 nearest modes, linear x half_pixel/align_corners/
                       asymmetric/pytorch_half_pixel, tf_half_pixel_for_nn, scales, sizes, downsampling,
                       opset 10, opset 18 axes), test_upsampling_twin, test_ppocr_det
  Upsample             test_op[upsample_*] (opset 9 nearest and linear, opset 7 attribute)
  Identity, Dropout, Constant   test_op[identity_dropout], test_op[constant_*]
  Shape/Gather/Unsqueeze/Concat/Cast/Slice/Squeeze/Reshape folding   test_op[fold_*], test_dynamic_export
"""
import importlib.util
import os
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

import gconv_cpu  # noqa: E402
import gconv_cpu.onnx as gonnx  # noqa: E402
from gconv_cpu.onnx import OnnxModelError, UnsupportedOperatorError  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from onnx_util import assert_close, export_torch, make_model, node, ort_run, rand, rel_err, seed_models  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.append(ROOT)  # bench.torch_nets (appended: the gconv_cpu under test stays the one imported)
HAVE_DECONV = importlib.util.find_spec("gconv_cpu._deconv") is not None
needs_deconv = pytest.mark.skipif(not HAVE_DECONV, reason="ConvTranspose's kernel (gconv_cpu._deconv) is not built yet")


def check(data, x, tol=1e-4, roundtrip=False, **load_kw):
    model = gonnx.load(data, **load_kw)
    feeds = x if isinstance(x, dict) else {model.input_names[0]: x}
    ours = model.run(feeds)
    refs = ort_run(data, feeds)
    for name, ref in zip(model.output_names, refs):
        assert_close(ours[name], ref, tol)
    if roundtrip:  # the native format reproduces the imported model bit for bit
        import io
        buf = io.BytesIO()
        model.save(buf)
        again = gconv_cpu.load(buf.getvalue()).run(feeds)
        assert all(np.array_equal(again[k], ours[k]) for k in ours)
    return model


# ---- PyTorch twins ---------------------------------------------------------------------------------------------

def _torch_nets():
    from bench import torch_nets
    return torch_nets


@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("name", ["mobilenet_v2", "shufflenet_v2"])
def test_torch_nets(name, opset):
    tn = _torch_nets()
    net = tn.build_net(name)
    shape = tn.NETS[name].input_shape
    x = rand(*shape, seed=1)
    data = export_torch(net, torch.from_numpy(x), opset)
    model = check(data, x, roundtrip=True)
    with torch.no_grad():
        assert_close(model(x), net(torch.from_numpy(x)).numpy())


def test_imported_plan_matches_builder():
    """Imported MobileNetV2/ShuffleNetV2 plan to the same fused program as gconv_cpu.models' builders:
    the same number of C steps (every conv+BN+ReLU6 one kernel call) and the same arena."""
    models = pytest.importorskip("gconv_cpu.models")
    from gconv_cpu._program import program_for
    tn = _torch_nets()
    for name in ("mobilenet_v2", "shufflenet_v2"):
        builder = getattr(models, name, None)
        if builder is None:
            pytest.skip(f"gconv_cpu.models has no {name}")
        shape = tn.NETS[name].input_shape
        data = export_torch(tn.build_net(name), torch.zeros(shape), 17)
        imported = program_for(gonnx.load(data), [shape]).describe()
        built = program_for(builder(), [shape]).describe()
        assert imported["steps"] == built["steps"], name
        assert imported["arena_bytes"] == built["arena_bytes"], name


class _SE(torch.nn.Module):
    def __init__(self, c, s):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Conv2d(c, s, 1), torch.nn.Conv2d(s, c, 1)

    def forward(self, x):
        s = torch.nn.functional.adaptive_avg_pool2d(x, 1)
        return x * torch.nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(s))))


class _V3Block(torch.nn.Module):
    def __init__(self, c_in, exp, c_out, k, stride, se, hs):
        super().__init__()
        act = torch.nn.Hardswish if hs else torch.nn.ReLU
        self.expand = torch.nn.Sequential(torch.nn.Conv2d(c_in, exp, 1, bias=False), torch.nn.BatchNorm2d(exp), act())
        self.dw = torch.nn.Sequential(torch.nn.Conv2d(exp, exp, k, stride, k // 2, groups=exp, bias=False),
                                      torch.nn.BatchNorm2d(exp), act())
        self.se = _SE(exp, max(8, exp // 4)) if se else torch.nn.Identity()
        self.project = torch.nn.Sequential(torch.nn.Conv2d(exp, c_out, 1, bias=False), torch.nn.BatchNorm2d(c_out))
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.residual else y


class MobileNetV3SmallTwin(torch.nn.Module):
    """MobileNetV3-small's layout (Howard et al. 2019, Table 2), reduced to 6 blocks: hardswish, SE with
    hardsigmoid, 3x3 and 5x5 depthwise, a Linear-Hardswish-Dropout-Linear head."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, 2, 1, bias=False), torch.nn.BatchNorm2d(16),
                                        torch.nn.Hardswish())
        cfg = [(16, 16, 16, 3, 2, True, False), (16, 72, 24, 3, 2, False, False), (24, 88, 24, 3, 1, False, False),
               (24, 96, 40, 5, 2, True, True), (40, 240, 40, 5, 1, True, True), (40, 120, 48, 5, 1, True, True)]
        self.blocks = torch.nn.Sequential(*[_V3Block(*c) for c in cfg])
        self.last = torch.nn.Sequential(torch.nn.Conv2d(48, 288, 1, bias=False), torch.nn.BatchNorm2d(288),
                                        torch.nn.Hardswish())
        self.head = torch.nn.Sequential(torch.nn.Linear(288, 256), torch.nn.Hardswish(), torch.nn.Dropout(0.2),
                                        torch.nn.Linear(256, 100))

    def forward(self, x):
        x = self.last(self.blocks(self.stem(x)))
        return self.head(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def _randomize_bn(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.2, 0.2, generator=g)
                m.running_mean.uniform_(-0.2, 0.2, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
    return net.eval()


@pytest.mark.parametrize("opset", [11, 17])
def test_mobilenet_v3_twin(opset):
    net = _randomize_bn(MobileNetV3SmallTwin())
    x = rand(1, 3, 96, 96, seed=2)
    data = export_torch(net, torch.from_numpy(x), opset)
    model = check(data, x, roundtrip=True)
    kinds = [(n.op, n.attrs.get("kind")) for n in model.graph.nodes]
    assert ("binary", "mul") in kinds  # the SE scale
    # all 9 Hardswish modules are hardswish nodes: opset 17's HardSwish, and opset 11's x*HardSigmoid(x)
    assert sum(k == ("unary", "hardswish") for k in kinds) == 9


class UpsamplingTwin(torch.nn.Module):
    """A DBNet-style head: depthwise ConvTranspose upsampling (group=C), bilinear and nearest resizes."""

    def __init__(self, align_corners):
        super().__init__()
        self.align = align_corners
        self.conv = torch.nn.Conv2d(3, 8, 3, 2, 1)
        self.up = torch.nn.ConvTranspose2d(8, 8, 4, 2, 1, groups=8)
        self.bn = torch.nn.BatchNorm2d(8)
        self.up2 = torch.nn.ConvTranspose2d(16, 4, 3, 2, 1, output_padding=1)

    def forward(self, x):
        y = torch.relu(self.bn(self.up(torch.relu(self.conv(x)))))
        a = torch.nn.functional.interpolate(y, scale_factor=2, mode="bilinear", align_corners=self.align)
        b = torch.nn.functional.interpolate(y, scale_factor=2, mode="nearest")
        return torch.sigmoid(self.up2(torch.cat([a, b], 1)))


@needs_deconv
@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("align_corners", [False, True])
def test_upsampling_twin(opset, align_corners):
    net = _randomize_bn(UpsamplingTwin(align_corners))
    x = rand(1, 3, 20, 28, seed=3)
    data = export_torch(net, torch.from_numpy(x), opset)
    model = check(data, x, roundtrip=True)
    with torch.no_grad():
        assert_close(model(x), net(torch.from_numpy(x)).numpy())


def test_dynamic_export():
    """Dynamic N/H/W: torch writes Shape/Gather/Unsqueeze/Concat chains for view(n, g, c//g, h, w); they fold
    once the shape is known (at the first call, or from input_shape), separately for each input size."""
    class Shuffle(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 12, 3, 1, 1)

        def forward(self, x):
            y = self.conv(x)
            n, c, h, w = y.shape
            y = y.view(n, 3, c // 3, h, w).transpose(1, 2).reshape(n, c, h, w)
            return torch.flatten(torch.nn.functional.adaptive_avg_pool2d(y, 1), 1)

    net = Shuffle().eval()
    data = export_torch(net, torch.zeros(1, 3, 8, 8), 13,
                        input_names=["img"], output_names=["feat"],
                        dynamic_axes={"img": {0: "n", 2: "h", 3: "w"}, "feat": {0: "n"}})
    model = gonnx.load(data)
    assert model.input_shapes is None
    with pytest.raises(ValueError, match="input shape"):
        model.state_dict()
    for shape in [(1, 3, 8, 8), (2, 3, 10, 6)]:
        x = rand(*shape, seed=sum(shape))
        assert_close(model(img=x), ort_run(data, {"img": x})[0])
    assert any(n.op == "shuffle" for n in model.graph_for([(2, 3, 10, 6)]).nodes)
    fixed = gonnx.load(data, input_shape=(2, 3, 16, 16))
    assert fixed.input_shapes == [(2, 3, 16, 16)] and list(fixed.state_dict()) == ["/conv/Conv.weight", "/conv/Conv.bias"]
    with pytest.raises(ValueError, match="input_shape"):
        gonnx.load(data, input_shape=(1, 4, 8, 8))


# ---- operators, one model each (onnx.helper) -----------------------------------------------------------------

C = 6


def _case(nodes, inputs, outputs=("y",), inits=None, opset=13, feeds=None):
    feeds = feeds or {k: rand(*s, seed=len(k) + sum(s)) for k, s in inputs.items()}
    return make_model(nodes, inputs, list(outputs), inits, opset=opset), feeds


X4 = {"x": (2, C, 7, 9)}
W3 = rand(8, C, 3, 3, seed=21)


def _unary(op, opset=13, **attrs):
    return lambda: _case([node(op, ["x"], ["y"], **attrs)], X4, opset=opset)


def _binary(op, b, a_name="x", swap=False, shape=None):
    def f():
        ins = ["c", a_name] if swap else [a_name, "c"]
        return _case([node(op, ins, ["y"])], {"x": shape or X4["x"]}, inits={"c": b})
    return f


def _resize(mode, coord, nearest="round_prefer_floor", scales=None, sizes=None, opset=13, shape=(1, C, 5, 7)):
    def f():
        inits, ins = {}, ["x", "", "sc" if scales is not None else "", "sz" if sizes is not None else ""]
        if scales is not None:
            inits["sc"] = np.asarray(scales, np.float32)
        if sizes is not None:
            inits["sz"] = np.asarray(sizes, np.int64)
        if opset >= 13:
            ins = [i for i in ins]
            while ins[-1] == "":
                ins.pop()
        else:
            inits["roi"] = np.zeros(0, np.float32)
            ins[1] = "roi"
            if scales is None:
                inits["sc"] = np.zeros(0, np.float32)
                ins[2] = "sc"
        attrs = dict(mode=mode, coordinate_transformation_mode=coord)
        if mode == "nearest":
            attrs["nearest_mode"] = nearest
        return _case([node("Resize", ins, ["y"], **attrs)], {"x": shape}, inits=inits, opset=opset)
    return f


def _deconv(**attrs):
    def f():
        g = attrs.pop("group", 1)
        w = rand(C, 8 // g if g > 1 else 4, *attrs.get("kernel_shape", [3, 3]), seed=31)
        return _case([node("ConvTranspose", ["x", "w", "b"], ["y"], group=g, **attrs)], {"x": (1, C, 5, 6)},
                     inits={"w": w, "b": rand(w.shape[1] * g, seed=32)})
    return f


def _bn_inits(c, seed=40):
    return {"g": rand(c, seed=seed, lo=0.5, hi=1.5), "b": rand(c, seed=seed + 1), "m": rand(c, seed=seed + 2),
            "v": rand(c, seed=seed + 3, lo=0.5, hi=2.0)}


def _fold_chain():
    # Shape -> Gather -> Unsqueeze -> Concat -> Cast -> Reshape, and Shape -> Slice -> Squeeze -> Concat -> Reshape
    nodes = [node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("Shape", ["c"], ["s"]),
             node("Gather", ["s", "i0"], ["n"], axis=0),
             node("Unsqueeze", ["n", "ax0"], ["n1"]),
             node("Slice", ["s", "st", "en"], ["chw"]),
             node("ReduceProd", ["chw"], ["f"], keepdims=1),
             node("Concat", ["n1", "f"], ["tgt"], axis=0),
             node("Cast", ["tgt"], ["tgt32"], to=TensorProto.INT32),
             node("Cast", ["tgt32"], ["tgt64"], to=TensorProto.INT64),
             node("Reshape", ["c", "tgt64"], ["flat"]),
             node("Shape", ["flat"], ["s2"]),
             node("Slice", ["s2", "z", "o"], ["s2a"]),
             node("Squeeze", ["s2a", "ax0"], ["nn"]),
             node("Unsqueeze", ["nn", "ax0"], ["nn1"]),
             node("Concat", ["nn1", "m1"], ["tgt2"], axis=0),
             node("Reshape", ["flat", "tgt2"], ["y"])]
    inits = {"w": W3, "i0": np.array(0, np.int64), "ax0": np.array([0], np.int64), "st": np.array([1], np.int64),
             "en": np.array([4], np.int64), "z": np.array([0], np.int64), "o": np.array([1], np.int64),
             "m1": np.array([-1], np.int64)}
    return _case(nodes, X4, inits=inits)


CASES = {
    # Conv
    "conv_asym_pads": lambda: _case([node("Conv", ["x", "w"], ["y"], pads=[0, 1, 2, 1], strides=[2, 2])], X4,
                                    inits={"w": W3}),
    "conv_same_upper": lambda: _case([node("Conv", ["x", "w", "b"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
                                     X4, inits={"w": W3, "b": rand(8, seed=22)}),
    "conv_same_lower": lambda: _case([node("Conv", ["x", "w"], ["y"], auto_pad="SAME_LOWER", strides=[1, 2])],
                                     X4, inits={"w": rand(8, C, 4, 2, seed=23)}),
    "conv_valid": lambda: _case([node("Conv", ["x", "w"], ["y"], auto_pad="VALID")], X4, inits={"w": W3}),
    "conv_dilated_grouped": lambda: _case([node("Conv", ["x", "w", "b"], ["y"], group=2, dilations=[2, 1],
                                                pads=[2, 1, 2, 1])], X4,
                                          inits={"w": rand(4, C // 2, 3, 3, seed=24), "b": rand(4, seed=25)}),
    "conv_depthwise_5x5": lambda: _case([node("Conv", ["x", "w"], ["y"], group=C, pads=[2, 2, 2, 2])], X4,
                                        inits={"w": rand(C, 1, 5, 5, seed=26)}),
    # ConvTranspose
    "deconv_group_c": _deconv(group=C, kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1]),
    "deconv_output_padding": _deconv(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2], output_padding=[1, 1]),
    "deconv_output_shape": _deconv(kernel_shape=[3, 3], strides=[2, 2], output_shape=[10, 12]),
    "deconv_same_upper": _deconv(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    "deconv_same_lower": _deconv(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER"),
    "deconv_output_shape_odd": _deconv(kernel_shape=[4, 4], strides=[2, 2], output_shape=[9, 13]),
    "deconv_output_shape_larger": _deconv(kernel_shape=[3, 3], strides=[3, 3], output_shape=[16, 19]),
    "deconv_dilated": _deconv(kernel_shape=[3, 2], strides=[2, 1], dilations=[2, 1], pads=[1, 0, 2, 1]),
    # BatchNormalization, activations
    "bn_4d": lambda: _case([node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"], epsilon=1e-3)], X4,
                           inits=_bn_inits(C)),
    "bn_after_conv_relu": lambda: _case([node("Conv", ["x", "w"], ["c"]),
                                         node("BatchNormalization", ["c", "g", "b", "m", "v"], ["bn"]),
                                         node("Relu", ["bn"], ["y"])], X4, inits={"w": W3, **_bn_inits(8)}),
    "bn_2d": lambda: _case([node("Gemm", ["x", "w"], ["f"], transB=1),
                            node("BatchNormalization", ["f", "g", "b", "m", "v"], ["y"])], {"x": (3, 10)},
                           inits={"w": rand(5, 10, seed=27), **_bn_inits(5)}),
    "relu": _unary("Relu"),
    "clip_opset6": _unary("Clip", opset=6, min=-0.25, max=0.5),
    "clip_opset11_max_only": lambda: _case([node("Clip", ["x", "", "hi"], ["y"])], X4, opset=11,
                                           inits={"hi": np.array(0.3, np.float32)}),
    "clip_opset13_min_only": lambda: _case([node("Clip", ["x", "lo"], ["y"])], X4,
                                           inits={"lo": np.array(-0.2, np.float32)}),
    "clip_relu6": lambda: _case([node("Conv", ["x", "w"], ["c"]), node("Clip", ["c", "lo", "hi"], ["y"])], X4,
                                inits={"w": W3, "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}),
    "prelu_c11": lambda: _case([node("PRelu", ["x", "s"], ["y"])], X4, inits={"s": rand(C, 1, 1, seed=28)}),
    "prelu_scalar": lambda: _case([node("PRelu", ["x", "s"], ["y"])], X4, inits={"s": np.array([0.2], np.float32)}),
    "prelu_c_2d": lambda: _case([node("PRelu", ["x", "s"], ["y"])], {"x": (3, C)}, inits={"s": rand(C, seed=29)}),
    "prelu_w_4d": lambda: _case([node("PRelu", ["x", "s"], ["y"])], X4, inits={"s": rand(9, seed=30)}),
    "hardsigmoid": _unary("HardSigmoid", alpha=0.3, beta=0.4),
    "hardswish": _unary("HardSwish", opset=14),
    "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"),
    "leaky_relu": _unary("LeakyRelu", alpha=0.15),
    "elu": _unary("Elu", alpha=0.7),
    # binary
    "binary_add_broadcast": lambda: _case([node("Add", ["x", "z"], ["y"])], {"x": X4["x"], "z": (2, C, 1, 1)}),
    "binary_mul_tensors": lambda: _case([node("Mul", ["z", "x"], ["y"])], {"x": X4["x"], "z": (1, 1, 7, 1)}),
    "binary_mul_per_channel": _binary("Mul", rand(C, 1, 1, seed=33)),
    "binary_add_per_channel_4d": _binary("Add", rand(1, C, 1, 1, seed=34)),
    "binary_sub_const_minus_x": _binary("Sub", rand(C, 1, 1, seed=35), swap=True),
    "binary_sub_scalar": _binary("Sub", np.array(0.5, np.float32)),
    "binary_div_scalar": _binary("Div", np.array(3.0, np.float32)),
    "binary_div_const_by_x": lambda: _case([node("Div", ["c", "x"], ["y"])], X4, inits={"c": rand(1, C, 1, 1, seed=36)},
                                           feeds={"x": rand(*X4["x"], seed=37, lo=0.5, hi=2.0)}),
    "binary_add_row_const": _binary("Add", rand(1, 1, 1, 9, seed=38)),
    "binary_mul_2d": _binary("Mul", rand(5, seed=39), shape=(3, 5)),
    # pooling
    "global_avgpool": _unary("GlobalAveragePool"),
    "global_maxpool": _unary("GlobalMaxPool"),
    "reduce_mean_keep": _unary("ReduceMean", axes=[2, 3], keepdims=1),
    "reduce_mean_drop": _unary("ReduceMean", axes=[-1, -2], keepdims=0),
    "reduce_mean_opset18": lambda: _case([node("ReduceMean", ["x", "ax"], ["y"], keepdims=1)], X4, opset=18,
                                         inits={"ax": np.array([2, 3], np.int64)}),
    "avgpool_include_pad": _unary("AveragePool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                                  count_include_pad=1),
    "avgpool_exclude_pad": _unary("AveragePool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1]),
    "avgpool_ceil": _unary("AveragePool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    "avgpool_ceil_pads": _unary("AveragePool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    "maxpool_ceil": _unary("MaxPool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    "maxpool_pads_dilations": _unary("MaxPool", kernel_shape=[3, 2], strides=[1, 2], pads=[1, 0, 2, 1],
                                     dilations=[2, 1], opset=12),
    "maxpool_same_upper": _unary("MaxPool", kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    # channels
    "concat_axis_m3": lambda: _case([node("Relu", ["x"], ["r"]), node("Concat", ["x", "r", "x"], ["y"], axis=-3)], X4),
    "concat_2d": lambda: _case([node("Concat", ["x", "c"], ["y"], axis=1)], {"x": (1, 4)},
                               inits={"c": rand(1, 3, seed=41)}),
    "split_opset11_attr": lambda: _case([node("Split", ["x"], ["a", "b"], axis=1, split=[2, 4]),
                                         node("Mul", ["a", "a"], ["y"]), node("Relu", ["b"], ["z"])], X4, ["y", "z"],
                                        opset=11),
    "split_opset13_input": lambda: _case([node("Split", ["x", "s"], ["a", "b", "c"], axis=1),
                                          node("Concat", ["c", "a"], ["y"], axis=1)], X4,
                                         inits={"s": np.array([1, 2, 3], np.int64)}),
    "split_equal": lambda: _case([node("Split", ["x"], ["a", "b"], axis=1), node("Sub", ["a", "b"], ["y"])], X4),
    "split_opset18_num_outputs": lambda: _case([node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3),
                                                node("Add", ["a", "c"], ["y"])], X4, opset=18),
    "slice_channels": lambda: _case([node("Slice", ["x", "s", "e", "a", "st"], ["y"])], X4,
                                    inits={"s": np.array([1], np.int64), "e": np.array([4], np.int64),
                                           "a": np.array([1], np.int64), "st": np.array([1], np.int64)}),
    "slice_negative": lambda: _case([node("Slice", ["x", "s", "e", "a"], ["y"])], X4,
                                    inits={"s": np.array([-3, 0], np.int64), "e": np.array([2**62, 100], np.int64),
                                           "a": np.array([1, 2], np.int64)}),
    "slice_opset9": _unary("Slice", opset=9, starts=[2], ends=[5], axes=[1]),
    "shuffle_rtr": lambda: _case([node("Reshape", ["x", "s5"], ["r"]), node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3, 4]),
                                  node("Reshape", ["t", "s4"], ["y"])], X4,
                                 inits={"s5": np.array([2, 3, 2, 7, 9], np.int64), "s4": np.array([2, -1, 7, 9], np.int64)}),
    "shuffle_zero_dims": lambda: _case([node("Reshape", ["x", "s5"], ["r"]), node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3, 4]),
                                        node("Reshape", ["t", "s4"], ["y"])], X4,
                                       inits={"s5": np.array([0, 2, -1, 7, 9], np.int64),
                                              "s4": np.array([0, 6, 7, 9], np.int64)}),
    "transpose_unit_axes": lambda: _case([node("GlobalAveragePool", ["x"], ["g"]),
                                          node("Transpose", ["g"], ["y"], perm=[0, 2, 3, 1])], X4),
    "reshape_flat": lambda: _case([node("Reshape", ["x", "s"], ["y"])], X4, inits={"s": np.array([2, -1], np.int64)}),
    "flatten": _unary("Flatten", axis=1),
    "squeeze_opset11": lambda: _case([node("GlobalAveragePool", ["x"], ["g"]), node("Squeeze", ["g"], ["y"], axes=[2, 3])],
                                     X4, opset=11),
    "squeeze_opset13": lambda: _case([node("GlobalAveragePool", ["x"], ["g"]), node("Squeeze", ["g", "a"], ["y"])],
                                     X4, inits={"a": np.array([3, 2], np.int64)}),
    "unsqueeze": lambda: _case([node("Unsqueeze", ["x", "a"], ["u"]), node("Relu", ["u"], ["y"])], {"x": (2, 5)},
                               inits={"a": np.array([2, 3], np.int64)}),
    # linear
    "gemm_transb0": lambda: _case([node("Gemm", ["x", "w", "c"], ["y"], alpha=0.5, beta=2.0)], {"x": (3, 10)},
                                  inits={"w": rand(10, 4, seed=42), "c": rand(4, seed=43)}),
    "gemm_transb1_c_row": lambda: _case([node("Gemm", ["x", "w", "c"], ["y"], transB=1)], {"x": (1, 10)},
                                        inits={"w": rand(4, 10, seed=44), "c": rand(1, 4, seed=45)}),
    "matmul": lambda: _case([node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["y"])], {"x": (2, 10)},
                            inits={"w": rand(10, 7, seed=46), "b": rand(7, seed=47)}),
    "softmax_opset11_4d": _unary("Softmax", opset=11, axis=1),
    "softmax_opset13": lambda: _case([node("Flatten", ["x"], ["f"]), node("Softmax", ["f"], ["y"])], X4),
    # resize
    **{f"resize_nearest_{nm}_{coord}": _resize("nearest", coord, nm, scales=[1, 1, 2.5, 1.5])
       for nm in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
       for coord in ("half_pixel", "asymmetric", "align_corners")},
    "resize_nearest_tf_half_pixel": _resize("nearest", "tf_half_pixel_for_nn", scales=[1, 1, 2, 3]),
    **{f"resize_linear_{coord}": _resize("linear", coord, scales=[1, 1, 2, 2])
       for coord in ("half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel")},
    "resize_linear_sizes": _resize("linear", "half_pixel", sizes=[1, C, 9, 4]),
    "resize_nearest_down": _resize("nearest", "asymmetric", "floor", scales=[1, 1, 0.5, 0.5], shape=(1, C, 8, 9)),
    "resize_linear_down_opset11": _resize("linear", "align_corners", scales=[1, 1, 0.6, 0.75], opset=11,
                                          shape=(1, C, 10, 8)),
    "resize_opset10": lambda: _case([node("Resize", ["x", "s"], ["y"], mode="nearest")], {"x": (1, C, 4, 5)}, opset=10,
                                    inits={"s": np.array([1, 1, 2, 3], np.float32)}),
    "resize_opset18_axes": lambda: _case([node("Resize", ["x", "", "s"], ["y"], mode="linear", axes=[2, 3])],
                                         {"x": (1, C, 4, 5)}, opset=18, inits={"s": np.array([2, 2], np.float32)}),
    "upsample_opset9_nearest": lambda: _case([node("Upsample", ["x", "s"], ["y"], mode="nearest")],
                                             {"x": (1, C, 4, 5)}, opset=9, inits={"s": np.array([1, 1, 2, 2], np.float32)}),
    "upsample_opset9_linear": lambda: _case([node("Upsample", ["x", "s"], ["y"], mode="linear")],
                                            {"x": (1, C, 4, 5)}, opset=9, inits={"s": np.array([1, 1, 2, 3], np.float32)}),
    "upsample_opset7_attr": _unary("Upsample", opset=7, mode="nearest", scales=[1.0, 1.0, 2.0, 2.0]),
    # misc
    "identity_dropout": lambda: _case([node("Identity", ["x"], ["i"]), node("Dropout", ["i"], ["d"]),
                                       node("Relu", ["d"], ["y"])], X4, opset=13),
    "constant_tensor": lambda: _case([node("Constant", [], ["k"], value=numpy_helper.from_array(rand(C, 1, 1, seed=48))),
                                      node("Mul", ["x", "k"], ["y"])], X4),
    "constant_value_float": lambda: _case([node("Constant", [], ["k"], value_float=0.25), node("Add", ["x", "k"], ["y"])],
                                          X4),
    "fold_shape_chain": _fold_chain,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_op(case):
    if case.startswith("deconv") and not HAVE_DECONV:
        pytest.skip("ConvTranspose's kernel (gconv_cpu._deconv) is not built yet")
    data, feeds = CASES[case]()
    check(data, feeds, roundtrip=True)


def test_batch_norm_and_affines_fold_into_conv():
    data, feeds = CASES["bn_after_conv_relu"]()
    from gconv_cpu._program import program_for
    model = gonnx.load(data)
    assert program_for(model, [feeds["x"].shape]).describe()["steps"] == 1
    # conv -> Mul(per-channel) -> Add(per-channel) (PaddlePaddle's scale layers) is one conv step too
    nodes = [node("Conv", ["x", "w"], ["c"]), node("Mul", ["s", "c"], ["m"]), node("Add", ["m", "t"], ["a"]),
             node("Relu", ["a"], ["y"])]
    data = make_model(nodes, X4, ["y"], {"w": W3, "s": rand(8, 1, 1, seed=50), "t": np.array([0.1], np.float32)})
    model = check(data, feeds["x"])
    assert program_for(model, [feeds["x"].shape]).describe()["steps"] == 1


@pytest.mark.parametrize("variant", ["mul_then_div", "div_then_mul", "hardsigmoid_mul"])
def test_hardswish_patterns(variant):
    """x*relu6(x+3)/6 (PaddlePaddle), x*(relu6(x+3)/6), and x*HardSigmoid(x) (torch opset < 14) become one
    hardswish, fused into the conv before it."""
    k = {"w": W3, "three": np.array(3.0, np.float32), "six": np.array(6.0, np.float32),
         "zero": np.array(0.0, np.float32)}
    head = [node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1])]
    if variant == "hardsigmoid_mul":
        body = [node("HardSigmoid", ["c"], ["h"], alpha=1 / 6), node("Mul", ["c", "h"], ["y"])]
    else:
        body = [node("Add", ["c", "three"], ["a"]), node("Clip", ["a", "zero", "six"], ["r"])]
        body += [node("Mul", ["c", "r"], ["m"]), node("Div", ["m", "six"], ["y"])] if variant == "mul_then_div" else \
            [node("Div", ["r", "six"], ["d"]), node("Mul", ["d", "c"], ["y"])]
    data = make_model(head + body, X4, ["y"], k)
    model = check(data, rand(*X4["x"], seed=51, lo=-5, hi=5))
    assert [(n.op, n.attrs.get("kind")) for n in model.graph.nodes] == [("conv", None), ("unary", "hardswish")]
    from gconv_cpu._program import program_for
    assert program_for(model, [X4["x"]]).describe()["steps"] == 1


# ---- the model API -------------------------------------------------------------------------------------------

def _two_in_two_out():
    nodes = [node("Conv", ["a", "w"], ["c"], pads=[1, 1, 1, 1]), node("Add", ["c", "b"], ["sum"]),
             node("GlobalAveragePool", ["sum"], ["g"]), node("Flatten", ["g"], ["feat"])]
    return make_model(nodes, {"a": (1, C, 5, 5), "b": (1, 8, 5, 5)}, ["sum", "feat"], {"w": W3})


def test_named_inputs_outputs_and_state_dict(tmp_path):
    data = _two_in_two_out()
    model = gonnx.load(data)
    assert model.input_names == ["a", "b"] and model.output_names == ["sum", "feat"]
    a, b = rand(1, C, 5, 5, seed=1), rand(1, 8, 5, 5, seed=2)
    refs = ort_run(data, {"a": a, "b": b})
    s, f = model(a, b)
    assert_close(s, refs[0]) and assert_close(f, refs[1])
    s2, f2 = model(b=b, a=a)
    assert np.array_equal(s, s2) and np.array_equal(f, f2)
    out = model.run({"a": a, "b": b})
    assert list(out) == ["sum", "feat"] and np.array_equal(out["feat"], f)
    with pytest.raises(TypeError, match="unknown input"):
        model(a, c=b)
    # prepare() with no shapes plans for both inputs' shapes (not the first input's alone)
    assert model.prepare() is model
    assert ((1, C, 5, 5), (1, 8, 5, 5)) in [key[0] for key in model.__dict__["_programs"]]
    with pytest.raises(TypeError, match="missing input"):
        model(a)
    sd = model.state_dict()
    assert list(sd) == ["Conv_c.weight"] and sd["Conv_c.weight"].shape == W3.shape
    model.load_state_dict({"Conv_c.weight": np.zeros_like(W3)})
    assert np.array_equal(model(a, b)[0], b)
    with pytest.raises(KeyError):
        model.load_state_dict({"nope": W3})
    with pytest.raises(ValueError, match="shape"):
        model.load_state_dict({"Conv_c.weight": W3[:1]})


def test_save_load_roundtrip(tmp_path):
    for name, data, shape in seed_models():
        if name == "deconv" and not HAVE_DECONV:
            continue
        model = gonnx.load(data)
        x = rand(*shape, seed=5)
        path = tmp_path / f"{name}.gcv"
        model.save(path)
        loaded = gconv_cpu.load(path)
        assert np.array_equal(model(x), loaded(x)), name
        assert list(loaded.state_dict()) == list(model.state_dict())


# ---- refusals --------------------------------------------------------------------------------------------------

REFUSED = {
    "unsupported_op": (lambda: make_model([node("Erf", ["x"], ["y"], name="my_erf")], X4, ["y"]),
                       UnsupportedOperatorError, "Erf node 'my_erf'"),
    "custom_domain": (lambda: make_model([helper.make_node("Foo", ["x"], ["y"], name="f", domain="com.example")], X4,
                                         ["y"]), UnsupportedOperatorError, "com.example.Foo"),
    "slice_spatial": (lambda: make_model([node("Slice", ["x", "s", "e", "a"], ["y"], name="sl")], X4, ["y"],
                                         {"s": np.array([1], np.int64), "e": np.array([3], np.int64),
                                          "a": np.array([2], np.int64)}), UnsupportedOperatorError, "Slice node 'sl'"),
    "slice_step2": (lambda: make_model([node("Slice", ["x", "s", "e", "a", "st"], ["y"])], X4, ["y"],
                                       {"s": np.array([0], np.int64), "e": np.array([6], np.int64),
                                        "a": np.array([1], np.int64), "st": np.array([2], np.int64)}),
                    UnsupportedOperatorError, "step"),
    "maxpool_storage_order": (lambda: make_model([node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], storage_order=1)],
                                                 X4, ["y"]), UnsupportedOperatorError, "storage_order"),
    "maxpool_indices": (lambda: make_model([node("MaxPool", ["x"], ["y", "i"], name="mp", kernel_shape=[2, 2])], X4,
                                           ["y", "i"]), UnsupportedOperatorError, "MaxPool node 'mp'"),
    "resize_cubic": (lambda: make_model([node("Resize", ["x", "", "s"], ["y"], mode="cubic")], X4, ["y"],
                                        {"s": np.array([1, 1, 2, 2], np.float32)}), UnsupportedOperatorError, "cubic"),
    "resize_crop": (lambda: make_model([node("Resize", ["x", "", "s"], ["y"], coordinate_transformation_mode="tf_crop_and_resize")],
                                       X4, ["y"], {"s": np.array([1, 1, 2, 2], np.float32)}),
                    UnsupportedOperatorError, "tf_crop_and_resize"),
    "resize_channels": (lambda: make_model([node("Resize", ["x", "", "s"], ["y"])], X4, ["y"],
                                           {"s": np.array([1, 2, 2, 2], np.float32)}), UnsupportedOperatorError, "channel"),
    "transpose_nchw_nhwc": (lambda: make_model([node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], X4, ["y"]),
                            UnsupportedOperatorError, "Transpose"),
    "softmax_channels_4d": (lambda: make_model([node("Softmax", ["x"], ["y"], axis=1)], X4, ["y"]),
                            UnsupportedOperatorError, "Softmax"),
    "conv_runtime_weight": (lambda: make_model([node("Conv", ["x", "w"], ["y"])], {"x": (1, 3, 5, 5), "w": (4, 3, 3, 3)},
                                               ["y"]), UnsupportedOperatorError, "constant"),
    "rank3_reshape": (lambda: make_model([node("Reshape", ["x", "s"], ["y"])], X4, ["y"],
                                         {"s": np.array([2, C, -1], np.int64)}), UnsupportedOperatorError, "rank 3"),
    "gemm_transa": (lambda: make_model([node("Gemm", ["x", "w"], ["y"], transA=1)], {"x": (4, 3)}, ["y"],
                                       {"w": rand(4, 2)}), UnsupportedOperatorError, "transA"),
    "bn_training": (lambda: make_model([node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"], training_mode=1)],
                                       X4, ["y"], _bn_inits(C), opset=15), UnsupportedOperatorError, "training_mode"),
    "wrong_attr_type": (lambda: make_model([node("Conv", ["x", "w"], ["y"], group=2.5)], X4, ["y"], {"w": W3}),
                        OnnxModelError, "group must be an int"),
    "negative_pads": (lambda: make_model([node("Conv", ["x", "w"], ["y"], pads=[-1, 0, 0, 0])], X4, ["y"], {"w": W3}),
                      UnsupportedOperatorError, "negative pads"),
    "same_negative_pad": (lambda: make_model([node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[7, 7])],
                                             X4, ["y"], {"w": W3}), UnsupportedOperatorError, "negative padding"),
    # the long model-file fuzz found the Conv one raising ZeroDivisionError (auto_pad divided by the stride
    # before checking it); pooling shares that helper
    "same_zero_stride": (lambda: make_model([node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[0, 2])],
                                            X4, ["y"], {"w": W3}), OnnxModelError, "strides"),
    "same_zero_stride_pool": (lambda: make_model([node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 0],
                                                       auto_pad="SAME_LOWER")], X4, ["y"]), OnnxModelError, "strides"),
    "dangling_input": (lambda: make_model([node("Relu", ["nowhere"], ["y"])], X4, ["y"]), OnnxModelError, "dangling"),
    "cycle": (lambda: make_model([node("Add", ["x", "b"], ["a"]), node("Relu", ["a"], ["b"])], X4, ["a"]),
              OnnxModelError, "cycle"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refusals(case):
    make, err, match = REFUSED[case]
    with pytest.raises(err, match=match) as info:
        model = gonnx.load(make())
        model(rand(*X4["x"]))  # lazily-built parts fail at the latest here
    if err is UnsupportedOperatorError:
        assert info.value.op_type and info.value.node_name is not None


def _tensor_model(t):
    g = helper.make_graph([node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [t])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def test_untrusted_tensors(tmp_path):
    t = numpy_helper.from_array(rand(1, 4), "w")
    t.raw_data = t.raw_data[:-1]
    with pytest.raises(OnnxModelError, match="raw_data holds 15 bytes"):
        gonnx.load(_tensor_model(t))
    def tensor(dims, values):
        t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=dims)
        t.float_data.extend(values)
        return t
    with pytest.raises(OnnxModelError, match="float_data holds 2 values"):
        gonnx.load(_tensor_model(tensor([1, 4], [1.0, 2.0])))
    with pytest.raises(OnnxModelError, match="elements"):  # 2^60 elements declared, 1 given
        gonnx.load(_tensor_model(tensor([1 << 40, 1 << 20], [1.0])))
    with pytest.raises(OnnxModelError, match="negative"):
        gonnx.load(_tensor_model(tensor([-1, 4], [])))
    secret = tmp_path / "secret.bin"
    secret.write_bytes(rand(1, 4).tobytes())
    for location in ["../../../../etc/passwd", str(secret), "secret.bin"]:
        t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 4])
        t.data_location = TensorProto.EXTERNAL
        t.external_data.add(key="location", value=location)
        path = tmp_path / "m.onnx"
        path.write_bytes(_tensor_model(t))
        with pytest.raises(OnnxModelError, match="external data"):
            gonnx.load(path)


def test_garbage_and_truncated_bytes():
    data = seed_models()[0][1]
    for cut in (1, 10, len(data) // 3, len(data) - 7):
        with pytest.raises(ValueError):
            gonnx.load(data[:cut])
    for junk in (b"", b"\x00" * 64, b"\xff" * 1000, b"not a model at all"):
        with pytest.raises(ValueError):
            gonnx.load(junk)


# ---- third-party models -----------------------------------------------------------------------------------------

def _ppocr(name):
    spec = importlib.util.find_spec("rapidocr_onnxruntime")  # located without importing it (it imports cv2)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("rapidocr-onnxruntime is not installed (pip install --no-deps rapidocr-onnxruntime ships the "
                    "PP-OCR models)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", name)
    if not os.path.exists(path):
        pytest.skip(f"{path} is missing")
    return path


def test_ppocr_cls():
    """PP-OCR's direction classifier (MobileNetV3-small, PaddlePaddle export, opset 11, dynamic N/H/W)."""
    path = _ppocr("ch_ppocr_mobile_v2.0_cls_infer.onnx")
    for shape in [(1, 3, 48, 192), (3, 3, 48, 160)]:
        x = rand(*shape, seed=7)
        model = check(path, x, roundtrip=True, input_shape=shape)


def text_image(h, w, seed):
    """A white page with dark letter-like strokes, normalized as PP-OCR's preprocessing does: the detector
    then outputs a real probability map (on noise its output is ~1e-7 everywhere, where a relative
    comparison only measures how two sigmoid implementations round tiny values)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 235.0)
    for _ in range(6):
        y, x0 = rng.integers(8, h - 24), rng.integers(4, w // 2)
        for k in range(int(rng.integers(3, 9))):
            x = x0 + 11 * k
            if x + 8 < w:
                img[y:y + 14, x:x + 2] = 20
                img[y:y + 2, x:x + 8] = 20
                img[y + 12:y + 14, x:x + 8] = 20
    img = (img / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None], np.float32)


@needs_deconv
def test_ppocr_det():
    """PP-OCRv4's text detector (MobileNetV3-style backbone, DBNet head with ConvTranspose and Resize,
    opset 12, dynamic N/H/W), at two input sizes from one load."""
    path = _ppocr("ch_PP-OCRv4_det_infer.onnx")
    model = gonnx.load(path)
    for shape in [(160, 224), (96, 128)]:
        x = text_image(*shape, seed=1)
        ref = ort_run(path, x)[0]
        assert np.abs(ref).max() > 0.5 and (ref > 0.3).mean() > 0.01  # it found "text"
        assert_close(model(x), ref)


def test_ppocr_rec_refused_clearly():
    """PP-OCRv4's recognizer is an SVTR transformer over rank-3 tensors: refused with a named node."""
    path = _ppocr("ch_PP-OCRv4_rec_infer.onnx")
    with pytest.raises(UnsupportedOperatorError) as info:
        gonnx.load(path, input_shape=(1, 3, 48, 320))
    assert info.value.node_name


def test_rel_err_helper():
    assert rel_err(np.ones(3), np.ones(3)) == 0.0
