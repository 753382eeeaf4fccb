"""Thread count API, determinism across thread counts, reentrancy and GIL release."""
import sys
import threading
import time

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu import _openmp_env
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
    (1, 32, 14, 14, 40, 1, 1, 1, 0, "gemm"),          # 196 pixels, weights < input: two tiles (+ channels at 3, 4)
    (1, 32, 14, 14, 256, 1, 1, 1, 0, "gemm"),         # 196 pixels, weights > input: two tiles plus a channel split
    (1, 8, 14, 14, 16, 2, 3, 1, 1, "gemm"),           # 196 pixels through im2col: tiles of 49-pixel calls (AVX-512)
    (1, 30, 21, 21, 36, 3, 1, 1, 0, "gemm"),          # 441 = 9 x 49 pixels, grouped: 49-pixel calls over 2-4 threads
    (1, 24, 56, 56, 144, 1, 1, 1, 0, "gemm"),         # expansion, input < 512 KB: output channels split (AVX-512)
    (1, 20, 28, 28, 52, 1, 1, 1, 0, "gemm"),          # the same with a partial last panel, 7 panels over 2-4 threads
    (1, 32, 96, 96, 64, 1, 1, 1, 0, "gemm"),          # expansion, input > 512 KB: pixels split
    (1, 256, 14, 14, 128, 1, 1, 1, 0, "gemm"),        # projection, input < 256 KB: output channels split (AVX-512)
    (1, 576, 7, 7, 164, 1, 1, 1, 0, "gemm"),          # the same at 7x7, one chunk per thread, a partial last panel
    (1, 192, 14, 14, 64, 1, 1, 1, 0, "gemm"),         # projection, weights < input / 2: pixels split
    (1, 9, 28, 28, 12, 3, 1, 1, 0, "gemm"),           # grouped 1x1, one panel per group
    (1, 96, 14, 14, 48, 3, 1, 1, 0, "gemm"),          # grouped 1x1, weights < input: no channel split at 2, 3
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
# the 192-pixel tile; multiples of 49 that are not whole vectors, tiled in 49-pixel calls), at
# thread counts that split them into tiles, channel chunks or both: every output pixel and
# channel must be computed exactly once.
@pytest.mark.parametrize("hw", [(1, 1), (1, 17), (7, 7), (4, 12), (14, 14), (7, 14), (21, 21), (1, 193), (28, 28),
                                (5, 97), (59, 61)])
@pytest.mark.parametrize("cout", [8, 20, 24, 33])
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




# A 1x1 direct GEMM on AVX-512 starts its tiles and column blocks on the input planes' cache lines
# where the planes are whole vectors apart and not small (784, 3136 pixels; not 16, 64 or 7x7), and
# everywhere else leaves the loads unaligned: the input at every float
# offset within a line, batch 2 and grouped, must give the same bits as an aligned one, cover every
# output exactly once and match the reference, at every thread count.
@pytest.mark.parametrize("hw", [(4, 4), (8, 8), (28, 28), (56, 56), (7, 7)])
@pytest.mark.parametrize("groups", [1, 3])
def test_gemm_1x1_input_at_any_offset_in_a_line(hw, groups, isa, restore_threads):
    rng = np.random.default_rng(hw[0] * 10 + groups)
    cin, cout = 12, 24
    x0 = rng.standard_normal((2, cin, *hw)).astype(np.float32)
    wt = rng.standard_normal((cout, cin // groups, 1, 1)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    ref, absref = conv2d_ref(x0, wt, b, groups=groups), conv2d_ref_abs(x0, wt, b, groups=groups)
    buf = np.empty(x0.size + 32, np.float32)
    aligned = (-(buf.ctypes.data // 4)) % 16
    first = None
    for lead in range(16):
        x = buf[aligned + lead:aligned + lead + x0.size].reshape(x0.shape)
        x[...] = x0
        for t in (1, 2, 3):
            gconv_cpu.set_num_threads(t)
            y = np.full(ref.shape, np.nan, np.float32)
            gconv_cpu.conv2d(x, wt, b, groups=groups, algorithm="gemm", out=y)
            if first is None:
                assert_conv_close(y, ref, absref, cin // groups, what=f"input {lead} floats past a line")
                first = y
            else:
                assert np.array_equal(y, first), f"input {lead} floats past a line, {t} threads: bits differ"


# A group's input over 1 MiB runs each tile's first panel through the -prfm tile, which also
# prefetches past its own columns: with 4 panels (25 output channels a group: the last one partial),
# 2 groups, an input 3 floats past a line (60x64: tiles start with a 13-pixel head block; 59x61: a
# few-pixel tail) and every thread count, each output is still computed once, and as the
# reference says.
@pytest.mark.parametrize("hw", [(60, 64), (59, 61)])
@pytest.mark.parametrize("groups", [1, 2])
def test_gemm_1x1_input_larger_than_l2(hw, groups, isa, restore_threads):
    rng = np.random.default_rng(hw[1] + groups)
    cin_g, cout = 96, 25
    assert cin_g * hw[0] * hw[1] * 4 > 1 << 20
    x0 = rng.standard_normal((1, cin_g * groups, *hw)).astype(np.float32)
    buf = np.empty(x0.size + 32, np.float32)
    lead = (-(buf.ctypes.data // 4)) % 16 + 3
    x = buf[lead:lead + x0.size].reshape(x0.shape)
    x[...] = x0
    cout *= groups
    wt = rng.standard_normal((cout, cin_g, 1, 1)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    ref, absref = conv2d_ref(x0, wt, b, groups=groups), conv2d_ref_abs(x0, wt, b, groups=groups)
    first = None
    for t in (1, 2, 3):
        gconv_cpu.set_num_threads(t)
        y = np.full(ref.shape, np.nan, np.float32)
        gconv_cpu.conv2d(x, wt, b, groups=groups, algorithm="gemm", out=y)
        assert_conv_close(y, ref, absref, cin_g, what=f"{t} threads")
        assert first is None or np.array_equal(y, first), f"{t} threads: bits differ from 1 thread"
        first = y


# A 1x1 whose planes are not whole vectors apart (14x14, 7x7: rows that start anywhere in a line)
# with 33 panels a group, the last one partial, reads its input in place (no workspace) at every
# thread count; from an input 5 floats past a line every thread count gives the same bits, and the
# reference holds.
@pytest.mark.parametrize("hw, cin_g", [((14, 14), 256), ((7, 7), 768)], ids=["14x14", "7x7"])
@pytest.mark.parametrize("groups", [1, 2])
def test_gemm_1x1_many_panels_on_unaligned_rows(hw, cin_g, groups, isa, restore_threads):
    rng = np.random.default_rng(hw[0] + groups)
    h, w = hw
    cout = 257 * groups  # 33 panels of 8 a group, the last one partial
    x0 = rng.standard_normal((1, cin_g * groups, h, w)).astype(np.float32)
    buf = np.empty(x0.size + 32, np.float32)
    lead = (-(buf.ctypes.data // 4)) % 16 + 5
    x = buf[lead:lead + x0.size].reshape(x0.shape)
    x[...] = x0
    layer = Conv2d(cin_g * groups, cout, 1, groups=groups, algorithm="gemm")
    wt, b = layer.weight, layer.bias
    ref, absref = conv2d_ref(x0, wt, b, groups=groups), conv2d_ref_abs(x0, wt, b, groups=groups)
    layer(x)  # plans it
    for t in (1, 2, 3):
        assert layer._op._plan.geometry(1, h, w, t)[2] == 0, f"{t} threads: a 1x1 asks for scratch"
    first = None
    for t in (1, 2, 3):
        gconv_cpu.set_num_threads(t)
        y = np.full(ref.shape, np.nan, np.float32)
        layer(x, out=y)
        assert_conv_close(y, ref, absref, cin_g, what=f"{t} threads")
        assert first is None or np.array_equal(y, first), f"{t} threads: bits differ from 1 thread"
        first = y


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


# -------------------------------------------------------- per-step thread counts (the planner)

def _small_and_big_model():
    """A conv with enough work for 2 threads (1.8 MMACs, 0.8 MB read) followed by steps far too small."""
    from gconv_cpu import nn

    class Model(nn.Module):
        def __init__(self):
            self.big = nn.Conv2d(64, 64, 3, stride=8, padding=1)       # 56x56 -> 7x7
            self.pool = nn.AdaptiveAvgPool2d(1)                        # 3136 floats in
            self.fc = nn.Conv2d(64, 8, 1)                              # 512 MACs
            self.tiny = nn.Conv2d(8, 8, 3, padding=1, groups=8)        # 72 MACs on 1x1

        def forward(self, x):
            return self.tiny(self.fc(self.pool(self.big(x))))
    return Model()


@pytest.mark.skipif(not OPENMP, reason="a build without OpenMP plans every step for 1 thread")
def test_step_threads_follow_the_work_and_are_deterministic(restore_threads):
    from gconv_cpu import _threads
    from gconv_cpu._program import CompiledProgram

    model = _small_and_big_model()
    graph = model.trace((1, 64, 56, 56))
    two = CompiledProgram(graph, 2, gconv_cpu.get_isa()).describe()
    assert two["num_threads"] == 2
    kinds = [k for k, _ in two["step_threads"]]
    threads = [n for _, n in two["step_threads"]]
    assert kinds == ["conv", "global_avgpool", "conv", "conv"], kinds
    assert threads == [2, 1, 1, 1], two["step_threads"]
    # the choice is a pure function of the plan: planning again gives the same list
    assert CompiledProgram(graph, 2, gconv_cpu.get_isa()).describe()["step_threads"] == two["step_threads"]
    # more threads: the big conv takes what its work pays for, no more than asked
    big_us = _threads.estimated_us(64 * 64 * 9 * 7 * 7, 4 * (64 * 56 * 56 + 64 * 7 * 7 + 64 * 64 * 9))
    assert big_us >= 3 * _threads.MIN_US_PER_THREAD  # else the next lines test nothing
    eight = CompiledProgram(graph, 8, gconv_cpu.get_isa()).describe()["step_threads"]
    assert eight[0] == ("conv", min(8, int(big_us // _threads.MIN_US_PER_THREAD)))
    assert [n for _, n in eight[1:]] == [1, 1, 1]
    one = CompiledProgram(graph, 1, gconv_cpu.get_isa()).describe()["step_threads"]
    assert [n for _, n in one] == [1, 1, 1, 1]


def test_threads_for_work_bounds():
    from gconv_cpu import _threads
    assert _threads.threads_for_work(1, 10**12, 10**12) == 1
    assert _threads.threads_for_work(4, 0, 0) == 1
    assert _threads.threads_for_work(4, 10**12, 0) == 4
    per_thread_macs = _threads.MIN_US_PER_THREAD * 1000 * _threads.DEFAULT_MACS_PER_NS
    assert _threads.threads_for_work(4, 2 * per_thread_macs, 0) == 2
    assert _threads.threads_for_work(4, 2 * per_thread_macs * 0.99, 0) == 1
    # depthwise runs at fewer MACs per ns, so the same MACs are more work
    assert _threads.threads_for_work(4, per_thread_macs, 0, "dwconv") > _threads.threads_for_work(4, per_thread_macs, 0)


# ------------------------------------------------- parallel loops and the forward-long team (team.c)

@pytest.mark.parametrize("in_team", [False, True], ids=["own-region", "team"])
@pytest.mark.parametrize("threads", [1, 2, 3, 5])
@pytest.mark.parametrize("items", [1, 2, 3, 7, 64, 1001])
def test_parallel_for_runs_every_item_once(items, threads, in_team):
    """Every item of every loop runs exactly once, on a member below the loop's thread count (the
    others have no scratch slice), whether the loops share one team or open a region each."""
    from gconv_cpu import _ext
    runner, runs = _ext.parallel_for_check(threads, in_team, 4, items)
    assert (runs == 1).all(), f"items run {np.unique(runs)} times"
    assert runner.min() >= 0 and runner.max() < threads
    if not OPENMP:
        assert (runner == 0).all()


@pytest.mark.skipif(not OPENMP, reason="without OpenMP there is no second member to be late")
@pytest.mark.parametrize("in_team", [False, True], ids=["own-region", "team"])
def test_a_late_members_share_is_taken_over(in_team):
    """Member 1 sleeps 0.3 s after claiming its first chunk (a descheduled thread): member 0 runs the
    rest of member 1's share instead of leaving it to wait, in every loop."""
    from gconv_cpu import _ext
    items = 64
    runner, runs = _ext.parallel_for_check(2, in_team, 2, items, slow_tid=1, slow_us=300_000)
    assert (runs == 1).all()
    for loop in runner:
        share_1 = loop[items // 2:]
        assert (share_1 == 0).sum() >= items // 4, f"member 0 took only {(share_1 == 0).sum()} of member 1's items"


@pytest.mark.parametrize("name", ["shufflenet_v2", "mobilenet_v2"])
def test_planned_threads_give_the_same_bits_as_every_step_on_all_threads(name, restore_threads):
    """Per-step counts only pick how many threads run a step; the partitions of every kernel give each
    output element the same arithmetic at any count, so the result is bit-identical to running every
    step on all threads, and to a 1-thread plan."""
    from gconv_cpu import _ext, models
    from gconv_cpu._program import program_for

    net = getattr(models, name)()
    x = np.random.default_rng(5).standard_normal((1, 3, 96, 96)).astype(np.float32)
    gconv_cpu.set_num_threads(2)
    planned = net(x)
    prog = program_for(net, [x.shape])
    if OPENMP:
        assert 1 in [n for _, n in prog.describe()["step_threads"]], "no step was planned for fewer threads"
    forced = _ext.Program([dict(st, threads=0) for st in prog.steps], prog.n_buffers)
    arena, ws = prog._acquire()
    everywhere = np.empty_like(planned)
    forced.run([arena, prog.consts, x, everywhere], ws, prog.num_threads)
    np.testing.assert_array_equal(planned, everywhere)
    gconv_cpu.set_num_threads(1)
    np.testing.assert_array_equal(planned, net(x))


def test_executor_rejects_negative_step_threads(restore_threads):
    from gconv_cpu import _ext
    from gconv_cpu._program import program_for

    model = _small_and_big_model()
    x = np.random.default_rng(0).standard_normal((1, 64, 8, 8)).astype(np.float32)
    want = model(x)
    prog = program_for(model, [x.shape])
    bad = _ext.Program([dict(st, threads=-1) if i == 1 else st for i, st in enumerate(prog.steps)], prog.n_buffers)
    arena, ws = prog._acquire()
    out = np.full_like(want, 7.0)
    with pytest.raises(ValueError, match="step 1: threads"):
        bad.run([arena, prog.consts, x, out], ws, 2)
    assert (out == 7.0).all(), "a bad plan must fail before running any step"


# -------------------------------------------------------- OpenMP wait policy at import

_SHOW_POLICY = ("import os, gconv_cpu; print(gconv_cpu.cpu_info()['openmp_wait_policy']); "
                "print(os.environ.get('OMP_WAIT_POLICY')); print(os.environ.get('GOMP_SPINCOUNT'))")


@pytest.mark.skipif(not OPENMP, reason="a build without OpenMP loads no OpenMP runtime")
def test_default_spin_count_is_short_and_the_environment_is_restored():
    # OMP_DISPLAY_ENV=verbose makes libgomp print the settings it read when it loaded
    proc = run_python(_SHOW_POLICY, env={"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None,
                                         "OMP_DISPLAY_ENV": "verbose"})
    assert proc.returncode == 0, f"{describe_exit(proc)}: {proc.stderr[-500:]}"
    policy, wait_after, spin_after = proc.stdout.strip().splitlines()
    assert policy.startswith(f"GOMP_SPINCOUNT={_openmp_env.SPIN_COUNT} "), policy
    assert _openmp_env.SPIN_COUNT == "10000"  # ~0.1 ms: shorter let workers sleep between calls
    assert (wait_after, spin_after) == ("None", "None"), "the environment must be restored after libgomp has read it"
    assert f"GOMP_SPINCOUNT = '{_openmp_env.SPIN_COUNT}'" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.skipif(not OPENMP, reason="a build without OpenMP loads no OpenMP runtime")
@pytest.mark.parametrize("var,value", [("OMP_WAIT_POLICY", "active"), ("GOMP_SPINCOUNT", "5000")])
def test_a_user_wait_policy_is_left_alone(var, value):
    other = "GOMP_SPINCOUNT" if var == "OMP_WAIT_POLICY" else "OMP_WAIT_POLICY"
    proc = run_python(_SHOW_POLICY, env={var: value, other: None, "OMP_DISPLAY_ENV": "true"})
    assert proc.returncode == 0, f"{describe_exit(proc)}: {proc.stderr[-500:]}"
    policy, wait_after, spin_after = proc.stdout.strip().splitlines()
    assert policy == f"from the environment: {var}={value}", policy
    assert (wait_after, spin_after) == ((value, "None") if var == "OMP_WAIT_POLICY" else ("None", value))
    if var == "OMP_WAIT_POLICY":
        assert "OMP_WAIT_POLICY = 'ACTIVE'" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.skipif(not OPENMP, reason="a build without OpenMP loads no OpenMP runtime")
def test_wait_policy_reports_a_runtime_loaded_before_us():
    pytest.importorskip("torch", reason="torch is the library here that brings its own libgomp")
    if "libgomp" not in run_python("import torch; print(open('/proc/self/maps').read())").stdout:
        pytest.skip("this torch build does not load libgomp")
    proc = run_python("import torch; " + _SHOW_POLICY, env={"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None})
    assert proc.returncode == 0, f"{describe_exit(proc)}: {proc.stderr[-500:]}"
    policy, wait_after, spin_after = proc.stdout.strip().splitlines()
    assert policy.startswith("inherited"), policy
    assert (wait_after, spin_after) == ("None", "None")


@pytest.mark.parametrize("transposed", [False, True])
def test_single_layers_choose_threads_by_their_work(transposed, restore_threads):
    from gconv_cpu import nn

    layer = nn.ConvTranspose2d(32, 32, 3, stride=2) if transposed else Conv2d(32, 32, 3, padding=1)
    op = layer.prepare()._op
    tiny, big = (1, 32, 2, 2), (1, 32, 64, 64)
    assert op.threads_for(tiny, 2) == 1
    assert op.threads_for(big, 2) == 2
    assert op.threads_for(big, 1) == 1
    gconv_cpu.set_num_threads(2)
    assert op.threads_for(big) == gconv_cpu.get_num_threads()  # 1 in a build without OpenMP
    # the chosen count is what the call caches and runs with
    x = np.random.default_rng(2).standard_normal(tiny).astype(np.float32)
    y2 = layer(x)
    assert op._geometry[(tiny, gconv_cpu.get_num_threads())][2] == 1
    gconv_cpu.set_num_threads(1)
    np.testing.assert_array_equal(y2, layer(x))


def test_fork_join_microbenchmark_reports_a_cost():
    from gconv_cpu import _ext
    region, barrier = _ext.fork_join_us(2, 50)
    if OPENMP:
        assert region > 0 and barrier > 0, (region, barrier)
    else:
        assert (region, barrier) == (0, 0)
    for bad in ((0, 10), (2, 0), (-1, 10)):
        with pytest.raises(ValueError, match="num_threads and reps"):
            _ext.fork_join_us(*bad)


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "shufflenet_v1_g3", "shufflenet_v2", "mobilefacenet"])
def test_networks_give_the_same_bits_at_many_thread_counts(name, restore_threads):
    """Server counts, beyond what the tests above sweep: every kernel's partition (tiles, channel
    chunks, row chunks, the planner's per-step counts) changes with the count, never an element's
    arithmetic. Counts above the machine's cores oversubscribe it, which changes the timing, not the
    partitions; on a 16-core machine the same counts gave the same bits (issue 3's session-15 note)."""
    from gconv_cpu import models

    net = getattr(models, name)()
    size = 112 if name == "mobilefacenet" else 224
    x = np.random.default_rng(11).standard_normal((1, 3, size, size)).astype(np.float32)
    gconv_cpu.set_num_threads(1)
    reference = net(x)
    for t in (3, 5, 8, 13, 16):
        gconv_cpu.set_num_threads(t)
        assert np.array_equal(net(x), reference), f"{name}: {t} threads differ from 1 thread"
