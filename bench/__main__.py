"""gconv_cpu's benchmark suite: single layers and whole networks against PyTorch, ONNX Runtime,
OpenVINO, ncnn and LiteRT, every peer's output checked against ours.

    python -m bench layers [--threads 1,2] [--shape 128,128,56,3,1,1,1,32 ...] [--groups-sweep]
    python -m bench nets   [--threads 1] [--nets mobilenet_v2,mobilefacenet]
    python -m bench all    [--threads 1,2] [--out bench/results] [--readme README.md]
    python -m bench denormals [--isa avx512] [--threads 1]   (subnormal vs normal data, every kernel)
    common: --quick (CI: seconds) --reps N --peers torch,ort,... --json FILE --plot DIR

`all` is the README's table: the 14 layer workloads and the 5 networks, each with its JSON and
plots under --out, both tables in --out/RESULTS.md, and with --readme the README's benchmark
section (between its bench markers) replaced by them.

The Markdown table goes to stdout, progress and warnings to stderr. Peers that are not
installed are reported as skipped; nothing here is a runtime dependency of gconv_cpu.
"""
import argparse
import os
import sys

from . import machine, report
from .peers import PEER_NAMES, PeerUnavailable, load_peer
from .suite import OURS, add_thread_speedups, gconv_layer, gconv_net, layer_weights, run_row
from .workloads import BY_NAME, QUICK_WORKLOADS, SHAPE_FORMAT, WORKLOADS, groups_sweep, parse_shape


def _csv(text):
    return [v.strip() for v in text.split(",") if v.strip()]


def _threads(text):
    try:
        counts = [int(v) for v in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected thread counts like 1,2, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {text!r}")
    return sorted(set(counts))


def _peers(text):
    names = _csv(text)
    unknown = [n for n in names if n not in PEER_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEER_NAMES)}")
    return names


def parse_args(argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=_threads, help="thread counts, e.g. 1,2 (default 1,2; nets: 1)")
    common.add_argument("--peers", type=_peers, default=list(PEER_NAMES),
                        help=f"peers to compare with (default all: {','.join(PEER_NAMES)})")
    common.add_argument("--reps", type=int, help="interleaved timing rounds per row (default 21 layers, 11 nets)")
    common.add_argument("--quick", action="store_true",
                        help="CI mode: a couple of small targets, few rounds, short samples (seconds)")
    common.add_argument("--json", metavar="FILE", help="write every raw sample and the machine info here")
    common.add_argument("--plot", metavar="DIR", help="write PNG plots into this directory")
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="suite", required=True)
    layers = sub.add_parser("layers", parents=[common], help="single conv layers (the workload table)")
    layers.add_argument("--workloads", type=_csv,
                        help="names from bench/workloads.py, or 'all' (default: all, unless --shape/--groups-sweep)")
    layers.add_argument("--shape", action="append", default=[], metavar=SHAPE_FORMAT,
                        help="a user layer (repeatable); e.g. 128,128,56,3,1,1,1,32")
    layers.add_argument("--groups-sweep", action="store_true",
                        help="256->256 3x3 28x28 at groups 1, 2, 4, ..., 256: the cost of grouping")
    nets = sub.add_parser("nets", parents=[common], help="whole networks (bench/torch_nets.py)")
    nets.add_argument("--nets", type=_csv, help="network names (default: all)")
    every = sub.add_parser("all", parents=[common], help="layers and nets into one results folder (the README table)")
    every.add_argument("--out", default=os.path.join("bench", "results"),
                       help="folder for layers.json, nets.json, the plots and RESULTS.md (default bench/results)")
    every.add_argument("--readme", metavar="FILE",
                       help="also replace the section between the bench markers of this Markdown file")
    every.set_defaults(workloads=None, shape=[], groups_sweep=False, nets=None)
    denormals = sub.add_parser("denormals", parents=[common], help="subnormal vs normal data, every kernel path "
                               "(bench/denormals.py; --peers and --plot do not apply)")
    denormals.add_argument("--isa", type=_csv, help="ISA paths (default: every one this CPU runs)")
    args = ap.parse_args(argv)
    if args.suite == "all" and (args.json or args.plot):
        ap.error("all writes its JSON and plots under --out; --json/--plot are for layers and nets")
    if args.reps is not None and args.reps < 1:
        ap.error("--reps must be >= 1")
    return args


def layer_targets(args):
    chosen = []
    if args.workloads:
        names = [w.name for w in WORKLOADS] if args.workloads == ["all"] else args.workloads
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            raise SystemExit(f"unknown workload(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
        chosen += [BY_NAME[n] for n in names]
    try:
        chosen += [parse_shape(s) for s in args.shape]
    except ValueError as e:
        raise SystemExit(str(e)) from None
    if args.groups_sweep:
        chosen += groups_sweep()[:3] if args.quick else groups_sweep()
    if not chosen:
        chosen = [BY_NAME[n] for n in QUICK_WORKLOADS] if args.quick else list(WORKLOADS)
    return chosen


def layer_jobs(args, threads):
    """(target, weights, our builder, threads, extra row fields) for every layer row."""
    jobs = []
    for wl in layer_targets(args):
        weights, source, problems = layer_weights(wl)
        extra = {"weights": source, "tflite_problems": problems}
        jobs += [(wl, weights, gconv_layer, t, extra) for t in threads]
    return jobs


def net_jobs(args, threads, cfg):
    try:
        from . import torch_nets
    except ImportError as e:
        raise SystemExit(f"bench nets needs torch: the networks are defined as PyTorch modules ({e}); "
                         "pip install torch") from None
    names = args.nets or (list(torch_nets.QUICK_NETS) if args.quick else list(torch_nets.NETS))
    unknown = [n for n in names if n not in torch_nets.NETS]
    if unknown:
        raise SystemExit(f"unknown net(s): {', '.join(unknown)}; known: {', '.join(torch_nets.NETS)}")
    print(f"building {', '.join(names)} (torch, seeded random weights, calibrated BatchNorm) ...", file=sys.stderr)
    cfg["net_macs"], jobs = {}, []
    for name in names:
        spec = torch_nets.NETS[name]
        net = torch_nets.build_net(name)
        cfg["net_macs"][name] = torch_nets.macs(net, spec.input_shape)
        extra = {"weights": "bench.torch_nets.build_net(seed=0)"}
        jobs += [(spec, net.state_dict(), gconv_net, t, extra) for t in threads]
    return jobs


def load_peers(names):
    """{name: peer, or the PeerUnavailable saying why not} and the info the report prints."""
    peers, info = {}, {}
    for name in names:
        try:
            peer = load_peer(name)
            peers[name] = peer
            info[name] = {"available": True, "version": peer.version, "note": peer.note}
        except PeerUnavailable as e:
            peers[name] = e
            info[name] = {"available": False, "reason": str(e)}
    return peers, info


def progress_bar(total, desc):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    # stderr, and off when it is not a terminal, so stdout stays a clean table and CI logs clean
    return tqdm(total=total, desc=desc, file=sys.stderr, unit="row", disable=None, dynamic_ncols=True)


def run_suite(args, suite, argv):
    """Runs one suite ('layers' or 'nets'); returns (Markdown table, JSON document)."""
    quick = args.quick
    # layers default to 1 and 2 threads (1->2 scaling, also in --quick: it is cheap); networks to 1
    threads = args.threads or ([1, 2] if suite == "layers" and (os.cpu_count() or 1) > 1 else [1])
    cfg = {"threads": threads, "rounds": args.reps or (3 if quick else 21 if suite == "layers" else 11),
           "min_sample_s": (0.5e-3 if quick else 2e-3) if suite == "layers" else 0.0,
           "warmup_s": 0.01 if quick else (0.05 if suite == "layers" else 0.2),
           # multi-thread handover (see timing.time_interleaved): outwait spinning pools, then re-wake ours
           "switch_gap_s": 0.01 if quick else 0.03, "rewarm_s": 0.002 if quick else 0.005}
    peers, peer_info = load_peers(args.peers)
    for name, info in peer_info.items():
        if not info["available"]:
            print(f"skipping peer {name}: {info['reason']}", file=sys.stderr)

    jobs = layer_jobs(args, threads) if suite == "layers" else net_jobs(args, threads, cfg)
    machine_info = machine.machine_info()
    print("measuring the machine's FMA peak and triad bandwidth ...", file=sys.stderr)
    cfg["ceilings"] = ceilings = machine.measure_ceilings(threads, quick)

    rows = []
    bar = progress_bar(len(jobs), f"bench {suite}")
    for target, weights, build_ours, t, extra in jobs:
        row = run_row(target, weights, build_ours, peers, t, cfg, bar)
        row.update(extra)
        rows.append(row)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    add_thread_speedups(rows)
    machine_info["loadavg_end"] = machine.loadavg()

    peer_names = list(args.peers)
    table = report.markdown("layers" if suite == "layers" else "networks", rows, peer_names, machine_info,
                            ceilings, cfg, peer_info)
    method = {k: v for k, v in cfg.items() if k in ("rounds", "min_sample_s", "warmup_s")}
    document = {"suite": suite, "argv": argv, "threads": threads, "machine": machine_info, "ceilings": ceilings,
                "method": method, "ours": OURS, "peers": peer_info, "rows": rows, "plots": []}
    return table, document


def write_outputs(document, plot_dir, json_path):
    """Plots (when matplotlib is there) and JSON; returns the plot paths."""
    if plot_dir:
        from . import plots as plotting
        try:
            document["plots"] = plotting.write_plots(plot_dir, document["suite"], document["rows"],
                                                     list(document["peers"]), document["ceilings"])
        except ImportError as e:
            print(f"no plots: matplotlib is not installed ({e})", file=sys.stderr)
    if json_path:
        report.write_json(json_path, document)
    return document["plots"]


def main(argv=None):
    args = parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    if args.suite == "denormals":
        from . import denormals
        return denormals.main(args)
    if args.suite != "all":
        table, document = run_suite(args, args.suite, argv)
        print(table)
        write_outputs(document, args.plot, args.json)
        return 0
    os.makedirs(args.out, exist_ok=True)
    tables, documents = [], []
    for suite in ("layers", "nets"):
        if suite == "nets":
            args.threads = args.threads or [1, 2]  # the README quotes networks at both thread counts too
        table, document = run_suite(args, suite, argv)
        print(table + "\n")
        write_outputs(document, args.out, os.path.join(args.out, f"{suite}.json"))
        tables.append(table)
        documents.append(document)
    results = os.path.join(args.out, "RESULTS.md")
    with open(results, "w") as f:
        f.write(f"<!-- written by: python -m bench {' '.join(argv)} -->\n\n" + "\n\n".join(tables) + "\n")
    print(f"wrote {results} and the JSON and plots beside it", file=sys.stderr)
    if args.readme:
        report.update_readme(args.readme, documents, args.out, argv)
        print(f"updated the benchmark section of {args.readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
