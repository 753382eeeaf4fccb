"""One benchmark row: build gconv_cpu and every peer for a target (layer or network) at a thread
count, check each peer's output against ours, time them all interleaved, summarize."""
import contextlib
import importlib
import os
import sys
import zlib

import numpy as np

import gconv_cpu

from . import tflite_models
from .machine import loadavg
from .peers import PeerUnavailable, Runner
from .timing import summarize, time_interleaved
from .workloads import ConvWorkload

OURS = "gconv"
LAYER_TOLERANCE = 1e-3  # max |y - ref| / max |ref|
NET_TOLERANCE = 1e-3


def seeded_rng(name, salt=0):
    """The same numbers for a target on every run and in every engine."""
    return np.random.default_rng([zlib.crc32(name.encode()), salt])


def layer_weights(wl):
    """(weights, source, tflite problems). The shipped LiteRT model's weights when there is one
    (so LiteRT is checked too); otherwise torch-default-like uniform random weights."""
    path = tflite_models.model_path(wl.name)
    if os.path.exists(path):
        try:
            layer = tflite_models.read_layer(wl, path)
            if layer.weight is not None:
                return {"weight": layer.weight, "bias": layer.bias}, f"bench/data/tflite/{wl.name}.tflite", layer.problems
        except ImportError:
            pass  # LiteRT's schema module missing: fall through to random weights
    rng = seeded_rng(wl.name, 1)
    bound = 1.0 / np.sqrt(wl.weight_shape[1] * wl.kernel ** 2)
    weight = rng.uniform(-bound, bound, wl.weight_shape).astype(np.float32)
    bias = rng.uniform(-bound, bound, wl.c_out).astype(np.float32) if wl.bias else None
    return {"weight": weight, "bias": bias}, "random (seeded)", []


def _threads_context(threads):
    @contextlib.contextmanager
    def context():
        if gconv_cpu.get_num_threads() != threads:
            gconv_cpu.set_num_threads(threads)
        yield
    return context


def gconv_layer(wl, weights, threads):
    """Our layer with its plan built; the timed call is layer(x, out=out) into a reused buffer."""
    gconv_cpu.set_num_threads(threads)
    layer = gconv_cpu.nn.Conv2d(wl.c_in, wl.c_out, wl.kernel, stride=wl.stride, padding=wl.pad,
                                dilation=wl.dilation, groups=wl.groups, bias=weights.get("bias") is not None)
    layer.weight = weights["weight"]
    if weights.get("bias") is not None:
        layer.bias = weights["bias"]
    layer.prepare()

    def bind(x):
        out = np.empty(wl.output_shape, np.float32)
        return lambda: layer(x, out=out)

    plan = dict(layer.plan_info, kernel=layer.kernel_for(wl.input_shape))
    plan.pop("global_kernel", None)
    return Runner(bind, context=_threads_context(threads), info={"plan": plan}, keep=[layer])


def gconv_net(spec, state_dict, threads):
    """gconv_cpu.models.<name>() loaded from the torch state_dict, when that module exists."""
    try:
        models = importlib.import_module("gconv_cpu.models")
    except ImportError:
        raise PeerUnavailable("gconv_cpu.models not built yet") from None
    builder = getattr(models, spec.name, None)
    if builder is None:
        raise PeerUnavailable(f"gconv_cpu.models has no {spec.name}() yet")
    gconv_cpu.set_num_threads(threads)
    net = builder()
    net.load_state_dict({k: v.detach().numpy() for k, v in state_dict.items()})
    info = {}

    def bind(x):
        # the planner's per-step thread counts, for the report (the program is planned per input shape)
        from gconv_cpu._program import program_for
        counts = [n for _, n in program_for(net, [x.shape]).describe()["step_threads"]]
        info["step_threads"] = {"steps": len(counts), "on_1_thread": counts.count(1)}
        return lambda: net(x)

    return Runner(bind, context=_threads_context(threads), info=info, keep=[net])


def relative_error(y, ref):
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    if y.size != ref.size:
        return float("inf")
    return float(np.abs(y.reshape(ref.shape) - ref).max() / max(np.abs(ref).max(), 1e-30))


def run_row(target, weights, build_ours, peers, threads, cfg, progress=None):
    """Measure one (target, threads) row. peers: {name: peer or PeerUnavailable}. Never raises
    for a peer's failure: it becomes that peer's status."""
    is_layer = isinstance(target, ConvWorkload)
    tolerance = LAYER_TOLERANCE if is_layer else NET_TOLERANCE
    x = seeded_rng(target.name).standard_normal(target.input_shape, dtype=np.float32)
    results, runners = {}, {}

    def phase(text):
        if progress is not None:
            progress.set_postfix_str(f"{target.name} t={threads}: {text}", refresh=True)

    for name, builder in [(OURS, build_ours)] + list(peers.items()):
        if isinstance(builder, PeerUnavailable):
            results[name] = {"status": "skipped", "reason": str(builder)}
            continue
        phase(f"building {name}")
        try:
            runner = builder(target, weights, threads) if name == OURS else builder.build(target, weights, threads)
            y = runner(x)
        except PeerUnavailable as e:
            results[name] = {"status": "skipped", "reason": str(e)}
            continue
        except Exception as e:  # a peer that cannot build or run this model is reported, not fatal
            results[name] = {"status": "failed", "reason": f"{type(e).__name__}: {e}"[:300]}
            print(f"!! {name} failed on {target.name} (threads={threads}): {results[name]['reason']}", file=sys.stderr)
            continue
        runners[name] = runner
        results[name] = {"status": "ok", "output": y, **runner.info}

    # The reference is our output; for networks that gconv_cpu cannot build yet, torch eager's.
    reference = OURS if OURS in runners else next((n for n in ("torch", "torch_cl") if n in runners), None)
    ref_y = results[reference]["output"] if reference else None
    for name, res in results.items():
        y = res.pop("output", None)
        if y is None or name == reference:
            continue
        if runners[name].unchecked:
            res.update(status="unchecked", reason=runners[name].unchecked)
            continue
        if ref_y is None:
            res.update(status="unchecked", reason="no reference engine ran")
            continue
        err = relative_error(y, ref_y)
        res["max_rel_err"] = err
        if not err <= tolerance:
            res.update(status="mismatch", reason=f"max rel err {err:.2e} > {tolerance:g} vs {reference}")
            print(f"!! MISMATCH {name} on {target.name} (threads={threads}): {res['reason']}; "
                  f"excluded from best peer", file=sys.stderr)
    if reference:
        results[reference]["max_rel_err"] = 0.0

    engines = {name: (r.bind(x), r.context) for name, r in runners.items()}
    if engines:
        phase("timing")
        # one thread: nobody has worker threads to spin or to wake, so the handover is short
        gap, rewarm = (cfg["switch_gap_s"], cfg["rewarm_s"]) if threads > 1 else (1e-3, 0.0)
        timed = time_interleaved(engines, cfg["rounds"], cfg["min_sample_s"], cfg["warmup_s"], gap, rewarm)
        for name, (calls, samples) in timed.items():
            results[name].update(summarize(samples), calls_per_sample=calls, samples_ms=samples)
    del runners, engines  # free sessions and thread pools before the next row

    row = {"kind": "layer" if is_layer else "net", "name": target.name, "threads": threads,
           "reference": reference, "results": results, "loadavg": loadavg()}
    if is_layer:
        row.update(spec=target.spec(), macs=target.macs, flops=target.flops, min_bytes=target.min_bytes,
                   arithmetic_intensity=target.arithmetic_intensity)
    else:
        row.update(input_shape=list(target.input_shape), macs=cfg["net_macs"][target.name],
                   flops=2 * cfg["net_macs"][target.name])
    return finish_row(row, cfg)


def best_peer(row):
    """(name, median ms) of the fastest peer whose output matched ours (unchecked networks count,
    marked as such: same architecture, own weights); None if no peer qualifies."""
    allowed = {"ok"} | ({"unchecked"} if row["kind"] == "net" else set())
    timed = [(r["median_ms"], n) for n, r in row["results"].items()
             if n != OURS and r["status"] in allowed and "median_ms" in r]
    return min(timed)[::-1] if timed else (None, None)


def finish_row(row, cfg):
    name, ms = best_peer(row)
    row["best_peer"], row["best_peer_ms"] = name, ms
    ours = row["results"].get(OURS, {})
    ours_ms = ours.get("median_ms")
    row["ratio"] = ours_ms / ms if ours_ms and ms else None
    row["gflops"] = row["flops"] / ours_ms * 1e-6 if ours_ms else None
    ceilings = cfg["ceilings"]
    fma = ceilings["fma_gflops_per_core"]
    peak = fma * row["threads"] if fma else None  # t threads: t cores' worth of FMA
    row["peak_gflops"] = peak
    row["pct_peak"] = 100 * row["gflops"] / peak if row["gflops"] and peak else None
    if row["kind"] == "layer":
        bandwidth = ceilings["triad_gbps"].get(row["threads"])
        row["roof_gflops"] = min(peak, row["arithmetic_intensity"] * bandwidth) if bandwidth and peak else None
        row["pct_roof"] = 100 * row["gflops"] / row["roof_gflops"] if row["gflops"] and row["roof_gflops"] else None
    return row


def add_thread_speedups(rows):
    """speedup_vs_1_thread per engine: its 1-thread median over this row's median."""
    one = {(r["kind"], r["name"]): r for r in rows if r["threads"] == 1}
    for row in rows:
        base = one.get((row["kind"], row["name"]))
        if base is None:
            continue
        for name, res in row["results"].items():
            b = base["results"].get(name, {}).get("median_ms")
            if b and res.get("median_ms"):
                res["speedup_vs_1_thread"] = b / res["median_ms"]
