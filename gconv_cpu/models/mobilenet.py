"""MobileNetV1 (Howard et al. 2017) and MobileNetV2 (Sandler et al. 2018)."""
from .. import functional as F
from ..nn import BatchNorm2d, Conv2d, Dropout, Linear, Module, ReLU6, Sequential
from ._common import check_count, check_width, conv_bn_act, init_torchvision_mobilenet, make_divisible

# ---- MobileNetV1 -----------------------------------------------------------------------------------------

# (output channels, stride) of the 13 depthwise-separable blocks (the paper's Table 1)
V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)) + ((512, 1),) * 5 + ((1024, 2), (1024, 1))


class MobileNetV1(Module):
    """MobileNetV1: a 3x3 s2 stem, 13 depthwise-separable blocks (3x3 depthwise, 1x1 pointwise), each conv
    followed by BatchNorm and ReLU6 (as the TF-slim/Keras models), global average pooling, Linear.

    state_dict keys (no torchvision model exists; bench/torch_nets.MobileNetV1 has the same):
        features.0.0.weight                 stem conv 3 -> 32a, 3x3 s2, no bias
        features.0.1.{weight,bias,running_mean,running_var,num_batches_tracked}   its BatchNorm
        features.{2i-1}.0.weight, .1.*      block i (1..13): 3x3 depthwise conv + BN
        features.{2i}.0.weight, .1.*        block i: 1x1 pointwise conv + BN
        classifier.weight, classifier.bias  Linear(1024a, num_classes)
    (the ReLU6 of each conv is the child .2, stateless). Channels are scaled by width_mult a as TF-slim
    does: max(8, int(c * a)).
    """

    input_shape = (1, 3, 224, 224)  # what save() traces at, and the size the network was designed for

    def __init__(self, width_mult=1.0, num_classes=1000):
        width_mult = check_width(width_mult)
        num_classes = check_count(num_classes, "num_classes")

        def depth(c):
            return max(8, int(c * width_mult))

        c = depth(32)
        layers = [conv_bn_act(3, c, 3, 2, activation=ReLU6)]
        for c_out, stride in V1_BLOCKS:
            layers.append(conv_bn_act(c, c, 3, stride, groups=c, activation=ReLU6))
            layers.append(conv_bn_act(c, depth(c_out), 1, activation=ReLU6))
            c = depth(c_out)
        self.features = Sequential(*layers)
        self.classifier = Linear(c, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.classifier(F.flatten(x, 1))


def mobilenet_v1(width_mult=1.0, num_classes=1000):
    """MobileNetV1 for 224x224 inputs (any size >= 32 works), randomly initialized with torch's default
    per-layer init (BatchNorm identity). Keys: see MobileNetV1."""
    return MobileNetV1(width_mult, num_classes)


# ---- MobileNetV2 -----------------------------------------------------------------------------------------

# (expansion t, output channels c, repeats n, first stride s), the paper's Table 2
V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1))


class InvertedResidual(Module):
    """torchvision's MobileNetV2 block: conv = Sequential([expand 1x1 conv-BN-act (when t != 1),]
    3x3 depthwise conv-BN-act, 1x1 linear projection Conv2d, BatchNorm2d); x + conv(x) when the stride is 1
    and the channels match. Keys (t != 1): conv.0.0/conv.0.1 (expand), conv.1.0/conv.1.1 (depthwise),
    conv.2.weight (project), conv.3.* (its BN); with t == 1: conv.0.* (depthwise), conv.1.weight, conv.2.*.
    `activation` (ReLU6 in MobileNetV2, PReLU in MobileFaceNet) is a stateless child .2, or has .2.weight
    for PReLU."""

    def __init__(self, c_in, c_out, stride, expand_ratio, activation=ReLU6):
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2, got {stride}")
        self.stride = stride
        hidden = int(round(c_in * expand_ratio))
        self.use_res_connect = stride == 1 and c_in == c_out
        layers = []
        if expand_ratio != 1:
            layers.append(conv_bn_act(c_in, hidden, 1, activation=activation))
        layers += [conv_bn_act(hidden, hidden, 3, stride, groups=hidden, activation=activation),
                   Conv2d(hidden, c_out, 1, bias=False), BatchNorm2d(c_out)]
        self.conv = Sequential(*layers)
        self.out_channels = c_out

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(Module):
    """torchvision.models.MobileNetV2's modules and state_dict keys exactly:
        features.0.0.weight, features.0.1.*          stem: 3x3 s2 conv 3 -> 32 + BN (+ ReLU6 child .2)
        features.1 .. features.17                    InvertedResidual blocks (keys: see InvertedResidual)
        features.18.0.weight, features.18.1.*        1x1 conv -> 1280 + BN (+ ReLU6)
        classifier.0                                 Dropout(0.2) (identity at inference)
        classifier.1.weight, classifier.1.bias       Linear(1280, num_classes)
    Channel counts are c * width_mult rounded by torchvision's _make_divisible(., 8); the last conv keeps
    1280 for width_mult <= 1. So torchvision's checkpoints (mobilenet_v2-b0353104.pth) load directly.
    """

    input_shape = (1, 3, 224, 224)  # what save() traces at, and the size the network was designed for

    def __init__(self, width_mult=1.0, num_classes=1000, dropout=0.2, round_nearest=8):
        width_mult = check_width(width_mult)
        num_classes = check_count(num_classes, "num_classes")
        c = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        layers = [conv_bn_act(3, c, 3, 2, activation=ReLU6)]
        for t, c_out, n, s in V2_SETTINGS:
            c_out = make_divisible(c_out * width_mult, round_nearest)
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, t))
                c = c_out
        layers.append(conv_bn_act(c, self.last_channel, 1, activation=ReLU6))
        self.features = Sequential(*layers)
        self.classifier = Sequential(Dropout(dropout), Linear(self.last_channel, num_classes))
        init_torchvision_mobilenet(self)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.classifier(F.flatten(x, 1))


def mobilenet_v2(width_mult=1.0, num_classes=1000):
    """MobileNetV2 with torchvision's structure and keys (see MobileNetV2), randomly initialized as
    torchvision does (convs kaiming-normal fan-out, Linear N(0, 0.01), BatchNorm identity)."""
    return MobileNetV2(width_mult, num_classes)
