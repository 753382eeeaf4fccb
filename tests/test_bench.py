"""The benchmark suite (bench/) runs end to end and writes well-formed results.

Timings are never asserted (they depend on the machine and its load); what is asserted is the
shape of the output: rows for every requested workload, positive medians, every output checked,
missing peers reported as skipped with a reason, non-empty plots. Passes with no peer installed.
"""
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gconv_cpu

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if importlib.util.find_spec("bench") is None:  # pytest run from elsewhere (the wheel test): find bench/ last
    sys.path.append(REPO)

from bench import workloads  # noqa: E402
from bench.suite import OURS, best_peer, relative_error  # noqa: E402

STATUSES = {"ok", "unchecked", "mismatch", "skipped", "failed"}
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None


def run_bench(tmp_path, *args, hide=()):
    """`python -m bench ARGS` in a subprocess, importing the gconv_cpu this test session tests
    (the in-place build from the repo root, or an installed wheel) and bench/ from this checkout.
    `hide`: top-level packages made unimportable, to exercise the 'peer not installed' path."""
    shadow = tmp_path / "shadow"
    shadow.mkdir(exist_ok=True)
    for package in hide:
        (shadow / package).mkdir(exist_ok=True)
        (shadow / package / "__init__.py").write_text(f"raise ImportError('{package} hidden by test_bench')\n")
    gconv_root = os.path.dirname(os.path.dirname(os.path.abspath(gconv_cpu.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shadow), gconv_root, REPO]), PYTHONUNBUFFERED="1")
    done = subprocess.run([sys.executable, "-m", "bench", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    return done


def check_document(doc, suite, names, threads):
    assert doc["suite"] == suite and doc["ours"] == OURS
    for key in ("machine", "ceilings", "method", "peers", "rows", "plots", "threads"):
        assert key in doc, key
    ceilings = doc["ceilings"]
    assert ceilings.get("unavailable") or ceilings["fma_gflops_per_core"] > 0  # older builds lack the probes
    assert all(bw > 0 for bw in ceilings["triad_gbps"].values())
    assert doc["machine"]["gconv_isa"] == gconv_cpu.get_isa()
    assert sorted((r["name"], r["threads"]) for r in doc["rows"]) == sorted((n, t) for n in names for t in threads)
    for name, info in doc["peers"].items():
        assert info["available"] in (True, False)
        assert info["version"] if info["available"] else info["reason"], (name, info)
    for row in doc["rows"]:
        assert set(row["results"]) == {OURS} | set(doc["peers"])
        assert row["macs"] > 0 and row["flops"] == 2 * row["macs"]
        for engine, res in row["results"].items():
            assert res["status"] in STATUSES, (engine, res)
            if res["status"] in ("skipped", "failed", "mismatch", "unchecked"):
                assert res["reason"], (row["name"], engine, res)
            if res["status"] in ("ok", "unchecked", "mismatch"):  # it ran, so it was timed
                assert res["median_ms"] > 0 and res["min_ms"] <= res["median_ms"] <= res["max_ms"]
                assert len(res["samples_ms"]) == doc["method"]["rounds"] and min(res["samples_ms"]) > 0
            if engine in doc["peers"] and not doc["peers"][engine]["available"]:
                assert res["status"] == "skipped" and res["reason"] == doc["peers"][engine]["reason"]
        if row["best_peer"]:
            assert row["results"][row["best_peer"]]["status"] in ("ok", "unchecked")
            assert row["best_peer_ms"] == row["results"][row["best_peer"]]["median_ms"]


def check_plots(doc):
    if not HAS_MATPLOTLIB:
        assert doc["plots"] == []
        return
    assert doc["plots"], "no plots written"
    for path in doc["plots"]:
        assert path.endswith(".png") and os.path.getsize(path) > 1000, path


def test_layers_quick(tmp_path):
    out = tmp_path / "layers.json"
    plots = tmp_path / "plots"
    done = run_bench(tmp_path, "layers", "--quick", "--json", str(out), "--plot", str(plots))
    doc = json.loads(out.read_text())
    threads = doc["threads"]
    check_document(doc, "layers", workloads.QUICK_WORKLOADS, threads)
    for row in doc["rows"]:  # the library itself must always run, and be the reference
        assert row["reference"] == OURS and row["results"][OURS]["status"] == "ok"
        assert row["gflops"] > 0 and (doc["ceilings"].get("unavailable") or row["pct_peak"] > 0)
        assert row["spec"] == workloads.BY_NAME[row["name"]].spec()
    expected = {"layers_relative.png"} | ({"layers_roofline.png"} if not doc["ceilings"].get("unavailable") else set())
    assert {os.path.basename(p) for p in doc["plots"]} >= (expected if HAS_MATPLOTLIB else set())
    check_plots(doc)
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| workload | threads | MMACs | gconv ms")
    assert len(table) == 1 + len(doc["rows"])  # header + one line per row: stdout is the clean table


def test_layers_missing_peers_are_skipped(tmp_path):
    """With no peer importable (not even torch) the layer suite still runs, reporting every peer
    as skipped with the reason; a user shape runs too (no .tflite shipped for it)."""
    out = tmp_path / "hidden.json"
    run_bench(tmp_path, "layers", "--quick", "--threads", "1", "--shape", "16,32,12,3,2,1,1,4", "--json", str(out),
              hide=("torch", "onnxruntime", "openvino", "ncnn", "ai_edge_litert"))
    doc = json.loads(out.read_text())
    shape = workloads.parse_shape("16,32,12,3,2,1,1,4")
    check_document(doc, "layers", [shape.name], [1])
    for name in ("torch", "torch_cl", "ort", "openvino", "ncnn", "litert"):
        assert doc["peers"][name]["available"] is False
        assert "hidden by test_bench" in doc["peers"][name]["reason"]
    (row,) = doc["rows"]
    assert row["best_peer"] is None and row["ratio"] is None and row["weights"] == "random (seeded)"


@pytest.mark.skipif(not HAS_TORCH, reason="bench nets needs torch for the network definitions (bench/torch_nets.py)")
def test_nets_quick(tmp_path):
    """One small network (MobileFaceNet, 112x112) at 1 thread, a few rounds. gconv_cpu's column
    is 'n/a' until gconv_cpu.models exists; the check reference is then torch eager."""
    out = tmp_path / "nets.json"
    done = run_bench(tmp_path, "nets", "--quick", "--json", str(out), "--plot", str(tmp_path / "plots"))
    doc = json.loads(out.read_text())
    from bench.torch_nets import QUICK_NETS
    check_document(doc, "nets", QUICK_NETS, [1])
    for row in doc["rows"]:
        ours = row["results"][OURS]
        if importlib.util.find_spec("gconv_cpu.models") is None:
            assert ours["status"] == "skipped" and "not built yet" in ours["reason"]
            assert row["reference"] == "torch" and "n/a (gconv_cpu.models not built yet)" in done.stdout
        else:
            assert ours["status"] in ("ok", "skipped", "failed")
    check_plots(doc)


@pytest.mark.skipif(not HAS_TORCH, reason="bench all includes the networks, defined in torch (bench/torch_nets.py)")
def test_all_quick_writes_results_and_readme_section(tmp_path):
    """`bench all` writes both suites' JSON, plots and RESULTS.md, and replaces only the text
    between the README's bench markers (twice: the second run must not duplicate the section)."""
    from bench import report
    readme = tmp_path / "README.md"
    readme.write_text("# project\n\nintro\n\n## Later section\nkept\n")
    out = tmp_path / "results"
    args = ("all", "--quick", "--threads", "1", "--peers", "ort", "--out", str(out), "--readme", str(readme))
    run_bench(tmp_path, *args)
    first = readme.read_text()
    assert first.startswith("# project\n\nintro\n\n## Later section\nkept\n")  # appended, nothing lost
    docs = {suite: json.loads((out / f"{suite}.json").read_text()) for suite in ("layers", "nets")}
    check_document(docs["layers"], "layers", workloads.QUICK_WORKLOADS, [1])
    from bench.torch_nets import QUICK_NETS
    check_document(docs["nets"], "nets", QUICK_NETS, [1])
    results = (out / "RESULTS.md").read_text()
    assert "# gconv_cpu benchmark: layers" in results and "# gconv_cpu benchmark: networks" in results
    section = first[first.index(report.README_BEGIN):]
    assert section.rstrip().endswith(report.README_END) and section.count(report.README_BEGIN) == 1
    assert docs["layers"]["machine"]["date"][:10] in section and docs["layers"]["machine"]["cpu"] in section
    assert f"python -m bench {' '.join(args)}" in section  # the command that reproduces it
    for suite, doc in docs.items():
        for row in doc["rows"]:
            assert f"| {row['name']} |" in section, (suite, row["name"])
        for path in doc["plots"]:
            assert f"(results/{os.path.basename(path)})" in section  # relative to the README
            assert os.path.exists(path)
    readme.write_text(first.replace("intro", "intro edited"))
    report.update_readme(str(readme), list(docs.values()), str(out), list(args))
    second = readme.read_text()
    assert second.count(report.README_BEGIN) == 1 and "intro edited" in second and "kept" in second


def test_workload_table():
    """The issue's table: MMACs as in /work/shared/ANCHORS.md, names unique, quick subset valid."""
    mmacs = {w.name: round(w.macs / 1e6, 1) for w in workloads.WORKLOADS}
    assert len(mmacs) == 14
    assert mmacs["g2_5x5_96to256_27"] == 223.9 and mmacs["dense3x3_64_56"] == 115.6
    assert mmacs["g32_3x3_128_56"] == 14.5 and mmacs["dw3x3_s1_c32_112"] == 3.6
    assert workloads.BY_NAME["dw3x3_s2_c96_112"].output_shape == (1, 96, 56, 56)
    assert workloads.BY_NAME["gdc7x7_c512_7"].output_shape == (1, 512, 1, 1)
    assert set(workloads.QUICK_WORKLOADS) <= set(workloads.BY_NAME)
    assert [w.groups for w in workloads.groups_sweep()] == [1, 2, 4, 8, 16, 32, 64, 128, 256]


def test_parse_shape():
    w = workloads.parse_shape("128,128,56,3,1,1,1,32")
    assert (w.c_in, w.c_out, w.hw, w.kernel, w.stride, w.pad, w.dilation, w.groups) == (128, 128, 56, 3, 1, 1, 1, 32)
    assert workloads.parse_shape("64,64,56,3").pad == 1  # defaults: stride 1, pad k//2, dilation 1, groups 1
    for bad in ("1,2", "a,b,c,d", "96,256,27,5,1,2,1,3"):  # too few, not numbers, groups not dividing C
        with pytest.raises(ValueError):
            workloads.parse_shape(bad)


def test_best_peer_excludes_mismatches():
    row = {"kind": "layer", "results": {
        OURS: {"status": "ok", "median_ms": 1.0},
        "fast_but_wrong": {"status": "mismatch", "median_ms": 0.1, "reason": "x"},
        "unchecked": {"status": "unchecked", "median_ms": 0.2, "reason": "structure differs"},
        "right": {"status": "ok", "median_ms": 0.5},
        "absent": {"status": "skipped", "reason": "not installed"}}}
    assert best_peer(row) == ("right", 0.5)
    assert best_peer(dict(row, kind="net")) == ("unchecked", 0.2)  # nets: same architecture, own weights
    assert relative_error([1.0, 2.0], [1.0, 2.002]) == pytest.approx(0.002 / 2.002)
    assert relative_error([1.0], [1.0, 2.0]) == float("inf")


def test_row_reports_wrong_missing_and_broken_peers(capsys, restore_threads):
    """A peer with a wrong answer is timed but flagged loudly and kept out of 'best peer'; one
    that is unavailable is skipped with its reason; one that raises is 'failed', not a crash."""
    from bench.peers import PeerUnavailable, Runner
    from bench.suite import gconv_layer, layer_weights, run_row

    class Wrong:
        def build(self, target, weights, threads):
            out = np.ones(target.output_shape, np.float32)
            return Runner(lambda x: (lambda: out))

    class Broken:
        def build(self, target, weights, threads):
            raise RuntimeError("converter crashed")

    wl = workloads.BY_NAME["gdc7x7_c512_7"]
    weights, _, _ = layer_weights(wl)
    cfg = {"rounds": 2, "min_sample_s": 1e-4, "warmup_s": 0.0,
           "ceilings": {"fma_gflops_per_core": 100.0, "triad_gbps": {1: 10.0}}}
    peers = {"wrong": Wrong(), "missing": PeerUnavailable("not installed here"), "broken": Broken()}
    row = run_row(wl, weights, gconv_layer, peers, 1, cfg)
    res = row["results"]
    assert res[OURS]["status"] == "ok" and len(res[OURS]["samples_ms"]) == 2
    assert res["wrong"]["status"] == "mismatch" and res["wrong"]["median_ms"] > 0
    assert res["missing"] == {"status": "skipped", "reason": "not installed here"}
    assert res["broken"]["status"] == "failed" and "converter crashed" in res["broken"]["reason"]
    assert row["best_peer"] is None and row["ratio"] is None
    assert "MISMATCH wrong" in capsys.readouterr().err


def test_shipped_tflite_models_match_the_workloads():
    """Every shipped LiteRT layer model is exactly its workload (op, stride, dilation, padding,
    groups, shapes), so its weights can be given to every engine and its output checked."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed (a bench-only peer)")
    from bench import tflite_models
    for wl in workloads.WORKLOADS:
        layer = tflite_models.read_layer(wl)
        assert layer.problems == [], (wl.name, layer.problems)
        assert layer.weight.shape == wl.weight_shape and layer.bias.shape == (wl.c_out,)
    # and a model that is not its workload is caught, with the reason
    g8 = workloads.BY_NAME["g8_3x3_256_28"]
    wrong = dataclasses.replace(g8, groups=4, dilation=2, pad=2)
    problems = " ".join(tflite_models.read_layer(wrong, tflite_models.model_path(g8.name)).problems)
    assert "groups 8, expected 4" in problems and "dilation" in problems and "pads (1, 1)" in problems


@pytest.mark.parametrize("shape", ["16,32,12,3,2,1,1,4", "8,16,9,3,1,2,2,8", "12,12,10,5,2,1,1,12"])
def test_written_tflite_layer_matches_gconv(tmp_path, shape):
    """--shape / --groups-sweep layers get a LiteRT model written from the common weights
    (grouped CONV_2D, depthwise with a multiplier, explicit PAD where TF's SAME differs)."""
    interpreter = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert not installed")
    from bench import tflite_models
    from bench.suite import layer_weights
    wl = workloads.parse_shape(shape)
    weights, _, _ = layer_weights(wl)
    path = tflite_models.write_layer(wl, weights["weight"], weights["bias"], str(tmp_path / "layer.tflite"))
    assert tflite_models.read_layer(wl, path).problems == []
    interp = interpreter.Interpreter(model_path=path, num_threads=1)
    interp.allocate_tensors()
    x = np.random.default_rng(0).standard_normal(wl.input_shape, dtype=np.float32)
    interp.set_tensor(interp.get_input_details()[0]["index"], np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    interp.invoke()
    y = interp.get_tensor(interp.get_output_details()[0]["index"]).transpose(0, 3, 1, 2)
    ref = gconv_cpu.conv2d(x, weights["weight"], weights["bias"], stride=wl.stride, padding=wl.pad,
                           dilation=wl.dilation, groups=wl.groups)
    assert relative_error(y, ref) <= 1e-5


def test_denormals_quick(tmp_path):
    """`python -m bench denormals`: a row per kernel path with positive times and ratios for both modes."""
    out = tmp_path / "denormals.json"
    isa = gconv_cpu.get_isa()
    done = run_bench(tmp_path, "denormals", "--quick", "--isa", isa, "--json", str(out))
    doc = json.loads(out.read_text())
    assert doc["suite"] == "denormals" and doc["threads"] == 1
    from bench.denormals import QUICK
    assert sorted(r["name"] for r in doc["rows"]) == sorted(QUICK)
    for r in doc["rows"]:
        assert r["isa"] == isa and r["normal_ms"] > 0 and r["normal_off_ms"] > 0
        assert r["x_on"] > 0 and r["x_off"] > 0
        assert ("w_on" in r) == (r["kernel"] != "-")  # weights: convs only
        assert f"| {r['name']} | {isa} |" in done.stdout
