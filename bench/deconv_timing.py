"""Timing comparison (not a test): gconv_cpu's transposed convolution against torch.

    python -m bench.deconv_timing [--threads 1 2] [--rounds 15] [--isa ...]

Workloads: Caffe/FCN bilinear upsampling (depthwise ConvTranspose2d, kernel 2f - f%2,
stride f, padding ceil((f-1)/2)) on C=64/21 at 56x56 and 28x28 for f = 2, 4, 8, plus
grouped (g=2) and dense cases. Per round every implementation runs once, in turn
(interleaved), after a warm-up; medians are reported. Outputs are checked first.
"""
import argparse
import math
import time

import numpy as np

import gconv_cpu
from gconv_cpu._deconv import DeconvOp, deconv_spec


def workloads():
    out = []
    for c in (64, 21):
        for hw in (56, 28):
            for f in (2, 4, 8):
                k, s, p = 2 * f - f % 2, f, math.ceil((f - 1) / 2)
                out.append((f"bilinear x{f} C={c} {hw}x{hw}", 1, c, c, c, k, s, p, 0, hw))
    out.append(("g=2 64->64 k4 s2 p1 28x28", 1, 64, 64, 2, 4, 2, 1, 0, 28))
    out.append(("g=2 128->64 k3 s2 p1 op1 28x28", 1, 128, 64, 2, 3, 2, 1, 1, 28))
    out.append(("g=1 64->32 k4 s2 p1 56x56", 1, 64, 32, 1, 4, 2, 1, 0, 56))
    out.append(("g=4 32->32 (8/group) k4 s2 p1 56x56", 1, 32, 32, 4, 4, 2, 1, 0, 56))
    return out


def median_ms(samples):
    return 1e3 * float(np.median(samples))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--algorithms", nargs="+", default=["auto"])
    ap.add_argument("--isa", nargs="+", default=[gconv_cpu.get_isa()])
    ap.add_argument("--filter", default="")
    args = ap.parse_args(argv)
    import torch

    rng = np.random.default_rng(0)
    cols = [(isa, a) for isa in args.isa for a in args.algorithms]
    head = "| workload | threads | torch ms | " + " | ".join(f"{a}/{i} ms" for i, a in cols) + " | speedup |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, n, cin, cout, g, k, s, p, op, hw in workloads():
        if args.filter not in name:
            continue
        x = rng.standard_normal((n, cin, hw, hw)).astype(np.float32)
        w = rng.standard_normal((cin, cout // g, k, k)).astype(np.float32)
        spec = deconv_spec(cin, cout, k, s, p, op, 1, g)
        ops = []
        for isa, a in cols:
            ops.append(DeconvOp(spec, w, None, a, isa=isa))
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        for th in args.threads:
            torch.set_num_threads(th)
            gconv_cpu.set_num_threads(th)
            with torch.no_grad():
                ref = torch.nn.functional.conv_transpose2d(tx, tw, None, s, p, op, g).numpy()
            outs = [np.empty_like(ref) for _ in ops]
            for o, y in zip(ops, outs):
                o(x, y)
                assert np.allclose(y, ref, atol=1e-3, rtol=1e-3), (name, o.algorithm)
            times = [[] for _ in range(len(ops) + 1)]
            for _ in range(3):
                with torch.no_grad():
                    torch.nn.functional.conv_transpose2d(tx, tw, None, s, p, op, g)
                for o, y in zip(ops, outs):
                    o(x, y)
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                with torch.no_grad():
                    torch.nn.functional.conv_transpose2d(tx, tw, None, s, p, op, g)
                times[0].append(time.perf_counter() - t0)
                for i, (o, y) in enumerate(zip(ops, outs)):
                    t0 = time.perf_counter()
                    o(x, y)
                    times[i + 1].append(time.perf_counter() - t0)
            med = [median_ms(t) for t in times]
            best = min(med[1:])
            print(f"| {name} | {th} | {med[0]:.3f} | " + " | ".join(f"{m:.3f}" for m in med[1:]) +
                  f" | {med[0] / best:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
