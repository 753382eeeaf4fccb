"""GraphModel: a model defined by a graph (gconv_cpu.graph) instead of Python forward code.

Imported ONNX models and models read from the native format are GraphModels. A GraphModel is built by
a function `build(input_shapes) -> Graph`, called once per set of input shapes (so an ONNX model with a
dynamic batch or image size becomes static at its first call, or at load time when input_shape is
given). The graphs for different shapes share one set of parameter arrays, the model's state_dict.

    model = gconv_cpu.load("net.gcv")               # or gconv_cpu.onnx.load("net.onnx")
    y = model(x)                                    # positional inputs, in model.input_names order
    y = model(**{"input": x})                       # or by input name
    outs = model.run({"input": x})                  # dict: output name -> array
    model.state_dict()                              # "<node name>.<param>" -> float32 array
    model.save("copy.gcv")

Calls return one array for a one-output model, else a tuple in model.output_names order (as every
gconv_cpu model does); run() returns a dict keyed by output name. A GraphModel can also be used inside
another model's forward (it is inlined into the outer graph when that model is traced).
"""
from collections import OrderedDict

import numpy as np

from ._validate import float_array
from .graph import Graph, GraphError, Node, Value, infer_node
from .nn.module import Module, checked_state, shape_list, touch

_MAX_CACHED_GRAPHS = 8


def _shape_key(shapes):
    return tuple(tuple(int(d) for d in s) for s in shapes)


def param_key(node, pname):
    return f"{node.name}.{pname}" if node.name else pname


def unique_param_names(graph):
    """Renames nodes so that every "<node name>.<param>" key is unique (nodes without parameters keep
    their names). Returns the graph."""
    seen = set()
    for node in graph.nodes:
        if not any(v is not None for v in node.params.values()):
            continue
        base = node.name or node.op
        name, k = base, 1
        while any(param_key(Node(None, [], [], {}, {}, name), p) in seen for p in node.params):
            name = f"{base}_{k}"
            k += 1
        node.name = name
        seen.update(param_key(node, p) for p, v in node.params.items() if v is not None)
    return graph


def reinfer_for(template, input_shapes, template_shapes=None):
    """template re-inferred for new input shapes, on a copy. Reshapes that keep the batch axis
    (input and output first dims equal in the template, as Flatten's) follow the new batch size."""
    g = template.copy()
    if len(input_shapes) != len(g.inputs):
        raise GraphError(f"the model has {len(g.inputs)} inputs, got {len(input_shapes)} input shapes")
    old = list(template.shapes)
    for vid, shape in zip(g.inputs, input_shapes):
        g.shapes[vid] = tuple(int(d) for d in shape)
    for node in g.nodes:
        ins = [g.shapes[v] for v in node.inputs]
        if node.op == "reshape" and ins:
            shape = tuple(node.attrs["shape"])
            before = old[node.inputs[0]]
            if shape and before and shape[0] == before[0] and ins[0] and ins[0][0] != before[0]:
                node.attrs["shape"] = (ins[0][0],) + shape[1:]
        for vid, shape in zip(node.outputs, infer_node(g, node)):
            g.shapes[vid] = shape
    return g


class GraphModel(Module):
    """A model whose computation is a Graph built by `build(input_shapes)`.

    build: a function of a list of input shapes (tuples) returning a Graph with those inputs.
    input_names, output_names: the model's tensor names (a call by keyword uses input names).
    input_shapes: the shapes the model is built for up front (a list with one shape per input, or one
        shape for a one-input model), or None to build at the first call. When every input shape is
        known, `state_dict()` is available at once.
    fixed_shapes: True when the graph is valid only for input_shapes (e.g. an ONNX model whose padding
        or reshape targets were computed for one input size); other shapes are then refused.
    """

    def __init__(self, build, input_names, output_names, input_shapes=None, fixed_shapes=False, name=None):
        object.__setattr__(self, "_build", build)
        object.__setattr__(self, "_graphs", OrderedDict())
        object.__setattr__(self, "_params", None)  # OrderedDict key -> array, after the first build
        self.input_names = [str(n) for n in input_names]
        self.output_names = [str(n) for n in output_names]
        if len(set(self.input_names)) != len(self.input_names):
            raise ValueError(f"input_names: duplicate names in {self.input_names}")
        if input_shapes is not None:
            input_shapes = shape_list(input_shapes)
            if len(input_shapes) != len(self.input_names):
                raise ValueError(f"input_shapes: the model has {len(self.input_names)} inputs, got "
                                 f"{len(input_shapes)} shapes")
        self.input_shapes = input_shapes
        self.fixed_shapes = bool(fixed_shapes)
        self.name = name
        if fixed_shapes and input_shapes is None:
            raise ValueError("fixed_shapes=True needs input_shapes")
        if input_shapes is not None:
            self.graph_for(input_shapes)

    @classmethod
    def from_graph(cls, graph, fixed_shapes=False, name=None):
        """A GraphModel over a traced, imported or loaded graph (its current shapes are the defaults;
        other input shapes re-infer a copy unless fixed_shapes)."""
        template = unique_param_names(graph.copy())
        shapes = [template.shapes[v] for v in template.inputs]

        def build(input_shapes):
            if _shape_key(input_shapes) == _shape_key(shapes):
                return template
            return reinfer_for(template, input_shapes)
        return cls(build, template.input_names, template.output_names, shapes, fixed_shapes, name)

    @property
    def input_shape(self):
        """The (first) input's default shape, or None (what Module.save and builders call input_shape)."""
        return self.input_shapes[0] if self.input_shapes else None

    def _default_input_shapes(self, input_shape, example):
        """prepare() with no shapes plans for every input's default shape, not the first one's alone."""
        if input_shape is None and self.input_shapes is not None:
            return list(self.input_shapes)
        return super()._default_input_shapes(input_shape, example)

    # ---- graphs ------------------------------------------------------------------------------------------
    def graph_for(self, input_shapes):
        """The (unfused) graph for these input shapes, cached; its parameters are the model's arrays."""
        key = _shape_key(input_shapes)
        graph = self._graphs.get(key)
        if graph is not None:
            return graph
        if len(key) != len(self.input_names):
            raise ValueError(f"the model has {len(self.input_names)} inputs ({', '.join(self.input_names)}), "
                             f"got {len(key)}")
        if self.fixed_shapes and self.input_shapes is not None and key != _shape_key(self.input_shapes):
            raise ValueError(f"this model was built for input shapes {self.input_shapes} only (its padding or "
                             f"shapes were resolved for them), got {list(key)}")
        graph = self._build([list(s) for s in key])
        if not isinstance(graph, Graph):
            raise TypeError(f"build must return a gconv_cpu.graph.Graph, got {type(graph).__name__}")
        if len(graph.inputs) != len(self.input_names) or len(graph.outputs) != len(self.output_names):
            raise GraphError(f"the built graph has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                             f"the model declares {len(self.input_names)} and {len(self.output_names)}")
        self._bind(graph)
        if len(self._graphs) >= _MAX_CACHED_GRAPHS:
            self._graphs.popitem(last=False)
        self._graphs[key] = graph
        return graph

    @property
    def graph(self):
        """The graph at the default input shapes."""
        if self.input_shapes is None:
            if self._graphs:
                return next(reversed(self._graphs.values()))
            raise ValueError("the model's input shapes are not known yet: pass input_shape when loading it, or "
                             "call it once")
        return self.graph_for(self.input_shapes)

    def _bind(self, graph):
        """Makes graph's parameters the model's arrays (the first graph defines them)."""
        keys = {}
        for node in graph.nodes:
            for pname, value in node.params.items():
                if value is None:
                    continue
                key = param_key(node, pname)
                if key in keys:
                    raise GraphError(f"two nodes define the parameter {key!r}; node names must be unique")
                keys[key] = (node, pname, value)
        if self._params is None:
            object.__setattr__(self, "_params", OrderedDict((k, v[2]) for k, v in keys.items()))
            return
        for key, (node, pname, value) in keys.items():
            own = self._params.get(key)
            if own is None:
                self._params[key] = value
            elif own.shape != value.shape:
                raise GraphError(f"parameter {key!r} has shape {value.shape} for these input shapes but "
                                 f"{own.shape} in the model")
            else:
                node.params[pname] = own

    def _ensure_params(self):
        if self._params is None:
            if self.input_shapes is None:
                raise ValueError("the model's parameters are defined once its input shapes are known: pass "
                                 "input_shape when loading it, or call it once")
            self.graph_for(self.input_shapes)
        return self._params

    # ---- weights ---------------------------------------------------------------------------------------
    def state_dict(self):
        """OrderedDict "<node name>.<param>" -> float32 array (the arrays the model runs with)."""
        return OrderedDict(self._ensure_params())

    def load_state_dict(self, state_dict, strict=True):
        """Replaces parameter arrays by key; keys and shapes are checked before anything is assigned.
        strict=False loads the keys that match and returns (missing, unexpected)."""
        own = self._ensure_params()
        values, missing, unexpected = checked_state(state_dict, own, strict)
        staged = {key: value.copy() for key, value in values.items()}  # the model owns its arrays
        own.update(staged)
        for graph in self._graphs.values():
            for node in graph.nodes:
                for pname, value in node.params.items():
                    key = param_key(node, pname)
                    if value is not None and key in staged:
                        node.params[pname] = staged[key]
        touch()
        return missing, unexpected

    # ---- execution -------------------------------------------------------------------------------------
    def _arrange(self, inputs, named):
        """Positional and keyword inputs -> a list in input order."""
        if len(inputs) > len(self.input_names):
            raise TypeError(f"the model takes {len(self.input_names)} inputs ({', '.join(self.input_names)}), "
                            f"got {len(inputs)} positional")
        arranged = list(inputs) + [None] * (len(self.input_names) - len(inputs))
        for name, value in named.items():
            if name not in self.input_names:
                raise TypeError(f"unknown input {name!r}; the model's inputs are {', '.join(self.input_names)}")
            k = self.input_names.index(name)
            if k < len(inputs):
                raise TypeError(f"input {name!r} given both by position and by name")
            arranged[k] = value
        missing = [n for n, v in zip(self.input_names, arranged) if v is None]
        if missing:
            raise TypeError(f"missing input(s): {', '.join(missing)}")
        return arranged

    def __call__(self, *inputs, out=None, **named):
        """Runs the model: inputs by position (input_names order) or by name. Returns one array, or a
        tuple in output_names order. out: an array (one output) or a sequence of arrays to write into."""
        arranged = self._arrange(inputs, named)
        if any(isinstance(v, Value) for v in arranged):
            return self._inline(arranged)
        arrays = []
        for name, x in zip(self.input_names, arranged):
            if not (type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous):
                x = float_array(x, name)
            arrays.append(x)
        from ._program import program_for
        prog = program_for(self, [a.shape for a in arrays])
        single = len(prog.output_shapes) == 1
        outs = prog.run(arrays, None if out is None else ([out] if single else list(out)))
        return outs[0] if single else tuple(outs)

    def forward(self, *inputs, **named):
        return self(*inputs, **named)

    def run(self, feeds, out=None):
        """feeds: a mapping input name -> array. Returns a dict output name -> array."""
        if not hasattr(feeds, "items"):
            raise TypeError(f"feeds must be a mapping of input names to arrays, got {type(feeds).__name__}")
        result = self(out=out, **{str(k): v for k, v in feeds.items()})
        result = (result,) if len(self.output_names) == 1 else result
        return dict(zip(self.output_names, result))

    def _inline(self, values):
        """Adds this model's graph to the graph being traced (the model used inside another model)."""
        if not all(isinstance(v, Value) for v in values):
            raise TypeError("a traced call needs every input as a traced tensor")
        outer = values[0].graph
        inner = self.graph_for([v.shape for v in values])
        prefix = getattr(outer, "module_names", {}).get(id(self)) or (outer._scope[-1] if outer._scope else "")
        env = dict(zip(inner.inputs, values))
        for node in inner.nodes:
            name = f"{prefix}.{node.name}" if prefix and node.name else (node.name or prefix)
            res = outer.add(node.op, [env[v] for v in node.inputs], n_outputs=len(node.outputs), name=name,
                            **dict(node.attrs), **{k: v for k, v in node.params.items() if v is not None})
            res = res if isinstance(res, list) else [res]
            env.update(zip(node.outputs, res))
        outs = [env[v] for v in inner.outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def save(self, path, input_shape=None):
        """Writes the native format (see gconv_cpu.serialize). input_shape: the shapes to store the graph
        at (default: the model's input_shapes, or the last shapes it ran with)."""
        from . import serialize
        if input_shape is not None:
            graph = self.graph_for(shape_list(input_shape))
        else:
            graph = self.graph
        serialize.save_graph(graph, path, fixed_shapes=self.fixed_shapes or getattr(graph, "fixed_shapes", False))

    def extra_repr(self):
        shapes = "dynamic" if self.input_shapes is None else self.input_shapes
        return f"inputs={self.input_names}, outputs={self.output_names}, input_shapes={shapes}"

    def __repr__(self):
        return f"GraphModel({self.extra_repr()})"
