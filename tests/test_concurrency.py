"""Concurrency: shared layers hammered from 8 Python threads, and the GIL released during compute.

Threading model (gconv_cpu/_threads.py, _plan.py): set_num_threads() sets one process-global module
variable; each call reads it ONCE (ConvOp.__call__) and passes the count explicitly to the C core, whose
OpenMP regions use num_threads(count). There is no per-Python-thread setting through the API, but every
C call carries its own count, and an OpenMP parallel region entered from a Python thread forms its own
team (libgomp keeps a pool per initial thread), so concurrent calls with different counts are
independent: test_per_call_thread_counts drives the C entry point (ConvPlan.run) that way. Results are
bit-identical across thread counts (tests/test_properties.py), so every result here must equal the
serial one bit for bit, whatever count a racing set_num_threads() left for that call.
"""
import ctypes
import threading
import time

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu import _threads
from gconv_cpu._plan import aligned_scratch
from gconv_cpu.nn import Conv2d

OPENMP = gconv_cpu.cpu_info()["openmp"]
N_THREADS = 8
CALLS = 150  # per thread

# (name, in, out, kernel, stride, padding, groups, algorithm): every algorithm and kernel family
LAYERS = [
    ("dw3x3s1", 16, 16, 3, 1, 1, 16, "auto"),           # dwconv, specialized 3x3 s1
    ("dw5x5s2-m2", 8, 16, 5, 2, 2, 8, "auto"),          # dwconv 5x5 s2 with a channel multiplier
    ("dw3x3-d2", 8, 8, 3, 1, 2, 8, "auto"),             # dwconv generic path (dilation set below)
    ("gdc7x7", 16, 16, 7, 1, 0, 16, "auto"),            # global depthwise on 7x7 inputs
    ("grouped4", 16, 16, 3, 1, 1, 4, "auto"),           # grouped_direct (4 channels per group)
    ("grouped-gemm", 32, 32, 3, 2, 1, 2, "auto"),       # grouped GEMM with im2col (stride 2)
    ("dense3x3", 8, 24, 3, 1, 1, 1, "auto"),            # dense GEMM, im2col
    ("pw1x1", 24, 40, 1, 1, 0, 1, "auto"),              # 1x1: GEMM reading the input in place
    ("reference", 8, 8, 3, 1, 1, 2, "reference"),       # the reference loops
]
SHAPES = [(1, 13, 17), (2, 8, 8), (1, 21, 5), (3, 7, 7), (1, 32, 33)]


def _layers(rng):
    layers = []
    for name, cin, cout, k, s, p, g, algo in LAYERS:
        layer = Conv2d(cin, cout, k, stride=s, padding=p, dilation=2 if name == "dw3x3-d2" else 1, groups=g,
                       algorithm=algo, activation="hardswish" if name == "dense3x3" else None)
        layer.weight = rng.standard_normal(layer.weight.shape).astype(np.float32)
        shapes = [(1, 7, 7), (2, 7, 7)] if name == "gdc7x7" else SHAPES
        inputs = [rng.standard_normal((n, cin, h, w)).astype(np.float32) for n, h, w in shapes]
        layers.append((name, layer, inputs))
    return layers


def _run_workers(worker, n=N_THREADS, timeout=300):
    errors, barrier = [], threading.Barrier(n)

    def wrap(tid):
        try:
            barrier.wait()
            worker(tid, errors)
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append((tid, repr(e)))

    ts = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout)
    assert not any(t.is_alive() for t in ts), "a worker hung"
    return errors


def test_shared_layers_bit_identical(restore_threads):
    """8 threads call 9 shared layers (every algorithm) on mixed shapes, with out= and without, unbatched
    and float64 inputs, while racing set_num_threads(1..3): every result equals the serial one exactly."""
    rng = np.random.default_rng(0)
    layers = _layers(rng)
    gconv_cpu.set_num_threads(1)
    expected = {(i, j): layer(x) for i, (_, layer, inputs) in enumerate(layers) for j, x in enumerate(inputs)}
    done = [0] * N_THREADS

    def worker(tid, errors):
        r = np.random.default_rng(100 + tid)
        for it in range(CALLS):
            i = int(r.integers(len(layers)))
            name, layer, inputs = layers[i]
            j = int(r.integers(len(inputs)))
            x, want = inputs[j], expected[(i, j)]
            if OPENMP and it % 7 == 0:
                gconv_cpu.set_num_threads(int(r.integers(1, 4)))
            mode = it % 4
            if mode == 0:
                y = layer(x)
            elif mode == 1:
                y = layer(x, out=np.empty_like(want))
            elif mode == 2 and x.shape[0] == 1:
                y = layer(x[0])[None]
            else:
                y = layer(x.astype(np.float64))
            if not np.array_equal(y, want):
                errors.append((tid, it, name, x.shape, float(np.abs(y - want).max())))
            done[tid] += 1

    errors = _run_workers(worker)
    assert not errors, errors[:5]
    assert sum(done) == N_THREADS * CALLS
    print(f"\n{N_THREADS} threads x {CALLS} calls on {len(layers)} shared layers: no mismatch")


def test_concurrent_isa_switch_uses_one_consistent_plan(restore_threads, restore_isa):
    """While threads flip set_isa(), layers repack concurrently; each result must be bit-identical to
    the serial result of ONE of the ISAs (a plan is never torn between two ISAs)."""
    isas = gconv_cpu.available_isas()
    if len(isas) < 2:
        pytest.skip(f"one ISA on this CPU ({isas}): nothing to switch")
    rng = np.random.default_rng(1)
    layers = _layers(rng)
    gconv_cpu.set_num_threads(1)
    expected = {}
    for isa in isas:
        gconv_cpu.set_isa(isa)
        for i, (_, layer, inputs) in enumerate(layers):
            for j, x in enumerate(inputs):
                expected[(i, j, isa)] = layer(x)

    def worker(tid, errors):
        r = np.random.default_rng(200 + tid)
        for it in range(CALLS // 3):
            if it % 5 == 0:
                gconv_cpu.set_isa(isas[int(r.integers(len(isas)))])
            i = int(r.integers(len(layers)))
            name, layer, inputs = layers[i]
            j = int(r.integers(len(inputs)))
            y = layer(inputs[j])
            if not any(np.array_equal(y, expected[(i, j, isa)]) for isa in isas):
                errors.append((tid, it, name, inputs[j].shape))

    errors = _run_workers(worker)
    assert not errors, errors[:5]


@pytest.mark.skipif(not OPENMP, reason="serial build: every call runs on 1 thread")
def test_per_call_thread_counts():
    """The C entry point takes the thread count per call: 4 Python threads run one plan at once with
    1, 2, 3 and 4 OpenMP threads (each its own team), with the matching scratch; all results equal."""
    rng = np.random.default_rng(2)
    results = {}
    for name, cin, cout, k, s, p, g, algo in LAYERS:
        layer = Conv2d(cin, cout, k, stride=s, padding=p, groups=g, algorithm=algo)
        x = rng.standard_normal((2, cin, 15, 15) if name != "gdc7x7" else (2, cin, 7, 7)).astype(np.float32)
        plan = layer.prepare()._op._plan
        want = layer(x)

        def worker(tid, errors, plan=plan, x=x, want=want, name=name):
            count = 1 + tid % 4
            ws_bytes = plan.geometry(x.shape[0], x.shape[2], x.shape[3], count)[2]
            ws = aligned_scratch(ws_bytes) if ws_bytes else None
            for _ in range(10):
                y = np.empty_like(want)
                plan.run(x, y, ws, count)
                if not np.array_equal(y, want):
                    errors.append((name, count))

        errors = _run_workers(worker, n=4)
        results[name] = errors
    assert not any(results.values()), results


# ------------------------------------------------------------------------------ GIL release

def _progress(long_call, short_call):
    """Thread A makes one long call; thread B makes short calls until A is done. Returns 1 minus B's
    longest stall inside A's call (the longest gap between a0, B's completions inside A's interval, and
    a1, as a fraction of the interval), and the number of those completions.

    Why not just compare the two threads' [start, end] intervals: timestamps are taken in Python, so
    under a GIL-holding call the OTHER thread's end stamp is delayed by the whole call, and the
    intervals overlap anyway (measured: 1.00 overlap for two GIL-holding 100 ms ctypes.PyDLL usleeps).
    Why gaps and not the span of B's calls: one call of B that is already in C when A takes the GIL
    finishes only after A's call, yet starts and ends inside A's interval (seen under ASan, where
    B's calls are slow). B completes calls throughout A's call only if A's call lets Python run."""
    a, done_at, done = [], [], threading.Event()
    barrier = threading.Barrier(2)

    def thread_a():
        barrier.wait()
        time.sleep(0.01)  # let B get going
        t0 = time.perf_counter()
        long_call()
        a.append((t0, time.perf_counter()))
        done.set()

    def thread_b():
        barrier.wait()
        while not done.is_set():
            short_call()
            done_at.append(time.perf_counter())

    ts = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    (a0, a1), = a
    inside = [e for e in done_at if a0 <= e <= a1]
    marks = [a0] + inside + [a1]
    longest = max(later - earlier for earlier, later in zip(marks, marks[1:]))
    return 1.0 - longest / (a1 - a0), len(inside)


def test_gil_released_during_compute(restore_threads):
    """While one thread runs a big conv (~0.1-0.3 s, 1 OpenMP thread), a second thread keeps finishing
    small convs throughout it: the big call does not hold the GIL. The harness is checked first on
    controls: a GIL-releasing ctypes.CDLL usleep (progress ~1) and a GIL-holding ctypes.PyDLL usleep
    (progress ~0). Robust to a loaded machine: time-slicing still interleaves B's calls."""
    gconv_cpu.set_num_threads(1)
    rng = np.random.default_rng(3)
    small_layer = Conv2d(8, 8, 3, padding=1, groups=8)
    xs = rng.standard_normal((1, 8, 16, 16)).astype(np.float32)
    small = lambda: small_layer(xs)  # noqa: E731
    sleep_free, sleep_held = ctypes.CDLL(None).usleep, ctypes.PyDLL(None).usleep
    free_progress, _ = _progress(lambda: sleep_free(150_000), small)
    held_progress, _ = _progress(lambda: sleep_held(150_000), small)
    assert free_progress > 0.5 and held_progress < 0.25, \
        f"the harness does not discriminate: {free_progress=} {held_progress=}"

    layer = Conv2d(64, 64, 3, padding=1, groups=2)
    x = rng.standard_normal((1, 64, 96, 96)).astype(np.float32)
    layer(x)
    t0 = time.perf_counter()
    layer(x)
    one = time.perf_counter() - t0
    if one < 0.15:
        x = np.repeat(x, int(np.ceil(0.15 / one)), axis=0)
    progress, n = _progress(lambda: layer(x), small)
    assert progress > 0.5, f"no Python thread ran during the conv: B stalled for {1 - progress:.2f} of it ({n} calls)"

    # wall time of 2 concurrent big calls vs 2 sequential ones (reported only: a noisy shared machine)
    t0 = time.perf_counter()
    layer(x)
    layer(x)
    seq = time.perf_counter() - t0
    ts = [threading.Thread(target=layer, args=(x,)) for _ in range(2)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    conc = time.perf_counter() - t0
    print(f"\nGIL: {n} small convs finished inside one big conv, longest stall {1 - progress:.2f} of it "
          f"(controls: GIL-free sleep {1 - free_progress:.2f}, GIL-held sleep {1 - held_progress:.2f}); 2 big calls sequential {seq * 1e3:.0f} ms, "
          f"concurrent {conc * 1e3:.0f} ms (x{seq / conc:.2f})")
