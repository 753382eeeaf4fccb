"""Bad-parameter fuzzing of conv2d, nn.Conv2d (constructor, setters, call), set_num_threads, set_isa and
set_flush_denormal.

Each case starts from a valid call and replaces 0-3 parameters with random or extreme values: 0,
negatives, 2**31, 2**63, -2**63, NaN, inf, floats where ints belong, bools, strings, None, wrong-length
tuples, NumPy scalars, wrong dtypes/ranks/layouts, and huge shapes (stride-0 np.lib.stride_tricks views
such as x of shape (1, 2**40, 1, 1) on a 4-byte buffer, weights that imply huge outputs).

Allowed outcomes: a correct result (checked against the float64 reference with an independent reading
of torch's rules: tests/reference.py), or ValueError/TypeError/OverflowError/MemoryError. Anything else
fails: another exception type (SystemError, RuntimeError, IndexError, ...), a crash (the fuzz runs in a
child process), a hang (faulthandler kills a case after 60 s), a call accepted that torch's rules reject,
or a failed setter that changed the object's state.

No absurd allocation: the child runs under RLIMIT_AS (4 GiB), so any allocation attempt above that
surfaces as a MemoryError raised by NumPy (numpy's _ArrayMemoryError, which records the requested size)
or by the C core ("out of memory ..."), instead of succeeding lazily. Only our validation's own errors
are allowed: an allocation failure is a failure when the call had to be rejected anyway (the validation
should have said so before allocating) or when it asked for more than this machine's RAM; a valid call
whose result legitimately needs more than the limit but less than the RAM counts as "legit-large".
Under ASan (tools/sanitize.sh) RLIMIT_AS cannot be used (ASan reserves terabytes of shadow); there,
ASan's max_allocation_size_mb turns any attempt above the RAM into a crash, and cases a valid reading
says are larger than 64 MiB are not run.

Profiles: GCONV_FUZZ_PROFILE=ci (default, seeded, 5000 cases) or =long (100k cases, seed from
GCONV_FUZZ_SEED or random); the summary (cases, outcomes) is printed with -s.
"""
import json
import math
import numbers
import os
import resource
import sys
import time
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from reference import under_asan

TESTS = os.path.dirname(os.path.abspath(__file__))
PROFILES = {"ci": 5000, "long": 100_000}
RLIMIT_BYTES = 4 << 30
LARGE_BYTES = 64 << 20  # valid calls needing more than this are "legit-large" and not run under ASan
NAN, INF = float("nan"), float("inf")
ALLOWED = (ValueError, TypeError, OverflowError, MemoryError)


# ---------------------------------------------------------------------------------- value pools

INT_EXTREME = [0, -1, -2, -7, 2**31 - 1, 2**31, 2**32 + 1, 2**62, 2**63 - 1, 2**63, 2**64, -2**31, -2**63,
               -2**63 - 1, 10**30]
NP_INTS = [np.int8(1), np.int64(2), np.int32(-1), np.uint8(3), np.uint64(2**63), np.int64(2**62), np.intp(0),
           np.int16(3)]


def _non_ints():
    return [1.0, 2.5, -0.0, NAN, INF, -INF, True, False, np.True_, "1", "", "same", "valid", None, b"2", 1 + 0j,
            Fraction(3, 1), Decimal(2), np.float32(1), np.float64(NAN), object(), {}, {1: 2}, [1.5, 1], 1e300]


class Gen:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def int_like(self, lo, hi):
        """An int in [lo, hi] in some valid spelling, or an extreme/ill-typed value."""
        r = self.rng.random()
        if r < 0.5:
            v = int(self.rng.integers(lo, hi + 1))
            return self.pick([v, v, np.int64(v), np.int32(v), np.uint8(v) if 0 <= v < 256 else v])
        if r < 0.75:
            return self.pick(INT_EXTREME)
        if r < 0.85:
            return self.pick(NP_INTS)
        return self.pick(_non_ints())

    def tuple_like(self, lo, hi, lengths=(0, 1, 2, 2, 2, 3, 4, 5)):
        n = self.pick(lengths)
        vals = tuple(self.int_like(lo, hi) for _ in range(n))
        return self.pick([vals, list(vals), np.array(vals, dtype=object) if n else np.array([], np.int64),
                          vals if not n else np.array([v if isinstance(v, (int, np.integer)) and not
                                                       isinstance(v, (bool, np.bool_)) and abs(int(v)) < 2**62 else 1
                                                       for v in vals])])

    def param(self, lo, hi):
        return self.int_like(lo, hi) if self.chance(0.6) else self.tuple_like(lo, hi)


# ------------------------------------------------------------------ an independent reading of the rules

class Invalid(Exception):
    """The call must be rejected (message: why)."""


def as_int(v, name, minimum):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise Invalid(f"{name}: not an int: {v!r}")
    v = int(v)
    if v < minimum:
        raise Invalid(f"{name}: {v} < {minimum}")
    return v


def as_pair(v, name, minimum, allow_single=True):
    if isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)):
        v = (v, v)
    elif isinstance(v, (tuple, list, np.ndarray)):
        if isinstance(v, np.ndarray) and v.ndim != 1:
            raise Invalid(f"{name}: array of ndim {v.ndim}")
        v = tuple(v)
        if len(v) == 1 and allow_single:
            v = v * 2
    else:
        raise Invalid(f"{name}: {type(v).__name__}")
    if len(v) != 2:
        raise Invalid(f"{name}: length {len(v)}")
    return tuple(as_int(e, name, minimum) for e in v)


def as_pads(padding, kernel, dilation, stride):
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same" and stride == (1, 1):
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise Invalid(f"padding {padding!r}")
    if isinstance(padding, (tuple, list, np.ndarray)) and not (isinstance(padding, np.ndarray) and padding.ndim != 1) \
            and len(padding) == 4:
        return tuple(as_int(p, "padding", 0) for p in padding)
    ph, pw = as_pair(padding, "padding", 0)
    return (ph, ph, pw, pw)


def as_real_array(a, name, ndims):
    if a is None or isinstance(a, (str, bytes, dict)):
        raise Invalid(f"{name}: {type(a).__name__}")
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as e:
        raise Invalid(f"{name}: {e}")
    if arr.dtype.kind not in "fiu":
        raise Invalid(f"{name}: dtype {arr.dtype}")
    if arr.ndim not in ndims:
        raise Invalid(f"{name}: ndim {arr.ndim}")
    return arr


def extent(size, pa, pb, k, d, s, axis):
    eff = d * (k - 1) + 1
    if eff > size + pa + pb:
        raise Invalid(f"kernel larger than the padded input ({axis})")
    return (size + pa + pb - eff) // s + 1


ACTS = (None, "none", "relu", "relu6", "hardswish", "prelu")
ALGOS = ("auto", "reference", "dwconv", "gemm", "grouped_direct")


def read_conv(x, weight, bias, stride, padding, dilation, groups, activation, prelu_weight, algorithm, out,
              phys_bytes):
    """torch's rules (README + torch.nn.functional.conv2d) -> a normalized call, or Invalid."""
    xa = as_real_array(x, "x", (3, 4))
    unbatched = xa.ndim == 3
    xs = (1,) + xa.shape if unbatched else xa.shape
    wa = as_real_array(weight, "weight", (4,))
    g = as_int(groups, "groups", 1)
    n, c, h, w = xs
    cout, cin_g, kh, kw = wa.shape
    if c < 1 or cout < 1 or kh < 1 or kw < 1:
        raise Invalid("empty channel/kernel dim")
    if c % g or cout % g or cin_g != c // g:
        raise Invalid("groups/channels mismatch")
    if h < 1 or w < 1:
        raise Invalid("empty spatial dim")
    s = as_pair(stride, "stride", 1)
    d = as_pair(dilation, "dilation", 1)
    pads = as_pads(padding, (kh, kw), d, s)
    ba = None
    if bias is not None:
        ba = as_real_array(bias, "bias", (1,))
        if ba.shape[0] != cout:
            raise Invalid("bias length")
    if activation not in ACTS or isinstance(activation, bool):
        raise Invalid("activation")
    act = None if activation == "none" else activation
    slope = None
    if act == "prelu":
        if prelu_weight is None:
            raise Invalid("prelu_weight missing")
        pa = as_real_array(prelu_weight, "prelu_weight", (0, 1, 2, 3, 4)).reshape(-1)
        if pa.size not in (1, cout):
            raise Invalid("prelu_weight size")
        slope = pa  # 1 or cout values (broadcast in check_result, for small outputs only)
    elif prelu_weight is not None:
        raise Invalid("prelu_weight without prelu")
    if not isinstance(algorithm, str) or algorithm not in ALGOS:
        raise Invalid("algorithm")
    if algorithm == "dwconv" and cin_g != 1:
        raise Invalid("dwconv on a non-depthwise conv")
    oh = extent(h, pads[0], pads[1], kh, d[0], s[0], "h")
    ow = extent(w, pads[2], pads[3], kw, d[1], s[1], "w")
    shape = (n, cout, oh, ow)
    nbytes = 4 * n * cout * oh * ow
    if nbytes > phys_bytes or max(pads) >= 2**62 or max(s + d) >= 2**62:
        raise Invalid("too large")
    if out is not None:
        want = shape[1:] if unbatched else shape
        if not (type(out) is np.ndarray and out.dtype == np.float32 and out.flags.c_contiguous
                and out.flags.writeable and out.shape == want and not np.may_share_memory(out, xa)):
            raise Invalid("out")
    return dict(x=xa, w=wa, b=ba, stride=s, pads=pads, dilation=d, groups=g, act=act, slope=slope,
                out_shape=shape[1:] if unbatched else shape, unbatched=unbatched, nbytes=nbytes,
                in_bytes=4 * (xa.size + wa.size))


def gather_ref(x, w, b, stride, pads, dilation, groups):
    """float64 conv by gathering each tap's input pixel (no padded copy: pads may be 2**31 with a
    stride that keeps the output tiny). Out-of-range taps read 0 (then 0 * w, as in tests/reference.py)."""
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    (sh, sw), (dh, dw), (pt, pb, pl, pr) = stride, dilation, pads
    oh, ow = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    iy = [[oy * sh - pt + ky * dh for ky in range(kh)] for oy in range(oh)]  # Python ints: no wrap-around
    ix = [[ox * sw - pl + kx * dw for kx in range(kw)] for ox in range(ow)]
    my, mx = np.array([[0 <= v < h for v in r] for r in iy]), np.array([[0 <= v < wd for v in r] for r in ix])
    cy = np.array([[min(max(v, 0), h - 1) for v in r] for r in iy], np.int64)
    cx = np.array([[min(max(v, 0), wd - 1) for v in r] for r in ix], np.int64)
    patch = x[:, :, cy[:, :, None, None], cx[None, None, :, :]]  # (n, c, oh, kh, ow, kw)
    patch = np.where(my[:, :, None, None] & mx[None, None], patch, 0.0)
    patch = patch.reshape(n, groups, cg, oh, kh, ow, kw)
    wg = w.reshape(groups, co // groups, cg, kh, kw)
    y = np.einsum("ngcyaxb,gocab->ngoyx", patch, wg).reshape(n, co, oh, ow)
    if b is not None:
        y = y + b[None, :, None, None]
    return y


def check_result(y, r):
    """y must equal the float64 reference (with the activation) within the accuracy bound."""
    assert isinstance(y, np.ndarray) and y.dtype == np.float32, type(y)
    assert y.shape == r["out_shape"], (y.shape, r["out_shape"])
    if y.size == 0:
        return
    x = r["x"].astype(np.float32).astype(np.float64)
    x = x[None] if r["unbatched"] else x
    w = r["w"].astype(np.float32).astype(np.float64)
    b = None if r["b"] is None else r["b"].astype(np.float32).astype(np.float64)
    geo = (r["stride"], r["pads"], r["dilation"], r["groups"])
    with np.errstate(all="ignore"):
        ref = gather_ref(x, w, b, *geo)
        absref = gather_ref(np.abs(x), np.abs(w), None if b is None else np.abs(b), *geo)
        act, factor = r["act"], 1.0
        if act == "relu":
            ref = np.maximum(ref, 0)
        elif act == "relu6":
            ref = np.minimum(np.maximum(ref, 0), 6)
        elif act == "hardswish":
            factor = 1 + np.abs(ref) / 3
            ref = ref * np.clip(ref + 3, 0, 6) / 6
        elif act == "prelu":
            a = np.broadcast_to(r["slope"].astype(np.float32).astype(np.float64), (w.shape[0],))[None, :, None, None]
            factor = np.fmax(1, np.nan_to_num(np.abs(a), nan=1.0, posinf=1e300))
            ref = np.where(ref > 0, ref, a * ref)
        y4 = y[None] if r["unbatched"] else y
        # elements whose float32 evaluation may overflow (|terms| near FLT_MAX) or that are NaN/inf
        # by the float64 reference are not compared (NaN/Inf semantics: tests/test_numerics.py)
        finite = np.isfinite(ref) & np.isfinite(absref) & (absref * factor < 1e37)
        assert not np.isnan(y4[finite]).any(), "NaN where the reference is finite"
        k = w.shape[1] * w.shape[2] * w.shape[3]
        err = np.abs(y4.astype(np.float64) - ref)
        bound = 32 * 2.0**-24 * math.sqrt(k) * absref * factor + 1e-37
        bad = finite & ~(err <= bound)
    assert not bad.any(), f"{int(bad.sum())} elements off: max err {float(err[bad].max())}"


# --------------------------------------------------------------------------- case generators

def huge_view(shape):
    return np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape=shape, strides=(0,) * len(shape))


def gen_array(gen, shape, name):
    """A valid float32 array of `shape`, or a mutation of it."""
    a = gen.rng.standard_normal(shape).astype(np.float32)
    if not gen.chance(0.35):
        return a
    kind = gen.pick(["dtype", "layout", "ndim", "empty", "huge", "python", "special", "values"])
    if kind == "dtype":
        dt = gen.pick([np.float64, np.float16, np.int32, np.uint8, np.int64, bool, np.complex64, object, "U3", "S2",
                       "datetime64[s]", [("a", "f4")]])
        try:
            return a.astype(dt)
        except (TypeError, ValueError):
            return a.astype(object)
    if kind == "layout":
        if a.ndim and a.shape[-1] > 1 and gen.chance(0.5):
            big = np.repeat(a, 2, axis=-1)
            return big[..., ::2]
        v = gen.pick([np.asfortranarray(a), a[..., ::-1] if a.ndim else a, a.copy()])
        if gen.chance(0.3):
            v = v.copy()
            v.flags.writeable = False
        return v
    if kind == "ndim":
        return gen.pick([a.reshape(-1), a[None], a.reshape(a.shape + (1,)), np.float32(1.0), a.reshape(1, -1)])
    if kind == "empty":
        s = list(shape)
        s[int(gen.rng.integers(len(s)))] = 0
        return np.zeros(s, np.float32)
    if kind == "huge":
        s = list(shape)
        i = int(gen.rng.integers(len(s)))
        s[i] = gen.pick([2**31, 2**33, 2**40, 2**50, 2**61])
        if gen.chance(0.3) and len(s) > 1:
            j = (i + 1) % len(s)
            s[j] = gen.pick([2**20, 2**31])
        try:
            return huge_view(tuple(s))
        except ValueError:  # numpy: "array is too big"
            return huge_view((2**40,) + tuple(shape[1:]))
    if kind == "python":
        return gen.pick([a.tolist(), None, "x", 3.0, [[1.0, 2.0], [1.0]], [a, a], (), {"a": 1}])
    if kind == "special":
        f = a.ravel()
        if f.size:
            f[int(gen.rng.integers(f.size))] = gen.pick([NAN, INF, -INF, 1e38, 1e-45, 0.0])
        return a
    return (a * gen.pick([1e30, 1e-30, 0.0, -1.0])).astype(np.float32)


def gen_conv_call(gen):
    g = int(gen.rng.integers(1, 4))
    cin_g, cout_g = int(gen.rng.integers(1, 4)), int(gen.rng.integers(1, 4))
    kh, kw = int(gen.rng.integers(1, 4)), int(gen.rng.integers(1, 4))
    n, h, w = int(gen.rng.integers(0, 3)), int(gen.rng.integers(1, 9)), int(gen.rng.integers(1, 12))
    x_shape = (n, g * cin_g, h, w) if gen.chance(0.85) else (g * cin_g, h, w)
    call = dict(x=gen.rng.standard_normal(x_shape).astype(np.float32),
                weight=gen.rng.standard_normal((g * cout_g, cin_g, kh, kw)).astype(np.float32),
                bias=gen.rng.standard_normal(g * cout_g).astype(np.float32) if gen.chance(0.7) else None,
                stride=1, padding=0, dilation=1, groups=g, activation=None, prelu_weight=None,
                algorithm="auto", out=None)
    if gen.chance(0.3):
        call["padding"] = gen.pick([1, (1, 0), "same", "valid", (0, 1, 1, 0)])
    if gen.chance(0.2):
        call["stride"] = gen.pick([2, (1, 2), [3]])
    if gen.chance(0.2):
        call["activation"] = gen.pick(["relu", "relu6", "hardswish", "prelu", "none"])
        if call["activation"] == "prelu":
            call["prelu_weight"] = gen.pick([0.25, -1.0, np.full(g * cout_g, 0.5, np.float32), [0.1]])
    mutations = int(gen.rng.choice([0, 1, 1, 2, 2, 3]))
    for key in gen.rng.choice(sorted(call), size=mutations, replace=False):
        key = str(key)
        if key == "x":
            call["x"] = gen_array(gen, x_shape, "x")
        elif key == "weight":
            if gen.chance(0.3):  # a weight implying a huge output / kernel (stride-0 view: no memory)
                call["weight"] = huge_view(gen.pick([(2**31, cin_g, kh, kw), (2**40, cin_g, 1, 1),
                                                     (g * cout_g, cin_g, 2**31, 1), (g * cout_g, 2**33, 1, 1),
                                                     (2**20 * g, cin_g, kh, kw)]))
            else:
                call["weight"] = gen_array(gen, (g * cout_g, cin_g, kh, kw), "weight")
        elif key == "bias":
            call["bias"] = gen.pick([gen_array(gen, (g * cout_g,), "bias"), np.ones(g * cout_g + 1, np.float32),
                                     huge_view((2**40,)), 1.0, [1.0] * (g * cout_g)])
        elif key in ("stride", "dilation"):
            call[key] = gen.param(1, 3)
        elif key == "padding":
            call[key] = gen.pick([gen.param(0, 3), gen.tuple_like(0, 3, lengths=(4,)), "same", "SAME", "full",
                                  "valid", ""])
        elif key == "groups":
            call[key] = gen.int_like(1, 4)
        elif key == "activation":
            call[key] = gen.pick(list(ACTS) + ["ReLU", "gelu", "", 1, True, b"relu"])
        elif key == "prelu_weight":
            call[key] = gen.pick([0.25, NAN, INF, [0.1, 0.2], np.ones(g * cout_g, np.float32),
                                  np.ones(g * cout_g + 1), "a", huge_view((2**40,)), np.ones((g * cout_g, 1))])
        elif key == "algorithm":
            call[key] = gen.pick(list(ALGOS) + ["winograd", None, 3, "AUTO", ""])
        elif key == "out":
            call[key] = gen.pick(["shape", "wrong", "f64", "fortran", "readonly", "list", "x"])
    return call


def resolve_out(call):
    """'out' is generated symbolically: it needs the output shape, known only after reading the call."""
    kind = call["out"]
    if not isinstance(kind, str):
        return
    try:
        r = read_conv(**dict(call, out=None), phys_bytes=PHYS)
        shape = r["out_shape"]
    except Invalid:
        shape = (1, 1, 1, 1)
    if r_bytes(shape) > LARGE_BYTES:
        shape = (1, 1, 1, 1)
    call["out"] = {"shape": lambda: np.empty(shape, np.float32),
                   "wrong": lambda: np.empty(tuple(s + 1 for s in shape), np.float32),
                   "f64": lambda: np.empty(shape, np.float64),
                   "fortran": lambda: np.empty(shape, np.float32, order="F") if len(shape) > 1 and min(shape) > 1
                   else np.empty(shape + (2,), np.float32)[..., 0],
                   "readonly": lambda: _readonly(np.empty(shape, np.float32)),
                   "list": lambda: np.empty(shape, np.float32).tolist(),
                   "x": lambda: call["x"]}[kind]()


def _readonly(a):
    a.flags.writeable = False
    return a


def r_bytes(shape):
    """Bytes of a float32 array of `shape`, with empty dims counted as 1 (NumPy still sizes the others)."""
    n = 4
    for s in shape:
        n *= max(int(s), 1)
    return n


def describe(v):
    if isinstance(v, np.ndarray):
        return f"ndarray{v.shape}:{v.dtype}:strides{v.strides}:{'C' if v.flags.c_contiguous else 'nc'}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={describe(e)}" for k, e in v.items()) + "}"
    if isinstance(v, (list, tuple)) and len(v) > 6:
        return f"{type(v).__name__}[{len(v)}]"
    return repr(v)


# ------------------------------------------------------------------------------- the child

PHYS = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class Fuzzer:
    def __init__(self, seed, log):
        import gconv_cpu

        self.gc = gconv_cpu
        self.gen = Gen(seed)
        self.log = log
        self.asan = under_asan()
        self.outcomes = {}
        self.failures = []

    def count(self, target, outcome):
        k = f"{target}:{outcome}"
        self.outcomes[k] = self.outcomes.get(k, 0) + 1

    def fail(self, desc, msg):
        self.failures.append(f"{desc} -> {msg}")

    def classify(self, exc, must_reject, size_hint=None):
        """None if the exception is an allowed outcome, else why not."""
        if not isinstance(exc, ALLOWED):
            return f"disallowed exception {type(exc).__name__}: {exc}"
        if isinstance(exc, MemoryError):
            from gconv_cpu import SizeOverflowError

            ours = isinstance(exc, SizeOverflowError) or "more than this machine's memory" in str(exc)
            if not ours:
                size = getattr(exc, "_total_size", None)
                if must_reject:
                    return f"allocation attempted ({size} bytes) for a call that had to be rejected: {exc!r}"
                if size is None or size > PHYS:
                    return f"absurd allocation attempted ({size} bytes): {exc!r}"
                return "legit-large"
        return None

    def run_case(self, i):
        gen = self.gen
        target = gen.pick(["conv2d"] * 6 + ["Conv2d"] * 3 + ["setter"] * 2 + ["threads", "isa", "flush"])
        run = {"conv2d": self.case_conv2d, "Conv2d": self.case_conv2d_layer, "setter": self.case_setter,
               "threads": self.case_threads, "isa": self.case_isa, "flush": self.case_flush}[target]
        run(i, target)

    # -- conv2d
    def case_conv2d(self, i, target):
        call = gen_conv_call(self.gen)
        resolve_out(call)
        desc = f"#{i} conv2d({describe(call)})"
        self.log.write(desc + "\n")
        self.log.flush()
        try:
            r = read_conv(**call, phys_bytes=PHYS)
            verdict = None
        except Invalid as e:
            r, verdict = None, str(e)
        large = r is not None and (r["nbytes"] > LARGE_BYTES or r["in_bytes"] > LARGE_BYTES)
        if large and self.asan:
            self.count(target, "legit-large-not-run")
            return
        try:
            y = self.gc.conv2d(**call)
        except BaseException as e:  # noqa: BLE001 - classified
            why = self.classify(e, r is None)
            if why == "legit-large":
                self.count(target, why)
            elif why:
                self.fail(desc, why)
            elif r is not None and not isinstance(e, (MemoryError, OverflowError)):
                self.fail(desc, f"rejected a valid call: {type(e).__name__}: {e}")
            else:
                self.count(target, type(e).__name__)
            return
        if r is None:
            self.fail(desc, f"accepted a call torch's rules reject ({verdict})")
            return
        if large:  # a valid multi-100-MB result: the float64 reference would not fit under RLIMIT_AS
            if not (isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == r["out_shape"]):
                self.fail(desc, f"large result of the wrong kind: {describe(y)}")
            self.count(target, "legit-large-shape-checked")
            return
        try:
            check_result(y, r)
        except AssertionError as e:
            self.fail(desc, f"wrong result: {e}")
            return
        if call["out"] is not None and y is not call["out"] and not r["unbatched"]:
            self.fail(desc, "out= given but a different array returned")
        self.count(target, "ok")

    # -- nn.Conv2d constructor (+ a call when it constructs)
    def case_conv2d_layer_args(self):
        gen = self.gen
        g = int(gen.rng.integers(1, 4))
        args = dict(in_channels=g * int(gen.rng.integers(1, 4)), out_channels=g * int(gen.rng.integers(1, 4)),
                    kernel_size=int(gen.rng.integers(1, 4)), stride=1, padding=0, dilation=1, groups=g, bias=True,
                    padding_mode="zeros", activation=None, algorithm="auto")
        for key in gen.rng.choice(sorted(args), size=int(gen.rng.choice([0, 1, 1, 2, 3])), replace=False):
            key = str(key)
            if key in ("in_channels", "out_channels"):
                args[key] = gen.int_like(1, 6)
            elif key == "kernel_size":
                args[key] = gen.param(1, 3)
            elif key in ("stride", "dilation"):
                args[key] = gen.param(1, 3)
            elif key == "padding":
                args[key] = gen.pick([gen.param(0, 3), gen.tuple_like(0, 3, lengths=(4,)), "same", "valid", "x"])
            elif key == "groups":
                args[key] = gen.int_like(1, 3)
            elif key == "bias":
                args[key] = gen.pick([False, 0, None, "yes", np.True_])
            elif key == "padding_mode":
                args[key] = gen.pick(["reflect", "circular", "replicate", None, 0, "ZEROS"])
            elif key == "activation":
                args[key] = gen.pick(list(ACTS) + ["gelu", 1])
            elif key == "algorithm":
                args[key] = gen.pick(list(ALGOS) + ["fft", None])
        return args

    def read_layer(self, a):
        """The layer's implied (weight shape, torch-style call parameters) or Invalid."""
        g = as_int(a["groups"], "groups", 1)
        cin, cout = as_int(a["in_channels"], "in", 1), as_int(a["out_channels"], "out", 1)
        if cin % g or cout % g:
            raise Invalid("groups")
        k = as_pair(a["kernel_size"], "kernel_size", 1, allow_single=False)
        s, d = as_pair(a["stride"], "stride", 1), as_pair(a["dilation"], "dilation", 1)
        as_pads(a["padding"], k, d, s)
        if a["padding_mode"] != "zeros" or a["activation"] not in ACTS or isinstance(a["activation"], bool):
            raise Invalid("mode/activation")
        if not isinstance(a["algorithm"], str) or a["algorithm"] not in ALGOS:
            raise Invalid("algorithm")
        if max(s + d + k) >= 2**62:
            raise Invalid("too large")
        wbytes = 4 * cout * (cin // g) * k[0] * k[1]
        if wbytes > PHYS:
            raise Invalid("weight exceeds RAM")
        return wbytes

    def case_conv2d_layer(self, i, target):
        from gconv_cpu.nn import Conv2d

        a = self.case_conv2d_layer_args()
        desc = f"#{i} Conv2d({describe(a)})"
        self.log.write(desc + "\n")
        self.log.flush()
        try:
            wbytes = self.read_layer(a)
        except Invalid:
            wbytes = None
        if wbytes is not None and 3 * wbytes > LARGE_BYTES and (self.asan or 3 * wbytes > RLIMIT_BYTES // 2):
            self.count(target, "legit-large-not-run")  # a valid multi-GB layer: nothing to learn by building it
            return
        try:
            layer = Conv2d(**a)
        except BaseException as e:  # noqa: BLE001
            why = self.classify(e, wbytes is None)
            if why == "legit-large":
                self.count(target, why)
            elif why:
                self.fail(desc, why)
            elif wbytes is not None and not isinstance(e, (MemoryError, OverflowError)):
                self.fail(desc, f"rejected a valid layer: {type(e).__name__}: {e}")
            else:
                self.count(target, type(e).__name__)
            return
        if wbytes is None:
            self.fail(desc, "constructed a layer torch's rules reject")
            return
        self.call_layer(layer, desc, target)

    def call_layer(self, layer, desc, target):
        gen = self.gen
        n, h, w = int(gen.rng.integers(0, 3)), int(gen.rng.integers(1, 9)), int(gen.rng.integers(1, 9))
        x = gen_array(gen, (n, layer.in_channels, h, w), "x") if gen.chance(0.5) else \
            gen.rng.standard_normal((n, layer.in_channels, h, w)).astype(np.float32)
        call = dict(x=x, weight=layer.weight, bias=layer.bias, stride=layer.stride,
                    padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                    activation=layer.activation, prelu_weight=layer.prelu_weight, algorithm=layer.algorithm, out=None)
        try:
            r = read_conv(**call, phys_bytes=PHYS)
        except Invalid:
            r = None
        if r is not None and r["nbytes"] > LARGE_BYTES:
            self.count(target, "call-legit-large-not-run")
            return
        try:
            y = layer(x)
        except BaseException as e:  # noqa: BLE001
            why = self.classify(e, r is None)
            if why and why != "legit-large":
                self.fail(desc + f" called on {describe(x)}", why)
            elif r is not None and not isinstance(e, (MemoryError, OverflowError)):
                self.fail(desc + f" called on {describe(x)}", f"rejected a valid input: {type(e).__name__}: {e}")
            else:
                self.count(target, "call-" + type(e).__name__)
            return
        if r is None:
            self.fail(desc + f" called on {describe(x)}", "accepted an input torch's rules reject")
            return
        try:
            check_result(y, r)
        except AssertionError as e:
            self.fail(desc + f" called on {describe(x)}", f"wrong result: {e}")
            return
        self.count(target, "call-ok")

    # -- setters
    def case_setter(self, i, target):
        from gconv_cpu.nn import Conv2d

        gen = self.gen
        g = int(gen.rng.integers(1, 3))
        act = gen.pick([None, "prelu"])
        layer = Conv2d(2 * g, 2 * g, 3, padding=1, groups=g, activation=act)
        attr = gen.pick(["weight", "bias", "prelu_weight"])
        shape = {"weight": layer.weight.shape, "bias": (2 * g,), "prelu_weight": (2 * g,)}[attr]
        value = gen.pick([gen_array(gen, shape, attr), None, huge_view((2**40,) + shape[1:]), 0.5, "w",
                          np.ones(shape, np.float64), np.ones(shape[:-1] + (shape[-1] + 1,), np.float32)])
        desc = f"#{i} Conv2d(activation={act!r}).{attr} = {describe(value)}"
        self.log.write(desc + "\n")
        self.log.flush()
        before = {a: getattr(layer, a) for a in ("weight", "bias", "prelu_weight")}
        try:
            setattr(layer, attr, value)
        except BaseException as e:  # noqa: BLE001
            why = self.classify(e, True)
            if why:
                self.fail(desc, why)
                return
            after = {a: getattr(layer, a) for a in before}
            if any(after[a] is not before[a] for a in before):
                self.fail(desc, "a failed assignment changed the layer")
            self.count(target, type(e).__name__)
            return
        self.call_layer(layer, desc, target)

    # -- process-global settings
    def case_threads(self, i, target):
        from gconv_cpu import _threads

        v = self.gen.int_like(1, 8)
        desc = f"#{i} set_num_threads({describe(v)})"
        self.log.write(desc + "\n")
        self.log.flush()
        saved = _threads._num_threads
        before = self.gc.get_num_threads()
        valid = isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) and 1 <= int(v) <= 4096
        try:
            self.gc.set_num_threads(v)
        except BaseException as e:  # noqa: BLE001
            why = self.classify(e, True)
            if why:
                self.fail(desc, why)
            elif valid:
                self.fail(desc, f"rejected a valid count: {e!r}")
            elif self.gc.get_num_threads() != before:
                self.fail(desc, "a failed set_num_threads changed the setting")
            self.count(target, type(e).__name__)
            return
        try:
            if not valid:
                self.fail(desc, "accepted an invalid thread count")
            elif self.gc.cpu_info()["openmp"] and self.gc.get_num_threads() != int(v):
                self.fail(desc, f"get_num_threads() == {self.gc.get_num_threads()}")
            else:
                if int(v) <= 8:  # run a tiny conv with that many threads (larger counts: 4096 OS threads)
                    x = np.ones((1, 2, 4, 4), np.float32)
                    y = self.gc.conv2d(x, np.ones((2, 1, 3, 3), np.float32), None, padding=1, groups=2)
                    assert y[0, 0, 1, 1] == 9 and y[0, 0, 0, 0] == 4
                self.count(target, "ok")
        finally:
            _threads._num_threads = saved

    def case_isa(self, i, target):
        v = self.gen.pick(["scalar", "avx2", "avx512", "AVX2", " avx2", "sse", "", None, 0, 1, b"avx2", True,
                           np.str_("scalar"), ["avx2"]])
        valid = isinstance(v, str) and v in self.gc.available_isas()
        self._case_setting(i, target, "set_isa", v, valid, self.gc.set_isa, self.gc.get_isa,
                           lambda result: None if self.gc.get_isa() == v else f"get_isa() == {self.gc.get_isa()}")

    def case_flush(self, i, target):
        v = self.gen.pick([True, False, np.bool_(True), np.bool_(False), 0, 1, 1.0, NAN, "True", "", None, [True],
                           2**63, b"1", np.int8(1)])
        valid = isinstance(v, (bool, np.bool_))
        get = self.gc.get_flush_denormal
        self._case_setting(i, target, "set_flush_denormal", v, valid, self.gc.set_flush_denormal, get,
                           lambda result: None if result is True and get() == bool(v)
                           else f"returned {result!r}, get_flush_denormal() == {get()}")

    def _case_setting(self, i, target, name, v, valid, setter, getter, check):
        """A process-wide setting: an invalid value raises and changes nothing, a valid one takes effect
        (check(setter's result) says why not, or None); the setting is restored afterwards."""
        desc = f"#{i} {name}({describe(v)})"
        self.log.write(desc + "\n")
        self.log.flush()
        before = getter()
        try:
            result = setter(v)
        except BaseException as e:  # noqa: BLE001
            why = self.classify(e, True)
            if why:
                self.fail(desc, why)
            elif valid:
                self.fail(desc, f"rejected a valid value: {e!r}")
            elif getter() != before:
                self.fail(desc, f"a failed {name} changed the setting")
            self.count(target, type(e).__name__)
            return
        try:
            why = f"accepted an invalid value, {name} now {getter()!r}" if not valid else check(result)
            if why:
                self.fail(desc, why)
            else:
                self.count(target, "ok")
        finally:
            setter(before)


def child(cases, seed, log_path):
    """Runs the fuzz in this process (the test starts it in a fresh interpreter); prints a JSON summary."""
    import faulthandler

    sys.path.insert(0, TESTS)
    asan = under_asan()
    if not asan:
        resource.setrlimit(resource.RLIMIT_AS, (RLIMIT_BYTES, RLIMIT_BYTES))
    with open(log_path, "w") as log:
        fz = Fuzzer(seed, log)
        import gconv_cpu

        gconv_cpu.set_num_threads(2)
        t0 = time.perf_counter()
        for i in range(cases):
            faulthandler.dump_traceback_later(60, exit=True)  # a hang: traceback, then exit status 1
            fz.run_case(i)
            if len(fz.failures) > 50:
                break
        faulthandler.cancel_dump_traceback_later()
    print(json.dumps({"cases": i + 1, "seed": seed, "seconds": round(time.perf_counter() - t0, 2),
                      "rlimit_as": None if asan else RLIMIT_BYTES, "asan": asan,
                      "outcomes": dict(sorted(fz.outcomes.items())), "failures": fz.failures[:50]}))


# ------------------------------------------------------------------------------- the test

def _profile():
    name = os.environ.get("GCONV_FUZZ_PROFILE", "ci")
    if name not in PROFILES:
        raise ValueError(f"GCONV_FUZZ_PROFILE must be one of {sorted(PROFILES)}, got {name!r}")
    seed = int(os.environ.get("GCONV_FUZZ_SEED", "20240607" if name == "ci" else str(time.time_ns() % 2**32)))
    return name, PROFILES[name], seed


def test_fuzz_parameters(tmp_path):
    from reference import describe_exit, run_python

    name, cases, seed = _profile()
    log = tmp_path / "cases.log"
    code = f"import sys; sys.path.insert(0, {TESTS!r}); import test_fuzz_params as f; f.child({cases}, {seed}, {str(log)!r})"
    proc = run_python(code, timeout=600 if name == "ci" else 24 * 3600)
    last = log.read_text().splitlines()[-1:] if log.exists() else []
    assert proc.returncode == 0, (f"fuzz child {describe_exit(proc)} (crash or hang) at case {last}; "
                                  f"stderr: {proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\nfuzz profile {name}: {json.dumps(summary, indent=1)}")
    assert not summary["failures"], "\n".join(summary["failures"][:20])
    assert summary["cases"] == cases
    out = summary["outcomes"]
    # the fuzz is not vacuous: valid calls ran and were checked, and every error family was provoked
    for key in ("conv2d:ok", "conv2d:ValueError", "conv2d:TypeError", "Conv2d:call-ok", "Conv2d:ValueError",
                "Conv2d:TypeError", "setter:call-ok", "setter:TypeError", "setter:ValueError", "threads:ok",
                "threads:TypeError", "threads:ValueError", "isa:ok", "isa:ValueError", "flush:ok", "flush:TypeError"):
        assert out.get(key, 0) > 0, f"no {key!r} outcome in {cases} cases: {out}"
    assert sum(v for k, v in out.items() if "MemoryError" in k or "Overflow" in k) > 0, out


def test_huge_strided_input_is_refused_without_copying():
    """x of shape (1, 2**40, 1, 1) on a 4-byte buffer: refused by validation (the channel count does not
    match, and the copy to float32 would need 4 TiB), never by NumPy failing to allocate."""
    import gconv_cpu

    x = huge_view((1, 2**40, 1, 1))
    with pytest.raises((ValueError, MemoryError)) as info:
        gconv_cpu.conv2d(x, np.ones((1, 1, 1, 1), np.float32))
    assert type(info.value).__name__ != "_ArrayMemoryError", f"NumPy tried to allocate: {info.value}"
    x = huge_view((2**40, 1, 1, 1))  # valid shape, 4 TiB output: the output size check, before any copy
    with pytest.raises((ValueError, MemoryError)) as info:
        gconv_cpu.conv2d(x, np.ones((1, 1, 1, 1), np.float32))
    assert type(info.value).__name__ != "_ArrayMemoryError", f"NumPy tried to allocate: {info.value}"
