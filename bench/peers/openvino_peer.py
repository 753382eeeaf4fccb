"""OpenVINO: the same ONNX file, compiled for CPU with INFERENCE_NUM_THREADS, the latency hint and
f32 inference precision (on AMX/AVX512-BF16 CPUs its default would be bf16, a different answer)."""
import numpy as np

from .base import PeerUnavailable, Runner, onnx_file

try:
    import openvino as ov
    import openvino.properties as props
    import openvino.properties.hint as hints
except ImportError as e:
    ov, _import_error = None, e


class OpenVinoPeer:
    name = "openvino"
    note = "NCHW; f32 precision, latency hint; input tensor shares the NumPy buffer"

    def __init__(self):
        if ov is None:
            raise PeerUnavailable(f"openvino not installed ({_import_error}); pip install openvino")
        self.version = ov.__version__.split("-")[0]
        self.core = ov.Core()

    def build(self, target, weights, threads):
        config = {props.inference_num_threads: threads,
                  hints.performance_mode: hints.PerformanceMode.LATENCY,
                  hints.inference_precision: ov.Type.f32}
        compiled = self.core.compile_model(self.core.read_model(onnx_file(target, weights)), "CPU", config)
        request = compiled.create_infer_request()

        def bind(x):
            request.set_input_tensor(ov.Tensor(x, shared_memory=True))

            def step():
                request.infer()  # synchronous; start_async()+wait() measured 6x slower on tiny layers
                return request
            step.input = x  # the tensor shares x's memory: keep it alive as long as the step
            return step

        return Runner(bind, to_nchw=lambda req: np.array(req.get_output_tensor().data), keep=[compiled])


def load(name):
    return OpenVinoPeer()
