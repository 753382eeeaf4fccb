"""ONNX Runtime: the torch module exported to ONNX; one session per thread count, sequential
execution, all graph optimizations; inputs and a preallocated output bound once (IOBinding)."""
import numpy as np

from .base import PeerUnavailable, Runner, onnx_file

try:
    import onnxruntime as ort
except ImportError as e:
    ort, _import_error = None, e


class OrtPeer:
    name = "ort"
    note = "NCHW; IOBinding with a preallocated output"

    def __init__(self):
        if ort is None:
            raise PeerUnavailable(f"onnxruntime not installed ({_import_error}); pip install onnxruntime")
        self.version = ort.__version__

    def build(self, target, weights, threads):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        sess = ort.InferenceSession(onnx_file(target, weights), opts, providers=["CPUExecutionProvider"])
        in_name, out_name = sess.get_inputs()[0].name, sess.get_outputs()[0].name

        def bind(x):
            out_shape = sess.run([out_name], {in_name: x})[0].shape
            out = np.empty(out_shape, np.float32)
            io = sess.io_binding()
            io.bind_cpu_input(in_name, x)
            io.bind_output(out_name, "cpu", 0, np.float32, out.shape, out.ctypes.data)

            def step():
                sess.run_with_iobinding(io)
                return out
            step.input = x  # the binding points at x's memory: keep it alive as long as the step
            return step

        return Runner(bind, to_nchw=np.copy, keep=[sess])


def load(name):
    return OrtPeer()
