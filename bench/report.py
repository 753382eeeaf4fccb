"""Markdown (stdout) and JSON (every raw sample) reports, and the README's benchmark section."""
import json
import os

import numpy as np

from .suite import OURS


def _ms(v):
    return f"{v:.3f}" if v >= 0.01 else f"{v:.4f}"


def _cell(res):
    status = res.get("status")
    if "median_ms" not in res:
        return "failed" if status == "failed" else "-"
    text = _ms(res["median_ms"])
    return {"unchecked": f"{text} (unchecked)", "mismatch": f"{text} MISMATCH"}.get(status, text)


def _ours_cell(res):
    if "median_ms" in res:
        return _cell(res)
    return f"n/a ({res.get('reason', 'failed')})" if res.get("status") == "skipped" else "failed"


def _num(v, fmt):
    return "" if v is None else format(v, fmt)


def header_lines(title, machine, ceilings, cfg):
    v = machine["versions"]
    peers_v = ", ".join(f"{k} {v[k]}" for k in ("torch", "onnxruntime", "openvino", "ncnn", "pnnx", "ai-edge-litert")
                        if v.get(k))
    triad = ", ".join(f"{t} thread{'s' * (t > 1)} {bw:.1f} GB/s" for t, bw in sorted(ceilings["triad_gbps"].items()))
    return [
        f"# gconv_cpu benchmark: {title}",
        "",
        f"- date: {machine['date']}; load average at start: {' '.join(machine['loadavg_start'] or ['?'])}, at end: "
        f"{' '.join(machine.get('loadavg_end') or ['?'])} ({machine['logical_cpus']} logical CPUs: above "
        f"~{max(1, (machine['logical_cpus'] or 2) - 1)} other work competes for cores)",
        f"- CPU: {machine['cpu']} ({machine['logical_cpus']} logical CPUs; {' '.join(machine['cpu_flags'])})",
        f"- gconv_cpu {v['gconv_cpu']}: ISA path {machine['gconv_isa']} (available: "
        f"{', '.join(machine['gconv_isas_available'])}), OpenMP {'on' if machine['gconv_openmp'] else 'off'}; "
        f"kernels: {', '.join(machine['gconv_kernels'])}",
        f"- measured ceilings: FMA peak {ceilings['fma_gflops_per_core']:.1f} GFLOP/s per core ({ceilings['isa']}); "
        f"%peak of a t-thread row is against t x that. Stream triad: {triad}" if ceilings["fma_gflops_per_core"]
        else f"- measured ceilings: unavailable ({ceilings.get('unavailable')})",
        *([f"- gconv threading cost: " + "; ".join(
            f"{t} threads: {r:.1f} us per empty parallel region, {b:.1f} us per barrier"
            for t, (r, b) in sorted(ceilings["fork_join_us"].items()))
           + f" (OpenMP wait policy: {ceilings.get('openmp_wait_policy')})"] if ceilings.get("fork_join_us") else []),
        f"- threads: {', '.join(map(str, cfg['threads']))} per engine (gconv_cpu.set_num_threads, torch.set_num_threads, "
        f"ORT intra_op_num_threads, OpenVINO INFERENCE_NUM_THREADS, ncnn opt.num_threads, LiteRT num_threads)",
        f"- versions: Python {v['python']}, NumPy {v['numpy']}; {peers_v or 'no peers installed'}",
        f"- method: batch 1, float32, the same input array for every engine; warm-up, then {cfg['rounds']} "
        f"interleaved rounds (every engine once per round, starting engine rotating); a sample is a timed batch of "
        f"back-to-back calls lasting >= {cfg['min_sample_s'] * 1e3:g} ms; in multi-thread rows each sample is "
        f"preceded by {cfg['switch_gap_s'] * 1e3:g} ms idle (the previous engine's pool stops spin-waiting) and "
        f"{cfg['rewarm_s'] * 1e3:g} ms of untimed calls (our own pool wakes up); cells are medians in ms "
        f"(min/max and every sample in the JSON)",
        "",
    ]


def markdown(title, rows, peer_names, machine, ceilings, cfg, peer_info):
    kind = rows[0]["kind"] if rows else "layer"
    lines = header_lines(title, machine, ceilings, cfg)
    cols = ["workload" if kind == "layer" else "network", "threads", "MMACs", "gconv ms"] + peer_names + \
           ["best peer", "ratio", "GFLOP/s", "%peak"] + (["%roof"] if kind == "layer" else []) + ["1->t speed-up"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        res = row["results"]
        best = row["best_peer"]
        best_text = "-"
        if best:
            flag = ", unchecked" if res[best]["status"] == "unchecked" else ""
            best_text = f"{_ms(row['best_peer_ms'])} ({best}{flag})"
        speedup = res.get(OURS, {}).get("speedup_vs_1_thread") if row["threads"] > 1 else None
        cells = [row["name"], str(row["threads"]), f"{row['macs'] / 1e6:.1f}" if row["macs"] >= 1e5 else
                 f"{row['macs'] / 1e6:.3f}", _ours_cell(res.get(OURS, {}))]
        cells += [_cell(res.get(p, {})) for p in peer_names]
        cells += [best_text, _num(row["ratio"], ".2f"), _num(row["gflops"], ".1f"), _num(row["pct_peak"], ".1f")]
        if kind == "layer":
            cells.append(_num(row.get("pct_roof"), ".0f"))
        cells.append(_num(speedup, ".2f"))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + notes(rows, peer_names, peer_info, ceilings)
    return "\n".join(lines)


def notes(rows, peer_names, peer_info, ceilings):
    layers = bool(rows) and rows[0]["kind"] == "layer"
    refs = sorted({r["reference"] for r in rows if r["reference"] and r["reference"] != OURS})
    out = ["Notes:",
           "- ratio = gconv median / best peer median (< 1: gconv is faster); the best peer is the fastest peer "
           "whose output matched the reference (max abs err / max |ref| <= 1e-3); the reference is gconv's output"
           + (f", or {' / '.join(refs)}'s where gconv_cpu cannot run the model yet" if refs else ""),
           "- %peak: GFLOP/s (2 x MACs / time) over threads x the single-core FMA peak; MACs are the direct "
           "convolution's, so a Winograd plan (ours, or ncnn's) that does fewer multiplications can pass 100"
           + ("; %roof: over min(threads x peak, arithmetic intensity x triad bandwidth), arithmetic intensity = "
              "FLOPs / ((input + weights + output) x 4 bytes); above 100 when the data fits in cache (the triad "
              "roof is main-memory bandwidth)" if layers else ""),
           "- 1->t speed-up: gconv's 1-thread median over its t-thread median"]
    plans = {}  # which gconv kernel ran which rows
    for row in rows:
        plan = row["results"].get(OURS, {}).get("plan")
        if plan:
            names = plans.setdefault(f"{plan['algorithm']}: {plan['kernel']}", [])
            names += [row["name"]] if row["name"] not in names else []
    if plans:
        out.append("- gconv plans: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in plans.items()))
    step_threads = [f"{row['name']} at {row['threads']} threads: {st['on_1_thread']} of {st['steps']}"
                    for row in rows if row["threads"] > 1
                    for st in [row["results"].get(OURS, {}).get("step_threads")] if st]
    if step_threads:
        out.append("- gconv steps the planner keeps on 1 thread (too little work to pay for waking a second): "
                   + "; ".join(step_threads))
    out += ["- timed region, per engine (all with the input prepared beforehand):",
            "  - gconv: " + ("`layer(x, out=out)`, a gconv_cpu.nn.Conv2d with its plan built, reused output buffer"
                             if layers else "`net(x)` of gconv_cpu.models.<name>() loaded from the torch state_dict")]
    out += [f"  - {name} {peer_info[name]['version']}: {peer_info[name]['note']}"
            for name in peer_names if peer_info[name].get("available")]
    # group repeated reasons so one missing package is one line, not one per row
    seen = {}
    for row in rows:
        for name, res in row["results"].items():
            if res["status"] in ("skipped", "failed", "mismatch", "unchecked"):
                where = f"{row['name']}/t{row['threads']}"
                seen.setdefault((res["status"], name, res.get("reason", "")), []).append(where)
    for (status, name, reason), where in sorted(seen.items()):
        label = {"mismatch": "**MISMATCH (excluded from best peer)**", "failed": "**FAILED**"}.get(status, status)
        scope = "all rows" if len(where) == len(rows) else ", ".join(where)
        out.append(f"- {label} {name}: {reason} [{scope}]")
    return out


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None  # JSON has no inf/nan
    return obj


def write_json(path, document):
    with open(path, "w") as f:
        json.dump(_jsonable(document), f, indent=1)
        f.write("\n")


README_BEGIN = "<!-- bench:begin (written by python -m bench all --readme; edits inside are overwritten) -->"
README_END = "<!-- bench:end -->"


def _summary_table(document):
    """One line per target: gconv, best peer and ratio at every thread count, and gconv's 1->t speed-up."""
    rows = document["rows"]
    threads = sorted({r["threads"] for r in rows})
    by_name = {}
    for r in rows:
        by_name.setdefault(r["name"], {})[r["threads"]] = r
    head = ["workload" if document["suite"] == "layers" else "network", "MMACs"]
    for t in threads:
        head += [f"gconv ms ({t}T)", f"best peer ({t}T)", f"ratio ({t}T)"]
    head += [f"gconv 1->{t}T" for t in threads if t > 1]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, per_t in by_name.items():
        any_row = next(iter(per_t.values()))
        cells = [name, f"{any_row['macs'] / 1e6:.1f}"]
        for t in threads:
            r = per_t.get(t)
            if r is None:
                cells += ["", "", ""]
                continue
            cells.append(_ours_cell(r["results"].get(OURS, {})))
            cells.append(f"{_ms(r['best_peer_ms'])} ({r['best_peer']})" if r["best_peer"] else "-")
            ratio = r["ratio"]
            cells.append("" if ratio is None else (f"**{ratio:.2f}**" if ratio <= 1.0 else f"{ratio:.2f}"))
        for t in threads:
            if t > 1:
                r = per_t.get(t)
                speedup = r and r["results"].get(OURS, {}).get("speedup_vs_1_thread")
                cells.append(_num(speedup, ".2f"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def readme_section(documents, out_dir, readme_dir, argv):
    """The README's benchmark section from the documents of one `bench all` run."""
    m = documents[0]["machine"]
    ceilings = documents[0]["ceilings"]
    peers = ", ".join(f"{name} {info['version']}" for name, info in documents[0]["peers"].items() if info["available"])
    missing = ", ".join(name for name, info in documents[0]["peers"].items() if not info["available"])
    rel = os.path.relpath(out_dir, readme_dir).replace(os.sep, "/")
    fma = ceilings.get("fma_gflops_per_core")
    lines = [README_BEGIN, "## Benchmarks", "",
             f"Measured {m['date'][:10]} on {m['cpu']} ({m['logical_cpus']} logical CPUs), gconv_cpu ISA path "
             f"`{m['gconv_isa']}`" + (f", measured FMA peak {fma:.0f} GFLOP/s per core" if fma else "")
             + f"; load average {' '.join(m['loadavg_start'] or ['?'])} at the start. Peers: {peers or 'none'}"
             + (f" (not installed: {missing})" if missing else "") + ". Batch 1, float32, the same input for every "
             "engine, every peer's output checked against ours before it is timed; medians of interleaved rounds. "
             "ratio = gconv / best peer (below 1: gconv is faster, **bold**). Every peer's own time, min/max, "
             f"GFLOP/s and %peak are in [{rel}/RESULTS.md]({rel}/RESULTS.md); raw samples in the JSON beside it.",
             "", "Reproduce (about 15 minutes on 2 cores; run it on an otherwise idle machine):", "", "```bash",
             "pip install -e \".[bench]\"   # the peers: torch, onnxruntime, openvino, ncnn, pnnx, ai-edge-litert",
             f"python -m bench {' '.join(argv)}", "```", ""]
    for document in documents:
        lines += [f"### {'Layers' if document['suite'] == 'layers' else 'Networks'}", ""]
        lines += _summary_table(document) + [""]
        for path in document["plots"]:
            name = os.path.basename(path)
            lines += [f"![{name}]({rel}/{name})", ""]
    lines.append(README_END)
    return "\n".join(lines)


def update_readme(readme_path, documents, out_dir, argv):
    """Replaces the text between the bench markers (appends the section when there are none)."""
    with open(readme_path) as f:
        text = f.read()
    section = readme_section(documents, out_dir, os.path.dirname(os.path.abspath(readme_path)) or ".", argv)
    if README_BEGIN in text and README_END in text:
        start = text.index(README_BEGIN)
        end = text.index(README_END, start) + len(README_END)
        text = text[:start] + section + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(readme_path, "w") as f:
        f.write(text)
