"""The planner: turns a graph into one compiled program for one input shape.

1. Fusion (on a copy of the graph):
   - inference BatchNorm (affine) folds into the conv or linear before it;
   - ReLU/ReLU6/clip/PReLU/HardSwish become the conv's fused activation;
   - a residual add whose one side is a conv's only use becomes that conv's residual input, added
     before the conv's activation, so conv + BN + add + ReLU is a single kernel call;
   - a ReLU/ReLU6 after an add that stayed separate becomes that add's activation.
2. Storage: Reshape and batch-1 channel slices are views; unary and binary ops run in place when
   their input dies there. Every other tensor gets a place in one arena, assigned greedily by size
   among tensors whose lifetimes overlap, so the arena is a fraction of the sum of activations.
3. Lowering: each node becomes a C step (gconv_graph.h); convs get their packed plans.

Running the program is then one C call with the GIL released; the arena and the conv workspace are
taken from a small pool per call, so concurrent calls on one model never share them.
"""
import threading

import numpy as np

from . import _ext, _isa, _threads
from ._plan import NO_CLAMP, activation_index, aligned_scratch, algorithm_index
from ._validate import float_array
from .graph import BINARY_KINDS, UNARY_KINDS, GraphError, Node, _as4

from ._ext import COORD_MODES, NEAREST_MODES, RESIZE_MODES

ALIGN = 16  # floats: every tensor starts on a 64-byte boundary
_CONV_ACTIVATIONS = {"relu": "relu", "relu6": "relu6", "prelu": "prelu", "hardswish": "hardswish"}
# element-wise ops with a transcendental per float: MAC-equivalents per float (as unary_cost in C)
_COSTLY_UNARY = {UNARY_KINDS.index(k): cost for k, cost in
                 (("sigmoid", 4), ("silu", 4), ("tanh", 16), ("elu", 16)) if k in UNARY_KINDS}


# ---- fusion -------------------------------------------------------------------------------------------

def _per_channel(values, c):
    return np.ascontiguousarray(np.broadcast_to(np.asarray(values, np.float32).reshape(-1), (c,)))


def _as_conv(node):
    """A linear node as the equivalent 1x1 conv node (the GEMM kernels run both)."""
    w = node.params["weight"]
    spec = (w.shape[1], w.shape[0], 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    return Node("conv", node.inputs, node.outputs, {"spec": spec, "activation": None, "linear": True},
                {"weight": w.reshape(w.shape[0], w.shape[1], 1, 1), "bias": node.params.get("bias"),
                 "prelu_weight": None}, node.name)


def _fusable_conv(node):
    return node.op == "conv" and node.attrs.get("activation") is None and "clamp" not in node.attrs


def fuse(graph):
    """Returns a fused copy of graph (see the module docstring); the input graph is not modified.

    One pass in node order: a node keeps absorbing its output's single user while a rule applies, then
    the pass moves on. That decides exactly as restarting from the first node after every fusion would,
    since no fusion lets a node already passed fuse: a fusion removes only the absorbed node, whose one
    input was the absorbing node's output, and what it changes in the passed nodes' single users (a
    conv's attributes, or an add turned into a conv, or an add's activation set) only ever stops a rule.
    The use map is built once and kept up to date, so the pass is linear in the nodes."""
    g = graph.copy()
    nodes = [_as_conv(n) if n.op == "linear" else n for n in g.nodes]
    g.nodes = nodes
    users = g.consumers()  # kept up to date below; node indices stay valid as removed nodes become None
    i = 0
    while i < len(nodes):
        if nodes[i] is None or not _absorb_next(g, users, i):
            i += 1
    g.nodes = [n for n in nodes if n is not None]
    return g


def _absorb_next(g, users, i):
    """Fuses node i with its output's single user where a rule applies. True when node i absorbed it
    and stays at i (it may absorb again); False when nothing was fused, or when node i moved forward
    to where its residual add was (the pass meets it there again)."""
    nodes = g.nodes
    node = nodes[i]
    out = node.outputs[0] if node.outputs else None
    use = users.get(out, [])
    if len(use) != 1 or use[0][0] < 0:
        return False
    j, pos = use[0]
    nxt = nodes[j]
    if node.op == "conv" and _fusable_conv(node) and len(node.inputs) == 1 and nxt.op == "affine":
        c = node.attrs["spec"][1]
        scale, shift = _per_channel(nxt.params["scale"], c), _per_channel(nxt.params["shift"], c)
        w = node.params["weight"]
        b = node.params.get("bias")
        node.params["weight"] = (w.astype(np.float64) * scale[:, None, None, None]).astype(np.float32)
        bias = (np.zeros(c) if b is None else b.astype(np.float64)) * scale + shift
        node.params["bias"] = bias.astype(np.float32)
    elif node.op == "conv" and _fusable_conv(node) and nxt.op == "unary" and \
            nxt.attrs["kind"] in ("relu", "relu6", "prelu", "hardswish", "clip"):
        kind = nxt.attrs["kind"]
        if kind == "clip":
            node.attrs["clamp"] = (nxt.attrs["alpha"], nxt.attrs["beta"])
        else:
            node.attrs["activation"] = _CONV_ACTIVATIONS[kind]
            if kind == "prelu":
                node.params["prelu_weight"] = _per_channel(nxt.params["slope"], node.attrs["spec"][1])
    elif node.op == "conv" and _fusable_conv(node) and len(node.inputs) == 1 and nxt.op == "binary" \
            and nxt.attrs["kind"] == "add" and nxt.attrs.get("activation") is None:
        other = nxt.inputs[1 - pos]
        if other == out or g.shapes[other] != g.shapes[out]:
            return False
        # the conv now runs where the add was, when its residual exists
        moved = {(i, 0): (j, 0), (j, 1 - pos): (j, 1)}  # other may be the conv's own input: one pass
        for v in {node.inputs[0], other}:
            users[v] = [moved.get(user, user) for user in users[v]]
        del users[out]
        node.inputs = node.inputs + [other]
        node.attrs["residual"] = True
        node.outputs = nxt.outputs
        nodes[j], nodes[i] = node, None
        return False
    elif node.op == "binary" and node.attrs.get("activation") is None and nxt.op == "unary" and \
            nxt.attrs["kind"] in ("relu", "relu6"):
        node.attrs["activation"] = nxt.attrs["kind"]
    else:
        return False
    del users[out]  # nxt's one input; the values it made keep their users, now fed by node
    node.outputs = nxt.outputs
    nodes[j] = None
    return True


# ---- storage --------------------------------------------------------------------------------------------

class _Group:
    """Tensors that share memory (a tensor, its views, and ops that ran in place on it)."""
    __slots__ = ("kind", "index", "size", "first", "last", "offset", "members")

    def __init__(self, kind, index, size, first):
        self.kind, self.index, self.size, self.first, self.last = kind, index, size, first, first
        self.offset, self.members = 0, []


def _numel(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _round_up(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _place(groups):
    """Greedy by size: each arena tensor goes to the lowest offset free during its lifetime."""
    placed = []
    total = 0
    for grp in sorted(groups, key=lambda g: (-g.size, g.first)):
        offset = 0
        clashes = sorted((p.offset, p.offset + _round_up(p.size)) for p in placed
                         if not (p.last < grp.first or grp.last < p.first))
        for start, end in clashes:
            if offset + grp.size <= start:
                break
            offset = max(offset, end)
        grp.offset = offset
        placed.append(grp)
        total = max(total, offset + _round_up(grp.size))
    return total


# ---- the compiled program -------------------------------------------------------------------------------

class CompiledProgram:
    """One graph, fused, placed and lowered for one set of input shapes, thread count and ISA."""

    def __init__(self, graph, num_threads, isa):
        self.isa, self.num_threads = isa, num_threads
        self._node_plans = {}  # id(conv node) -> its ConvPlan, made once
        g = fuse(graph)
        self._fuse_expansions(g)
        self.graph = g
        self.input_shapes = [g.shapes[v] for v in g.inputs]
        self.output_shapes = [g.shapes[v] for v in g.outputs]
        self._lower(g)
        self._pool = []
        self._lock = threading.Lock()

    def _conv_plan(self, node):
        plan = self._node_plans.get(id(node))
        if plan is None:
            a = node.attrs
            plan = _ext.ConvPlan(tuple(a["spec"]) + tuple(a.get("clamp", NO_CLAMP)), node.params["weight"],
                                 node.params.get("bias"), _isa.isa_index(self.isa), algorithm_index("auto"),
                                 activation_index(a["activation"]), node.params.get("prelu_weight"))
            self._node_plans[id(node)] = plan
        return plan

    def _fuse_expansions(self, g):
        """A 1x1 conv read only by a depthwise conv becomes one conv_dw node with it, where the C core
        says the fused run beats two steps at this size and thread count (gconv_conv_plan_pw_dw_fuses):
        the wide tensor between them is then never written. The fused node sits where the 1x1 was, so
        storage keeps the 1x1's input alive until the depthwise output is written."""
        users = g.consumers()
        nodes = list(g.nodes)
        for i, pw in enumerate(nodes):
            if pw is None or pw.op != "conv" or len(pw.inputs) != 1:
                continue
            use = users.get(pw.outputs[0], [])
            if len(use) != 1 or use[0][0] < 0:
                continue
            j = use[0][0]
            dw = nodes[j]
            if dw.op != "conv" or len(dw.inputs) != 1:
                continue
            # which plans fuse (a 1x1 GEMM into a depthwise conv of its channels) is the core's rule
            n, _, h, w = _as4(g.shapes[pw.inputs[0]])
            need = _ext.pw_dw_fusion(self._conv_plan(pw), self._conv_plan(dw), n, h, w, self.num_threads)
            if need is not None:
                nodes[i] = Node("conv_dw", pw.inputs, dw.outputs, {"pw": pw, "dw": dw, "workspace": need}, {},
                                f"{pw.name}+{dw.name}")
                nodes[j] = None
        g.nodes = [n for n in nodes if n is not None]

    # storage assignment and step generation
    def _lower(self, g):
        last_use = {}
        for i, node in enumerate(g.nodes):
            for v in node.inputs:
                last_use[v] = i
        for v in g.outputs:
            last_use[v] = float("inf")
        n_in, n_out = len(g.inputs), len(g.outputs)
        buf_arena, buf_const, buf_in0, buf_out0 = 0, 1, 2, 2 + n_in
        where = {}   # value id -> (group, offset in floats within the group)
        groups = []
        consts = []  # (offset, array)
        const_size = [0]

        def new_group(kind, index, v, first):
            grp = _Group(kind, index, _numel(_as4(g.shapes[v])), first)
            grp.members.append(v)
            groups.append(grp)
            where[v] = (grp, 0)
            return grp

        def alias(v, src, offset=0):
            grp, base = where[src]
            grp.members.append(v)
            where[v] = (grp, base + offset)

        def dies_here(v, i):
            grp, _ = where[v]
            return grp.kind == "arena" and all(last_use.get(m, -1) <= i for m in grp.members)

        for k, v in enumerate(g.inputs):
            new_group("input", k, v, -1)

        steps = []
        for i, node in enumerate(g.nodes):
            out = node.outputs[0]
            op = node.op
            if op == "constant":
                value = node.params["value"]
                grp = _Group("const", 0, value.size, -1)
                grp.offset = const_size[0]
                grp.members.append(out)
                where[out] = (grp, 0)
                consts.append((grp.offset, value))
                const_size[0] += _round_up(max(1, value.size))
                continue
            if op == "reshape":
                alias(out, node.inputs[0])
                continue
            if op == "slice_channels" and _as4(g.shapes[out])[0] == 1:
                x4 = _as4(g.shapes[node.inputs[0]])
                alias(out, node.inputs[0], node.attrs["start"] * x4[2] * x4[3])
                continue
            if op == "unary" and dies_here(node.inputs[0], i):
                alias(out, node.inputs[0])
            elif op == "binary" and any(g.shapes[v] == g.shapes[out] and dies_here(v, i)
                                        for v in node.inputs) and node.inputs[0] != node.inputs[1]:
                src = next(v for v in node.inputs if g.shapes[v] == g.shapes[out] and dies_here(v, i))
                alias(out, src)
            else:
                new_group("arena", 0, out, i)
            steps.append((i, node))

        # graph outputs live in the caller's arrays; a value that cannot (an input, a constant, a view
        # into a larger tensor, or one already claimed) gets an explicit copy
        copies = []
        claimed = set()
        for k, v in enumerate(g.outputs):
            grp, off = where[v]
            if grp.kind == "arena" and id(grp) not in claimed and off == 0 and grp.size == _numel(_as4(g.shapes[v])):
                grp.kind, grp.index = "output", k
                claimed.add(id(grp))
            else:
                copies.append((k, v))
        for grp in groups:
            for m in grp.members:
                grp.last = max(grp.last, last_use.get(m, grp.first))
        arena_groups = [grp for grp in groups if grp.kind == "arena"]
        self.arena_floats = _place(arena_groups)
        self.naive_floats = sum(_round_up(grp.size) for grp in arena_groups)

        def ref(v):
            grp, off = where[v]
            if grp.kind == "arena":
                return (buf_arena, grp.offset + off)
            if grp.kind == "const":
                return (buf_const, grp.offset + off)
            if grp.kind == "input":
                return (buf_in0 + grp.index, off)
            return (buf_out0 + grp.index, off)

        self.consts = np.zeros(max(const_size[0], 1), np.float32)
        for off, value in consts:
            self.consts[off:off + value.size] = value.reshape(-1)

        self.steps, self.plans, self.workspace_bytes = [], [], 0
        self.step_nodes = []  # the graph node each step comes from (a concat makes several steps)
        for i, node in steps:
            self._lower_node(g, node, ref)
            self.step_nodes += [node] * (len(self.steps) - len(self.step_nodes))
        for k, v in copies:
            s4 = _as4(g.shapes[v])
            self.steps.append(self._set_threads(dict(kind="unary", x=ref(v), x_shape=s4, y=(buf_out0 + k, 0),
                                                     y_shape=s4, op=UNARY_KINDS.index("identity"))))
            self.step_nodes.append(None)
        self.n_buffers = 2 + n_in + n_out
        self.program = _ext.Program(self.steps, self.n_buffers)

    def _lower_node(self, g, node, ref):
        x = node.inputs[0]
        out = node.outputs[0]
        xs, ys = _as4(g.shapes[x]), _as4(g.shapes[out])
        step = dict(x=ref(x), x_shape=xs, y=ref(out), y_shape=ys)
        op = node.op
        if op == "conv":
            a = node.attrs
            plan = self._conv_plan(node)
            self.plans.append((node.name, plan))
            step.update(kind="conv", plan=plan)
            if len(node.inputs) == 2:
                step.update(x2=ref(node.inputs[1]), x2_shape=_as4(g.shapes[node.inputs[1]]))
            threads = self._set_threads(step, a["spec"], ys, plan.algorithm)["threads"]
            self.workspace_bytes = max(self.workspace_bytes, plan.geometry(xs[0], xs[2], xs[3], threads)[2])
        elif op == "conv_dw":
            pw, dw = node.attrs["pw"], node.attrs["dw"]
            plan, plan2 = self._conv_plan(pw), self._conv_plan(dw)
            self.plans += [(pw.name, plan), (dw.name, plan2)]
            # the core decided to fuse for this many threads (the steps it replaces would take them all)
            step.update(kind="conv_dw", plan=plan, plan2=plan2, threads=self.num_threads)
            self.workspace_bytes = max(self.workspace_bytes, node.attrs["workspace"])
        elif op == "deconv":
            from ._deconv import deconv_program_plan
            plan = deconv_program_plan(node, self.isa)
            self.plans.append((node.name, plan))
            step.update(kind="deconv", plan=plan)
            threads = self._set_threads(step, node.attrs["spec"], xs, plan.algorithm)["threads"]
            self.workspace_bytes = max(self.workspace_bytes, plan.geometry(xs[0], xs[2], xs[3], threads)[2])
        elif op == "affine":
            c = xs[1]
            pc = np.concatenate([_per_channel(node.params["scale"], c), _per_channel(node.params["shift"], c)])
            step.update(kind="unary", op=UNARY_KINDS.index("affine"), per_channel=pc)
        elif op == "unary":
            a = node.attrs
            pc = _per_channel(node.params["slope"], xs[1]) if a["kind"] == "prelu" else None
            step.update(kind="unary", op=UNARY_KINDS.index(a["kind"]), alpha=float(a.get("alpha", 0.0)),
                        beta=float(a.get("beta", 0.0)), per_channel=pc)
        elif op == "binary":
            rank = len(g.shapes[out])
            b = node.inputs[1]

            def phys(v):
                s = g.shapes[v]
                return _as4((1,) * (rank - len(s)) + tuple(s))
            act = node.attrs.get("activation") or "identity"
            step.update(kind="binary", x_shape=phys(x), x2=ref(b), x2_shape=phys(b),
                        op=BINARY_KINDS.index(node.attrs["kind"]), activation=UNARY_KINDS.index(act))
        elif op == "pool":
            a = node.attrs
            step.update(kind="pool", pool=(0 if a["kind"] == "max" else 1, *a["kernel"], *a["stride"], *a["pads"],
                                           *a["dilation"], int(a["ceil_mode"]), int(a["count_include_pad"])))
        elif op == "global_avgpool":
            step.update(kind="global_avgpool")
        elif op == "shuffle":
            step.update(kind="shuffle", groups=node.attrs["groups"])
        elif op == "concat":
            c0 = 0
            for v in node.inputs:
                vs = _as4(g.shapes[v])
                self.steps.append(self._set_threads(dict(kind="copy_channels", x=ref(v), x_shape=vs, y=ref(out),
                                                         y_shape=ys, copy=(0, vs[1], ys[1], c0))))
                c0 += vs[1]
            return
        elif op == "slice_channels":
            a = node.attrs
            step.update(kind="copy_channels", copy=(a["start"], a["stop"] - a["start"], ys[1], 0))
        elif op == "softmax":
            step.update(kind="softmax")
        elif op == "resize":
            a = node.attrs
            scales = a.get("scales") or (0.0, 0.0)
            step.update(kind="resize", resize=(RESIZE_MODES.index(a["mode"]), COORD_MODES.index(a["coord"]),
                                               NEAREST_MODES.index(a.get("nearest", "floor")),
                                               float(scales[0]), float(scales[1])))
        else:
            raise GraphError(f"{op} {node.name!r}: no executor step for this operator")
        if "threads" not in step:
            self._set_threads(step)
        self.steps.append(step)

    def _set_threads(self, step, conv_spec=None, pixels_shape=None, algorithm=None):
        """Sets step["threads"], the threads worth waking for it (see _threads.threads_for_work). A conv or
        deconv passes its spec, the shape whose pixels each meet every weight (_threads.conv_threads) and
        its algorithm. Returns the step."""
        x_floats = _numel(step["x_shape"])
        # a copy writes only its slice of the destination; the others write all of y
        y_floats = x_floats if step.get("kind") == "copy_channels" else _numel(step["y_shape"])
        floats = x_floats + y_floats + (_numel(step["x2_shape"]) if "x2_shape" in step else 0)
        if conv_spec is not None:
            step["threads"] = _threads.conv_threads(self.num_threads, conv_spec, pixels_shape, floats, algorithm)
            return step
        macs = x_floats * _COSTLY_UNARY.get(step["op"], 0) if step.get("kind") == "unary" else 0
        step["threads"] = _threads.threads_for_work(self.num_threads, macs, 4 * floats)
        return step

    # execution
    def _acquire(self):
        with self._lock:
            if self._pool:
                return self._pool.pop()
        arena = np.empty(max(self.arena_floats, 1) + ALIGN, np.float32)
        arena = arena[(-arena.ctypes.data // 4) % ALIGN:][:max(self.arena_floats, 1)]
        return arena, aligned_scratch(self.workspace_bytes) if self.workspace_bytes else None

    def _release(self, scratch):
        with self._lock:
            if len(self._pool) < 8:
                self._pool.append(scratch)

    def run(self, inputs, out=None):
        outs = []
        for k, shape in enumerate(self.output_shapes):
            o = out[k] if out is not None else None
            if o is None:
                o = np.empty(shape, np.float32)
            elif type(o) is not np.ndarray or o.dtype != np.float32 or not o.flags.c_contiguous or o.shape != shape:
                raise ValueError(f"out: expected a C-contiguous float32 array of shape {shape}")
            outs.append(o)
        scratch = self._acquire()
        try:
            self.program.run([scratch[0], self.consts] + list(inputs) + outs, scratch[1], self.num_threads)
        finally:
            self._release(scratch)
        return outs

    def profile(self, inputs, reps=20):
        """Each step's median wall time over `reps` runs (after one warm-up run), for finding where a
        model's time goes: a list of dicts (step, node, kind, kernel, x_shape, y_shape, ms). The
        timed runs are the ordinary executor with a clock read around each step."""
        if reps < 1:
            raise ValueError(f"reps must be positive, got {reps}")
        outs = [np.empty(shape, np.float32) for shape in self.output_shapes]
        samples = np.zeros((reps, len(self.steps)), np.int64)
        scratch = self._acquire()
        try:
            buffers = [scratch[0], self.consts] + list(inputs) + outs
            self.program.run(buffers, scratch[1], self.num_threads)
            for r in range(reps):
                self.program.run(buffers, scratch[1], self.num_threads, samples[r])
        finally:
            self._release(scratch)
        ms = np.median(samples, axis=0) / 1e6
        rows = []
        for i, (step, node) in enumerate(zip(self.steps, self.step_nodes)):
            kernel = "+".join(step[k].kernel_name for k in ("plan", "plan2") if hasattr(step.get(k), "kernel_name"))
            rows.append({"step": i, "node": node.name if node is not None else "(output copy)",
                         "kind": step["kind"], "kernel": kernel,
                         "x_shape": step["x_shape"], "y_shape": step["y_shape"], "ms": float(ms[i])})
        return rows

    def describe(self):
        """What the planner made of the graph: fused steps, arena size vs. the unplanned total."""
        return {"steps": len(self.steps), "nodes": len(self.graph.nodes),
                "arena_bytes": self.arena_floats * 4, "unplanned_bytes": self.naive_floats * 4,
                "workspace_bytes": self.workspace_bytes, "num_threads": self.num_threads,
                "step_threads": [(st["kind"], st["threads"]) for st in self.steps],
                "convs": [(name, plan.algorithm, plan.kernel_name) for name, plan in self.plans
                          if isinstance(plan, _ext.ConvPlan)]}


# ---- modules ----------------------------------------------------------------------------------------------

def _cache(module):
    cache = module.__dict__.get("_programs")
    if cache is None:
        cache = {}
        object.__setattr__(module, "_programs", cache)
    return cache


def program_for(module, input_shapes):
    from .nn.module import _generation
    threads, isa = _threads.get_num_threads(), _isa.get_isa()
    key = (tuple(input_shapes), threads, isa, _generation[0])
    cache = _cache(module)
    prog = cache.get(key)
    if prog is None:
        graph = module.trace(*input_shapes) if not hasattr(module, "graph_for") else module.graph_for(input_shapes)
        prog = CompiledProgram(graph, threads, isa)
        if len(cache) >= 8:  # many input sizes or stale generations: keep memory bounded
            cache.clear()
        cache[key] = prog
    return prog


def run_module(module, inputs, out=None):
    if not inputs:
        raise TypeError("a model needs at least one input array")
    arrays = []
    for k, x in enumerate(inputs):
        if not (type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous):
            x = float_array(x, "x" if len(inputs) == 1 else f"inputs[{k}]")
        if x.ndim != 4:
            raise ValueError(f"x: a model takes (N, C, H, W) input, got shape {x.shape}")
        arrays.append(x)
    prog = program_for(module, [a.shape for a in arrays])
    single = len(prog.output_shapes) == 1
    outs = prog.run(arrays, None if out is None else ([out] if single else list(out)))
    return outs[0] if single else tuple(outs)
