"""What every peer shares: the Runner it builds, the 'cannot run here' exception, and the torch
module / ONNX export / cache helpers that the torch-based converters (ORT, OpenVINO, ncnn) use."""
import contextlib
import hashlib
import os
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..workloads import ConvWorkload

CACHE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache")


class PeerUnavailable(Exception):
    """This peer cannot run here, or not this model; the message says why (shown as 'skipped')."""


@dataclass
class Runner:
    """A built model. `runner(x)` returns the NCHW output (for the accuracy check); `bind(x)`
    returns the zero-argument call that gets timed, with the input already in the engine's native
    layout, so layout conversions stay outside the timed region."""
    bind: Callable[[np.ndarray], Callable[[], object]]
    to_nchw: Callable[[object], np.ndarray] = np.asarray
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext  # around each timed batch
    unchecked: str = ""  # why its output cannot be compared with ours (own weights, other structure); "" = it can
    info: dict = field(default_factory=dict)  # engine details for the JSON (gconv: its plan)
    keep: list = field(default_factory=list)  # objects that must outlive the timed calls

    def __call__(self, x):
        with self.context():
            return self.to_nchw(self.bind(x)())


def weights_digest(target, weights, salt=""):
    """A stable key for converted models: the model's structure, its weight bytes, the converter."""
    h = hashlib.sha1((repr(target) + salt).encode())
    for k in sorted(weights):
        v = weights[k]
        if v is None:
            continue
        h.update(k.encode())
        h.update(np.ascontiguousarray(v.detach().numpy() if hasattr(v, "detach") else v).tobytes())
    return h.hexdigest()[:16]


def cache_path(kind, target, weights, suffix, salt=""):
    d = os.path.join(CACHE_DIR, kind)
    os.makedirs(d, exist_ok=True)
    ignore = os.path.join(CACHE_DIR, ".gitignore")
    if not os.path.exists(ignore):  # converted models are build products: keep them out of git
        with open(ignore, "w") as f:
            f.write("*\n")
    return os.path.join(d, f"{target.name}-{weights_digest(target, weights, salt)}{suffix}")


def torch_module(target, weights):
    """The eval-mode torch module every torch-based peer starts from: an nn.Conv2d holding the
    layer's weights, or the bench network with its state_dict."""
    import torch
    if isinstance(target, ConvWorkload):
        wl = target
        conv = torch.nn.Conv2d(wl.c_in, wl.c_out, wl.kernel, wl.stride, wl.pad, wl.dilation, wl.groups,
                               bias=weights.get("bias") is not None)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(np.asarray(weights["weight"], np.float32)))
            if conv.bias is not None:
                conv.bias.copy_(torch.from_numpy(np.asarray(weights["bias"], np.float32)))
        return conv.eval()
    from ..torch_nets import NETS
    net = NETS[target.name].cls(**dict(target.kwargs))
    net.load_state_dict(weights)
    return net.eval()


def onnx_file(target, weights):
    """The torch module exported to ONNX (opset 17), cached under bench/.cache/onnx/."""
    import torch
    path = cache_path("onnx", target, weights, ".onnx", salt=torch.__version__)
    if os.path.exists(path):
        return path
    module = torch_module(target, weights)
    tmp = f"{path}.{os.getpid()}.tmp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        try:  # the TorchScript-based exporter needs no onnxscript
            torch.onnx.export(module, (torch.zeros(target.input_shape),), tmp, input_names=["input"],
                              output_names=["output"], opset_version=17, dynamo=False)
        except TypeError:  # an older torch without the dynamo switch
            torch.onnx.export(module, (torch.zeros(target.input_shape),), tmp, input_names=["input"],
                              output_names=["output"], opset_version=17)
    os.replace(tmp, path)
    return path


def package_version(dist):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return None
