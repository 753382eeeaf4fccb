"""LiteRT (ex TensorFlow Lite) with its default XNNPACK delegate, on NHWC .tflite models.

Layers: the shipped bench/data/tflite/<workload>.tflite (whose weights every engine gets), or a
one-op model written for any other layer. Nets: the shipped Keras-built MobileNets, which have
their own weights, so they are timed but their outputs are not compared ('unchecked').
NHWC is LiteRT's native layout: the NCHW<->NHWC transposes happen outside the timed region,
which is invoke() on an input set beforehand."""
import os

import numpy as np

from .. import tflite_models
from ..workloads import BY_NAME, ConvWorkload
from .base import PeerUnavailable, Runner, cache_path, package_version

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError as e:
    Interpreter, _import_error = None, e


class LiteRtPeer:
    name = "litert"
    note = "NHWC, XNNPACK; transposes outside the timed region (invoke() only)"

    def __init__(self):
        if Interpreter is None:
            raise PeerUnavailable(f"ai-edge-litert not installed ({_import_error}); pip install ai-edge-litert")
        self.version = package_version("ai-edge-litert")

    def model(self, target, weights):
        """(path, problems): the .tflite to run and why its output is not comparable (empty: it is)."""
        if isinstance(target, ConvWorkload):
            shipped = tflite_models.model_path(target.name)
            if BY_NAME.get(target.name) == target and os.path.exists(shipped):
                return shipped, tflite_models.read_layer(target, shipped).problems
            path = cache_path("tflite", target, weights, ".tflite")
            if not os.path.exists(path):
                tflite_models.write_layer(target, weights["weight"], weights.get("bias"), path)
            return path, []
        path = tflite_models.model_path(os.path.splitext(target.tflite)[0]) if target.tflite else None
        if not path or not os.path.exists(path):
            raise PeerUnavailable(f"no LiteRT model of {target.name} in bench/data/tflite/ or ../shared/peers/tflite/")
        return path, ["LiteRT model has its own weights"]

    def build(self, target, weights, threads):
        path, problems = self.model(target, weights)
        interp = Interpreter(model_path=path, num_threads=threads)
        interp.allocate_tensors()
        (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
        if tuple(inp["shape"]) != tuple(np.array(target.input_shape)[[0, 2, 3, 1]]):
            raise RuntimeError(f"{os.path.basename(path)} takes {tuple(inp['shape'])}, not NHWC of {target.input_shape}")

        def bind(x):
            interp.set_tensor(inp["index"], np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
            return interp.invoke

        def to_nchw(_):
            y = interp.get_tensor(out["index"])
            return y.transpose(0, 3, 1, 2) if y.ndim == 4 else y

        return Runner(bind, to_nchw=to_nchw, unchecked="; ".join(problems), keep=[interp])


def load(name):
    return LiteRtPeer()
