"""Targeted LeakSanitizer check of gconv_cpu's C core and Cython binding (run by tools/sanitize.sh).

Why targeted: a leak check at interpreter exit reports what CPython, NumPy and torch never free at
shutdown, and every uninstrumented child process (sh, uname, gcc) that inherits LD_PRELOAD reports its
own; LSan suppressions cannot separate those from ours, because a suppression matches ANY frame and
every allocation our code makes has CPython's eval loop further up its stack. So the test suite runs
with detect_leaks=0, and this script runs a workload that exercises every allocating path of the
library, then asks LSan for a leak check *while the interpreter is still alive*
(__lsan_do_recoverable_leak_check), with PYTHONMALLOC=malloc so that every live Python object is a
malloc block reachable from the interpreter's roots (pymalloc arenas are mmap'd and LSan would not
scan them). Measured: that mid-run check reports nothing at all for a plain `import gconv_cpu` +
convolutions, so any report is real. A leaked block FAILS the check when its allocation stack
(full stacks: fast_unwind_on_malloc=0, as CPython has no frame pointers) passes through
gconv_cpu (src_c/*, gconv_cpu/_ext.*); other leaked blocks are printed as warnings.

    python tools/lsan_check.py            # the check (needs the ASan build and LD_PRELOAD=libasan)
    python tools/lsan_check.py --self-test  # plants a leak made by gconv_cpu._ext: must be caught

Run under: ASAN_OPTIONS=detect_leaks=1:leak_check_at_exit=0:fast_unwind_on_malloc=0:log_path=DIR/lsan
"""
import ctypes
import gc
import glob
import math
import os
import re
import sys

import numpy as np

import gconv_cpu
from gconv_cpu import _ext
from gconv_cpu.nn import Conv2d

OURS = re.compile(r"src_c/|gconv_cpu/_ext\.|_ext\.cpython|\bgconv_conv_|__pyx_.*gconv_cpu")
HEADER = re.compile(r"^(Direct|Indirect) leak of (\d+) byte")


def leak_check():
    """Runs LSan now; returns the report text (from ASAN_OPTIONS' log_path files) and LSan's verdict."""
    fn = getattr(ctypes.CDLL(None), "__lsan_do_recoverable_leak_check", None)
    if fn is None:
        sys.exit("lsan_check: LeakSanitizer is not loaded (run under tools/sanitize.sh, LD_PRELOAD=libasan)")
    fn.restype = ctypes.c_int
    leaked = fn()
    m = re.search(r"log_path=([^:]+)", os.environ.get("ASAN_OPTIONS", ""))
    text = ""
    if m:
        for path in glob.glob(m.group(1) + "*"):
            with open(path, errors="replace") as f:
                text += f.read()
    return text, leaked


def blocks(report):
    """Splits an LSan report into (header, stack text) per leaked block."""
    out, cur = [], None
    for line in report.splitlines():
        if HEADER.match(line):
            cur = [line]
            out.append(cur)
        elif cur is not None:
            if not line.strip():
                cur = None
            else:
                cur.append(line)
    return [(b[0], "\n".join(b[1:])) for b in out]


def workload(rounds):
    """Every allocating path: plans for every algorithm/ISA/activation (and with a NaN weight), layers (construct, prepare,
    setters, repack on ISA change), scratch pools, out=, unbatched calls, and error paths in
    Python validation and in the C core (plans that fail after partial allocation)."""
    rng = np.random.default_rng(0)
    cases = [  # cin, cout, groups, k, stride, pad, dilation, algorithms
        (8, 8, 8, 3, 1, 1, 1, ("auto", "dwconv", "reference", "gemm", "grouped_direct")),
        (4, 12, 4, 5, 2, 2, 1, ("auto", "dwconv", "gemm")),
        (8, 16, 2, 3, 1, 1, 2, ("auto", "gemm", "grouped_direct", "reference")),
        (16, 8, 1, 1, 1, 0, 1, ("auto", "gemm")),
        (6, 6, 6, 7, 1, 0, 1, ("auto", "dwconv")),  # 7x7 on 7x7: the GDC path
    ]
    isas = gconv_cpu.available_isas()
    for r in range(rounds):
        gconv_cpu.set_isa(isas[r % len(isas)])
        gconv_cpu.set_num_threads(1 + r % 2)
        for cin, cout, g, k, s, p, d, algos in cases:
            x = rng.standard_normal((1 + r % 2, cin, 7, 9 if k < 7 else 7)).astype(np.float32)
            w = rng.standard_normal((cout, cin // g, k, k)).astype(np.float32)
            b = rng.standard_normal(cout).astype(np.float32)
            w_nan = w.copy()
            w_nan[0, 0, 0, 0] = np.nan  # a non-finite tap: the plan lists the taps that can land on padding
            for algo in algos:
                for act in (None, "relu6", "prelu", "hardswish"):
                    gconv_cpu.conv2d(x, w, b, s, p, d, g, activation=act, algorithm=algo,
                                     prelu_weight=0.1 if act == "prelu" else None)
                gconv_cpu.conv2d(x, w_nan, b, s, p, d, g, algorithm=algo)
            layer = Conv2d(cin, cout, k, s, p, d, g, activation="prelu" if r % 3 == 0 else None)
            y = layer(x)
            layer(x, out=np.empty_like(y))
            layer(x[0])
            layer.weight = w
            layer.bias = None
            layer.prepare()
            layer(x.astype(np.float64))
            for bad in (lambda: gconv_cpu.conv2d(x, w, b, s, p, d, g, algorithm="nope"),
                        lambda: gconv_cpu.conv2d(x, w[:, :, :1], b, s, p, d, g),
                        lambda: gconv_cpu.conv2d(x[:, :, :1, :1], w, b, s, 0, d, g) if k > 1 else 1 / 0,
                        lambda: gconv_cpu.conv2d(x, w, b, s, p, d, g, out=np.empty(3, np.float32)),
                        lambda: layer(np.ones((1, cin + 1, 5, 5), np.float32))):
                try:
                    bad()
                except (ValueError, TypeError, ZeroDivisionError):
                    pass
        # C-level failures after partial allocation: unsupported algorithm, bad spec, missing slopes
        spec = (4, 8, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, -math.inf, math.inf)
        for args in ((spec, np.ones(144, np.float32), None, 0, 2),
                     (spec, np.ones(144, np.float32), None, 0, 0, 3, None),
                     (spec[:2] + (0,) + spec[3:], np.ones(144, np.float32), None, 0, 0),
                     (spec, np.ones(10, np.float32), None, 0, 0)):
            try:
                _ext.ConvPlan(*args)
            except (ValueError, TypeError):
                pass
        try:
            _ext.output_size(spec, -1, 8, 8)
        except ValueError:
            pass
    gconv_cpu.set_isa(isas[-1])


def main():
    self_test = "--self-test" in sys.argv
    if self_test:
        # A str allocated by gconv_cpu._ext (kernel_table's decode), its reference dropped with an
        # extra refcount: an unreachable block whose stack passes through _ext.c. It must be caught.
        s = _ext.kernel_table()[0]["name"]
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(s))
        del s
    else:
        workload(rounds=int(os.environ.get("GCONV_LSAN_ROUNDS", "6")))
    gc.collect()
    report, leaked = leak_check()
    ours = [(h, st) for h, st in blocks(report) if OURS.search(st)]
    others = [(h, st) for h, st in blocks(report) if not OURS.search(st)]
    for h, st in others:
        print(f"lsan_check: warning: a leak outside gconv_cpu (not failing): {h}\n{st[:1500]}\n")
    if not self_test:
        for h, st in ours:
            print(f"lsan_check: LEAK in gconv_cpu: {h}\n{st}\n")
    nbytes = sum(int(HEADER.match(h).group(2)) for h, _ in ours)
    if self_test:
        if not ours:
            print(f"lsan_check --self-test: FAILED, the planted leak was not found (LSan verdict {leaked})\n{report}")
            return 1
        print(f"lsan_check --self-test: ok, the planted leak was caught ({nbytes} bytes in {len(ours)} block(s))")
        return 0
    if ours:
        print(f"lsan_check: FAILED: {len(ours)} leaked block(s), {nbytes} bytes allocated through gconv_cpu")
        return 1
    print(f"lsan_check: ok: no leak through gconv_cpu ({len(others)} block(s) elsewhere)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
