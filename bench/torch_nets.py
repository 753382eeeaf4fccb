"""PyTorch definitions of the benchmark networks (inference, BatchNorm in eval mode).

The reference every peer runs: ONNX Runtime and OpenVINO get its ONNX export, ncnn its pnnx
conversion, gconv_cpu.models (when it exists) its state_dict, under the same parameter names.

    net = build_net("mobilenet_v2")        # eval mode, deterministic random weights
    y = net(torch.randn(NETS["mobilenet_v2"].input_shape))
"""
from dataclasses import dataclass

import torch
from torch import nn


def conv_bn(c_in, c_out, kernel, stride=1, groups=1, act=nn.ReLU):
    """Conv (no bias) + BatchNorm (+ activation, None for a linear block), 'same'-style padding."""
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    if act is not None:
        layers.append(act(c_out) if act is nn.PReLU else act(inplace=True))
    return nn.Sequential(*layers)


def channel_shuffle(x, groups):
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


# --- MobileNetV1 (Howard et al. 2017), width 1.0, ReLU6 as in the Keras/TF-slim models ----------------------------

class MobileNetV1(nn.Module):
    # (output channels, stride) of each depthwise-separable block
    BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        layers, c = [conv_bn(3, 32, 3, 2, act=nn.ReLU6)], 32
        for c_out, stride in self.BLOCKS:
            layers += [conv_bn(c, c, 3, stride, groups=c, act=nn.ReLU6), conv_bn(c, c_out, 1, act=nn.ReLU6)]
            c = c_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


# --- MobileNetV2 (Sandler et al. 2018), width 1.0 ------------------------------------------------------------------

class InvertedResidual(nn.Module):
    def __init__(self, c_in, c_out, stride, expand, act=nn.ReLU6):
        super().__init__()
        hidden = c_in * expand
        layers = [conv_bn(c_in, hidden, 1, act=act)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, act=act), conv_bn(hidden, c_out, 1, act=None)]
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and c_in == c_out

    def forward(self, x):
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    # (expansion t, output channels c, repeats n, first stride s), the paper's Table 2
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        layers, c = [conv_bn(3, 32, 3, 2, act=nn.ReLU6)], 32
        for t, c_out, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, t))
                c = c_out
        layers.append(conv_bn(c, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


# --- ShuffleNetV1 (Zhang et al. 2018), g=3, width 1.0; units as in Megvii's ShuffleNet-Series --------------------

class ShuffleV1Unit(nn.Module):
    def __init__(self, c_in, c_out, stride, groups, first_group_conv=True):
        super().__init__()
        self.stride, self.groups = stride, groups
        branch_out = c_out - c_in if stride == 2 else c_out  # stride 2 concatenates the pooled input
        mid = c_out // 4
        self.compress = conv_bn(c_in, mid, 1, groups=groups if first_group_conv else 1)
        self.depthwise = conv_bn(mid, mid, 3, stride, groups=mid, act=None)
        self.expand = conv_bn(mid, branch_out, 1, groups=groups, act=None)
        self.shortcut = nn.AvgPool2d(3, 2, 1) if stride == 2 else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.compress(x)
        if self.groups > 1:
            y = channel_shuffle(y, self.groups)
        y = self.expand(self.depthwise(y))
        if self.stride == 2:
            return self.relu(torch.cat([self.shortcut(x), y], 1))
        return self.relu(x + y)


class ShuffleNetV1(nn.Module):
    STAGE_CHANNELS = {3: (240, 480, 960)}  # width 1.0, per group count
    REPEATS = (4, 8, 4)

    def __init__(self, groups=3, num_classes=1000):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 24, 3, 2), nn.MaxPool2d(3, 2, 1))
        units, c = [], 24
        for stage, (c_out, n) in enumerate(zip(self.STAGE_CHANNELS[groups], self.REPEATS)):
            for i in range(n):
                # the first pointwise of the network sees only 24 channels: no grouping there
                units.append(ShuffleV1Unit(c, c_out, 2 if i == 0 else 1, groups, first_group_conv=stage > 0 or i > 0))
                c = c_out
        self.stages = nn.Sequential(*units)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes, bias=False)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


# --- ShuffleNetV2 (Ma et al. 2018), width 1.0, as torchvision's shufflenet_v2_x1_0 -------------------------------

class ShuffleV2Unit(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.stride = stride
        half = c_out // 2
        if stride == 2:  # both halves see the whole input
            self.branch1 = nn.Sequential(conv_bn(c_in, c_in, 3, 2, groups=c_in, act=None), conv_bn(c_in, half, 1))
        else:
            self.branch1 = nn.Identity()
        c_branch = c_in if stride == 2 else half
        self.branch2 = nn.Sequential(conv_bn(c_branch, half, 1), conv_bn(half, half, 3, stride, groups=half, act=None),
                                     conv_bn(half, half, 1))

    def forward(self, x):
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            y = torch.cat([a, self.branch2(b)], 1)
        else:
            y = torch.cat([self.branch1(x), self.branch2(x)], 1)
        return channel_shuffle(y, 2)


class ShuffleNetV2(nn.Module):
    STAGE_CHANNELS = (116, 232, 464)
    REPEATS = (4, 8, 4)

    def __init__(self, num_classes=1000):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 24, 3, 2), nn.MaxPool2d(3, 2, 1))
        units, c = [], 24
        for c_out, n in zip(self.STAGE_CHANNELS, self.REPEATS):
            for i in range(n):
                units.append(ShuffleV2Unit(c, c_out, 2 if i == 0 else 1))
                c = c_out
        self.stages = nn.Sequential(*units)
        self.head = conv_bn(c, 1024, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(1024, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.head(self.stages(self.stem(x)))), 1))


# --- MobileFaceNet (Chen et al. 2018): 112x112 input, PReLU, 7x7 global depthwise (GDC) head, 128-d embedding -----

class MobileFaceNet(nn.Module):
    # (expansion t, output channels c, repeats n, first stride s), the paper's Table 1
    SETTINGS = [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]

    def __init__(self, embedding_size=128):
        super().__init__()
        layers = [conv_bn(3, 64, 3, 2, act=nn.PReLU), conv_bn(64, 64, 3, 1, groups=64, act=nn.PReLU)]
        c = 64
        for t, c_out, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, t, act=nn.PReLU))
                c = c_out
        layers.append(conv_bn(c, 512, 1, act=nn.PReLU))
        self.features = nn.Sequential(*layers)
        # GDC: a 7x7 depthwise conv with no padding replaces global average pooling (linear, no activation)
        self.gdc = nn.Sequential(nn.Conv2d(512, 512, 7, groups=512, bias=False), nn.BatchNorm2d(512))
        self.embedding = nn.Sequential(nn.Conv2d(512, embedding_size, 1, bias=False), nn.BatchNorm2d(embedding_size))

    def forward(self, x):
        return torch.flatten(self.embedding(self.gdc(self.features(x))), 1)


@dataclass(frozen=True)
class NetSpec:
    name: str
    cls: type
    input_hw: int
    kwargs: tuple = ()
    tflite: str = None  # a LiteRT model of the same architecture in bench/data/tflite/ (its own weights)

    @property
    def input_shape(self):
        return (1, 3, self.input_hw, self.input_hw)


NETS = {n.name: n for n in [
    NetSpec("mobilenet_v1", MobileNetV1, 224, tflite="mobilenet_v1.tflite"),
    NetSpec("mobilenet_v2", MobileNetV2, 224, tflite="mobilenet_v2.tflite"),
    NetSpec("shufflenet_v1_g3", ShuffleNetV1, 224, kwargs=(("groups", 3),)),
    NetSpec("shufflenet_v2", ShuffleNetV2, 224),
    NetSpec("mobilefacenet", MobileFaceNet, 112),
]}
QUICK_NETS = ("mobilefacenet",)


def build_net(name, seed=0):
    """The network in eval mode with deterministic random weights and realistic BatchNorm.

    Default init leaves BatchNorm as identity (gamma 1, beta 0, mean 0, var 1), which would hide
    folding bugs and let activations drift in scale through the depth; so gamma and beta are
    randomized and the running statistics calibrated on one random batch, all from `seed`.
    """
    spec = NETS[name]
    gen = torch.manual_seed(seed)
    net = spec.cls(**dict(spec.kwargs))
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5, generator=gen)
            bn.bias.uniform_(-0.2, 0.2, generator=gen)
            bn.momentum = None  # cumulative average: one batch sets the statistics exactly
        net.train()
        net(torch.randn((4,) + spec.input_shape[1:], generator=gen))
    for bn in bns:
        bn.momentum = 0.1
    return net.eval()


def macs(net, input_shape):
    """Multiply-accumulates of the convolutions and linear layers (what GFLOP/s counts)."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += output.numel() * module.weight[0].numel()
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.inference_mode():
            net(torch.zeros(input_shape))
    finally:
        for h in hooks:
            h.remove()
    return total
