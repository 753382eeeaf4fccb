"""Every bad input raises the documented exception type with a message naming the parameter."""
import math

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu import SizeOverflowError
from gconv_cpu.nn import Conv2d

from reference import describe_exit, run_python

X = np.ones((1, 4, 8, 8), np.float32)
W = np.ones((8, 2, 3, 3), np.float32)  # groups=2
B = np.ones(8, np.float32)


def conv(x=X, w=W, b=B, **kw):
    kw.setdefault("groups", 2)
    return gconv_cpu.conv2d(x, w, b, **kw)


# (id, thunk, exception type, regex the message must match)
FUNCTIONAL_CASES = [
    # groups
    ("groups-0", lambda: conv(groups=0), ValueError, "groups"),
    ("groups-negative", lambda: conv(groups=-2), ValueError, "groups"),
    ("groups-not-dividing-in_channels", lambda: conv(w=np.ones((6, 1, 3, 3), np.float32), b=None, groups=3),
     ValueError, "in_channels"),
    ("groups-not-dividing-out_channels", lambda: conv(w=np.ones((6, 1, 3, 3), np.float32), b=None, groups=4),
     ValueError, "out_channels"),
    ("groups-bool", lambda: conv(groups=True), TypeError, "groups"),
    ("groups-float", lambda: conv(groups=2.0), TypeError, "groups"),
    ("groups-string", lambda: conv(groups="2"), TypeError, "groups"),
    ("groups-None", lambda: conv(groups=None), TypeError, "groups"),
    # weight shape
    ("weight-cin-per-group-mismatch", lambda: conv(w=np.ones((8, 4, 3, 3), np.float32)), ValueError, "weight"),
    ("weight-cin-mismatch-groups1", lambda: conv(groups=1), ValueError, "weight"),
    ("weight-empty-cout", lambda: conv(w=np.ones((0, 2, 3, 3), np.float32), b=None), ValueError, "out_channels"),
    ("x-zero-channels", lambda: conv(x=np.ones((1, 0, 8, 8), np.float32), groups=1), ValueError, "in_channels"),
    ("x-zero-height", lambda: conv(x=np.ones((1, 4, 0, 8), np.float32)), ValueError, "x"),
    # stride / dilation
    ("stride-0", lambda: conv(stride=0), ValueError, "stride"),
    ("stride-negative", lambda: conv(stride=-1), ValueError, "stride"),
    ("stride-pair-0", lambda: conv(stride=(1, 0)), ValueError, "stride"),
    ("stride-bool", lambda: conv(stride=True), TypeError, "stride"),
    ("stride-float", lambda: conv(stride=1.0), TypeError, "stride"),
    ("stride-pair-float", lambda: conv(stride=(1, 2.0)), TypeError, "stride"),
    ("stride-len3", lambda: conv(stride=(1, 1, 1)), ValueError, "stride"),
    ("stride-len0", lambda: conv(stride=()), ValueError, "stride"),
    ("dilation-0", lambda: conv(dilation=0), ValueError, "dilation"),
    ("dilation-negative", lambda: conv(dilation=-2), ValueError, "dilation"),
    ("dilation-pair-negative", lambda: conv(dilation=(-1, 1)), ValueError, "dilation"),
    ("dilation-bool", lambda: conv(dilation=False), TypeError, "dilation"),
    ("dilation-float", lambda: conv(dilation=1.5), TypeError, "dilation"),
    ("dilation-len3", lambda: conv(dilation=(1, 1, 1)), ValueError, "dilation"),
    # padding
    ("padding-negative-int", lambda: conv(padding=-1), ValueError, "padding"),
    ("padding-negative-pair", lambda: conv(padding=(1, -1)), ValueError, "padding"),
    ("padding-negative-4tuple", lambda: conv(padding=(0, 0, -1, 0)), ValueError, "padding"),
    ("padding-float", lambda: conv(padding=1.0), TypeError, "padding"),
    ("padding-bool", lambda: conv(padding=True), TypeError, "padding"),
    ("padding-4tuple-float", lambda: conv(padding=(0, 0, 1.0, 0)), TypeError, "padding"),
    ("padding-len3", lambda: conv(padding=(1, 1, 1)), ValueError, "padding"),
    ("padding-len5", lambda: conv(padding=(1, 1, 1, 1, 1)), ValueError, "padding"),
    ("padding-len0", lambda: conv(padding=()), ValueError, "padding"),
    ("padding-same-stride2", lambda: conv(padding="same", stride=2), ValueError, "padding"),
    ("padding-same-stride-pair", lambda: conv(padding="same", stride=(1, 2)), ValueError, "padding"),
    ("padding-unknown-string", lambda: conv(padding="full"), ValueError, "padding"),
    ("padding-SAME-uppercase", lambda: conv(padding="SAME"), ValueError, "padding"),
    # kernel larger than the padded input
    ("kernel-larger-than-input", lambda: conv(w=np.ones((8, 2, 9, 3), np.float32)), ValueError, "kernel_size"),
    ("kernel-larger-width", lambda: conv(w=np.ones((8, 2, 3, 11), np.float32), padding=1), ValueError,
     "kernel_size"),
    ("dilated-kernel-larger", lambda: conv(dilation=4), ValueError, "kernel_size"),
    # sizes: overflow and memory
    ("padding-2**40-output-overflows", lambda: conv(padding=2**40), SizeOverflowError, "output"),
    ("padding-2**20-exceeds-memory", lambda: conv(padding=2**20), MemoryError, "output"),
    ("stride-2**62", lambda: conv(stride=2**62), SizeOverflowError, "stride"),
    ("stride-2**63", lambda: conv(stride=2**63), SizeOverflowError, "stride"),
    ("padding-2**62", lambda: conv(padding=2**62), SizeOverflowError, "padding"),
    ("padding-4tuple-2**63", lambda: conv(padding=(0, 2**63, 0, 0)), SizeOverflowError, "padding"),
    ("dilation-2**62", lambda: conv(dilation=2**62), SizeOverflowError, "dilation"),
    ("dilation-2**63", lambda: conv(dilation=(1, 2**63)), SizeOverflowError, "dilation"),
    ("groups-2**62", lambda: conv(groups=2**62), SizeOverflowError, "groups"),
    ("groups-2**63", lambda: conv(groups=2**63), SizeOverflowError, "groups"),
    ("stride-negative-2**63", lambda: conv(stride=-2**63), ValueError, "stride"),
    # ndim
    ("x-2d", lambda: conv(x=np.ones((8, 8), np.float32)), ValueError, "x"),
    ("x-5d", lambda: conv(x=np.ones((1, 1, 4, 8, 8), np.float32)), ValueError, "x"),
    ("x-0d", lambda: conv(x=np.float32(1)), ValueError, "x"),
    ("weight-3d", lambda: conv(w=np.ones((8, 3, 3), np.float32)), ValueError, "weight"),
    ("weight-5d", lambda: conv(w=np.ones((8, 2, 3, 3, 1), np.float32)), ValueError, "weight"),
    ("bias-2d", lambda: conv(b=np.ones((8, 1), np.float32)), ValueError, "bias"),
    ("bias-0d", lambda: conv(b=np.float32(1)), ValueError, "bias"),
    ("bias-wrong-length", lambda: conv(b=np.ones(7, np.float32)), ValueError, "bias"),
    # dtypes
    ("x-strings", lambda: conv(x=np.full((1, 4, 8, 8), "a")), TypeError, "x"),
    ("x-objects", lambda: conv(x=np.full((1, 4, 8, 8), None, dtype=object)), TypeError, "x"),
    ("x-complex", lambda: conv(x=X.astype(np.complex64)), TypeError, "x"),
    ("x-bool", lambda: conv(x=X.astype(bool)), TypeError, "x"),
    ("x-ragged-list", lambda: conv(x=[[[[1.0, 2.0], [1.0]]]]), TypeError, "x"),
    ("x-None", lambda: conv(x=None), TypeError, "x"),
    ("weight-strings", lambda: conv(w=W.astype(str)), TypeError, "weight"),
    ("weight-complex", lambda: conv(w=W.astype(np.complex128)), TypeError, "weight"),
    ("bias-objects", lambda: conv(b=np.array([object()] * 8)), TypeError, "bias"),
    ("bias-complex", lambda: conv(b=B.astype(np.complex64)), TypeError, "bias"),
    # algorithm
    ("algorithm-unknown", lambda: conv(algorithm="winograd"), ValueError, "algorithm"),
    ("algorithm-None", lambda: conv(algorithm=None), ValueError, "algorithm"),
    ("algorithm-dwconv-on-grouped", lambda: conv(algorithm="dwconv"), ValueError, "algorithm"),
    ("algorithm-dwconv-on-dense", lambda: conv(w=np.ones((8, 4, 3, 3), np.float32), groups=1,
                                                   algorithm="dwconv"), ValueError, "algorithm"),
]


@pytest.mark.parametrize("thunk, exc, match", [c[1:] for c in FUNCTIONAL_CASES],
                         ids=[c[0] for c in FUNCTIONAL_CASES])
def test_conv2d_rejects(thunk, exc, match):
    with pytest.raises(exc, match=match):
        thunk()


def test_size_overflow_error_is_value_and_overflow_error():
    assert issubclass(SizeOverflowError, ValueError) and issubclass(SizeOverflowError, OverflowError)
    with pytest.raises(OverflowError):
        conv(padding=2**40)
    with pytest.raises(ValueError):
        conv(stride=2**63)


# ------------------------------------------------------------------ nn.Conv2d

LAYER_CASES = [
    ("in_channels-0", lambda: Conv2d(0, 4, 3), ValueError, "in_channels"),
    ("in_channels-negative", lambda: Conv2d(-4, 4, 3), ValueError, "in_channels"),
    ("out_channels-0", lambda: Conv2d(4, 0, 3), ValueError, "out_channels"),
    ("in_channels-bool", lambda: Conv2d(True, 4, 3), TypeError, "in_channels"),
    ("in_channels-float", lambda: Conv2d(4.0, 4, 3), TypeError, "in_channels"),
    ("groups-0", lambda: Conv2d(4, 4, 3, groups=0), ValueError, "groups"),
    ("groups-not-dividing-in", lambda: Conv2d(6, 8, 3, groups=4), ValueError, "in_channels"),
    ("groups-not-dividing-out", lambda: Conv2d(8, 6, 3, groups=4), ValueError, "out_channels"),
    ("groups-float", lambda: Conv2d(4, 4, 3, groups=2.0), TypeError, "groups"),
    ("kernel_size-0", lambda: Conv2d(4, 4, 0), ValueError, "kernel_size"),
    ("kernel_size-len3", lambda: Conv2d(4, 4, (3, 3, 3)), ValueError, "kernel_size"),
    ("kernel_size-len1", lambda: Conv2d(4, 4, (3,)), ValueError, "kernel_size"),
    ("kernel_size-float", lambda: Conv2d(4, 4, 3.0), TypeError, "kernel_size"),
    ("stride-0", lambda: Conv2d(4, 4, 3, stride=0), ValueError, "stride"),
    ("stride-len3", lambda: Conv2d(4, 4, 3, stride=(1, 1, 1)), ValueError, "stride"),
    ("dilation-0", lambda: Conv2d(4, 4, 3, dilation=(0, 1)), ValueError, "dilation"),
    ("padding-negative", lambda: Conv2d(4, 4, 3, padding=-1), ValueError, "padding"),
    ("padding-same-stride2", lambda: Conv2d(4, 4, 3, stride=2, padding="same"), ValueError, "padding"),
    ("padding-unknown", lambda: Conv2d(4, 4, 3, padding="circular"), ValueError, "padding"),
    ("padding_mode-reflect", lambda: Conv2d(4, 4, 3, padding_mode="reflect"), ValueError, "padding_mode"),
    ("padding_mode-circular", lambda: Conv2d(4, 4, 3, padding_mode="circular"), ValueError, "padding_mode"),
    ("algorithm-unknown", lambda: Conv2d(4, 4, 3, algorithm="fft"), ValueError, "algorithm"),
    ("stride-2**63", lambda: Conv2d(4, 4, 3, stride=2**63), SizeOverflowError, "stride"),
    # Weight size checked before allocating: 2**80 weights overflow 64-bit sizes ...
    ("weight-size-overflows", lambda: Conv2d(2**40, 2**40, 1), SizeOverflowError,
     "weight|in_channels|out_channels|kernel_size"),
    # ... and 2**48 weights (1 PiB) fit in 64 bits but not in any machine's memory.
    ("weight-exceeds-memory", lambda: Conv2d(2**24, 2**24, 1), MemoryError,
     "weight|in_channels|out_channels|kernel_size"),
]


@pytest.mark.parametrize("thunk, exc, match", [c[1:] for c in LAYER_CASES], ids=[c[0] for c in LAYER_CASES])
def test_conv2d_layer_constructor_rejects(thunk, exc, match):
    with pytest.raises(exc, match=match):
        thunk()


def test_dwconv_on_grouped_layer_rejected_at_plan():
    layer = Conv2d(4, 8, 3, groups=2, algorithm="dwconv")
    with pytest.raises(ValueError, match="algorithm"):
        layer(np.ones((1, 4, 5, 5), np.float32))


@pytest.mark.parametrize("value, exc, match", [
    (np.ones((8, 4, 3, 3), np.float32), ValueError, "weight"),   # C_in instead of C_in/groups
    (np.ones((8, 2, 3, 2), np.float32), ValueError, "weight"),
    (np.ones((4, 2, 3, 3), np.float32), ValueError, "weight"),
    (np.ones((8, 2, 3), np.float32), ValueError, "weight"),
    (np.full((8, 2, 3, 3), "w"), TypeError, "weight"),
    (None, TypeError, "weight"),
], ids=["cin", "kw", "cout", "3d", "strings", "None"])
def test_weight_setter_rejects(value, exc, match):
    layer = Conv2d(4, 8, 3, groups=2)
    before = layer.weight.copy()
    with pytest.raises(exc, match=match):
        layer.weight = value
    np.testing.assert_array_equal(layer.weight, before)


@pytest.mark.parametrize("value, exc, match", [
    (np.ones(7, np.float32), ValueError, "bias"),
    (np.ones((8, 1), np.float32), ValueError, "bias"),
    (np.array(["b"] * 8), TypeError, "bias"),
], ids=["length", "2d", "strings"])
def test_bias_setter_rejects(value, exc, match):
    layer = Conv2d(4, 8, 3, groups=2)
    with pytest.raises(exc, match=match):
        layer.bias = value


@pytest.mark.parametrize("shape", [(1, 3, 8, 8), (1, 8, 8, 8), (3, 8, 8), (8, 8), (1, 1, 4, 8, 8)],
                         ids=["3ch", "8ch", "unbatched-3ch", "2d", "5d"])
def test_layer_call_wrong_input(shape):
    layer = Conv2d(4, 8, 3, groups=2)
    with pytest.raises(ValueError, match="x|channels"):
        layer(np.ones(shape, np.float32))


def test_layer_call_input_too_small():
    layer = Conv2d(4, 8, 5, groups=2)
    with pytest.raises(ValueError, match="kernel_size"):
        layer(np.ones((1, 4, 3, 8), np.float32))


# ------------------------------------------------------------ threads and ISA

@pytest.mark.parametrize("n, exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError),
                                    ("2", TypeError), (None, TypeError), (10**6, ValueError)],
                         ids=["0", "-1", "1.5", "True", "str", "None", "huge"])
def test_set_num_threads_rejects(n, exc, restore_threads):
    before = gconv_cpu.get_num_threads()
    with pytest.raises(exc, match="num_threads"):
        gconv_cpu.set_num_threads(n)
    assert gconv_cpu.get_num_threads() == before


@pytest.mark.parametrize("name", ["sse9", "", "AVX2 ", None, 1], ids=["sse9", "empty", "spaced", "None", "int"])
def test_set_isa_rejects(name, restore_isa):
    before = gconv_cpu.get_isa()
    with pytest.raises(ValueError, match="isa"):
        gconv_cpu.set_isa(name)
    assert gconv_cpu.get_isa() == before


# ------------------------------------------------------- C-level re-validation
# The C core re-checks every spec before dividing or allocating. Each case runs in a fresh
# interpreter so that a missing check (a division by zero: SIGFPE) fails the test instead of
# killing the test session.

GOOD_SPEC = (4, 8, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, -math.inf, math.inf)
FIELDS = dict(c_in=0, c_out=1, groups=2, kernel_h=3, kernel_w=4, stride_h=5, stride_w=6, dilation_h=7,
              dilation_w=8, pad_top=9, pad_bottom=10, pad_left=11, pad_right=12, cmin=13, cmax=14)


def _spec(**changes):
    s = list(GOOD_SPEC)
    for k, v in changes.items():
        s[FIELDS[k]] = v
    return tuple(s)


C_SPEC_CASES = [
    ("groups-0", _spec(groups=0), "ValueError", "groups"),
    ("groups-negative", _spec(groups=-2), "ValueError", "groups"),
    ("stride-0", _spec(stride_w=0), "ValueError", "stride"),
    ("stride-negative", _spec(stride_h=-1), "ValueError", "stride"),
    ("pad-negative", _spec(pad_right=-1), "ValueError", "padding"),
    ("pad-top-negative", _spec(pad_top=-5), "ValueError", "padding"),
    ("c_in-not-divisible", _spec(c_in=5), "ValueError", "in_channels"),
    ("c_out-not-divisible", _spec(c_out=7), "ValueError", "out_channels"),
    ("c_in-0", _spec(c_in=0), "ValueError", "in_channels"),
    ("kernel-0", _spec(kernel_w=0), "ValueError", "kernel_size"),
    ("dilation-0", _spec(dilation_h=0), "ValueError", "dilation"),
    ("clamp-min-above-max", _spec(cmin=1.0, cmax=0.0), "ValueError", "clamp"),
    ("clamp-nan", _spec(cmax=math.nan), "ValueError", "clamp"),
    ("weight-size-overflow", _spec(c_in=2**40, c_out=2**40, groups=1, kernel_h=1, kernel_w=1),
     "SizeOverflowError", "weight"),
]

C_CODE = """
import math, numpy as np
from gconv_cpu import _ext
inf, nan = math.inf, math.nan
spec = {spec!r}
w = np.ones(8 * 2 * 9, np.float32)
for name, call in (("ConvPlan", lambda: _ext.ConvPlan(spec, w, None, 0, 0)),
                   ("output_size", lambda: _ext.output_size(spec, 1, 8, 8))):
    try:
        call()
        print(name, "no error")
    except Exception as e:
        print(name, type(e).__name__, "|", e)
"""


@pytest.mark.parametrize("spec, exc_name, match", [c[1:] for c in C_SPEC_CASES], ids=[c[0] for c in C_SPEC_CASES])
def test_c_core_rejects_bad_spec(spec, exc_name, match):
    import re

    proc = run_python(C_CODE.format(spec=spec))
    assert proc.returncode == 0, f"the C core crashed on spec {spec}: {describe_exit(proc)} {proc.stderr[-500:]}"
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2, proc.stdout + proc.stderr
    for line in lines:
        name, rest = line.split(" ", 1)
        assert rest.startswith(exc_name + " |"), f"{name}{spec}: expected {exc_name}, got {rest!r}"
        assert re.search(match, rest.split("|", 1)[1]), f"{name}{spec}: message {rest!r} does not name {match}"


def test_c_spec_good_is_accepted():
    """Control for the cases above: the unmodified spec plans and sizes fine."""
    from gconv_cpu import _ext

    w = np.ones(8 * 2 * 9, np.float32)
    plan = _ext.ConvPlan(GOOD_SPEC, w, None, 0, 0)
    assert plan.algorithm in set(_ext.ALGO_NAMES) - {"auto", "reference", "dwconv"}
    assert _ext.output_size(GOOD_SPEC, 1, 8, 8) == (8, 8)


@pytest.mark.parametrize("batch, h, w, exc, match", [
    (-1, 8, 8, ValueError, "batch"),
    (1, 0, 8, ValueError, "height"),
    (1, 8, -3, ValueError, "width"),
    (1, 2, 2, ValueError, "kernel_size"),
    (2**40, 2**20, 2**20, SizeOverflowError, "size"),
], ids=["batch-negative", "h-0", "w-negative", "kernel-too-big", "overflow"])
def test_c_output_size_rejects_geometry(batch, h, w, exc, match):
    from gconv_cpu import _ext

    spec = _spec(pad_top=0, pad_bottom=0, pad_left=0, pad_right=0)
    with pytest.raises(exc, match=match):
        _ext.output_size(spec, batch, h, w)


def test_c_padded_extent_overflow():
    from gconv_cpu import _ext

    with pytest.raises(SizeOverflowError):
        _ext.output_size(_spec(pad_top=2**62, pad_bottom=2**62), 1, 2**62, 8)


@pytest.mark.parametrize("weight, bias, isa, algo, exc, match", [
    (np.ones(10, np.float32), None, 0, 0, ValueError, "weight"),
    (np.ones(144, np.float64), None, 0, 0, TypeError, "weight"),
    (np.ones(144, np.float32), np.ones(3, np.float32), 0, 0, ValueError, "bias"),
    (np.ones(144, np.float32), None, 7, 0, ValueError, "isa"),
    (np.ones(144, np.float32), None, 0, 9, ValueError, "algorithm"),
    (np.ones(144, np.float32), None, 0, 2, ValueError, "algorithm"),  # dwconv on groups=2, c_in=4
], ids=["weight-short", "weight-float64", "bias-short", "isa-out-of-range", "algo-out-of-range", "dwconv"])
def test_c_plan_rejects_buffers(weight, bias, isa, algo, exc, match):
    from gconv_cpu import _ext

    with pytest.raises(exc, match=match):
        _ext.ConvPlan(GOOD_SPEC, weight, bias, isa, algo)
