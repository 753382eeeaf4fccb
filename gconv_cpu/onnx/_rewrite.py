"""Peephole rewrites on an imported graph, then dead-code elimination and a compact rebuild.

- relu6(x + 3) / 6 (an affine +3, a ReLU6 or Clip(0, 6), an affine *1/6)  ->  hardsigmoid(x)
- x * hardsigmoid(x) with alpha 1/6, beta 1/2 (torch's opset < 14 HardSwish export), and
  x * relu6(x + 3) / 6 (PaddlePaddle's), in either association  ->  hardswish(x)
- consecutive per-channel affine maps (Mul/Add by constants, BatchNormalization) merge into one, which
  the planner then folds into the convolution before it
- identities (x * 1, x + 0, a reshape to the same shape) disappear.
Every rewritten intermediate must have no other use, so a rewrite never changes what other nodes see.
"""
import numpy as np

from ..graph import Graph

SIXTH = 1.0 / 6.0


def _close(arr, value, tol=1e-6):
    a = np.asarray(arr, np.float64)
    return a.size > 0 and bool(np.all(np.abs(a - value) <= tol * max(1.0, abs(value))))


class _Rewriter:
    def __init__(self, graph):
        self.g = graph
        self.alias = {}
        self.refresh()

    def refresh(self):
        self.producer = {}
        self.uses = {}
        for node in self.g.nodes:
            for o in node.outputs:
                self.producer[o] = node
            for v in node.inputs:
                v = self.resolve(v)
                self.uses[v] = self.uses.get(v, 0) + 1
        for v in self.g.outputs:
            v = self.resolve(v)
            self.uses[v] = self.uses.get(v, 0) + 2  # a graph output is never an intermediate

    def resolve(self, v):
        while v in self.alias:
            v = self.alias[v]
        return v

    def prod(self, v, op=None):
        node = self.producer.get(self.resolve(v))
        return node if node is not None and (op is None or node.op == op) else None

    def single(self, v):
        return self.uses.get(self.resolve(v), 0) == 1

    # affine x*s + t with s, t constant over channels
    def affine_of(self, v, scale, shift):
        node = self.prod(v, "affine")
        if node is not None and _close(node.params["scale"], scale) and _close(node.params["shift"], shift):
            return node
        return None

    def relu6_of(self, v):
        node = self.prod(v, "unary")
        if node is None:
            return None
        a = node.attrs
        if a["kind"] == "relu6" or (a["kind"] == "clip" and a.get("alpha") == 0.0 and a.get("beta") == 6.0):
            return node
        return None

    def relu6_plus3_src(self, v):
        """x when v = relu6(x + 3) and the intermediate x + 3 has no other use."""
        r = self.relu6_of(v)
        if r is None:
            return None
        add3 = self.affine_of(r.inputs[0], 1.0, 3.0)
        if add3 is None or not self.single(r.inputs[0]):
            return None
        return self.resolve(add3.inputs[0])

    def hardsigmoid_src(self, v):
        node = self.prod(v, "unary")
        if node is not None and node.attrs["kind"] == "hardsigmoid" and abs(node.attrs["alpha"] - SIXTH) < 1e-6 \
                and abs(node.attrs["beta"] - 0.5) < 1e-6:
            return self.resolve(node.inputs[0])
        return None

    @staticmethod
    def make_unary(node, x, kind, alpha=0.0, beta=0.0):
        node.op, node.inputs, node.params = "unary", [x], {}
        node.attrs = {"kind": kind, "alpha": float(alpha), "beta": float(beta)}

    def run(self):
        budget = 4 * len(self.g.nodes) + 16  # each rewrite removes or retypes a node; this is a safety net
        changed = True
        while changed and budget > 0:
            changed = False
            for node in list(self.g.nodes):
                if node.outputs[0] in self.alias:
                    continue
                result = self.step(node)
                if result:
                    if node.outputs[0] in self.alias:  # aliased away: the node is gone
                        self.g.nodes = [n for n in self.g.nodes if n is not node]
                    changed = True
                    budget -= 1
                    self.refresh()
                    if budget <= 0:
                        break
        return self.rebuild()

    def step(self, node):
        if node.op == "affine":
            src = self.resolve(node.inputs[0])
            if _close(node.params["scale"], 1.0, 0) and _close(node.params["shift"], 0.0, 0):
                self.alias[node.outputs[0]] = src
                return True
            if _close(node.params["scale"], SIXTH) and _close(node.params["shift"], 0.0):
                # relu6(x + 3) / 6 -> hardsigmoid(x)
                x = self.relu6_plus3_src(src)
                if x is not None and self.single(src):
                    self.make_unary(node, x, "hardsigmoid", SIXTH, 0.5)
                    return True
                # (x * relu6(x + 3)) / 6 -> hardswish(x)
                mul = self.prod(src, "binary")
                if mul is not None and mul.attrs["kind"] == "mul" and mul.attrs.get("activation") is None \
                        and self.single(src):
                    a, b = (self.resolve(v) for v in mul.inputs)
                    for x, r in ((a, b), (b, a)):
                        if self.single(r) and self.relu6_plus3_src(r) == x:
                            self.make_unary(node, x, "hardswish")
                            return True
            prev = self.prod(src, "affine")
            if prev is not None and self.single(src):
                s1, t1 = prev.params["scale"].astype(np.float64), prev.params["shift"].astype(np.float64)
                s2, t2 = node.params["scale"].astype(np.float64), node.params["shift"].astype(np.float64)
                c = max(s1.size, t1.size, s2.size, t2.size)
                if all(p.size in (1, c) for p in (s1, t1, s2, t2)):
                    node.params = {"scale": (s1 * s2).astype(np.float32).reshape(-1),
                                   "shift": (t1 * s2 + t2).astype(np.float32).reshape(-1)}
                    node.inputs = [self.resolve(prev.inputs[0])]
                    return True
        elif node.op == "binary" and node.attrs["kind"] == "mul" and node.attrs.get("activation") is None:
            a, b = (self.resolve(v) for v in node.inputs)
            for x, h in ((a, b), (b, a)):
                if x != h and self.single(h) and self.hardsigmoid_src(h) == x:
                    self.make_unary(node, x, "hardswish")
                    return True
        elif node.op == "reshape":
            src = self.resolve(node.inputs[0])
            if tuple(self.g.shapes[src]) == tuple(node.attrs["shape"]):
                self.alias[node.outputs[0]] = src
                return True
        elif node.op == "unary" and node.attrs["kind"] == "identity":
            self.alias[node.outputs[0]] = self.resolve(node.inputs[0])
            return True
        return False

    def rebuild(self):
        g = self.g
        live_values = {self.resolve(v) for v in g.outputs}
        live_nodes = []
        for node in reversed(g.nodes):
            if any(o in live_values for o in node.outputs):
                live_nodes.append(node)
                live_values.update(self.resolve(v) for v in node.inputs)
        live_nodes.reverse()
        new = Graph()
        env = {}
        for vid, name in zip(g.inputs, g.input_names):
            env[vid] = new.input(g.shapes[vid], name)
        for node in live_nodes:
            params = {k: v for k, v in node.params.items() if v is not None}
            out = new.add(node.op, [env[self.resolve(v)] for v in node.inputs], name=node.name,
                          **dict(node.attrs), **params)
            env[node.outputs[0]] = out
        new.set_outputs([env[self.resolve(v)] for v in g.outputs], list(g.output_names))
        return new


def optimize(graph):
    """A rewritten, compacted copy of an imported graph (the input graph is consumed)."""
    return _Rewriter(graph).run()
