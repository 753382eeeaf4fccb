"""PyTorch eager: NCHW ('torch') and channels_last ('torch_cl'), under torch.inference_mode()."""
import contextlib

import numpy as np

from .base import PeerUnavailable, Runner, torch_module

try:
    import torch
except ImportError as e:  # torch is optional for the suite as a whole
    torch, _import_error = None, e


class TorchPeer:
    def __init__(self, channels_last=False):
        if torch is None:
            raise PeerUnavailable(f"torch not installed ({_import_error}); pip install torch")
        self.channels_last = channels_last
        self.name = "torch_cl" if channels_last else "torch"
        self.version = torch.__version__
        self.note = ("channels_last model and input (the NCHW->NHWC copy is outside the timed region)"
                     if channels_last else "NCHW")

    def build(self, target, weights, threads):
        module = torch_module(target, weights)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        module = module.to(memory_format=fmt)

        @contextlib.contextmanager
        def context():
            if torch.get_num_threads() != threads:  # process-wide: every row sets its own
                torch.set_num_threads(threads)
            with torch.inference_mode():
                yield

        def bind(x):
            xt = torch.from_numpy(x).contiguous(memory_format=fmt)
            return lambda: module(xt)

        return Runner(bind, to_nchw=lambda y: np.ascontiguousarray(y.numpy()), context=context)


def load(name):
    return TorchPeer(channels_last=(name == "torch_cl"))
