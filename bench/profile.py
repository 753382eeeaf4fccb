"""Where a whole network's time goes in gconv_cpu: each planned step's median time.

    python -m bench.profile [--nets mobilenet_v1,mobilenet_v2] [--threads 1] [--reps 30] [--top 0]

Loads the bench network (seeded random weights, as `python -m bench nets`), plans it, and prints one
row per executor step with its kernel, shapes, MACs, ms and share of the total, then the totals by
step kind and by conv kernel. The times come from CompiledProgram.profile (a clock read around each
step of the ordinary executor), so they add up to about one run's latency.
"""
import argparse
import collections

import numpy as np

import gconv_cpu
from gconv_cpu._program import program_for


def conv_macs(row, weight):
    n, c_out, oh, ow = row["y_shape"]
    return n * oh * ow * int(np.prod(weight.shape[:4])) if weight.ndim == 4 else n * oh * ow * weight.size


def profile_net(name, threads, reps):
    from . import torch_nets
    spec = torch_nets.NETS[name]
    state = torch_nets.build_net(name).state_dict()
    gconv_cpu.set_num_threads(threads)
    net = getattr(gconv_cpu.models, name)()
    net.load_state_dict({k: v.detach().numpy() for k, v in state.items()})
    x = np.random.default_rng(0).standard_normal(spec.input_shape, dtype=np.float32)
    net(x)
    prog = program_for(net, [x.shape])
    nodes = {node.name: node for node in prog.graph.nodes}
    return prog.profile([x], reps), nodes


def print_profile(name, threads, rows, nodes, top):
    total = sum(r["ms"] for r in rows)
    print(f"\n## {name}, {threads} thread(s): {total:.3f} ms over {len(rows)} steps\n")
    print("| step | node | kind | kernel | x_shape | y_shape | MMACs | ms | % | GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    shown = sorted(rows, key=lambda r: -r["ms"])[:top] if top else rows
    for r in shown:
        macs = ""
        gflops = ""
        node = nodes.get(r["node"])
        if r["kind"] == "conv" and node is not None:
            m = conv_macs(r, node.params["weight"])
            macs = f"{m / 1e6:.1f}"
            gflops = f"{2 * m / (r['ms'] * 1e6):.0f}" if r["ms"] > 0 else ""
        print(f"| {r['step']} | {r['node']} | {r['kind']} | {r['kernel']} | {r['x_shape']} | {r['y_shape']} | "
              f"{macs} | {r['ms']:.4f} | {100 * r['ms'] / total:.1f} | {gflops} |")
    by = collections.defaultdict(float)
    for r in rows:
        by[r["kernel"] or r["kind"]] += r["ms"]
    print("\n| kernel or step kind | ms | % |\n|---|---|---|")
    for k, v in sorted(by.items(), key=lambda kv: -kv[1]):
        print(f"| {k} | {v:.3f} | {100 * v / total:.1f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", default="mobilenet_v1,mobilenet_v2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--top", type=int, default=0, help="only the N slowest steps (default: every step)")
    args = ap.parse_args(argv)
    if args.reps < 1 or args.threads < 1:
        ap.error("--reps and --threads must be >= 1")
    for name in args.nets.split(","):
        rows, nodes = profile_net(name, args.threads, args.reps)
        print_profile(name, args.threads, rows, nodes, args.top)


if __name__ == "__main__":
    main()
