"""The main job for now: grouped and depthwise convolutions on our kernels,
checked against the NumPy reference and timed against it.

    python -m gconv_cpu.demo [--threads N] [--repeat R]
"""
import argparse
import time

import numpy as np

import gconv_cpu
from gconv_cpu.reference import conv2d_numpy

# name: (C_in, C_out, H=W, kernel, stride, pad, dilation, groups)
WORKLOADS = {
    "dw3x3_s1_c144_56": (144, 144, 56, 3, 1, 1, 1, 144),
    "dw3x3_s2_c96_112": (96, 96, 112, 3, 2, 1, 1, 96),
    "dw5x5_s1_c240_28": (240, 240, 28, 5, 1, 2, 1, 240),
    "dw3x3_d2_c256_28": (256, 256, 28, 3, 1, 2, 2, 256),
    "gdc7x7_c512_7": (512, 512, 7, 7, 1, 0, 1, 512),
    "g2_5x5_96to256_27": (96, 256, 27, 5, 1, 2, 1, 2),
    "g32_3x3_128_56": (128, 128, 56, 3, 1, 1, 1, 32),
    "g3_1x1_240_28": (240, 240, 28, 1, 1, 0, 1, 3),
    "pw1x1_960to320_7": (960, 320, 7, 1, 1, 0, 1, 1),
}


def median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None, help="kernel threads (default: OpenMP's)")
    ap.add_argument("--repeat", type=int, default=20, help="timed calls per workload")
    args = ap.parse_args(argv)
    if args.threads:
        gconv_cpu.set_num_threads(args.threads)
    info = gconv_cpu.cpu_info()
    print(f"gconv_cpu {gconv_cpu.__version__}: isa={info['isa']} (available: {', '.join(info['available'])}), "
          f"openmp={info['openmp']}, threads={info['num_threads']}")
    rng = np.random.default_rng(0)
    header = f"{'workload':<20} {'algorithm':<9} {'kernel':<26} {'max rel err':>11} {'gconv ms':>9} {'numpy ms':>9} {'GFLOP/s':>8}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for name, (cin, cout, hw, k, s, p, d, g) in WORKLOADS.items():
        x = rng.standard_normal((1, cin, hw, hw), dtype=np.float32)
        w = rng.standard_normal((cout, cin // g, k, k), dtype=np.float32) / np.sqrt(cin // g * k * k)
        b = rng.standard_normal(cout, dtype=np.float32)
        layer = gconv_cpu.nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, groups=g)
        layer.weight, layer.bias = w, b
        y = layer(x)
        ref = conv2d_numpy(x, w, b, s, p, d, g)
        err = float(np.abs(y - ref).max() / np.abs(ref).max())
        worst = max(worst, err)
        out = np.empty_like(y)
        layer(x, out=out)  # warm-up with the reused output buffer
        ours = median_ms(lambda: layer(x, out=out), args.repeat)
        theirs = median_ms(lambda: conv2d_numpy(x, w, b, s, p, d, g), max(3, args.repeat // 5))
        flops = 2.0 * y.size * (cin // g) * k * k
        plan = layer.plan_info
        print(f"{name:<20} {plan['algorithm']:<9} {plan['kernel']:<26} {err:>11.2e} {ours:>9.3f} {theirs:>9.2f} "
              f"{flops / ours / 1e6:>8.1f}")
    print(f"worst relative error vs the float64 NumPy reference: {worst:.2e}")
    if worst > 1e-4:
        raise SystemExit("FAILED: error above 1e-4")


if __name__ == "__main__":
    main()
