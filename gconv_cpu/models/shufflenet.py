"""ShuffleNetV1 (Zhang et al. 2018) and ShuffleNetV2 (Ma et al. 2018)."""
from .. import functional as F
from ..nn import (AvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, ReLU, Sequential)
from ._common import check_count, check_width, conv_bn_act

# ---- ShuffleNetV1 ----------------------------------------------------------------------------------------

# Output channels of stages 2, 3, 4 at width 1.0 per group count: Table 1 of the paper.
V1_STAGE_CHANNELS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088),
                     8: (384, 768, 1536)}
V1_REPEATS = (4, 8, 4)


def shufflenet_v1_channels(groups, width_mult=1.0):
    """Stage output channels: Table 1's scaled by width_mult and rounded to a multiple of 4*groups (the
    bottleneck, a quarter of them, must split into the groups); unchanged at width 1.0."""
    if groups not in V1_STAGE_CHANNELS:
        raise ValueError(f"groups must be one of {sorted(V1_STAGE_CHANNELS)} (the paper's Table 1), got {groups!r}")
    step = 4 * groups
    return tuple(max(step, int(c * width_mult / step + 0.5) * step) for c in V1_STAGE_CHANNELS[groups])


class ShuffleV1Unit(Module):
    """The ShuffleNet unit (Fig. 2b/2c): 1x1 group conv + BN + ReLU (`compress`, to a quarter of the output
    channels), channel shuffle, 3x3 depthwise conv + BN (`depthwise`, stride 1 or 2), 1x1 group conv + BN
    (`expand`); stride 1: relu(x + branch); stride 2: relu(cat(avg_pool3x3s2(x), branch)), the branch
    giving c_out - c_in channels. Keys: compress.0.weight, compress.1.*, depthwise.0.weight,
    depthwise.1.*, expand.0.weight, expand.1.*."""

    def __init__(self, c_in, c_out, stride, groups, first_group_conv=True):
        self.stride, self.groups = stride, groups
        mid = c_out // 4
        branch_out = c_out - c_in if stride == 2 else c_out
        self.compress = conv_bn_act(c_in, mid, 1, groups=groups if first_group_conv else 1)
        self.depthwise = conv_bn_act(mid, mid, 3, stride, groups=mid, activation=None)
        self.expand = conv_bn_act(mid, branch_out, 1, groups=groups, activation=None)
        self.shortcut = AvgPool2d(3, 2, 1) if stride == 2 else None

    def forward(self, x):
        y = self.compress(x)
        if self.groups > 1:
            y = F.channel_shuffle(y, self.groups)
        y = self.expand(self.depthwise(y))
        if self.stride == 2:
            return F.relu(F.cat([self.shortcut(x), y], 1))
        return F.relu(x + y)


class ShuffleNetV1(Module):
    """ShuffleNetV1 (the paper's Table 1; units as in Megvii's ShuffleNet-Series). state_dict keys:
        conv1.0.weight, conv1.1.*                 3x3 s2 conv 3 -> 24 + BN (+ ReLU child .2)
        (maxpool: 3x3 s2 pad 1, stateless)
        stage2.{0..3}.*, stage3.{0..7}.*, stage4.{0..3}.*   ShuffleV1Unit keys (compress/depthwise/expand);
                                                  the first unit of each stage has stride 2
        fc.weight                                 Linear(C4, num_classes), no bias (as Megvii's)
    The first pointwise conv of stage2.0 is not grouped (it sees only 24 channels). The stem keeps 24
    channels at every width.
    """

    input_shape = (1, 3, 224, 224)  # what save() traces at, and the size the network was designed for

    def __init__(self, groups=3, width_mult=1.0, num_classes=1000):
        width_mult = check_width(width_mult)
        num_classes = check_count(num_classes, "num_classes")
        channels = shufflenet_v1_channels(groups, width_mult)
        self.groups = groups
        self.conv1 = conv_bn_act(3, 24, 3, 2)
        self.maxpool = MaxPool2d(3, 2, 1)
        c = 24
        for stage, (c_out, n) in enumerate(zip(channels, V1_REPEATS)):
            units = []
            for i in range(n):
                # the network's first pointwise conv sees only 24 channels: not grouped (the paper, 3.3)
                units.append(ShuffleV1Unit(c, c_out, 2 if i == 0 else 1, groups, first_group_conv=stage > 0 or i > 0))
                c = c_out
            setattr(self, f"stage{stage + 2}", Sequential(*units))
        self.fc = Linear(c, num_classes, bias=False)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(F.flatten(x, 1))


def shufflenet_v1(groups=3, width_mult=1.0, num_classes=1000):
    """ShuffleNetV1 with groups in (1, 2, 3, 4, 8), torch default init (BatchNorm identity). Keys: see
    ShuffleNetV1."""
    return ShuffleNetV1(groups, width_mult, num_classes)


# ---- ShuffleNetV2 ----------------------------------------------------------------------------------------

V2_STAGE_CHANNELS = {0.5: (24, 48, 96, 192, 1024), 1.0: (24, 116, 232, 464, 1024),
                     1.5: (24, 176, 352, 704, 1024), 2.0: (24, 244, 488, 976, 2048)}
V2_REPEATS = (4, 8, 4)


class ShuffleV2Unit(Module):
    """torchvision's ShuffleNetV2 InvertedResidual. Keys:
        stride 2: branch1.0.weight (3x3 s2 depthwise), branch1.1.* (BN), branch1.2.weight (1x1), branch1.3.*
                  (BN) [branch1.4 ReLU]
        both:     branch2.0.weight (1x1), branch2.1.* [branch2.2 ReLU], branch2.3.weight (3x3 depthwise),
                  branch2.4.*, branch2.5.weight (1x1), branch2.6.* [branch2.7 ReLU]
    Stride 1 splits the channels in two halves, keeps the first and runs branch2 on the second; stride 2
    runs both branches on the whole input; then cat and channel_shuffle(2)."""

    def __init__(self, c_in, c_out, stride):
        if stride not in (1, 2, 3):
            raise ValueError(f"illegal stride value {stride}")
        self.stride = stride
        half = c_out // 2
        if stride == 1 and c_in != half * 2:
            raise ValueError(f"a stride-1 unit needs c_in == c_out (even), got {c_in} and {c_out}")
        if stride > 1:
            self.branch1 = Sequential(
                Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False), BatchNorm2d(c_in),
                Conv2d(c_in, half, 1, bias=False), BatchNorm2d(half), ReLU())
        else:
            self.branch1 = Sequential()
        self.branch2 = Sequential(
            Conv2d(c_in if stride > 1 else half, half, 1, bias=False), BatchNorm2d(half), ReLU(),
            Conv2d(half, half, 3, stride, 1, groups=half, bias=False), BatchNorm2d(half),
            Conv2d(half, half, 1, bias=False), BatchNorm2d(half), ReLU())

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = F.chunk(x, 2, 1)
            out = F.cat([x1, self.branch2(x2)], 1)
        else:
            out = F.cat([self.branch1(x), self.branch2(x)], 1)
        return F.channel_shuffle(out, 2)


class ShuffleNetV2(Module):
    """torchvision.models.ShuffleNetV2's modules and state_dict keys exactly (shufflenet_v2_x0_5 ... x2_0):
        conv1.0.weight, conv1.1.*          3x3 s2 conv 3 -> 24 + BN [+ ReLU]
        (maxpool: 3x3 s2 pad 1)
        stage2.{0..3}, stage3.{0..7}, stage4.{0..3}   ShuffleV2Unit keys (branch1/branch2)
        conv5.0.weight, conv5.1.*          1x1 conv -> 1024 (2048 at 2.0) + BN [+ ReLU]
        fc.weight, fc.bias                 Linear(., num_classes), after global average pooling
    """

    input_shape = (1, 3, 224, 224)  # what save() traces at, and the size the network was designed for

    def __init__(self, stages_repeats, stages_out_channels, num_classes=1000):
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = tuple(stages_out_channels)
        c = stages_out_channels[0]
        self.conv1 = Sequential(Conv2d(3, c, 3, 2, 1, bias=False), BatchNorm2d(c), ReLU())
        self.maxpool = MaxPool2d(3, 2, 1)
        for i, (n, c_out) in enumerate(zip(stages_repeats, stages_out_channels[1:4])):
            setattr(self, f"stage{i + 2}",
                    Sequential(ShuffleV2Unit(c, c_out, 2), *[ShuffleV2Unit(c_out, c_out, 1) for _ in range(n - 1)]))
            c = c_out
        c_out = stages_out_channels[-1]
        self.conv5 = Sequential(Conv2d(c, c_out, 1, bias=False), BatchNorm2d(c_out), ReLU())
        self.fc = Linear(c_out, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        x = self.conv5(x)
        x = F.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # torchvision: x.mean([2, 3])
        return self.fc(x)


def shufflenet_v2(width_mult=1.0, num_classes=1000):
    """ShuffleNetV2 at width 0.5, 1.0, 1.5 or 2.0 with torchvision's structure and keys (see ShuffleNetV2),
    torch default init (BatchNorm identity)."""
    if width_mult not in V2_STAGE_CHANNELS:
        raise ValueError(f"width_mult must be one of {sorted(V2_STAGE_CHANNELS)}, got {width_mult!r}")
    return ShuffleNetV2(V2_REPEATS, V2_STAGE_CHANNELS[width_mult], check_count(num_classes, "num_classes"))


def shufflenet_v2_x0_5(num_classes=1000):
    return shufflenet_v2(0.5, num_classes)


def shufflenet_v2_x1_0(num_classes=1000):
    return shufflenet_v2(1.0, num_classes)


def shufflenet_v2_x1_5(num_classes=1000):
    return shufflenet_v2(1.5, num_classes)


def shufflenet_v2_x2_0(num_classes=1000):
    return shufflenet_v2(2.0, num_classes)
