"""gconv_cpu.nn.Conv2d: torch.nn.Conv2d's parameters, init and outputs; planning and repacking."""
import math

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu.nn import Conv2d

from reference import assert_conv_close, conv2d_ref, conv2d_ref_abs, pads4

LAYER_CONFIGS = [
    # in, out, kernel, stride, padding, dilation, groups, bias, input (N, H, W)
    (8, 8, 3, 1, 1, 1, 8, True, (2, 11, 13)),          # depthwise
    (8, 16, (3, 5), 2, (1, 2), 1, 8, True, (1, 12, 17)),  # depthwise, multiplier 2
    (12, 24, 3, 1, "same", 2, 3, True, (2, 9, 10)),
    (16, 32, 1, 1, 0, 1, 1, False, (1, 7, 7)),          # pointwise
    (6, 9, (2, 4), (1, 3), "valid", (2, 1), 3, True, (3, 8, 15)),
    (32, 32, 3, 1, 1, 1, 4, True, (1, 14, 14)),
]


def _ids(c):
    return f"{c[0]}to{c[1]}-k{c[2]}-s{c[3]}-p{c[4]}-d{c[5]}-g{c[6]}" + ("" if c[7] else "-nobias")


@pytest.mark.parametrize("cfg", LAYER_CONFIGS, ids=[_ids(c) for c in LAYER_CONFIGS])
def test_layer_matches_torch(cfg, isa):
    torch = pytest.importorskip("torch", reason="torch is the oracle")
    cin, cout, k, s, p, d, g, bias, (n, h, w) = cfg
    np.random.seed(7)
    layer = Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, groups=g, bias=bias)
    tlayer = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, groups=g, bias=bias).double()
    assert tuple(tlayer.weight.shape) == layer.weight.shape
    with torch.no_grad():
        tlayer.weight.copy_(torch.from_numpy(layer.weight.astype(np.float64)))
        if bias:
            tlayer.bias.copy_(torch.from_numpy(layer.bias.astype(np.float64)))
    x = np.random.default_rng(8).standard_normal((n, cin, h, w)).astype(np.float32)
    y = layer(x)
    with torch.no_grad():
        t = tlayer(torch.from_numpy(x).double()).numpy()
    kh, kw = layer.kernel_size
    absref = conv2d_ref_abs(x, layer.weight, layer.bias, s, pads4(p, (kh, kw), d), d, g)
    K = cin // g * kh * kw
    assert_conv_close(y, t, absref, K, key=isa, what=f"{isa}/Conv2d {_ids(cfg)} vs torch.nn.Conv2d")
    # forward is the same call; out= writes into the buffer
    np.testing.assert_array_equal(layer.forward(x), y)
    out = np.empty_like(y)
    assert layer(x, out=out) is out
    np.testing.assert_array_equal(out, y)
    assert layer.plan_info["isa"] == isa


# ------------------------------------------------------------------ init

@pytest.mark.parametrize("cin, cout, k, groups", [(16, 32, 3, 1), (64, 64, 3, 64), (24, 48, (1, 5), 4),
                                                  (3, 300, 7, 1)])
def test_default_init_like_torch(cin, cout, k, groups):
    torch = pytest.importorskip("torch", reason="torch gives the expected shapes")
    np.random.seed(0)
    layer = Conv2d(cin, cout, k, groups=groups)
    t = torch.nn.Conv2d(cin, cout, k, groups=groups)
    assert layer.weight.shape == tuple(t.weight.shape)
    assert layer.bias.shape == tuple(t.bias.shape)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    kh, kw = (k, k) if isinstance(k, int) else k
    bound = 1 / math.sqrt(cin // groups * kh * kw)
    # torch's own tensors obey the same bound (this pins the formula to torch's behaviour)
    with torch.no_grad():
        assert float(t.weight.abs().max()) <= bound and float(t.bias.abs().max()) <= bound
    for arr in (layer.weight, layer.bias):
        assert np.abs(arr).max() <= bound
    # uniform over the whole interval, not a narrower one: max near the bound, std = bound/sqrt(3)
    w = layer.weight.ravel()
    assert np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert abs(w.mean()) < 0.1 * bound
    assert np.abs(layer.bias).max() > 0.25 * bound  # bias uses the same bound, not e.g. zeros


def test_bias_false_gives_none():
    layer = Conv2d(4, 8, 3, bias=False)
    assert layer.bias is None
    x = np.random.default_rng(1).standard_normal((1, 4, 6, 6)).astype(np.float32)
    ref = conv2d_ref(x, layer.weight, None, 1, (0, 0, 0, 0), 1, 1)
    assert_conv_close(layer(x), ref, conv2d_ref_abs(x, layer.weight, None), 4 * 9, what="bias=False")


def test_init_is_random_per_layer():
    a, b = Conv2d(4, 4, 3), Conv2d(4, 4, 3)
    assert not np.array_equal(a.weight, b.weight)


# -------------------------------------------------------------- repacking

def _x(seed=2, shape=(2, 8, 9, 10)):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("groups, cout", [(8, 8), (2, 12), (1, 5)], ids=["dw", "g2", "dense"])
def test_weight_assignment_repacks(groups, cout, isa):
    layer = Conv2d(8, cout, 3, padding=1, groups=groups)
    x = _x()
    y1 = layer(x)
    new_w = np.random.default_rng(3).standard_normal(layer.weight.shape).astype(np.float32)
    layer.weight = new_w
    y2 = layer(x)
    assert not np.allclose(y1, y2)
    K = 8 // groups * 9
    ref = conv2d_ref(x, new_w, layer.bias, 1, (1, 1, 1, 1), 1, groups)
    assert_conv_close(y2, ref, conv2d_ref_abs(x, new_w, layer.bias, 1, (1, 1, 1, 1), 1, groups), K,
                      what="after weight assignment")
    # float64 / list assignments are converted
    layer.weight = new_w.astype(np.float64) * 2
    assert layer.weight.dtype == np.float32
    np.testing.assert_allclose(layer(x) - layer.bias[None, :, None, None],
                               2 * (y2 - layer.bias[None, :, None, None]), rtol=1e-5, atol=1e-4)


def test_bias_assignment_repacks(isa):
    layer = Conv2d(8, 8, 3, padding=1, groups=8)
    x = _x()
    y1 = layer(x)
    layer.bias = layer.bias + 1.0
    np.testing.assert_allclose(layer(x), y1 + 1.0, rtol=1e-6, atol=1e-5)
    w_only = layer(x) - layer.bias[None, :, None, None]
    layer.bias = None
    assert layer.bias is None
    np.testing.assert_allclose(layer(x), w_only, rtol=1e-6, atol=1e-5)
    layer.bias = np.arange(8)  # int -> float32
    assert layer.bias.dtype == np.float32
    np.testing.assert_allclose(layer(x), w_only + np.arange(8)[None, :, None, None], rtol=1e-6, atol=1e-5)


def test_inplace_edit_needs_prepare():
    """Documented behaviour: in-place edits are not seen until prepare(); the first call packs
    whatever the arrays hold at that moment."""
    layer = Conv2d(8, 8, 3, padding=1, groups=2)
    layer.weight[...] *= 3  # before the first call: packed by it
    x = _x()
    y1 = layer(x)
    ref = conv2d_ref(x, layer.weight, layer.bias, 1, (1, 1, 1, 1), 1, 2)
    assert_conv_close(y1, ref, conv2d_ref_abs(x, layer.weight, layer.bias, 1, (1, 1, 1, 1), 1, 2), 36,
                      what="first call")
    layer.weight[...] = 0
    layer.bias[...] = 0
    np.testing.assert_array_equal(layer(x), y1)  # stale: still the packed weights
    assert layer.prepare() is layer
    np.testing.assert_array_equal(layer(x), np.zeros_like(y1))


# --------------------------------------------------------------- planning

# Kernel kind each algorithm runs ('reference' runs no table kernel).
KIND_OF = {"gemm": "gemm", "dwconv": "dwconv", "grouped_direct": "gconv", "winograd": "winograd"}
FAST_GROUPED = set(gconv_cpu._plan.ALGORITHMS) - {"auto", "reference", "dwconv"}


@pytest.mark.parametrize("cin, cout, groups, k, algorithm, expected", [
    (8, 8, 8, 3, "auto", {"dwconv"}),            # depthwise
    (8, 24, 8, 3, "auto", {"dwconv"}),           # depthwise, multiplier 3
    (1, 1, 1, 3, "auto", {"dwconv"}),            # 1 channel: depthwise too
    (8, 16, 1, 3, "auto", {"gemm"}),             # dense
    (8, 16, 2, 1, "auto", {"gemm"}),             # grouped pointwise (ShuffleNet)
    (64, 64, 2, 3, "auto", {"gemm", "winograd"}),  # 32 channels per group: a GEMM or Winograd (3x3 s1)
    (64, 64, 2, 3, "winograd", {"winograd"}),    # forced
    (8, 16, 2, 3, "auto", FAST_GROUPED),         # few channels per group: gemm or a direct grouped path
    (8, 8, 8, 3, "gemm", {"gemm"}),              # forced
    (8, 8, 8, 3, "reference", {"reference"}),
    (8, 16, 2, 3, "reference", {"reference"}),
])
def test_plan_info_algorithm(cin, cout, groups, k, algorithm, expected, isa):
    layer = Conv2d(cin, cout, k, padding=k // 2, groups=groups, algorithm=algorithm)
    info = layer.plan_info
    # a depthwise plan also names the GDC kernel it runs on inputs of exactly the kernel's size
    assert set(info) == {"algorithm", "kernel", "isa"} | ({"global_kernel"} if info["algorithm"] == "dwconv" else set())
    assert info["algorithm"] in expected
    assert info["isa"] == isa
    names = {e["name"]: e for e in gconv_cpu.kernel_table()}
    if info["algorithm"] == "reference":
        assert info["kernel"] not in names
    else:
        entry = names[info["kernel"]]
        assert entry["isa"] == isa
        if info["algorithm"] in KIND_OF:
            assert entry["kind"] == KIND_OF[info["algorithm"]]
    # and the plan computes the right thing
    x = _x(4, (1, cin, 6, 7))
    p = k // 2
    ref = conv2d_ref(x, layer.weight, layer.bias, 1, (p, p, p, p), 1, groups)
    assert_conv_close(layer(x), ref, conv2d_ref_abs(x, layer.weight, layer.bias, 1, (p, p, p, p), 1, groups),
                      cin // groups * k * k, what=f"{info['algorithm']} plan")


def test_plan_info_names_the_global_kernel(isa):
    """MobileFaceNet's head (7x7 depthwise on a 7x7 input, no padding) runs the plan's GDC kernel:
    plan_info names it beside the depthwise kernel, it is the ISA's gdc entry of the kernel table,
    and the layer matches the reference on that input."""
    layer = Conv2d(24, 24, 7, groups=24)
    info = layer.plan_info
    entry = {e["name"]: e for e in gconv_cpu.kernel_table()}[info["global_kernel"]]
    assert (entry["kind"], entry["isa"]) == ("gdc", isa)
    assert info["kernel"] != info["global_kernel"]
    assert layer.kernel_for((2, 24, 7, 7)) == layer.kernel_for((24, 7, 7)) == info["global_kernel"]
    assert layer.kernel_for((1, 24, 9, 9)) == info["kernel"]  # a 3x3 output: the depthwise kernel
    x = _x(6, (2, 24, 7, 7))
    ref = conv2d_ref(x, layer.weight, layer.bias, 1, (0, 0, 0, 0), 1, 24)
    assert_conv_close(layer(x), ref, conv2d_ref_abs(x, layer.weight, layer.bias, 1, (0, 0, 0, 0), 1, 24), 49,
                      what="gdc")


def test_set_isa_replans(restore_isa):
    avail = gconv_cpu.available_isas()
    if len(avail) < 2:
        pytest.skip(f"CPU has only {avail}: nothing to switch between")
    layer = Conv2d(8, 8, 3, padding=1, groups=8)
    x = _x()
    results = {}
    for name in avail + avail[:1]:
        gconv_cpu.set_isa(name)
        results[name] = layer(x)
        info = layer.plan_info
        assert info["isa"] == name
        assert info["kernel"].endswith(name)
    for name in avail[1:]:
        np.testing.assert_allclose(results[name], results[avail[0]], rtol=1e-5, atol=1e-5)


def test_unbatched_input(isa):
    layer = Conv2d(6, 9, (3, 2), stride=(2, 1), padding=(1, 0), groups=3)
    x = _x(5, (6, 11, 8))
    y3 = layer(x)
    y4 = layer(x[None])
    assert y3.shape == y4.shape[1:] == (9, 6, 7)
    np.testing.assert_array_equal(y3, y4[0])
    out = np.empty_like(y3)
    r = layer(x, out=out)
    np.testing.assert_array_equal(out, y3)
    assert np.shares_memory(r, out)
    # float64, non-contiguous, 4-D inputs go through the conversion path
    x64 = np.ascontiguousarray(x[None].astype(np.float64).transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(layer(x64), y4)


def test_layer_out_rejects_non_array_for_unbatched_input():
    layer = Conv2d(4, 4, 3, padding=1)
    x = np.ones((4, 5, 5), np.float32)
    with pytest.raises(TypeError, match="out"):
        layer(x, out=np.zeros((4, 5, 5)).tolist())
    with pytest.raises(TypeError, match="out"):
        layer(x, out=np.zeros((4, 5, 5), np.float64))


def test_layer_batch_zero_subprocess():
    """Batch 0 through a layer (GEMM path, 2 threads) returns an empty array, in a subprocess
    because this has crashed the interpreter (SIGFPE)."""
    from reference import describe_exit, run_python

    proc = run_python("import numpy as np, gconv_cpu\n"
                      "gconv_cpu.set_num_threads(2)\n"
                      "layer = gconv_cpu.nn.Conv2d(4, 8, 3, padding=1, groups=2)\n"
                      "print(layer(np.zeros((0, 4, 5, 6), np.float32)).shape)\n")
    assert proc.returncode == 0, f"{describe_exit(proc)}: {proc.stderr[-500:]}"
    assert proc.stdout.strip() == "(0, 8, 5, 6)"


def test_repr_contains_params():
    r = repr(Conv2d(16, 32, (3, 5), stride=2, padding=(1, 2), dilation=(2, 1), groups=4, bias=False))
    for part in ("Conv2d(", "16", "32", "kernel_size=(3, 5)", "stride=(2, 2)", "dilation=(2, 1)", "groups=4",
                 "bias=False", "padding="):
        assert part in r, (part, r)
    r2 = repr(Conv2d(3, 6, 1, padding="same"))
    assert "Conv2d(3, 6" in r2 and "kernel_size=(1, 1)" in r2 and "same" in r2
    assert "groups" not in r2 and "bias=False" not in r2 and "dilation" not in r2


def test_attributes_like_torch():
    layer = Conv2d(16, 32, 3, stride=(2, 1), padding=1, dilation=2, groups=4)
    assert (layer.in_channels, layer.out_channels, layer.groups) == (16, 32, 4)
    assert layer.kernel_size == (3, 3) and layer.stride == (2, 1) and layer.dilation == (2, 2)
