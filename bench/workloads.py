"""The benchmark workloads: single conv layers at batch 1, float32, NCHW.

Names read op_kernel_stride/dilation_channels_spatial, e.g. g32_3x3_128_56 is a 3x3 conv,
128->128 channels, groups=32, 56x56 input, stride 1, pad 1. Import WORKLOADS (or BY_NAME)
from here rather than copying the table.
"""
import math
from dataclasses import dataclass

BYTES_PER_FLOAT = 4


@dataclass(frozen=True)
class ConvWorkload:
    name: str
    c_in: int
    c_out: int
    hw: int        # square input: H = W
    kernel: int    # square kernel
    stride: int
    pad: int       # symmetric zero padding
    dilation: int
    groups: int
    bias: bool = True

    def __post_init__(self):
        if min(self.c_in, self.c_out, self.hw, self.kernel, self.stride, self.dilation, self.groups) < 1 or self.pad < 0:
            raise ValueError(f"{self.name}: sizes must be positive (pad >= 0)")
        if self.c_in % self.groups or self.c_out % self.groups:
            raise ValueError(f"{self.name}: groups={self.groups} must divide c_in={self.c_in} and c_out={self.c_out}")
        if self.out_hw < 1:
            raise ValueError(f"{self.name}: the kernel does not fit the padded input")

    @property
    def out_hw(self):
        span = self.dilation * (self.kernel - 1) + 1
        return (self.hw + 2 * self.pad - span) // self.stride + 1

    @property
    def input_shape(self):
        return (1, self.c_in, self.hw, self.hw)

    @property
    def output_shape(self):
        return (1, self.c_out, self.out_hw, self.out_hw)

    @property
    def weight_shape(self):  # torch's OIHW: (C_out, C_in/groups, kH, kW)
        return (self.c_out, self.c_in // self.groups, self.kernel, self.kernel)

    @property
    def macs(self):
        return self.c_out * self.out_hw ** 2 * (self.c_in // self.groups) * self.kernel ** 2

    @property
    def flops(self):
        return 2 * self.macs

    @property
    def min_bytes(self):
        """Compulsory traffic: read input and weights once, write output once (float32)."""
        floats = sum(map(math.prod, (self.input_shape, self.weight_shape, self.output_shape))) + self.c_out * self.bias
        return BYTES_PER_FLOAT * floats

    @property
    def arithmetic_intensity(self):  # FLOP per compulsory byte: the roofline's x axis
        return self.flops / self.min_bytes

    def spec(self):
        """The fields as a plain dict (for JSON)."""
        return {k: getattr(self, k) for k in ("c_in", "c_out", "hw", "kernel", "stride", "pad", "dilation", "groups", "bias")}


def _table(rows):
    return [ConvWorkload(*row) for row in rows]


# name: C_in -> C_out, H=W, kernel, stride, pad, dilation, groups
WORKLOADS = _table([
    ("dw3x3_s1_c32_112", 32, 32, 112, 3, 1, 1, 1, 32),        # MobileNetV1/V2 first depthwise
    ("dw3x3_s2_c96_112", 96, 96, 112, 3, 2, 1, 1, 96),        # MobileNetV2 strided depthwise
    ("dw3x3_s1_c144_56", 144, 144, 56, 3, 1, 1, 1, 144),
    ("dw3x3_s1_c384_14", 384, 384, 14, 3, 1, 1, 1, 384),
    ("dw5x5_s1_c240_28", 240, 240, 28, 5, 1, 2, 1, 240),      # MnasNet/EfficientNet 5x5
    ("dw3x3_d2_c256_28", 256, 256, 28, 3, 1, 2, 2, 256),      # dilated (DeepLab-style)
    ("gdc7x7_c512_7", 512, 512, 7, 7, 1, 0, 1, 512),          # MobileFaceNet's global depthwise head
    ("g2_5x5_96to256_27", 96, 256, 27, 5, 1, 2, 1, 2),        # AlexNet conv2's two lanes
    ("g32_3x3_128_56", 128, 128, 56, 3, 1, 1, 1, 32),         # ResNeXt-50 32x4d
    ("g8_3x3_256_28", 256, 256, 28, 3, 1, 1, 1, 8),
    ("g3_1x1_240_28", 240, 240, 28, 1, 1, 0, 1, 3),           # ShuffleNetV1 g=3 group pointwise
    ("pw1x1_144to24_56", 144, 24, 56, 1, 1, 0, 1, 1),         # MobileNetV2 projection
    ("pw1x1_960to320_7", 960, 320, 7, 1, 1, 0, 1, 1),
    ("dense3x3_64_56", 64, 64, 56, 3, 1, 1, 1, 1),            # dense baseline
])
BY_NAME = {w.name: w for w in WORKLOADS}

# --quick (CI): two small rows, one depthwise, one grouped GEMM.
QUICK_WORKLOADS = ("dw3x3_s1_c384_14", "g8_3x3_256_28")

SHAPE_FORMAT = "cin,cout,hw,k,stride,pad,dil,groups"


def parse_shape(text):
    """A user layer from 'cin,cout,hw,k,stride,pad,dil,groups' (the last four may be omitted:
    stride 1, pad k//2, dilation 1, groups 1)."""
    try:
        fields = [int(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        raise ValueError(f"--shape {text!r}: expected integers as {SHAPE_FORMAT}") from None
    if not 4 <= len(fields) <= 8:
        raise ValueError(f"--shape {text!r}: expected 4 to 8 integers as {SHAPE_FORMAT}")
    cin, cout, hw, k = fields[:4]
    stride, pad, dil, groups = (fields[4:] + [1, k // 2, 1, 1][len(fields) - 4:])[:4]
    name = f"shape_{cin}to{cout}_{k}x{k}_s{stride}p{pad}d{dil}_g{groups}_{hw}"
    return ConvWorkload(name, cin, cout, hw, k, stride, pad, dil, groups)


def groups_sweep(channels=256, hw=28, kernel=3):
    """The same layer at groups = 1, 2, 4, ..., channels: what grouping costs (or saves) per MAC."""
    out, g = [], 1
    while g <= channels:
        out.append(ConvWorkload(f"sweep_g{g}_{kernel}x{kernel}_{channels}_{hw}", channels, channels, hw, kernel, 1,
                                kernel // 2, 1, g))
        g *= 2
    if out[-1].groups != channels:  # channels not a power of two: end at depthwise anyway
        out.append(ConvWorkload(f"sweep_g{channels}_{kernel}x{kernel}_{channels}_{hw}", channels, channels, hw, kernel,
                                1, kernel // 2, 1, channels))
    return out
