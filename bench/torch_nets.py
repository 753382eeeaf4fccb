"""PyTorch definitions of the benchmark networks (inference, BatchNorm in eval mode).

The reference every peer runs: ONNX Runtime and OpenVINO get its ONNX export, ncnn its pnnx
conversion, gconv_cpu.models its state_dict, under the same parameter names: MobileNetV2 and
ShuffleNetV2 have torchvision's exact modules and state_dict keys (written here by hand: torchvision
is not a dependency), the others the keys documented in gconv_cpu.models. Every class takes the
same arguments as its gconv_cpu.models builder.

    net = build_net("mobilenet_v2")        # eval mode, deterministic random weights
    y = net(torch.randn(NETS["mobilenet_v2"].input_shape))
"""
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn


def conv_bn(c_in, c_out, kernel, stride=1, groups=1, act=nn.ReLU):
    """torchvision's Conv2dNormActivation as a plain Sequential: Conv (no bias, padding (k-1)//2),
    BatchNorm (, activation: a class, None for a linear block; PReLU gets one slope per channel)."""
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(c_out)]
    if act is not None:
        layers.append(act(c_out) if act is nn.PReLU else act(inplace=True))
    return nn.Sequential(*layers)


def channel_shuffle(x, groups):
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def make_divisible(v, divisor=8, min_value=None):
    """Nearest multiple of divisor (>= min_value, default divisor), one step up if that lost > 10%."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


# --- MobileNetV1 (Howard et al. 2017), ReLU6 as in the Keras/TF-slim models --------------------------------------

class MobileNetV1(nn.Module):
    # (output channels, stride) of each depthwise-separable block
    BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]

    def __init__(self, width_mult=1.0, num_classes=1000):
        super().__init__()

        def depth(ch):
            return max(8, int(ch * width_mult))

        layers, c = [conv_bn(3, depth(32), 3, 2, act=nn.ReLU6)], depth(32)
        for c_out, stride in self.BLOCKS:
            layers += [conv_bn(c, c, 3, stride, groups=c, act=nn.ReLU6), conv_bn(c, depth(c_out), 1, act=nn.ReLU6)]
            c = depth(c_out)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


# --- MobileNetV2 (Sandler et al. 2018): torchvision's modules, keys and initialization -----------------------------

class InvertedResidual(nn.Module):
    """conv = [1x1 expand conv-BN-act (t != 1)], 3x3 depthwise conv-BN-act, 1x1 Conv2d, BatchNorm2d."""

    def __init__(self, c_in, c_out, stride, expand_ratio, act=nn.ReLU6):
        super().__init__()
        self.stride = stride
        hidden = int(round(c_in * expand_ratio))
        self.use_res_connect = stride == 1 and c_in == c_out
        layers = [conv_bn(c_in, hidden, 1, act=act)] if expand_ratio != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, act=act),
                   nn.Conv2d(hidden, c_out, 1, 1, 0, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = c_out

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    # (expansion t, output channels c, repeats n, first stride s), the paper's Table 2
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, width_mult=1.0, num_classes=1000, dropout=0.2):
        super().__init__()
        c = make_divisible(32 * width_mult)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult))
        layers = [conv_bn(3, c, 3, 2, act=nn.ReLU6)]
        for t, c_out, n, s in self.SETTINGS:
            c_out = make_divisible(c_out * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, t))
                c = c_out
        layers.append(conv_bn(c, self.last_channel, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1)), 1)
        return self.classifier(x)


# --- ShuffleNetV1 (Zhang et al. 2018): Table 1 channels, units as in Megvii's ShuffleNet-Series --------------------

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
    STAGE_CHANNELS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088),
                      8: (384, 768, 1536)}  # width 1.0, per group count
    REPEATS = (4, 8, 4)

    def __init__(self, groups=3, width_mult=1.0, num_classes=1000):
        super().__init__()
        step = 4 * groups  # the bottleneck (a quarter) must split into the groups
        channels = [max(step, int(ch * width_mult / step + 0.5) * step) for ch in self.STAGE_CHANNELS[groups]]
        self.conv1 = conv_bn(3, 24, 3, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = 24
        for stage, (c_out, n) in enumerate(zip(channels, self.REPEATS)):
            units = []
            for i in range(n):
                # the first pointwise of the network sees only 24 channels: no grouping there
                units.append(ShuffleV1Unit(c, c_out, 2 if i == 0 else 1, groups, first_group_conv=stage > 0 or i > 0))
                c = c_out
            setattr(self, f"stage{stage + 2}", nn.Sequential(*units))
        self.fc = nn.Linear(c, num_classes, bias=False)

    def forward(self, x):
        x = self.stage4(self.stage3(self.stage2(self.maxpool(self.conv1(x)))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


# --- ShuffleNetV2 (Ma et al. 2018): torchvision's shufflenet_v2_x{0_5,1_0,1_5,2_0} modules and keys ----------------

class ShuffleV2Unit(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.stride = stride
        half = c_out // 2
        if stride > 1:  # both halves see the whole input
            self.branch1 = nn.Sequential(
                nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in),
                nn.Conv2d(c_in, half, 1, 1, 0, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(c_in if stride > 1 else half, half, 1, 1, 0, bias=False), nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, 1, 0, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))

    def forward(self, x):
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            y = torch.cat((a, self.branch2(b)), 1)
        else:
            y = torch.cat((self.branch1(x), self.branch2(x)), 1)
        return channel_shuffle(y, 2)


class ShuffleNetV2(nn.Module):
    STAGE_CHANNELS = {0.5: (24, 48, 96, 192, 1024), 1.0: (24, 116, 232, 464, 1024),
                      1.5: (24, 176, 352, 704, 1024), 2.0: (24, 244, 488, 976, 2048)}
    REPEATS = (4, 8, 4)

    def __init__(self, width_mult=1.0, num_classes=1000):
        super().__init__()
        channels = self.STAGE_CHANNELS[width_mult]
        c = channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, (n, c_out) in enumerate(zip(self.REPEATS, channels[1:4])):
            units = [ShuffleV2Unit(c, c_out, 2)] + [ShuffleV2Unit(c_out, c_out, 1) for _ in range(n - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*units))
            c = c_out
        self.conv5 = nn.Sequential(nn.Conv2d(c, channels[-1], 1, 1, 0, bias=False), nn.BatchNorm2d(channels[-1]),
                                   nn.ReLU(inplace=True))
        self.fc = nn.Linear(channels[-1], num_classes)

    def forward(self, x):
        x = self.stage4(self.stage3(self.stage2(self.maxpool(self.conv1(x)))))
        return self.fc(self.conv5(x).mean([2, 3]))


# --- MobileFaceNet (Chen et al. 2018): 112x112 input, PReLU, 7x7 global depthwise (GDC) head, 128-d embedding -----

def gdc_head(in_channels, spatial=7, embedding_size=128):
    """Global depthwise conv (kernel = the feature map, no padding) + BN, linear 1x1 conv + BN, flatten."""
    return nn.Sequential(OrderedDict([
        ("gdc", nn.Conv2d(in_channels, in_channels, spatial, groups=in_channels, bias=False)),
        ("gdc_bn", nn.BatchNorm2d(in_channels)),
        ("embedding", nn.Conv2d(in_channels, embedding_size, 1, bias=False)),
        ("embedding_bn", nn.BatchNorm2d(embedding_size)),
        ("flatten", nn.Flatten(1)),
    ]))


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
        self.head = gdc_head(512, 7, embedding_size)

    def forward(self, x):
        return self.head(self.features(x))


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
    randomized and the running statistics calibrated on one random batch, all from `seed`. PReLU
    slopes are randomized too (default 0.25 everywhere would hide a per-channel mix-up).
    """
    spec = NETS[name]
    gen = torch.manual_seed(seed)
    net = spec.cls(**dict(spec.kwargs))
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.PReLU):
                m.weight.uniform_(0.05, 0.45, generator=gen)
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
