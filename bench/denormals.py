"""Subnormal (denormal) data against normal data, kernel by kernel: the speed side of FTZ/DAZ
(src_c/common/fpenv.h, gconv_cpu.set_flush_denormal).

    python -m bench denormals [--isa avx512,avx2] [--threads 1] [--reps 7] [--json FILE] [--quick]

Every row is one kernel path (algorithm x ISA; deconv and the other operators too) timed on normal
data, on subnormal inputs and on subnormal weights, each with the switch on (the default) and off: six
engines interleaved round by round (bench/timing.py), so the ratios of medians are measured under the
same load. The target (issue 7): with the switch on, no kernel more than 2x slower on subnormals. The
switch off shows what FTZ/DAZ saves: the x87/SSE microcode assist on every subnormal operand.
"""
import contextlib
import statistics
import sys

import numpy as np

import gconv_cpu
from gconv_cpu import functional as F
from gconv_cpu import nn

from . import report
from .timing import time_interleaved

BOUND = 2.0
SUBNORMAL_SCALE = np.float32(1e-39)  # N(0, 1) data times this: every nonzero value below FLT_MIN

# name, c_in, c_out, kernel, stride, padding, dilation, groups, size, algorithm: ~0.05-2 ms per call
CONVS = [
    ("dwconv-3x3s1", 32, 32, 3, 1, 1, 1, 32, 48, "dwconv"),
    ("dwconv-5x5s2", 32, 32, 5, 2, 2, 1, 32, 48, "dwconv"),
    ("dwconv-generic", 32, 32, 3, 1, 2, 2, 32, 48, "dwconv"),
    ("gdc-7x7", 512, 512, 7, 1, 0, 1, 512, 7, "dwconv"),
    ("grouped_direct", 64, 64, 3, 1, 1, 1, 16, 24, "grouped_direct"),
    ("gemm-im2col", 32, 64, 3, 1, 1, 1, 1, 20, "gemm"),
    ("gemm-1x1", 64, 64, 1, 1, 0, 1, 1, 24, "gemm"),
    ("winograd-3x3", 32, 32, 3, 1, 1, 1, 1, 28, "winograd"),
    ("winograd-5x5", 16, 32, 5, 1, 2, 1, 1, 27, "winograd"),
    ("reference", 8, 8, 3, 1, 1, 1, 2, 14, "reference"),
]
# name, c_in, c_out, kernel, stride, padding, groups, size, algorithm
DECONVS = [
    ("deconv-direct", 32, 32, 4, 2, 1, 32, 28, "direct"),
    ("deconv-gemm", 32, 32, 4, 2, 1, 1, 14, "gemm"),
]
# name, f(x): the other operators' float loops (no weights)
OPS = [
    ("avg_pool2d-3x3", lambda x: F.avg_pool2d(x, 3, 1, 1)),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, 1)),
    ("hardswish", F.hardswish),
    ("sigmoid", F.sigmoid),
    ("add", lambda x: x + x),
]
QUICK = {"dwconv-3x3s1", "gemm-1x1", "avg_pool2d-3x3"}


def _subnormal(a):
    s = a * SUBNORMAL_SCALE
    assert np.all(np.abs(s) < np.finfo(np.float32).tiny)
    return s


def _conv_steps(cfg):
    """{variant: step} for normal, subnormal-x and subnormal-w data, and the kernel's name."""
    name, cin, cout, k, s, p, d, g, hw, algo = cfg
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, cin, hw, hw)).astype(np.float32)
    w = rng.standard_normal((cout, cin // g, k, k)).astype(np.float32)
    steps = {}
    for variant, (xv, wv) in {"normal": (x, w), "x": (_subnormal(x), w), "w": (x, _subnormal(w))}.items():
        layer = nn.Conv2d(cin, cout, k, s, p, d, g, bias=False, algorithm=algo)
        layer.weight = wv
        layer.prepare()
        out = layer(xv)
        steps[variant] = lambda layer=layer, xv=xv, out=out: layer(xv, out=out)
    return steps, layer._op.kernel_name


def _deconv_steps(cfg):
    name, cin, cout, k, s, p, g, hw, algo = cfg
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, cin, hw, hw)).astype(np.float32)
    w = rng.standard_normal((cin, cout // g, k, k)).astype(np.float32)
    steps = {}
    for variant, (xv, wv) in {"normal": (x, w), "x": (_subnormal(x), w), "w": (x, _subnormal(w))}.items():
        layer = nn.ConvTranspose2d(cin, cout, k, s, p, groups=g, bias=False, algorithm=algo)
        layer.weight = wv
        out = layer(xv)
        steps[variant] = lambda layer=layer, xv=xv, out=out: layer(xv, out=out)
    return steps, layer._op.kernel_name


def _op_steps(fn):
    x = np.random.default_rng(7).standard_normal((1, 64, 56, 56)).astype(np.float32)
    xs = _subnormal(x)
    return {"normal": lambda: fn(x), "x": lambda: fn(xs)}, "-"


@contextlib.contextmanager
def _flush(mode):
    saved = gconv_cpu.get_flush_denormal()
    gconv_cpu.set_flush_denormal(mode)
    try:
        yield
    finally:
        gconv_cpu.set_flush_denormal(saved)


def measure_row(steps, rounds, quick):
    """{(variant, flush): median ms}: the variants x {on, off}, interleaved."""
    engines = {(v, mode): (step, lambda mode=mode: _flush(mode)) for v, step in steps.items() for mode in (True, False)}
    named = {f"{v}/{'on' if mode else 'off'}": e for (v, mode), e in engines.items()}
    res = time_interleaved(named, rounds, min_sample_s=0.5e-3 if quick else 2e-3, warmup_s=0.005 if quick else 0.02)
    return {key: statistics.median(res[f"{key[0]}/{'on' if key[1] else 'off'}"][1]) for key in engines}


def rows(isas, threads, rounds, quick):
    targets = ([(c[0], lambda c=c: _conv_steps(c)) for c in CONVS] +
               [(c[0], lambda c=c: _deconv_steps(c)) for c in DECONVS] +
               [(name, lambda fn=fn: _op_steps(fn)) for name, fn in OPS])
    if quick:
        targets = [t for t in targets if t[0] in QUICK]
    saved = gconv_cpu.get_isa(), gconv_cpu.get_num_threads()
    out = []
    try:
        gconv_cpu.set_num_threads(threads)
        for isa in isas:
            gconv_cpu.set_isa(isa)
            for name, build in targets:
                print(f"denormals: {isa} {name}", file=sys.stderr)
                steps, kernel = build()
                med = measure_row(steps, rounds, quick)
                row = {"name": name, "isa": isa, "threads": threads, "kernel": kernel,
                       "normal_ms": med[("normal", True)], "normal_off_ms": med[("normal", False)]}
                for v in ("x", "w"):
                    if (v, True) in med:
                        row[f"{v}_on"] = med[(v, True)] / med[("normal", True)]
                        row[f"{v}_off"] = med[(v, False)] / med[("normal", False)]
                out.append(row)
    finally:
        gconv_cpu.set_isa(saved[0])
        gconv_cpu.set_num_threads(saved[1])
    return out


def markdown(table, threads, rounds):
    ratio = lambda r, k: f"{r[k]:.2f}" if k in r else "-"  # noqa: E731
    lines = [f"Subnormal / normal time, medians of {rounds} interleaved rounds, {threads} thread(s); "
             f"flush on = gconv_cpu's default (FTZ|DAZ), off = IEEE subnormals. Target: on <= {BOUND:g}x.", "",
             "| kernel path | isa | kernel | normal ms | x sub, on | w sub, on | x sub, off | w sub, off |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in table:
        lines.append(f"| {r['name']} | {r['isa']} | {r['kernel']} | {r['normal_ms']:.3f} | {ratio(r, 'x_on')} | "
                     f"{ratio(r, 'w_on')} | {ratio(r, 'x_off')} | {ratio(r, 'w_off')} |")
    worst = max(max(r.get("x_on", 0), r.get("w_on", 0)) for r in table)
    over = [r["name"] + "/" + r["isa"] for r in table if max(r.get("x_on", 0), r.get("w_on", 0)) > BOUND]
    lines += ["", f"worst ratio with flush on: {worst:.2f}x; over {BOUND:g}x: {', '.join(over) or 'none'}"]
    return "\n".join(lines)


def main(args):
    isas = args.isa or gconv_cpu.available_isas()
    unknown = [i for i in isas if i not in gconv_cpu.available_isas()]
    if unknown:
        raise SystemExit(f"--isa: this CPU cannot run {', '.join(unknown)} (available: "
                         f"{', '.join(gconv_cpu.available_isas())})")
    threads = (args.threads or [1])[0]
    rounds = args.reps or (2 if args.quick else 7)
    table = rows(isas, threads, rounds, args.quick)
    print(markdown(table, threads, rounds))
    if args.json:
        report.write_json(args.json, {"suite": "denormals", "threads": threads, "rounds": rounds, "rows": table})
    return 0
