"""PNG plots (matplotlib, Agg): latency relative to the best peer, the roofline, thread scaling."""
import os

from .suite import OURS

PEER_STYLE = {"torch": ("o", "#7f7f7f"), "torch_cl": ("s", "#bcbd22"), "ort": ("^", "#1f77b4"),
              "openvino": ("v", "#9467bd"), "ncnn": ("D", "#8c564b"), "litert": ("P", "#e377c2")}
OURS_COLOR = "#d62728"
LABEL_BOX = dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.85)  # text stays readable over lines


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _plain_log_ticks(axis):
    """Log-scale tick labels as plain numbers at 1, 2, 5 x 10^k (not 2x10^0, not every minor tick)."""
    import math

    from matplotlib.ticker import FuncFormatter

    def label(v, _):
        if v <= 0:
            return ""
        mantissa = round(v / 10 ** math.floor(math.log10(v) + 1e-9), 3)
        return f"{v:g}" if mantissa in (1, 2, 5) else ""
    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(FuncFormatter(label))


def _by_threads(rows):
    out = {}
    for row in rows:
        out.setdefault(row["threads"], []).append(row)
    return dict(sorted(out.items()))


def relative_latency(rows, peer_names, path, title):
    """Each engine's median over the best peer's, per workload: gconv as bars, peers as markers."""
    plt = _plt()
    groups = _by_threads(rows)
    width = max(7.0, 0.6 * len(rows) / len(groups) + 4)
    fig, axes = plt.subplots(len(groups), 1, figsize=(width, 4.2 * len(groups)), squeeze=False)
    for ax, (threads, trows) in zip(axes[:, 0], groups.items()):
        xs = range(len(trows))
        ratios = [r["ratio"] for r in trows]
        colors = ["#2ca02c" if q is not None and q <= 1.0 else OURS_COLOR for q in ratios]
        ax.bar(xs, [q or 0 for q in ratios], color=colors, width=0.55, label="gconv (green: <= 1)", zorder=2)
        for x, r, q in zip(xs, trows, ratios):
            if q is not None:
                ax.annotate(f"{q:.2f}", (x, q), ha="center", va="bottom", fontsize=7, xytext=(0, 1),
                            textcoords="offset points", bbox=LABEL_BOX, zorder=4)
        if all(q is None for q in ratios):
            reasons = {r["results"].get(OURS, {}).get("reason", "did not run") for r in trows}
            ax.text(0.5, 0.97, f"gconv: n/a ({'; '.join(sorted(reasons))})", transform=ax.transAxes, ha="center",
                    va="top", fontsize=9, color=OURS_COLOR)
        for name in peer_names:
            marker, color = PEER_STYLE.get(name, ("x", "k"))
            for status, style in (("ok", dict(color=color)), ("unchecked", dict(facecolors="none", edgecolors=color))):
                pts = [(x, r["results"][name]["median_ms"] / r["best_peer_ms"]) for x, r in zip(xs, trows)
                       if r["best_peer_ms"] and r["results"].get(name, {}).get("status") == status
                       and "median_ms" in r["results"][name]]
                if pts:
                    label = name if status == "ok" else f"{name} (unchecked)"
                    ax.scatter(*zip(*pts), marker=marker, s=26, label=label, zorder=3, alpha=0.9, **style)
        ax.axhline(1.0, color="k", lw=1, zorder=1)
        ax.axhline(0.9, color="k", lw=1, ls="--", zorder=1, label="0.9 (10% faster)")
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
        ax.set_ylabel("median / best peer's median\n(lower is faster)")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r["name"] for r in trows], rotation=35, ha="right", fontsize=8)
        ax.set_title(f"{title}: latency relative to the best peer, {threads} thread{'s' * (threads > 1)}")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.set_xlim(-0.6, len(trows) - 0.4)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _place_labels(ax, points, fontsize=6.5):
    """Names next to points, nudged down (in log space) where they would overprint each other."""
    import math
    placed = []
    for x, y, text in sorted(points, key=lambda p: (p[0], -p[1])):
        lx, ly = math.log10(x), math.log10(y)
        while any(abs(lx - px) < 0.45 and abs(ly - py) < 0.06 for px, py in placed):
            ly -= 0.065
        placed.append((lx, ly))
        moved = abs(ly - math.log10(y)) > 1e-9  # nudged: a leader line says whose name it is
        ax.annotate(text, (x, y), xytext=(x * 1.08, 10 ** ly), fontsize=fontsize, va="center",
                    arrowprops=dict(arrowstyle="-", lw=0.4, color="#888888", shrinkA=0, shrinkB=2) if moved else None)


def roofline(rows, ceilings, path):
    """GFLOP/s against arithmetic intensity (FLOPs per compulsory byte), with the measured FMA peak
    and triad bandwidth as the roof; gconv filled, best peer hollow, joined per workload."""
    plt = _plt()
    groups = _by_threads([r for r in rows if r["kind"] == "layer"])
    fig, axes = plt.subplots(1, len(groups), figsize=(7.5 * len(groups), 6), squeeze=False)
    for ax, (threads, trows) in zip(axes[0], groups.items()):
        peak = ceilings["fma_gflops_per_core"] * threads
        bw = ceilings["triad_gbps"].get(threads)
        ais = [r["arithmetic_intensity"] for r in trows]
        lo, hi = min(ais) / 2, max(ais) * 5  # room on the right for the names
        ax.axhline(peak, color="k", lw=1.2)
        ax.text(hi, peak * 1.06, f"FMA peak {peak:.0f} GFLOP/s ({threads}x{ceilings['fma_gflops_per_core']:.0f})",
                ha="right", fontsize=8)
        if bw:
            ridge = peak / bw
            ax.plot([lo, min(hi, ridge)], [lo * bw, min(hi, ridge) * bw], color="k", lw=1.2)
            x_text = (lo * min(hi, ridge)) ** 0.5  # mid-slope (log scale); boxed so tick labels and points stay legible
            ax.text(x_text, x_text * bw * 1.15, f"triad {bw:.1f} GB/s", fontsize=8, ha="right", va="bottom",
                    bbox=LABEL_BOX, zorder=4)
        labels = []
        for r in trows:
            ai = r["arithmetic_intensity"]
            best = r["best_peer"]
            pts = []
            if r["gflops"]:
                pts.append((r["gflops"], dict(marker="o", color=OURS_COLOR, s=30, zorder=3)))
            if best:
                g = r["flops"] / r["best_peer_ms"] * 1e-6
                marker, color = PEER_STYLE.get(best, ("x", "k"))
                pts.append((g, dict(marker=marker, facecolors="none", edgecolors=color, s=40, zorder=3)))
            if len(pts) == 2:
                ax.plot([ai, ai], [pts[0][0], pts[1][0]], color="#999999", lw=0.8, zorder=2)
            for g, style in pts:
                ax.scatter([ai], [g], **style)
            if pts:
                labels.append((ai, pts[0][0], r["name"]))
        _place_labels(ax, labels)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_ticks(ax.xaxis)
        _plain_log_ticks(ax.yaxis)
        ax.set_xlim(lo, hi)
        ax.set_xlabel("arithmetic intensity (FLOP / byte of input + weights + output)")
        ax.set_ylabel("GFLOP/s")
        ax.set_title(f"roofline, {threads} thread{'s' * (threads > 1)}")
        ax.grid(which="both", alpha=0.25)
        handles = [ax.scatter([], [], marker="o", color=OURS_COLOR, label="gconv")]
        for name in sorted({r["best_peer"] for r in trows if r["best_peer"]}):
            marker, color = PEER_STYLE.get(name, ("x", "k"))
            handles.append(ax.scatter([], [], marker=marker, facecolors="none", edgecolors=color,
                                      label=f"best peer: {name}"))
        ax.legend(handles=handles, fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def thread_scaling(rows, peer_names, path, title):
    """Speed-up from 1 thread to the largest thread count, per workload and engine."""
    plt = _plt()
    groups = _by_threads(rows)
    top = max(groups)
    trows = groups[top]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.6 * len(trows) + 4), 4.5))
    xs = range(len(trows))
    engines = [OURS] + list(peer_names)
    width = 0.8 / len(engines)
    for i, name in enumerate(engines):
        marker, color = (("o", OURS_COLOR) if name == OURS else PEER_STYLE.get(name, ("x", "k")))
        pts = [(x + (i - (len(engines) - 1) / 2) * width, r["results"].get(name, {}).get("speedup_vs_1_thread"))
               for x, r in zip(xs, trows)]
        pts = [p for p in pts if p[1]]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, color=color, s=40 if name == OURS else 22, label=name, zorder=3)
    ax.axhline(1.0, color="k", lw=1)
    ax.axhline(top, color="k", lw=1, ls="--", label=f"ideal ({top}x)")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r["name"] for r in trows], rotation=35, ha="right", fontsize=8)
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    ax.set_ylabel(f"speed-up: median(1 thread) / median({top} threads)")
    ax.set_title(f"{title}: thread scaling 1 -> {top} (above 1: faster with more threads)")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_plots(directory, suite, rows, peer_names, ceilings):
    """The plots that apply to these rows; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    paths = [relative_latency(rows, peer_names, os.path.join(directory, f"{suite}_relative.png"), suite)]
    if any(r["kind"] == "layer" for r in rows) and ceilings["fma_gflops_per_core"]:
        paths.append(roofline(rows, ceilings, os.path.join(directory, f"{suite}_roofline.png")))
    if len(_by_threads(rows)) > 1 and 1 in _by_threads(rows):
        paths.append(thread_scaling(rows, peer_names, os.path.join(directory, f"{suite}_threads.png"), suite))
    return paths
