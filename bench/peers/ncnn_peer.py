"""ncnn: the torch module traced to TorchScript and converted by pnnx (fp32 weights), cached under
bench/.cache/ncnn/; fp16/bf16 storage and arithmetic off so it computes in fp32 like everyone else."""
import os
import shutil
import subprocess
import tempfile

import numpy as np

from .base import PeerUnavailable, Runner, cache_path, package_version, torch_module

try:
    import ncnn
except ImportError as e:
    ncnn, _import_error = None, e

FP32_ONLY = ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage", "use_bf16_packed",
             "use_vulkan_compute")


def convert(target, weights):
    """(.param, .bin) paths of the pnnx conversion, converting on first use."""
    salt = f"pnnx {package_version('pnnx')}"
    param, binary = (cache_path("ncnn", target, weights, ext, salt) for ext in (".param", ".bin"))
    if os.path.exists(param) and os.path.exists(binary):
        return param, binary
    try:
        import pnnx
        import torch
    except ImportError as e:
        raise PeerUnavailable(f"converting to ncnn needs pnnx and torch ({e}); pip install pnnx") from None
    module = torch_module(target, weights)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(param)) as tmp:
        pt = os.path.join(tmp, "model.pt")
        with torch.inference_mode(False), torch.no_grad():
            torch.jit.trace(module, torch.zeros(target.input_shape), check_trace=False).save(pt)
        shape = ",".join(map(str, target.input_shape))
        outs = {k: os.path.join(tmp, f"model.{k}") for k in ("pnnxparam", "pnnxbin", "pnnxpy", "pnnxonnx", "ncnnparam",
                                                            "ncnnbin", "ncnnpy")}
        cmd = [pnnx.EXEC_PATH, pt, f"inputshape=[{shape}]f32", "fp16=0", "device=cpu"]
        cmd += [f"{k}={v}" for k, v in outs.items()]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600)
        if done.returncode != 0 or not os.path.exists(outs["ncnnparam"]):
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise RuntimeError(f"pnnx failed (exit {done.returncode}): {' | '.join(tail)}")
        shutil.move(outs["ncnnbin"], binary)
        shutil.move(outs["ncnnparam"], param)  # last: its presence marks a complete conversion
    return param, binary


class NcnnPeer:
    name = "ncnn"
    note = "NCHW (ncnn Mat, batch 1); fp32 (fp16/bf16 off); extractor per call"

    def __init__(self):
        if ncnn is None:
            raise PeerUnavailable(f"ncnn not installed ({_import_error}); pip install ncnn pnnx")
        self.version = getattr(ncnn, "__version__", None) or package_version("ncnn")

    def build(self, target, weights, threads):
        if target.input_shape[0] != 1:
            raise PeerUnavailable("ncnn runs batch 1 only")
        param, binary = convert(target, weights)
        net = ncnn.Net()
        net.opt.num_threads = threads
        for flag in FP32_ONLY:
            if hasattr(net.opt, flag):
                setattr(net.opt, flag, False)
        if net.load_param(param) != 0 or net.load_model(binary) != 0:
            raise RuntimeError(f"ncnn could not load {param}")
        in_name, out_name = net.input_names()[0], net.output_names()[0]

        def bind(x):
            mat = ncnn.Mat(np.ascontiguousarray(x[0]))

            def step():
                with net.create_extractor() as ex:  # an extractor caches blobs: a fresh one per inference
                    ex.input(in_name, mat)
                    return ex.extract(out_name)[1]
            step.input = mat
            return step

        return Runner(bind, to_nchw=lambda m: np.array(m)[None], keep=[net])


def load(name):
    return NcnnPeer()
