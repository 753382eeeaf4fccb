"""Thread count API, determinism across thread counts, reentrancy and GIL release."""
import sys
import threading
import time

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu.nn import Conv2d

from reference import assert_conv_close, conv2d_ref, conv2d_ref_abs, describe_exit, run_python

OPENMP = gconv_cpu.cpu_info()["openmp"]


def test_set_get_round_trip(restore_threads):
    for n in (1, 2, 3, 7, 1):
        gconv_cpu.set_num_threads(n)
        assert gconv_cpu.get_num_threads() == (n if OPENMP else 1)
        assert gconv_cpu.cpu_info()["num_threads"] == gconv_cpu.get_num_threads()
    gconv_cpu.set_num_threads(np.int64(2))
    assert gconv_cpu.get_num_threads() == (2 if OPENMP else 1)
    assert type(gconv_cpu.get_num_threads()) is int


def test_default_is_positive():
    n = gconv_cpu.get_num_threads()
    assert isinstance(n, int) and n >= 1


@pytest.mark.parametrize("omp", ["1", "2", "3"])
def test_default_follows_omp_num_threads(omp):
    proc = run_python("import gconv_cpu; print(gconv_cpu.get_num_threads())", env={"OMP_NUM_THREADS": omp})
    assert proc.returncode == 0, f"{describe_exit(proc)}: {proc.stderr[-500:]}"
    assert proc.stdout.strip() == (omp if OPENMP else "1")


def test_set_num_threads_overrides_env():
    proc = run_python("import gconv_cpu; gconv_cpu.set_num_threads(3); print(gconv_cpu.get_num_threads())",
                      env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.strip() == ("3" if OPENMP else "1")


# -------------------------------------------------------- bit-exact results

DET_CONFIGS = [
    # n, cin, h, w, cout, groups, k, stride, padding, algorithm
    (1, 8, 20, 23, 16, 2, 3, 1, 1, "gemm"),          # g=2 GEMM via im2col
    (2, 8, 20, 23, 16, 2, 3, 1, 1, "auto"),
    (1, 4, 31, 29, 8, 4, 3, 1, 1, "dwconv"),          # depthwise, few planes: rows split over threads
    (1, 4, 31, 29, 4, 4, 5, 2, 2, "auto"),
    (1, 256, 7, 7, 512, 1, 1, 1, 0, "gemm"),          # 7x7 pointwise: output channels split over threads
    (1, 32, 14, 14, 40, 1, 1, 1, 0, "gemm"),          # 196 pixels: two tiles plus a channel split
    (1, 9, 28, 28, 12, 3, 1, 1, 0, "gemm"),           # grouped 1x1, one panel per group
    (1, 64, 9, 9, 64, 16, 3, 1, 1, "auto"),
    (1, 16, 12, 12, 32, 1, 3, 2, 1, "reference"),
]


@pytest.mark.parametrize("cfg", DET_CONFIGS, ids=[f"{c[9]}-g{c[5]}-{c[1]}to{c[4]}-{c[2]}x{c[3]}-k{c[6]}"
                                                  for c in DET_CONFIGS])
def test_bit_exact_across_thread_counts(cfg, isa, restore_threads):
    n, cin, h, w, cout, groups, k, stride, padding, algorithm = cfg
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    results = {}
    for t in (1, 2, 3, 4):
        gconv_cpu.set_num_threads(t)
        results[t] = gconv_cpu.conv2d(x, wt, b, stride=stride, padding=padding, groups=groups, algorithm=algorithm)
    for t in (2, 3, 4):
        assert np.array_equal(results[t], results[1]), f"{t} threads differ from 1 thread"
    # and a layer replans its scratch when the count changes, with the same result
    layer = Conv2d(cin, cout, k, stride=stride, padding=padding, groups=groups, algorithm=algorithm)
    layer.weight, layer.bias = wt, b
    for t in (1, 2, 1, 4):
        gconv_cpu.set_num_threads(t)
        assert np.array_equal(layer(x), results[1])


# Pixel counts around the GEMM's tile boundaries (multiples of 16, the 48-pixel kernel width,
# the 192-pixel tile), at thread counts that split them into tiles, channel chunks or both:
# every output pixel and channel must be computed exactly once.
@pytest.mark.parametrize("hw", [(1, 1), (1, 17), (7, 7), (4, 12), (14, 14), (1, 193), (28, 28), (5, 97), (59, 61)])
@pytest.mark.parametrize("cout", [8, 24, 33])
def test_gemm_schedule_covers_every_output(hw, cout, isa, restore_threads):
    rng = np.random.default_rng(cout * 1000 + hw[0] * 100 + hw[1])
    x = rng.standard_normal((1, 20, *hw)).astype(np.float32)
    wt = rng.standard_normal((cout, 20, 1, 1)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    ref, absref = conv2d_ref(x, wt, b), conv2d_ref_abs(x, wt, b)
    for t in (1, 2, 3):
        gconv_cpu.set_num_threads(t)
        y = np.full(ref.shape, np.nan, np.float32)
        gconv_cpu.conv2d(x, wt, b, algorithm="gemm", out=y)
        assert_conv_close(y, ref, absref, 20, what=f"{t} threads")


# -------------------------------------------------------------- reentrancy

@pytest.mark.parametrize("groups, cout, k", [(4, 16, 3), (16, 16, 3), (1, 24, 1)], ids=["g4", "dw", "pointwise"])
def test_same_layer_from_many_threads(groups, cout, k, restore_threads):
    gconv_cpu.set_num_threads(2 if OPENMP else 1)
    layer = Conv2d(16, cout, k, padding=k // 2, groups=groups)
    rng = np.random.default_rng(1)
    shapes = [(1, 16, 13, 17), (2, 16, 8, 8), (1, 16, 21, 5), (3, 16, 6, 11)]
    inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    expected = [layer(x) for x in inputs]  # serial
    errors, barrier = [], threading.Barrier(8)

    def worker(tid):
        try:
            barrier.wait()
            for it in range(25):
                j = (tid + it) % len(inputs)
                if it % 5 == 4:
                    out = np.empty_like(expected[j])
                    y = layer(inputs[j], out=out)
                else:
                    y = layer(inputs[j])
                if not np.array_equal(y, expected[j]):
                    errors.append((tid, it, j, float(np.abs(y - expected[j]).max())))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((tid, repr(e)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert not errors, errors[:5]


def test_functional_from_many_threads():
    rng = np.random.default_rng(2)
    cases = []
    for groups, k in ((2, 3), (8, 3), (1, 1), (8, 5)):
        x = rng.standard_normal((1, 8, 15, 14)).astype(np.float32)
        w = rng.standard_normal((8, 8 // groups, k, k)).astype(np.float32)
        cases.append((x, w, groups, k, gconv_cpu.conv2d(x, w, None, padding=k // 2, groups=groups)))
    errors = []

    def worker(tid):
        for it in range(20):
            x, w, groups, k, ref = cases[(tid + it) % len(cases)]
            y = gconv_cpu.conv2d(x, w, None, padding=k // 2, groups=groups)
            if not np.array_equal(y, ref):
                errors.append((tid, it))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]


def test_errors_do_not_leak_between_threads():
    """The C core's last-error message is per thread: each thread sees its own."""
    msgs, barrier = {}, threading.Barrier(2)
    x = np.ones((1, 4, 5, 5), np.float32)

    def bad(name, kwargs):
        barrier.wait()
        for _ in range(50):
            try:
                gconv_cpu.conv2d(x, np.ones((4, 4, 3, 3), np.float32), None, algorithm="dwconv", **kwargs)
            except ValueError as e:
                msgs.setdefault(name, set()).add(str(e))

    ts = [threading.Thread(target=bad, args=("a", {})), threading.Thread(target=bad, args=("b", {"padding": 1}))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert msgs["a"] and msgs["b"]
    for s in msgs.values():
        assert all("algorithm" in m for m in s), s


# -------------------------------------------------------------- GIL release

def _big_case():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 128, 160, 160)).astype(np.float32)
    w = rng.standard_normal((128, 64, 3, 3)).astype(np.float32)
    return x, w


def test_gil_released_during_compute(restore_threads):
    """While one thread is inside a conv, a pure-Python thread keeps running.

    A spinning counter thread is sampled around each conv call. If the call held the GIL while
    computing, the counter could advance only during the call's few Python statements (at most
    about two 5 ms switch intervals per call); with the GIL released it advances for the whole call
    (ratio ~1 on a machine with a free core)."""
    gconv_cpu.set_num_threads(1)
    rng = np.random.default_rng(4)
    layer = Conv2d(128, 128, 3, padding=1)  # dense 3x3: lots of compute per byte
    x = rng.standard_normal((1, 128, 128, 128)).astype(np.float32)
    layer(x)  # plan and warm up
    t0 = time.perf_counter()
    layer(x)
    call_s = time.perf_counter() - t0
    if call_s < 0.15:  # a fast machine: make each call long enough to tell the cases apart
        x = np.repeat(x, min(8, int(np.ceil(0.15 / call_s))), axis=0)
        layer(x)
        t0 = time.perf_counter()
        layer(x)
        call_s = time.perf_counter() - t0
    reps = max(1, int(0.3 / call_s))
    # A GIL-holding call would let the counter run for at most ~two switch intervals per call.
    hold_bound = sys.getswitchinterval() * 2 / call_s

    state = {"count": 0, "stop": False}

    def spin():
        while not state["stop"]:
            state["count"] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.05)
        c0, t0 = state["count"], time.perf_counter()
        time.sleep(0.1)  # the GIL-free baseline rate
        rate = (state["count"] - c0) / (time.perf_counter() - t0)
        ratios = []
        for _ in range(3):
            c0, t0 = state["count"], time.perf_counter()
            for _ in range(reps):
                layer(x)
            dt = time.perf_counter() - t0
            ratios.append((state["count"] - c0) / (rate * dt))
    finally:
        state["stop"] = True
        spinner.join()
    # With the GIL held, the ratio would be at most ~hold_bound (Python part of a call / call time).
    assert hold_bound < 0.25, f"the conv is too fast ({call_s * 1e3:.1f} ms) for this check to discriminate"
    assert max(ratios) > max(0.3, 1.5 * hold_bound), (
        f"Python thread starved during conv calls ({call_s * 1e3:.1f} ms each): progress ratios {ratios}")


def test_two_threads_overlap(restore_threads):
    """Two Python threads each running big convs (1 OpenMP thread each) overlap in time."""
    gconv_cpu.set_num_threads(1)
    x, w = _big_case()
    intervals = {0: [], 1: []}
    barrier = threading.Barrier(2)

    def worker(tid):
        barrier.wait()
        for _ in range(5):
            t0 = time.perf_counter()
            gconv_cpu.conv2d(x, w, None, padding=1, groups=2)
            intervals[tid].append((t0, time.perf_counter()))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    overlaps = [min(b1, b2) - max(a1, a2) for a1, b1 in intervals[0] for a2, b2 in intervals[1]]
    assert len(intervals[0]) == len(intervals[1]) == 5
    assert max(overlaps) > 0, f"no overlap between the two threads' calls: {intervals}"
