"""Per-layer parameters and multiply-accumulates of a model, from its traced graph.

Definitions (as the MobileNet/ShuffleNet papers and torch count them):
- Convolution: params = C_out * (C_in/groups) * kH * kW (+ C_out bias); MACs = that weight count * H_out *
  W_out per image. Bias additions are not counted in MACs (nor are BN, activations, pooling, residual adds,
  concat, shuffle: those layers show 0 MACs). Transposed convolution: MACs = its weight count * H_in * W_in.
- Linear: params = in * out (+ out); MACs = in * out per row.
- BatchNorm: params = weight + bias (2C, torch's parameter count; the running statistics are buffers and are
  not counted), although a planned model folds BN into the convolution before it. PReLU: its slopes.
- MACs are for the whole input shape given, so N > 1 multiplies them; the papers quote N = 1.
- The first convolution and the classifier are counted (the MobileNet papers count both; ShuffleNetV1's
  Table 1 leaves the FC layer out, see below).

Published totals vs this count (224x224 unless noted; tests/test_summary.py asserts them):
    MobileNetV1 1.0     paper 4.2M params / 569M mult-adds; here 4,231,976 / 568.7M (4,210,088 without BN:
                        4.2M either way)
    MobileNetV2 1.0     paper 3.4M / 300M; torchvision 3.5M (3,504,872); here 3,504,872 / 300.8M. The paper's
                        3.4M is the count without BN (3,470,760) truncated.
    ShuffleNetV1 1x     paper Table 1 complexity g=1,2,3,4,8: 143, 140, 137, 133, 137 MFLOPs (their FLOPs are
                        mult-adds); here 143.1, 140.8, 137.5, 134.3, 138.4M, which is those values plus the FC
                        layer (0.6-1.5M): without it, 142.5, 140.0, 136.5, 133.2, 136.8M round to the table.
                        Params g=3: Megvii's release 1.9M / 138M; here 1,864,728.
    ShuffleNetV2 1.0    paper 146M FLOPs (= MACs) / 2.3M; torchvision 2.3M / 0.14 GFLOPS; here 2,278,604 /
                        144.9M. The difference is architectural, not a counting rule: the paper's (Megvii's)
                        first unit of stage 2 concatenates 24 (shortcut branch) + 92 channels, torchvision's
                        58 + 58; that unit costs 0.9M MACs more in Megvii's form (145.8M in all).
    MobileFaceNet       paper 0.99M / 221M at 112x112; here 1,003,136 / 221.0M (convolutions alone 976,000,
                        + BN 995,584, + PReLU 1,003,136: the paper's 0.99M matches conv + BN, truncated).
"""
from .graph import Graph
from .nn.module import Module

_BUFFERS = frozenset(("running_mean", "running_var", "num_batches_tracked"))


def _module_params(module):
    """torch's parameter count of one module's own state (buffers excluded)."""
    total = 0
    for name in module._state:
        if name in _BUFFERS:
            continue
        value = getattr(module, name)
        if value is not None:
            total += int(value.size)
    return total


def _node_params(node):
    """Parameters of a node that no module owns (a graph imported from a file)."""
    if node.op in ("conv", "deconv", "linear", "unary", "affine"):
        return sum(int(v.size) for v in node.params.values() if v is not None)
    return 0


def _node_macs(graph, node):
    out = graph.shapes[node.outputs[0]]
    if node.op == "conv":
        return int(node.params["weight"].size) * out[0] * out[2] * out[3]
    if node.op == "deconv":
        x = graph.shapes[node.inputs[0]]
        return int(node.params["weight"].size) * x[0] * x[2] * x[3]
    if node.op == "linear":
        return int(node.params["weight"].size) * out[0]
    return 0


def _detail(node):
    """A short description: kernel, stride, groups for convolutions, the kind for the others."""
    a = node.attrs
    if node.op in ("conv", "deconv"):
        c_in, c_out, groups, kh, kw, sh, sw = a["spec"][:7]
        text = f"{kh}x{kw}" + (f" s{sh}" if sh == sw else f" s{sh}x{sw}")
        if groups > 1:
            text += " dw" if groups == c_in else f" g{groups}"
        if a.get("activation"):
            text += f" +{a['activation']}"
        return text
    if node.op == "pool":
        return f"{a['kind']} {a['kernel'][0]}x{a['kernel'][1]} s{a['stride'][0]}"
    if node.op in ("unary", "binary"):
        return a["kind"]
    if node.op == "shuffle":
        return f"groups={a['groups']}"
    return ""


def summary(model, input_shape, print_table=True, file=None):
    """Traces `model` (a gconv_cpu.nn.Module, or a Graph) for `input_shape` (e.g. (1, 3, 224, 224)) and
    returns {"layers": [...], "totals": {...}}: one dict per graph node (module path `name`, `type` (the
    module's class, or the graph op for functional ops), `op`, `detail`, `output_shape`, `params`, `macs`)
    and the totals (`params`, `macs`, `untraced_params`: parameters of modules the forward never used).
    Prints a table unless print_table=False (to `file`, default stdout). Counting rules: module docstring.
    """
    if isinstance(model, Graph):
        graph, modules = model, {}
        graph.reinfer([tuple(input_shape)])
    elif isinstance(model, Module):
        graph = model.trace(tuple(input_shape))
        modules = dict(model.named_modules())
    else:
        raise TypeError(f"model must be a gconv_cpu.nn.Module or a Graph, got {type(model).__name__}")
    rows, counted = [], set()
    for node in graph.nodes:
        if node.op == "constant":
            continue
        module = modules.get(node.name) if node.name else None
        if module is not None and module.is_leaf:
            params = 0 if node.name in counted else _module_params(module)
            counted.add(node.name)
            kind = type(module).__name__
        else:
            params = _node_params(node)
            kind = node.op
        rows.append({"name": node.name or "<root>", "type": kind, "op": node.op, "detail": _detail(node),
                     "output_shape": tuple(graph.shapes[node.outputs[0]]), "params": params,
                     "macs": _node_macs(graph, node)})
    untraced = sum(_module_params(m) for name, m in modules.items() if m.is_leaf and name not in counted)
    totals = {"params": sum(r["params"] for r in rows), "macs": sum(r["macs"] for r in rows),
              "untraced_params": untraced, "input_shape": tuple(input_shape),
              "output_shape": tuple(graph.shapes[graph.outputs[0]]) if graph.outputs else None}
    result = {"layers": rows, "totals": totals}
    if print_table:
        print(format_table(result, type(model).__name__), file=file)
    return result


def _human(n):
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def format_table(result, title=""):
    """The table summary() prints."""
    rows = result["layers"]
    header = ("Layer", "Type", "Detail", "Output shape", "Params", "MACs")
    body = [(r["name"], r["type"], r["detail"], str(r["output_shape"]), f"{r['params']:,}", f"{r['macs']:,}")
            for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    right = (False, False, False, False, True, True)

    def line(cells):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    rule = "-" * len(line(header))
    t = result["totals"]
    out = [f"{title} summary, input {t['input_shape']} -> output {t['output_shape']}"] if title else []
    out += [rule, line(header), rule] + [line(b) for b in body] + [rule]
    out.append(f"Total params: {t['params']:,} ({_human(t['params'])})"
               + (f"  (+{t['untraced_params']:,} in modules the forward does not use)" if t["untraced_params"] else ""))
    out.append(f"Total MACs:   {t['macs']:,} ({_human(t['macs'])})")
    out.append("MACs: convolutions and Linear only, bias adds excluded; params: torch's count (BatchNorm weight+bias, "
               "running statistics excluded).")
    return "\n".join(out)
