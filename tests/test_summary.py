"""gconv_cpu.summary: per-layer params and MACs by the grouped-conv formulas; totals against the papers
(within the rounding they use), torch's parameter count and bench's hook-based MAC count."""
import importlib.util
import os
import sys

import pytest

import gconv_cpu
from gconv_cpu import functional as F
from gconv_cpu import models, nn
from gconv_cpu.summary import format_table


def totals(model, hw):
    return gconv_cpu.summary(model, (1, 3, hw, hw), print_table=False)["totals"]


def bn_params(model, hw):
    return sum(r["params"] for r in gconv_cpu.summary(model, (1, 3, hw, hw), print_table=False)["layers"]
               if r["type"] == "BatchNorm2d")


class Small(nn.Module):
    def __init__(self):
        self.conv = nn.Conv2d(12, 24, 3, stride=2, padding=1, groups=3)          # bias
        self.bn = nn.BatchNorm2d(24)
        self.act = nn.PReLU(24)
        self.dw = nn.Conv2d(24, 48, (3, 5), padding=(1, 2), groups=24, bias=False)  # multiplier 2
        self.fc = nn.Linear(48, 10)

    def forward(self, x):
        y = self.act(self.bn(self.conv(x)))
        y = F.channel_shuffle(self.dw(y), 3)
        return self.fc(F.flatten(F.adaptive_avg_pool2d(y, 1), 1))


def test_layer_formulas(capsys):
    result = gconv_cpu.summary(Small(), (2, 12, 9, 9))
    rows = {r["name"]: r for r in result["layers"]}
    assert rows["conv"]["type"] == "Conv2d" and rows["conv"]["output_shape"] == (2, 24, 5, 5)
    assert rows["conv"]["params"] == 24 * 4 * 3 * 3 + 24          # C_out * C_in/g * kH * kW + bias
    assert rows["conv"]["macs"] == 24 * 4 * 3 * 3 * 5 * 5 * 2     # bias not counted; N = 2
    assert rows["conv"]["detail"] == "3x3 s2 g3"
    assert rows["bn"]["params"] == 48 and rows["bn"]["macs"] == 0  # weight + bias, no running stats
    assert rows["act"]["params"] == 24
    assert rows["dw"]["params"] == 48 * 1 * 3 * 5 and rows["dw"]["macs"] == 48 * 15 * 5 * 5 * 2
    assert rows["dw"]["detail"] == "3x5 s1 dw"
    assert rows["fc"]["params"] == 48 * 10 + 10 and rows["fc"]["macs"] == 48 * 10 * 2
    root = [r for r in result["layers"] if r["name"] == "<root>"]
    assert [r["op"] for r in root] == ["shuffle", "global_avgpool", "reshape"]
    assert all(r["params"] == 0 and r["macs"] == 0 for r in root)
    t = result["totals"]
    assert t["params"] == 888 + 48 + 24 + 720 + 490
    assert t["macs"] == sum(r["macs"] for r in result["layers"])
    assert t["input_shape"] == (2, 12, 9, 9) and t["output_shape"] == (2, 10)
    out = capsys.readouterr().out
    assert "Small summary" in out and "Total params: 2,170" in out and f"Total MACs:   {t['macs']:,}" in out
    assert out.count("\n") >= len(result["layers"]) + 5
    assert format_table(result, "Small") in out and format_table(result) in out


def test_untraced_and_shared_modules():
    class Shared(nn.Module):
        def __init__(self):
            self.conv = nn.Conv2d(4, 4, 1)
            self.unused = nn.Linear(3, 3)

        def forward(self, x):
            return self.conv(self.conv(x))  # one module, two nodes: its params are counted once

    result = gconv_cpu.summary(Shared(), (1, 4, 2, 2), print_table=False)
    assert [r["params"] for r in result["layers"]] == [20, 0]
    assert [r["macs"] for r in result["layers"]] == [64, 64]
    assert result["totals"]["params"] == 20 and result["totals"]["untraced_params"] == 12


def test_graph_input():
    graph = models.mobilefacenet().trace((1, 3, 112, 112))
    t = gconv_cpu.summary(graph, (1, 3, 112, 112), print_table=False)["totals"]
    assert t["macs"] == totals(models.mobilefacenet(), 112)["macs"]
    with pytest.raises(TypeError, match="model"):
        gconv_cpu.summary(object(), (1, 3, 8, 8))


# ---- published totals ------------------------------------------------------------------------------------

def test_mobilenet_v1_paper():
    """Howard et al. 2017, Tables 1 and 6: 4.2M / 569M; 0.75: 2.6M / 325M; 0.5: 1.3M / 149M."""
    for w, params, mmacs in ((1.0, 4.2, 569), (0.75, 2.6, 325), (0.5, 1.3, 149)):
        t = totals(models.mobilenet_v1(w), 224)
        assert round(t["params"] / 1e6, 1) == params and round(t["macs"] / 1e6) == mmacs, (w, t)
    assert totals(models.mobilenet_v1(), 224)["params"] == 4_231_976


def test_mobilenet_v2_paper():
    """Sandler et al. 2018, Table 4: 3.4M / 300M; torchvision: 3,504,872 params."""
    m = models.mobilenet_v2()
    t = totals(m, 224)
    assert t["params"] == 3_504_872
    assert int((t["params"] - bn_params(m, 224)) / 1e5) / 10 == 3.4  # without BN: 3.47M, the paper truncates
    assert int(t["macs"] / 1e6) == 300


def test_shufflenet_v1_paper():
    """Zhang et al. 2018, Table 1: complexity 143, 140, 137, 133, 137 MFLOPs (mult-adds) for g = 1, 2, 3, 4, 8,
    which is this count without the final FC layer; Megvii's release: g=3 1.9M params."""
    for g, mflops in ((1, 143), (2, 140), (3, 137), (4, 133), (8, 137)):
        m = models.shufflenet_v1(groups=g)
        t = totals(m, 224)
        fc = m.fc.in_features * m.fc.out_features
        assert round((t["macs"] - fc) / 1e6) == mflops, (g, t["macs"])
        assert abs(t["macs"] / 1e6 - mflops) < 1.5
    assert round(totals(models.shufflenet_v1(3), 224)["params"] / 1e6, 1) == 1.9


def test_shufflenet_v2_paper():
    """Ma et al. 2018: 1x 146M FLOPs (= MACs), 2.3M params; torchvision: x0_5 1.4M / 0.04G, x1_0 2.3M / 0.14G,
    x1_5 3.5M / 0.30G, x2_0 7.4M / 0.58G. The paper's 146M is Megvii's model, whose first stage-2 unit splits
    24 + 92 channels where torchvision's splits 58 + 58."""
    for w, params, gmacs in ((0.5, 1.4, 0.04), (1.0, 2.3, 0.14), (1.5, 3.5, 0.30), (2.0, 7.4, 0.58)):
        t = totals(models.shufflenet_v2(w), 224)
        assert round(t["params"] / 1e6, 1) == params and round(t["macs"] / 1e9, 2) == gmacs, (w, t)
    t = totals(models.shufflenet_v2(), 224)
    assert t["params"] == 2_278_604
    # Megvii's stage2.0 at 28x28: shortcut 1x1 24->24 and main 1x1 58->92 instead of 24->58 and 58->58
    megvii_extra = (24 * 24 + 58 * 92 - 24 * 58 - 58 * 58) * 28 * 28
    assert round((t["macs"] + megvii_extra) / 1e6) == 146


def test_mobilefacenet_paper():
    """Chen et al. 2018: 0.99M params, 221M MAdds at 112x112."""
    m = models.mobilefacenet()
    t = totals(m, 112)
    assert round(t["macs"] / 1e6) == 221
    assert 0.98e6 <= t["params"] <= 1.01e6
    prelu = sum(r["params"] for r in gconv_cpu.summary(m, (1, 3, 112, 112), print_table=False)["layers"]
                if r["type"] == "PReLU")
    assert int((t["params"] - prelu) / 1e4) / 100 == 0.99  # conv + BN


# ---- against torch's counts -------------------------------------------------------------------------------

def test_matches_torch_twins():
    pytest.importorskip("torch", reason="the twins are torch modules")
    if importlib.util.find_spec("bench") is None:
        sys.path.append(os.path.join(os.path.dirname(__file__), ".."))
    from bench import torch_nets as T
    for name, spec in T.NETS.items():
        twin = spec.cls(**dict(spec.kwargs)).eval()
        t = totals(getattr(models, name)(), spec.input_hw)
        assert t["params"] == sum(p.numel() for p in twin.parameters()), name
        assert t["macs"] == T.macs(twin, spec.input_shape), name  # bench's forward-hook count
