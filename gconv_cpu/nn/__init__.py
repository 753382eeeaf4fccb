"""Layers with torch.nn's names, arguments and defaults, on NumPy arrays (inference only).

Any Module whose forward is written in terms of these layers (and gconv_cpu.functional's ops, `+`, `*`)
is planned as a whole when called on an array: see gconv_cpu/nn/module.py.
"""
from .activation import (Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, PReLU, ReLU, ReLU6, SiLU, Sigmoid, Softmax,
                         Tanh)
from .conv import Conv2d
from .conv_transpose import ConvTranspose2d, bilinear_upsample
from .linear import Flatten, Linear
from .module import Dropout, Identity, Module, Sequential
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .shuffle import ChannelShuffle, SqueezeExcitation, Upsample

__all__ = ["Module", "Sequential", "Identity", "Dropout", "Conv2d", "ConvTranspose2d", "bilinear_upsample", "Linear", "Flatten", "BatchNorm1d",
           "BatchNorm2d", "ReLU", "ReLU6", "PReLU", "Hardswish", "Hardsigmoid", "Hardtanh", "LeakyReLU", "Sigmoid",
           "Tanh", "SiLU", "Softmax", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "ChannelShuffle",
           "SqueezeExcitation", "Upsample"]
