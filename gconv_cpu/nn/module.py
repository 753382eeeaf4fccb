"""Module: torch.nn.Module's composition model (children, state_dict) over NumPy, with planned execution.

Leaf layers (Conv2d, BatchNorm2d, ReLU, ...) define `_trace(x)`, which adds their operator to a graph,
and `forward(x)`, which runs them eagerly on an array. Containers (Sequential, or any Module subclass
with a `forward` written in terms of its children) are traced: calling a container on an array plans
the whole forward once per input shape (conv+BN+activation and residual adds fused, activations in one
reused arena) and runs it as one compiled program. `model.run_eager(x)` runs the layers one by one
instead (each on its own kernels, no planning), which is useful to debug a model against the planned run.
"""
import threading
from collections import OrderedDict

import numpy as np

from ..graph import Graph, Value
from .._validate import float_array

# Bumped whenever a parameter or a child changes anywhere, so that compiled programs are never stale.
_generation = [0]
_mode = threading.local()  # _mode.eager: containers run forward on arrays instead of planning (this thread)


def touch():
    _generation[0] += 1


def _to_numpy(value, key):
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"state_dict[{key!r}] is not an array: {e}") from None


def checked_state(state_dict, own, strict):
    """The arrays of state_dict for the keys of own (key -> current array), each checked against the
    current one: same shape, a real numeric dtype for float arrays (converted to float32), an integer
    dtype for integer ones. With strict, missing or unexpected keys are a KeyError. Nothing is assigned
    here, so a failing load changes nothing. Returns (values, missing, unexpected)."""
    if not hasattr(state_dict, "items"):
        raise TypeError(f"state_dict must be a mapping of names to arrays, got {type(state_dict).__name__}")
    given = {str(k): v for k, v in state_dict.items()}
    missing = [k for k in own if k not in given]
    unexpected = [k for k in given if k not in own]
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {', '.join(missing[:8])}" + (" ..." if len(missing) > 8 else ""))
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:8])}"
                         + (" ..." if len(unexpected) > 8 else ""))
        raise KeyError("state_dict: " + "; ".join(parts))
    values = {}
    for key, current in own.items():
        if key not in given:
            continue
        value = _to_numpy(given[key], key)
        if value.shape != current.shape:
            raise ValueError(f"state_dict[{key!r}]: expected shape {current.shape}, got {value.shape}")
        if current.dtype.kind == "f":
            if value.dtype.kind not in "fiu":
                raise TypeError(f"state_dict[{key!r}]: expected a real numeric array, got dtype {value.dtype}")
            value = float_array(value, f"state_dict[{key!r}]")
        else:
            if value.dtype.kind not in "iu":
                raise TypeError(f"state_dict[{key!r}]: expected an integer array, got dtype {value.dtype}")
            value = value.astype(current.dtype)
        values[key] = value
    return values, missing, unexpected


def shape_list(shapes):
    """One shape, or a list of shapes for several inputs, as a list of int tuples."""
    single = len(shapes) > 0 and isinstance(shapes[0], (int, np.integer))
    return [tuple(int(d) for d in s) for s in ([shapes] if single else shapes)]


class Module:
    """Base class of every layer and model."""

    _state = ()  # this module's own entries of state_dict, in order (attribute names)

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self.__dict__.setdefault("_modules", OrderedDict())[name] = value
            touch()
        elif name in self.__dict__.get("_modules", ()):
            del self._modules[name]
            touch()
        object.__setattr__(self, name, value)

    # ---- structure -------------------------------------------------------------------------------------
    def children(self):
        return iter(self.__dict__.get("_modules", {}).values())

    def named_children(self):
        return iter(self.__dict__.get("_modules", {}).items())

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    @property
    def is_leaf(self):
        return type(self)._trace is not Module._trace

    def eval(self):
        return self  # inference only: there is no training mode

    def train(self, mode=True):
        if mode:
            raise ValueError("mode: gconv_cpu runs inference only; train(True) is not supported")
        return self

    # ---- weights ---------------------------------------------------------------------------------------
    def state_dict(self):
        """An OrderedDict of every parameter and buffer (NumPy arrays), keyed like torch's."""
        out = OrderedDict()
        for prefix, module in self.named_modules():
            for name in module._state:
                value = getattr(module, name)
                if value is not None:
                    out[f"{prefix}.{name}" if prefix else name] = value
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Loads torch or NumPy arrays by key. Keys and shapes are checked before anything is assigned.

        strict=True (torch's default): missing and unexpected keys are errors. strict=False loads the
        keys that match and returns (missing, unexpected) like torch; shapes are always checked.
        """
        own = {}
        for prefix, module in self.named_modules():
            for name in module._state:
                current = getattr(module, name)
                if current is not None:
                    own[f"{prefix}.{name}" if prefix else name] = (module, name, current)
        values, missing, unexpected = checked_state(state_dict, {k: cur for k, (_, _, cur) in own.items()}, strict)
        for key, (module, name, _) in own.items():
            if key in values:
                setattr(module, name, values[key])
        touch()
        return missing, unexpected

    # ---- execution -------------------------------------------------------------------------------------
    def _trace(self, *inputs):
        raise NotImplementedError  # leaf layers override this; containers trace through forward

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def __call__(self, *inputs, **kwargs):
        if inputs and isinstance(inputs[0], Value):
            graph = inputs[0].graph
            name = graph.module_names.get(id(self), type(self).__name__) if hasattr(graph, "module_names") else ""
            with graph.scope(name):
                return self._trace(*inputs, **kwargs) if self.is_leaf else self.forward(*inputs, **kwargs)
        if self.is_leaf or getattr(_mode, "eager", False):
            return self.forward(*inputs, **kwargs)
        return self._run_planned(*inputs, **kwargs)

    def run_eager(self, *inputs, **kwargs):
        """forward on arrays layer by layer, every sub-container included: no fusion, no planning."""
        previous = getattr(_mode, "eager", False)
        _mode.eager = True
        try:
            return self.forward(*inputs, **kwargs)
        finally:
            _mode.eager = previous

    def trace(self, *input_shapes):
        """The model's graph for inputs of these shapes (before fusion)."""
        graph = Graph()
        graph.module_names = {id(m): name for name, m in self.named_modules()}
        values = [graph.input(s) for s in input_shapes]
        with graph.scope(""):
            out = self(*values)
        graph.set_outputs(list(out) if isinstance(out, (list, tuple)) else out)
        return graph

    def _run_planned(self, *inputs, out=None):
        from .._program import run_module
        return run_module(self, inputs, out)

    def _default_input_shapes(self, input_shape, example):
        """input_shape as a list of shape tuples (see shape_list), self.input_shape where it is None;
        `example` shows the call for the error when neither exists."""
        if input_shape is None:
            input_shape = getattr(self, "input_shape", None)
            if input_shape is None:
                raise ValueError(f"input_shape: {type(self).__name__} defines no input_shape; pass the shape, "
                                 f"e.g. {example}")
        return shape_list(input_shape)

    def prepare(self, *input_shapes):
        """Plans now for these input shapes (otherwise the first call does); with none, for
        self.input_shape (builders define it). Returns self."""
        from .._program import program_for
        if not input_shapes:
            input_shapes = self._default_input_shapes(None, "prepare((1, 3, 224, 224))")
        program_for(self, [tuple(s) for s in input_shapes])
        return self

    def save(self, path, input_shape=None):
        """Saves the model to one file in gconv_cpu's native format (gconv_cpu.load reads it back as a
        GraphModel with bit-identical outputs). The model is traced at input_shape, default
        self.input_shape (builders define it, e.g. (1, 3, 224, 224)); a list of shapes for several inputs."""
        from ..serialize import save_module
        save_module(self, path, input_shape)

    def extra_repr(self):
        return ""

    def __repr__(self):
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            lines += [f"  ({name}): " + repr(child).replace("\n", "\n  ")]
        return "\n".join(lines) + "\n)"


class Sequential(Module):
    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                setattr(self, name, m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(f"modules: item {i} is a {type(m).__name__}, not a gconv_cpu.nn.Module")
                setattr(self, str(i), m)

    def __getitem__(self, i):
        mods = list(self.children())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self):
        return len(self.__dict__.get("_modules", ()))

    def __iter__(self):
        return self.children()

    def append(self, module):
        setattr(self, str(len(self)), module)
        return self

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x


class Identity(Module):
    def __init__(self, *args, **kwargs):
        pass

    def _trace(self, x):
        return x

    def forward(self, x):
        return x


class Dropout(Identity):
    """Inference: the identity (torch's eval mode)."""

    def __init__(self, p=0.5, inplace=False):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p: dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def extra_repr(self):
        return f"p={self.p}"
