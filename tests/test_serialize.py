"""The native format (gconv_cpu.serialize): save/load round trips with bit-identical outputs, and every
validation of an untrusted file (each refusal is a ModelFormatError naming the field)."""
import io
import json
import re
import tracemalloc
import zipfile

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu import nn
from gconv_cpu import functional as F
from gconv_cpu.graph_model import GraphModel
from gconv_cpu.serialize import ModelFormatError

RNG = np.random.default_rng(7)


def x_of(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def randomize(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean, m.running_var = RNG.normal(0, 0.3, c), RNG.uniform(0.5, 2, c)
            m.weight, m.bias = RNG.uniform(0.5, 1.5, c), RNG.normal(0, 0.2, c)
    return model


class EveryOp(nn.Module):
    """One traced model with every operator the builders produce (but deconv)."""

    def __init__(self):
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
        self.prelu = nn.PReLU(16)
        self.se = nn.SqueezeExcitation(16, 8, scale_activation=nn.Hardsigmoid)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.avg = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.shuffle = nn.ChannelShuffle(2)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.branch = nn.Sequential(nn.Conv2d(8, 8, 1), nn.Hardswish())
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(16, 10)
        self.bn1d = nn.BatchNorm1d(10)
        self.act = nn.LeakyReLU(0.1)
        self.input_shape = (1, 3, 32, 32)

    def forward(self, x):
        y = self.se(self.prelu(self.dw(self.stem(x))))
        y = self.shuffle(self.avg(self.pool(y)))
        a, b = y.chunk(2, dim=1)
        y = F.cat([a, self.branch(b) * 0.5 + a], 1)
        y = self.up(y)
        y = self.act(self.bn1d(self.fc(self.flat(self.gap(y)))))
        return F.softmax(y, 1)


def test_every_op_roundtrip(tmp_path):
    model = randomize(EveryOp())
    x = x_of((1, 3, 32, 32))
    path = tmp_path / "m.gcv"
    model.save(path)  # traced at model.input_shape
    loaded = gconv_cpu.load(path)
    assert isinstance(loaded, GraphModel)
    assert np.array_equal(model(x), loaded(x))
    # other batch sizes and image sizes: the graph is re-inferred (Flatten's reshape follows the batch)
    for shape in [(3, 3, 32, 32), (2, 3, 48, 40)]:
        x2 = x_of(shape, 1)
        assert np.array_equal(model(x2), loaded(x2))
    # saving the loaded model again gives the same file contents
    again = tmp_path / "again.gcv"
    loaded.save(again)
    assert np.array_equal(gconv_cpu.load(again)(x), loaded(x))


BUILDERS = [("mobilenet_v1", (1, 3, 96, 96)), ("mobilenet_v2", (1, 3, 224, 224)), ("shufflenet_v1_g3", (1, 3, 96, 96)),
            ("shufflenet_v2", (1, 3, 224, 224)), ("mobilefacenet", (1, 3, 112, 112))]


@pytest.mark.parametrize("name,shape", BUILDERS)
def test_builders_roundtrip(name, shape):
    model = randomize(getattr(gconv_cpu.models, name)())
    buf = io.BytesIO()
    model.save(buf)  # builders know their input size
    loaded = gconv_cpu.load(buf.getvalue())
    assert tuple(loaded.input_shape) == model.input_shape
    for x_shape in (model.input_shape, shape):  # and the loaded graph replans for other sizes
        x = x_of(x_shape, 2)
        assert np.array_equal(model(x), loaded(x))
    sd = loaded.state_dict()
    assert all(v.dtype == np.float32 for v in sd.values())


def test_save_needs_a_shape(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(ValueError, match="input_shape"):
        model.save(tmp_path / "m.gcv")
    model.save(tmp_path / "m.gcv", input_shape=(1, 3, 8, 8))
    assert (tmp_path / "m.gcv").exists() and not (tmp_path / "m.gcv.npz").exists()
    assert gconv_cpu.load(tmp_path / "m.gcv").input_names == ["input0"]


def test_graph_model_state_dict():
    model = randomize(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()))
    buf = io.BytesIO()
    model.save(buf, input_shape=(1, 3, 6, 6))
    loaded = gconv_cpu.load(buf.getvalue())
    sd = loaded.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.scale", "1.shift"]
    x = x_of((1, 3, 6, 6))
    loaded.load_state_dict({k: np.zeros_like(v) for k, v in sd.items()})
    assert not loaded(x).any()
    loaded.load_state_dict(sd)
    assert np.array_equal(loaded(x), model(x))
    assert list(loaded.run({"input0": x})) == ["output0"]


def test_graph_model_inlines_into_a_traced_model():
    inner = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    buf = io.BytesIO()
    inner.save(buf, input_shape=(1, 3, 6, 6))
    loaded = gconv_cpu.load(buf.getvalue())

    class Outer(nn.Module):
        def __init__(self):
            self.body = loaded
            self.head = nn.Conv2d(4, 2, 1)

        def forward(self, x):
            return self.head(self.body(x))

    outer = Outer()
    x = x_of((2, 3, 6, 6))
    assert np.allclose(outer(x), outer.head(inner(x)), atol=1e-6)


# ---- untrusted files ---------------------------------------------------------------------------------------------

def _small_file():
    model = randomize(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, groups=1), nn.BatchNorm2d(4), nn.ReLU(),
                                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)))
    buf = io.BytesIO()
    model.save(buf, input_shape=(1, 3, 6, 6))
    return buf.getvalue()


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _zip(members, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    return buf.getvalue()


def _npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def with_doc(data, edit):
    members = _members(data)
    doc = json.loads(np.load(io.BytesIO(members["graph.npy"])).tobytes())
    edit(doc)
    members["graph.npy"] = _npy(np.frombuffer(json.dumps(doc).encode(), np.uint8))
    return _zip(members)


def _node(doc, op):
    return next(n for n in doc["nodes"] if n["op"] == op)


DOC_CASES = {
    "version": (lambda d: d.update(version=2), "version"),
    "format": (lambda d: d.update(format="other"), "format"),
    "unknown_op": (lambda d: d["nodes"][0].update(op="lstm"), "op"),
    "num_values_type": (lambda d: d.update(num_values="12"), "num_values"),
    "spec_length": (lambda d: _node(d, "conv")["attrs"].update(spec=[3, 4, 1, 3]), "spec"),
    "spec_float": (lambda d: _node(d, "conv")["attrs"]["spec"].__setitem__(3, 3.0), "spec"),
    "spec_negative_pad": (lambda d: _node(d, "conv")["attrs"]["spec"].__setitem__(9, -1), "spec"),
    "spec_zero_stride": (lambda d: _node(d, "conv")["attrs"]["spec"].__setitem__(5, 0), "stride_h"),
    "spec_groups": (lambda d: _node(d, "conv")["attrs"]["spec"].__setitem__(2, 2), "groups"),
    "spec_vs_weight": (lambda d: _node(d, "conv")["attrs"]["spec"].__setitem__(3, 5), "weight must have shape"),
    "activation_name": (lambda d: _node(d, "conv")["attrs"].update(activation="gelu"), "activation"),
    "unknown_attr": (lambda d: _node(d, "conv")["attrs"].update(extra=1), "unknown attribute"),
    "unary_kind": (lambda d: _node(d, "unary")["attrs"].update(kind="exp"), "kind"),
    "unary_alpha_nan": (lambda d: _node(d, "unary")["attrs"].update(alpha=float("nan")), "alpha"),
    "reshape_negative": (lambda d: _node(d, "reshape")["attrs"].update(shape=[-1, 4]), "shape"),
    "reshape_rank3": (lambda d: _node(d, "reshape")["attrs"].update(shape=[1, 4, 1]), "rank-3"),
    "input_shape_negative": (lambda d: d["inputs"][0].update(shape=[1, 3, -6, 6]), "inputs[0].shape"),
    "input_shape_huge": (lambda d: d["inputs"][0].update(shape=[1 << 30, 3, 1 << 30, 1 << 30]), "inputs[0].shape"),
    "param_shape_huge": (lambda d: d["params"][0].update(shape=[1 << 31, 1 << 31, 1 << 31, 1]), "params[0]"),
    "param_negative": (lambda d: d["params"][0].update(shape=[-4, 3, 3, 3]), "params[0]"),
    "param_dtype": (lambda d: d["params"][0].update(dtype="float64"), "dtype"),
    "param_index": (lambda d: _node(d, "conv")["params"].update(weight=99), "weight"),
    "param_twice": (lambda d: _node(d, "linear")["params"].update(weight=0), "used twice"),
    "missing_weight": (lambda d: _node(d, "conv")["params"].pop("weight"), "missing parameter"),
    "value_out_of_range": (lambda d: d["outputs"][0].update(value=10 ** 9), "outputs[0].value"),
    "dangling": (lambda d: d["nodes"][1].update(inputs=[d["num_values"] - 1]), "before it is defined"),
    "cycle": (lambda d: d["nodes"][0].update(inputs=[d["nodes"][2]["outputs"][0]]), "before it is defined"),
    "defined_twice": (lambda d: d["nodes"][1].update(outputs=d["nodes"][0]["outputs"]), "defined twice"),
    "shape_mismatch": (lambda d: d["inputs"][0].update(shape=[1, 5, 6, 6]), "invalid graph"),
    "nodes_not_list": (lambda d: d.update(nodes={"a": 1}), "nodes"),
    "name_type": (lambda d: d["nodes"][0].update(name=5), "name"),
    "no_outputs": (lambda d: d.update(outputs=[]), "outputs"),
}


@pytest.mark.parametrize("case", sorted(DOC_CASES))
def test_document_validation(case):
    edit, match = DOC_CASES[case]
    data = with_doc(_small_file(), edit)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFormatError, match=re.escape(match)):
            gconv_cpu.load(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20  # nothing sized from the declared shapes was allocated


def test_array_validation():
    data = _small_file()
    members = _members(data)
    w = np.load(io.BytesIO(members["param_0.npy"]))
    cases = {
        "dtype": _npy(w.astype(np.float64)),
        "shape": _npy(w.reshape(w.shape[0], -1)),
        "fortran": _npy(np.asfortranarray(w)),
        "truncated": members["param_0.npy"][:-5],
        "extra": members["param_0.npy"] + b"\0" * 8,
        "header": b"\x93NUMPY\x01\x00\x10\x00{'descr': 'x'}\n" + b"\0" * 64,
        "not_npy": b"hello",
    }
    for name, blob in cases.items():
        bad = dict(members, **{"param_0.npy": blob})
        with pytest.raises(ModelFormatError):
            gconv_cpu.load(_zip(bad))
    with pytest.raises(ModelFormatError, match="missing"):
        gconv_cpu.load(_zip({k: v for k, v in members.items() if k != "param_1.npy"}))
    with pytest.raises(ModelFormatError, match="graph.npy"):
        gconv_cpu.load(_zip({k: v for k, v in members.items() if k != "graph.npy"}))


def test_zip_bomb_is_not_inflated():
    """A member that inflates to far more than the JSON declares is refused after reading at most the
    declared size."""
    members = _members(_small_file())
    members["param_0.npy"] = members["param_0.npy"][:128] + b"\0" * (200 << 20)
    bomb = _zip(members, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ModelFormatError):
            gconv_cpu.load(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20


def test_corrupt_bytes():
    data = _small_file()
    rng = np.random.default_rng(0)
    for cut in (0, 4, 30, len(data) // 2, len(data) - 1):
        with pytest.raises(ModelFormatError):
            gconv_cpu.load(data[:cut])
    for _ in range(50):
        b = bytearray(data)
        for i in rng.integers(0, len(b), 4):
            b[i] ^= 1 << int(rng.integers(0, 8))
        try:
            model = gconv_cpu.load(bytes(b))
        except ModelFormatError:
            continue
        model(x_of(tuple(model.input_shape)))  # a flip in the weights: still a valid model
    with pytest.raises(ModelFormatError):
        gconv_cpu.load(b"PK\x03\x04" + b"\0" * 100)


def test_fixed_shapes_models_refuse_other_shapes(tmp_path):
    """A model whose graph was resolved for one input size (e.g. ONNX auto_pad SAME) saves with
    fixed_shapes and refuses other sizes instead of computing something else."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    buf = io.BytesIO()
    model.save(buf, input_shape=(1, 3, 6, 6))
    data = with_doc(buf.getvalue(), lambda d: d.update(fixed_shapes=True))
    loaded = gconv_cpu.load(data)
    loaded(x_of((1, 3, 6, 6)))
    with pytest.raises(ValueError, match="built for input shapes"):
        loaded(x_of((1, 3, 8, 8)))
