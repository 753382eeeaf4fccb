"""Network builders (MobileNet V1/V2, ShuffleNet V1/V2, MobileFaceNet, GDC head): randomly initialized
gconv_cpu.nn Modules whose state_dict keys are torchvision's (mobilenet_v2, shufflenet_v2) or documented in
each model's docstring, so torch weights load by name:

    model = gconv_cpu.models.mobilenet_v2()
    model.load_state_dict(torch.load("mobilenet_v2-b0353104.pth"))   # torch tensors or NumPy arrays
    logits = model(x)                                                # x: (N, 3, 224, 224) float32
"""
from .mobilefacenet import MobileFaceNet, gdc_head, mobilefacenet
from .mobilenet import InvertedResidual, MobileNetV1, MobileNetV2, mobilenet_v1, mobilenet_v2
from .shufflenet import (ShuffleNetV1, ShuffleNetV2, ShuffleV1Unit, ShuffleV2Unit, shufflenet_v1, shufflenet_v2,
                         shufflenet_v2_x0_5, shufflenet_v2_x1_0, shufflenet_v2_x1_5, shufflenet_v2_x2_0)


def shufflenet_v1_g3(width_mult=1.0, num_classes=1000):
    """shufflenet_v1(groups=3): the configuration bench/ times under the name shufflenet_v1_g3."""
    return shufflenet_v1(3, width_mult, num_classes)


__all__ = ["mobilenet_v1", "mobilenet_v2", "shufflenet_v1", "shufflenet_v1_g3", "shufflenet_v2",
           "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "mobilefacenet",
           "gdc_head", "MobileNetV1", "MobileNetV2", "InvertedResidual", "ShuffleNetV1", "ShuffleNetV2",
           "ShuffleV1Unit", "ShuffleV2Unit", "MobileFaceNet"]
