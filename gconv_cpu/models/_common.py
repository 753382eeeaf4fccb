"""Pieces shared by the builders: torchvision's Conv2dNormActivation and channel rounding, and the
weight initializations."""
import math

import numpy as np

from ..nn import BatchNorm2d, Conv2d, ReLU, Sequential


def make_divisible(v, divisor=8, min_value=None):
    """torchvision's _make_divisible: the nearest multiple of `divisor` (at least `min_value`, by default
    `divisor`), rounded up a step if rounding lost more than 10%."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def check_width(width_mult):
    if isinstance(width_mult, bool) or not isinstance(width_mult, (int, float)) or not width_mult > 0:
        raise ValueError(f"width_mult must be a positive number, got {width_mult!r}")
    return float(width_mult)


def check_count(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)


def conv_bn_act(c_in, c_out, kernel_size=3, stride=1, groups=1, activation=ReLU):
    """torchvision's Conv2dNormActivation: Sequential(Conv2d (no bias, padding (k-1)//2), BatchNorm2d[,
    activation]); keys .0.weight, .1.{weight,bias,running_mean,running_var,num_batches_tracked}[, .2.weight
    for PReLU]. activation: a layer class (called with no argument, or with c_out for PReLU), or None."""
    layers = [Conv2d(c_in, c_out, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
              BatchNorm2d(c_out)]
    if activation is not None:
        from ..nn import PReLU
        layers.append(activation(c_out) if activation is PReLU else activation())
    return Sequential(*layers)


def init_torchvision_mobilenet(model):
    """torchvision's MobileNet initialization: convs kaiming_normal_(mode='fan_out'), Linear N(0, 0.01),
    biases 0 (BatchNorm stays identity)."""
    from ..nn import Linear
    for m in model.modules():
        if isinstance(m, Conv2d):
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
            m.weight = np.random.normal(0.0, math.sqrt(2.0 / fan_out), m.weight.shape).astype(np.float32)
            if m.bias is not None:
                m.bias = np.zeros_like(m.bias)
        elif isinstance(m, Linear):
            m.weight = np.random.normal(0.0, 0.01, m.weight.shape).astype(np.float32)
            if m.bias is not None:
                m.bias = np.zeros_like(m.bias)
    return model
