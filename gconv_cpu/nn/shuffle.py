"""ChannelShuffle (ShuffleNet), SqueezeExcitation (MobileNetV3) and Upsample."""
from .. import functional as F
from .._validate import int_param
from .activation import ReLU, Sigmoid
from .conv import Conv2d
from .module import Module
from .pooling import AdaptiveAvgPool2d


class ChannelShuffle(Module):
    """torch.nn.ChannelShuffle: view (N, g, C/g, H, W), swap the group axes, flatten back."""

    def __init__(self, groups):
        self.groups = int_param(groups, "groups", 1)

    def _trace(self, x):
        return F.channel_shuffle(x, self.groups)

    def forward(self, x):
        return F.channel_shuffle(x, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"


class SqueezeExcitation(Module):
    """torchvision.ops.SqueezeExcitation: x * scale_activation(fc2(activation(fc1(avgpool(x))))),
    with torchvision's child names so its state_dict keys match."""

    def __init__(self, input_channels, squeeze_channels, activation=ReLU, scale_activation=Sigmoid):
        self.avgpool = AdaptiveAvgPool2d(1)
        self.fc1 = Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class Upsample(Module):
    """torch.nn.Upsample for modes 'nearest' and 'bilinear'."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def _trace(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self):
        return f"size={self.size}, scale_factor={self.scale_factor}, mode={self.mode!r}"
