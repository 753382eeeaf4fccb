"""MobileFaceNet (Chen et al. 2018) and its global depthwise convolution (GDC) embedding head."""
from collections import OrderedDict

from .._validate import pair
from ..nn import BatchNorm2d, Conv2d, Flatten, Module, PReLU, Sequential
from ._common import check_count, conv_bn_act
from .mobilenet import InvertedResidual


def gdc_head(in_channels, spatial=7, embedding_size=128):
    """The GDC embedding head for any backbone whose last feature map is `spatial` x `spatial` (an int or
    (h, w)): a global depthwise conv (kernel = the whole map, no padding, no bias) + BN, then a linear 1x1
    conv to `embedding_size` (no bias) + BN, flattened to (N, embedding_size). No activation (the paper's
    'linear' layers). A Sequential with the keys
        gdc.weight (in_channels, 1, h, w), gdc_bn.{weight,bias,running_mean,running_var,num_batches_tracked},
        embedding.weight (embedding_size, in_channels, 1, 1), embedding_bn.*
    (prefixed by where it is attached, e.g. head.gdc.weight in MobileFaceNet)."""
    in_channels = check_count(in_channels, "in_channels")
    embedding_size = check_count(embedding_size, "embedding_size")
    kernel = pair(spatial, "spatial", 1)
    return Sequential(OrderedDict([
        ("gdc", Conv2d(in_channels, in_channels, kernel, groups=in_channels, bias=False)),
        ("gdc_bn", BatchNorm2d(in_channels)),
        ("embedding", Conv2d(in_channels, embedding_size, 1, bias=False)),
        ("embedding_bn", BatchNorm2d(embedding_size)),
        ("flatten", Flatten(1)),
    ]))


# (expansion t, output channels c, repeats n, first stride s): the paper's Table 1
MFN_SETTINGS = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))


class MobileFaceNet(Module):
    """MobileFaceNet (the paper's Table 1) for 112x112 faces: every non-linear layer uses PReLU (one slope
    per channel). state_dict keys:
        features.0.0.weight, .0.1.*, .0.2.weight    3x3 s2 conv 3 -> 64 + BN + PReLU(64)
        features.1.0.weight, .1.1.*, .1.2.weight    3x3 depthwise conv 64 + BN + PReLU
        features.2 .. features.16                   bottlenecks: MobileNetV2 InvertedResidual keys with PReLU
                                                    (conv.0.{0,1,2} expand, conv.1.{0,1,2} depthwise,
                                                    conv.2.weight project, conv.3.* BN)
        features.17.0.weight, .17.1.*, .17.2.weight 1x1 conv 128 -> 512 + BN + PReLU
        head.*                                      gdc_head(512, 7, embedding_size): head.gdc.weight,
                                                    head.gdc_bn.*, head.embedding.weight, head.embedding_bn.*
    Output: (N, embedding_size), not normalized.
    """

    input_shape = (1, 3, 112, 112)  # what save() traces at, and the size the network was designed for

    def __init__(self, embedding_size=128):
        layers = [conv_bn_act(3, 64, 3, 2, activation=PReLU),
                  conv_bn_act(64, 64, 3, 1, groups=64, activation=PReLU)]
        c = 64
        for t, c_out, n, s in MFN_SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, t, activation=PReLU))
                c = c_out
        layers.append(conv_bn_act(c, 512, 1, activation=PReLU))
        self.features = Sequential(*layers)
        self.head = gdc_head(512, 7, embedding_size)

    def forward(self, x):
        return self.head(self.features(x))


def mobilefacenet(embedding_size=128):
    """MobileFaceNet for 112x112 inputs, torch default init (BatchNorm identity, PReLU 0.25). Keys: see
    MobileFaceNet."""
    return MobileFaceNet(embedding_size)

