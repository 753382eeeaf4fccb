"""The planner and executor (gconv_cpu/_program.py, src_c/graph): fusion, storage, replanning, safety.

Planned results are compared with torch.nn.functional run op by op on the same parameters."""
import threading
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import gconv_cpu
from gconv_cpu import _ext, _isa, nn
from gconv_cpu._plan import NO_CLAMP, activation_index, aligned_scratch, algorithm_index
from gconv_cpu._program import program_for
from gconv_cpu.graph import GraphError

RNG = np.random.default_rng(1234)


def randomize_bn(model, rng=RNG):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean = rng.normal(0, 0.5, c)
            m.running_var = rng.uniform(0.5, 2.0, c)
            m.weight = rng.uniform(0.5, 1.5, c)
            m.bias = rng.normal(0, 0.3, c)
    return model


def t(a):
    return None if a is None else torch.from_numpy(np.asarray(a, np.float32))


def torch_conv(layer, x):
    pt, pb, pl, pr = layer._spec[9:13]
    x = TF.pad(x, (pl, pr, pt, pb))
    return TF.conv2d(x, t(layer.weight), t(layer.bias), layer.stride, 0, layer.dilation, layer.groups)


def torch_bn(bn, x):
    return TF.batch_norm(x, t(bn.running_mean), t(bn.running_var), t(bn.weight), t(bn.bias), False, 0.0, bn.eps)


ACTS = {"relu": (nn.ReLU, TF.relu), "relu6": (nn.ReLU6, TF.relu6), "hardswish": (nn.Hardswish, TF.hardswish),
        "none": (nn.Identity, lambda x: x), "clip": (lambda: nn.Hardtanh(-0.5, 0.75), lambda x: TF.hardtanh(x, -0.5, 0.75))}


class ConvBnAct(nn.Module):
    def __init__(self, c_in, c_out, k, stride=1, groups=1, act="relu", residual=False, prelu=False):
        self.conv = nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = nn.PReLU(c_out) if prelu else ACTS[act][0]()
        self.act_name, self.prelu, self.residual = act, prelu, residual

    def forward(self, x):
        y = self.bn(self.conv(x))
        if self.residual:
            y = y + x
        return self.act(y)

    def reference(self, x):
        y = torch_bn(self.bn, torch_conv(self.conv, x))
        if self.residual:
            y = y + x
        if self.prelu:
            return TF.prelu(y, t(self.act.weight))
        return ACTS[self.act_name][1](y)


def chain(specs):
    return nn.Sequential(*[ConvBnAct(*s[0], **s[1]) for s in specs])


def reference(model, x):
    y = torch.from_numpy(x)
    for block in model:
        y = block.reference(y)
    return y.numpy()


CASES = {
    # (c_in, c_out, k, stride, groups), options: every conv algorithm with every fusable epilogue
    "dense": [((3, 16, 3, 2), dict(act="relu6")), ((16, 16, 3, 1), dict(act="relu", residual=True))],
    "depthwise": [((8, 8, 3, 1, 8), dict(act="hardswish", residual=True)), ((8, 8, 5, 2, 8), dict(prelu=True))],
    "grouped": [((16, 16, 3, 1, 4), dict(act="none", residual=True)), ((16, 32, 1, 1, 2), dict(act="clip"))],
    "pointwise_residual_prelu": [((12, 12, 1, 1), dict(prelu=True, residual=True))],
    "winograd": [((32, 32, 3, 1, 2), dict(prelu=True, residual=True)), ((32, 32, 3, 1), dict(act="hardswish"))],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_chain_matches_torch(case, isa):
    model = randomize_bn(chain(CASES[case]))
    c_in = CASES[case][0][0][0]
    for shape in [(1, c_in, 17, 13), (2, c_in, 9, 20)]:
        x = RNG.standard_normal(shape).astype(np.float32)
        y = model(x)
        ref = reference(model, x)
        assert y.shape == ref.shape
        assert np.abs(y - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max()), case


def test_fusion_leaves_one_step_per_conv():
    model = randomize_bn(chain(CASES["dense"] + [((16, 16, 3, 1, 16), dict(act="hardswish", residual=True))]))
    prog = program_for(model, [(1, 3, 32, 32)])
    info = prog.describe()
    assert info["steps"] == 3, prog.graph  # conv+bn+act(+add) each became a single conv step
    assert [n.op for n in prog.graph.nodes] == ["conv"] * 3
    assert sum(len(n.inputs) == 2 for n in prog.graph.nodes) == 2  # two residuals fused


def test_profile_times_every_step_without_changing_results():
    model = randomize_bn(chain(CASES["dense"] + [((16, 16, 3, 1, 16), dict(act="hardswish", residual=True))]))
    x = RNG.standard_normal((1, 3, 32, 32)).astype(np.float32)
    expected = model(x)
    prog = program_for(model, [x.shape])
    rows = prog.profile([x], reps=3)
    assert [r["step"] for r in rows] == list(range(len(prog.steps)))
    assert [r["kind"] for r in rows] == [s["kind"] for s in prog.steps]
    assert all(r["ms"] > 0 for r in rows), rows
    assert all(r["kernel"] == prog.steps[i]["plan"].kernel_name for i, r in enumerate(rows) if r["kind"] == "conv")
    assert {r["node"] for r in rows} <= {n.name for n in prog.graph.nodes}
    assert np.array_equal(model(x), expected)
    with pytest.raises(ValueError, match="reps"):
        prog.profile([x], reps=0)


def test_program_run_checks_step_ns():
    model = randomize_bn(chain(CASES["dense"]))
    x = RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)
    prog = program_for(model, [x.shape])
    scratch = prog._acquire()
    outs = [np.empty(s, np.float32) for s in prog.output_shapes]
    buffers = [scratch[0], prog.consts, x] + outs
    n = len(prog.steps)
    for bad in (np.zeros(n, np.int32), np.zeros(n + 1, np.int64), np.zeros(n, np.int64)[::-1],
                np.zeros(n, np.int64).view(np.float64), np.zeros(n, np.int64).copy()):
        if bad.dtype == np.int64 and bad.size == n and bad.flags.c_contiguous:
            bad.setflags(write=False)
        with pytest.raises(ValueError, match="step_ns"):
            prog.program.run(buffers, scratch[1], 1, bad)
    with pytest.raises(TypeError, match="step_ns"):
        prog.program.run(buffers, scratch[1], 1, [0] * n)
    ns = np.zeros(n, np.int64)
    prog.program.run(buffers, scratch[1], 1, ns)
    prog.program.run(buffers, scratch[1], 1, ns)  # times add up over runs
    once = ns.copy()
    prog.program.run(buffers, scratch[1], 1, ns)
    assert (once > 0).all() and (ns > once).all()


def test_arena_reuses_memory():
    specs = [((8, 8, 3, 1, 8), dict(act="relu"))] * 12
    model = randomize_bn(chain(specs))
    info = program_for(model, [(1, 8, 40, 40)]).describe()
    # 12 activations of 8x40x40 floats live one or two at a time
    assert info["arena_bytes"] <= 2 * 8 * 40 * 40 * 4 + 128
    assert info["unplanned_bytes"] >= 10 * 8 * 40 * 40 * 4


def test_new_input_size_replans_and_new_weights_are_seen():
    model = randomize_bn(chain(CASES["grouped"]))
    for shape in [(1, 16, 8, 8), (1, 16, 11, 5), (3, 16, 8, 8)]:
        x = RNG.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(model(x), reference(model, x), atol=1e-5, rtol=1e-5)
    x = RNG.standard_normal((1, 16, 8, 8)).astype(np.float32)
    before = model(x)
    state = model.state_dict()
    state["0.conv.weight"] = state["0.conv.weight"] * 2
    model.load_state_dict(state)
    after = model(x)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, reference(model, x), atol=1e-5, rtol=1e-5)
    model[0].bn.running_mean = np.ones(16, np.float32)  # a setter, not in place: seen on the next call
    np.testing.assert_allclose(model(x), reference(model, x), atol=1e-5, rtol=1e-5)


def test_steady_state_allocates_nothing_with_out():
    model = randomize_bn(chain(CASES["dense"]))
    x = RNG.standard_normal((1, 3, 64, 64)).astype(np.float32)
    out = np.empty_like(model(x))
    model(x, out=out)
    kept, peaks = [], []
    tracemalloc.start()
    try:
        last = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            tracemalloc.reset_peak()
            for _ in range(100):
                model(x, out=out)
            current, peak = tracemalloc.get_traced_memory()
            kept.append(current - last)
            peaks.append(peak - last)
            last = current
    finally:
        tracemalloc.stop()
    # The first 100 calls under tracing keep ~10 KB once, whatever ran before (Python specializing
    # the code it runs, objects left on its free lists): with one window from the start this test
    # failed when run alone. A leak keeps memory in every window; 10 bytes a call would show here.
    assert max(kept[1:]) < 1024, kept
    # the arena is 16x32x32 floats (64 KiB): anything near it would be a per-call allocation
    assert max(peaks) < 16 * 1024, peaks


def test_concurrent_calls_are_bit_identical(restore_threads):
    model = randomize_bn(chain(CASES["dense"] + [((16, 16, 3, 1, 16), dict(act="hardswish"))]))
    shapes = [(1, 3, 32, 32), (2, 3, 24, 40), (1, 3, 17, 9)]
    xs = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    expected = [model(x) for x in xs]
    errors = []

    def worker(k):
        for i in range(30):
            j = (i + k) % len(xs)
            if not np.array_equal(model(xs[j]), expected[j]):
                errors.append((k, i))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors


def test_bad_inputs_name_the_problem():
    model = randomize_bn(chain(CASES["dense"]))
    with pytest.raises(ValueError, match="x: a model takes"):
        model(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(GraphError, match=r"conv '0.conv'.*3 input channels"):
        model(np.zeros((1, 4, 8, 8), np.float32))
    with pytest.raises(GraphError, match="height and width must be positive"):
        model(np.zeros((1, 3, 0, 4), np.float32))
    with pytest.raises(TypeError, match="x"):
        model("not an array")


def test_prepare_without_shapes_plans_at_input_shape():
    model = randomize_bn(chain(CASES["dense"]))
    with pytest.raises(ValueError, match=r"input_shape: Sequential defines no input_shape.*prepare\("):
        model.prepare()
    model.input_shape = (1, 3, 12, 10)
    assert model.prepare() is model
    programs = model.__dict__["_programs"]
    assert [key[0] for key in programs] == [((1, 3, 12, 10),)]
    prepared = list(programs.values())
    x = np.random.default_rng(0).standard_normal((1, 3, 12, 10)).astype(np.float32)
    np.testing.assert_allclose(model(x), model.run_eager(x), rtol=1e-5, atol=1e-5)
    assert list(programs.values()) == prepared  # the call ran the prepared program
    model.prepare((1, 3, 8, 8))  # explicit shapes still win
    assert ((1, 3, 8, 8),) in [key[0] for key in programs]


def test_executor_checks_every_reference_before_running():
    layer = nn.Conv2d(4, 4, 3, padding=1, algorithm="reference").prepare()
    plan = layer._op._plan
    x = np.ones((1, 4, 8, 8), np.float32)
    y = np.zeros((1, 4, 8, 8), np.float32)
    step = dict(kind="conv", plan=plan, x=(0, 0), x_shape=(1, 4, 8, 8), y=(1, 0), y_shape=(1, 4, 8, 8))
    prog = _ext.Program([step], 2)
    prog.run([x, y], None, 1)
    np.testing.assert_allclose(y, layer(x), rtol=1e-6)
    for bad, match in [(dict(x=(0, 1)), "outside its buffer"), (dict(y=(5, 0)), "buffer 5"),
                       (dict(x=(0, -1)), "outside"), (dict(x_shape=(1, 4, 8, -8)), "invalid shape"),
                       (dict(x_shape=(1, 4, 2**40, 2**40)), "invalid shape|outside"),
                       # the plan reads 4 channels and writes one output per input batch item
                       (dict(x_shape=(1, 2, 8, 8)), "channels"), (dict(y_shape=(1, 2, 8, 8)), "channels"),
                       (dict(x_shape=(2, 4, 4, 8), y_shape=(1, 4, 4, 8)), "batch")]:
        y[...] = 7.0
        with pytest.raises(ValueError, match=match):
            _ext.Program([step, dict(step, **bad)], 2).run([x, y], None, 1)
        assert (y == 7.0).all()  # nothing ran, not even the good step before it
    with pytest.raises(ValueError, match="buffers"):
        prog.run([x], None, 1)
    with pytest.raises(ValueError, match="num_threads"):
        prog.run([x, y], None, 0)


# ---- every non-conv operator in a planned graph, against a torch twin with the same keys --------------

class ShuffleSEUnit(nn.Module):
    def __init__(self, c):
        h = c // 2
        self.branch = nn.Sequential(nn.Conv2d(h, h, 1), nn.BatchNorm2d(h), nn.ReLU(),
                                    nn.Conv2d(h, h, 3, padding=1, groups=h), nn.BatchNorm2d(h))
        self.se = nn.SqueezeExcitation(c, 8, scale_activation=nn.Hardsigmoid)

    def forward(self, x):
        a, b = x.chunk(2, 1)
        y = gconv_cpu.functional.cat([a, self.branch(b)], 1)
        return self.se(gconv_cpu.functional.channel_shuffle(y, 2))


def _twin_unit(c):
    tn = torch.nn

    class SE(tn.Module):
        def __init__(self):
            super().__init__()
            self.avgpool, self.fc1, self.fc2 = tn.AdaptiveAvgPool2d(1), tn.Conv2d(c, 8, 1), tn.Conv2d(8, c, 1)
            self.activation, self.scale_activation = tn.ReLU(), tn.Hardsigmoid()

        def forward(self, x):
            return x * self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))

    class Unit(tn.Module):
        def __init__(self):
            super().__init__()
            h = c // 2
            self.branch = tn.Sequential(tn.Conv2d(h, h, 1), tn.BatchNorm2d(h), tn.ReLU(),
                                        tn.Conv2d(h, h, 3, padding=1, groups=h), tn.BatchNorm2d(h))
            self.se = SE()

        def forward(self, x):
            a, b = x.chunk(2, 1)
            y = torch.cat([a, self.branch(b)], 1)
            n, ch, hh, ww = y.shape
            y = y.view(n, 2, ch // 2, hh, ww).transpose(1, 2).reshape(n, ch, hh, ww)
            return self.se(y)
    return Unit()


def test_every_operator_planned_matches_torch(isa):
    tn = torch.nn
    ours = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.MaxPool2d(3, 2, 1), ShuffleSEUnit(16), ShuffleSEUnit(16),
                         nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), nn.Hardswish(), nn.Sigmoid(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10), nn.Softmax(1))
    twin = tn.Sequential(tn.Conv2d(3, 16, 3, 2, 1), tn.MaxPool2d(3, 2, 1), _twin_unit(16), _twin_unit(16),
                         tn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), tn.Hardswish(), tn.Sigmoid(),
                         tn.AdaptiveAvgPool2d(1), tn.Flatten(), tn.Linear(16, 10), tn.Softmax(1)).eval()
    randomize_bn(ours)
    ours.load_state_dict({k: v for k, v in ours.state_dict().items()})
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    for shape in [(1, 3, 33, 31), (2, 3, 40, 40)]:
        x = RNG.standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            ref = twin(torch.from_numpy(x)).numpy()
        planned = ours(x)
        assert np.abs(planned - ref).max() <= 1e-6, shape
        np.testing.assert_allclose(ours.forward(x), planned, rtol=1e-5, atol=1e-7)  # eager, layer by layer
    info = program_for(ours, [(1, 3, 33, 31)]).describe()
    assert info["arena_bytes"] < info["unplanned_bytes"]


# ---- a 1x1 conv and the depthwise conv after it, as one step (conv_dw) ------------------------------------

def conv_plan(c_in, c_out, groups, k, stride=1, dilation=1, pad=0, act=None, weight=None):
    spec = (c_in, c_out, groups, k, k, stride, stride, dilation, dilation, pad, pad, pad, pad) + NO_CLAMP
    if weight is None:
        weight = RNG.standard_normal((c_out, c_in // groups, k, k)).astype(np.float32)
    bias = RNG.standard_normal(c_out).astype(np.float32)
    slopes = RNG.uniform(0.05, 0.3, c_out).astype(np.float32) if act == "prelu" else None
    return _ext.ConvPlan(spec, weight, bias, _isa.isa_index(gconv_cpu.get_isa()), algorithm_index("auto"),
                         activation_index(act), slopes)


def two_steps(pw, dw, x, threads):
    n, _, h, w = x.shape
    mid = np.empty((n, pw.spec[1], h, w), np.float32)
    ws = pw.geometry(n, h, w, threads)[2]
    pw.run(x, mid, aligned_scratch(ws) if ws else None, threads)
    oh, ow, ws = dw.geometry(n, h, w, threads)
    y = np.empty((n, dw.spec[1], oh, ow), np.float32)
    return dw.run(mid, y, aligned_scratch(ws) if ws else None, threads)


def fused(pw, dw, x, threads):
    n, _, h, w = x.shape
    oh, ow, _ = dw.geometry(n, h, w, threads)
    y = np.full((n, dw.spec[1], oh, ow), np.nan, np.float32)
    ws = aligned_scratch(_ext.pw_dw_workspace_size(pw, dw, n, h, w, threads))
    return _ext.run_pw_dw(pw, dw, x, y, ws, threads)


# depthwise (kernel, stride, dilation, padding): the specialized kernels, a dilated and a generic one,
# no padding and more padding than half the kernel
FUSED_DW = [(3, 1, 1, 1), (3, 2, 1, 1), (5, 1, 1, 2), (5, 2, 1, 2), (7, 1, 1, 3), (3, 1, 2, 2), (3, 2, 1, 0),
            (4, 1, 1, 2), (3, 1, 1, 3)]
PW_ACTS, DW_ACTS = (None, "relu6", "hardswish", "prelu"), ("prelu", None, "relu", "hardswish")


@pytest.mark.parametrize("k, stride, dilation, pad", FUSED_DW, ids=[f"k{c[0]}s{c[1]}d{c[2]}p{c[3]}" for c in FUSED_DW])
def test_pw_dw_fused_run_is_bit_identical_to_two_steps(k, stride, dilation, pad, isa):
    # channels below, at and past a panel (8 on AVX-512, 6 on AVX2, 4 scalar), planes from one row to
    # wider than a vector, 1-3 threads over 1-2 batch items; then items of 32+ channels whose planes
    # exceed the 512 KB buffer, so that they run in bands of rows with the rows read again kept (and a
    # last partial item): 112x112 (bands of 17-35 rows) and 7x1500 (bands of one output row)
    cases = [(3, 8, 1, 1), (16, 20, 5, 9), (5, 52, 14, 14), (24, 40, 23, 61), (16, 40, 112, 112), (8, 33, 7, 1500)]
    for i, (c_in, c, h, w) in enumerate(cases):
        pw = conv_plan(c_in, c, 1, 1, act=PW_ACTS[i % 4])
        dw = conv_plan(c, c, c, k, stride, dilation, pad, act=DW_ACTS[i % 4])
        if (h + 2 * pad - dilation * (k - 1) - 1) < 0:
            continue
        for n, threads in ((1, 1), (2, 2), (1, 3)):
            x = RNG.standard_normal((n, c_in, h, w)).astype(np.float32)
            expect = two_steps(pw, dw, x, threads)
            np.testing.assert_array_equal(fused(pw, dw, x, threads), expect,
                                          err_msg=f"{c_in}->{c} at {h}x{w}, batch {n}, {threads} threads")


def test_pw_dw_fused_run_keeps_nonfinite_taps_on_padding(isa):
    # an Inf tap that only ever meets padding on the first row gives NaN there (0 * Inf), as torch does
    wd = RNG.standard_normal((16, 1, 3, 3)).astype(np.float32)
    wd[3, 0, 0, 1] = np.inf
    pw, dw = conv_plan(8, 16, 1, 1), conv_plan(16, 16, 16, 3, pad=1, weight=wd)
    x = RNG.standard_normal((1, 8, 12, 20)).astype(np.float32)
    y = fused(pw, dw, x, 2)
    np.testing.assert_array_equal(y, two_steps(pw, dw, x, 2))
    assert np.isnan(y[0, 3, 0]).all()


def test_pw_dw_fused_run_rejects_what_it_cannot_run():
    pw, dw = conv_plan(8, 16, 1, 1), conv_plan(16, 16, 16, 3, pad=1)
    x = RNG.standard_normal((1, 8, 12, 12)).astype(np.float32)
    with pytest.raises(ValueError, match="do not run fused"):  # a depthwise conv of other channels
        _ext.pw_dw_workspace_size(pw, conv_plan(12, 12, 12, 3, pad=1), 1, 12, 12, 1)
    with pytest.raises(ValueError, match="do not run fused"):  # a 3x3 is not a 1x1
        _ext.pw_dw_workspace_size(conv_plan(8, 16, 1, 3, pad=1), dw, 1, 12, 12, 1)
    with pytest.raises(ValueError, match="do not run fused"):  # the GDC kernel takes a 7x7 on 7x7
        _ext.pw_dw_workspace_size(pw, conv_plan(16, 16, 16, 7), 1, 7, 7, 1)
    y = np.empty((1, 16, 12, 12), np.float32)
    need = _ext.pw_dw_workspace_size(pw, dw, 1, 12, 12, 2)
    with pytest.raises(ValueError, match="workspace"):
        _ext.run_pw_dw(pw, dw, x, y, aligned_scratch(need - 64), 2)
    with pytest.raises(ValueError, match="spatial size"):
        _ext.run_pw_dw(pw, dw, x, np.empty((1, 16, 11, 12), np.float32), aligned_scratch(need), 2)
    with pytest.raises(ValueError, match="channels"):
        _ext.run_pw_dw(pw, dw, x[:, :4].copy(), y, aligned_scratch(need), 2)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expansion, 3x3 depthwise, 1x1 projection, and the input added back."""
    def __init__(self, c, expand, stride):
        self.expand = ConvBnAct(c, c * expand, 1, act="relu6")
        self.dw = ConvBnAct(c * expand, c * expand, 3, stride, groups=c * expand, act="relu6")
        self.project = ConvBnAct(c * expand, c, 1, act="none")
        self.stride = stride

    def forward(self, x):
        y = self.project(self.dw(self.expand(x)))
        return y + x if self.stride == 1 else y

    def reference(self, x):
        y = self.project.reference(self.dw.reference(self.expand.reference(x)))
        return y + x if self.stride == 1 else y


@pytest.mark.parametrize("c, expand, stride, hw, fuses", [(16, 6, 2, 112, True), (24, 6, 1, 56, True),
                                                         (32, 6, 1, 28, False)])
def test_planner_fuses_wide_expansions_with_their_depthwise(c, expand, stride, hw, fuses, restore_threads):
    # 1 thread: the 112x112 and 56x56 blocks' wide tensors (4.8 and 1.8 MB) are past half the L2 and
    # fuse; the 28x28 one's (0.6 MB) is not. The block's input must outlive the fused step (the residual).
    gconv_cpu.set_num_threads(1)
    block = randomize_bn(InvertedResidual(c, expand, stride))
    x = RNG.standard_normal((1, c, hw, hw)).astype(np.float32)
    y = block(x)
    kinds = [kind for kind, _ in program_for(block, [x.shape]).describe()["step_threads"]]
    assert ("conv_dw" in kinds) == fuses, kinds
    assert kinds.count("conv") == (1 if fuses else 3)
    ref = block.reference(torch.from_numpy(x)).numpy()
    assert np.abs(y - ref).max() <= 1e-5 * np.abs(ref).max()
    rows = program_for(block, [x.shape]).profile([x], reps=1)
    if fuses:
        assert rows[0]["kind"] == "conv_dw" and "+" in rows[0]["kernel"] and "dwconv" in rows[0]["kernel"]
