"""The peers gconv_cpu is measured against, one module each, all optional.

    peer = load_peer("ort")                 # raises PeerUnavailable(reason) when it cannot run here
    run = peer.build(target, weights, threads)
    y = run(x)                              # NCHW output, for the accuracy check
    step = run.bind(x); step()              # the timed call

A peer has `name`, `version`, `note` (layout / what its timed region holds) and
build(target, weights, threads) -> Runner, where target is a ConvWorkload (weights: {'weight': OIHW,
'bias'}) or a torch_nets.NetSpec (weights: the torch state_dict).
"""
import importlib

from .base import PeerUnavailable, Runner

PEER_NAMES = ("torch", "torch_cl", "ort", "openvino", "ncnn", "litert")
_MODULES = {"torch": "torch_peer", "torch_cl": "torch_peer", "ort": "ort_peer", "openvino": "openvino_peer",
            "ncnn": "ncnn_peer", "litert": "litert_peer"}


def load_peer(name):
    if name not in _MODULES:
        raise ValueError(f"unknown peer {name!r}; choose from {', '.join(PEER_NAMES)}")
    try:
        module = importlib.import_module(f".{_MODULES[name]}", __name__)
        return module.load(name)
    except PeerUnavailable:
        raise
    except Exception as e:  # a broken install must not take the suite down
        raise PeerUnavailable(f"failed to load: {type(e).__name__}: {e}") from e


__all__ = ["PEER_NAMES", "PeerUnavailable", "Runner", "load_peer"]
