"""MiniFASNet, the passive face anti-spoofing network of Silent-Face-Anti-Spoofing, in PyTorch.

Licence: the architecture and the weights it loads (``2.7_80x80_MiniFASNetV2.pth``,
``4_0_0_80x80_MiniFASNetV1SE.pth``) come from minivision-ai/Silent-Face-Anti-Spoofing, released
under the Apache License 2.0. This module is a fresh implementation of that published design,
written so the released state dicts load into it; it is used only to export ONNX files
(``python -m infra.models.convert_antispoof``). Run time uses onnxruntime (``vision.liveness``).

The network (80x80 BGR input, pixel values 0-255, no normalisation):

- ``conv1``: 3x3 stride-2 convolution, batch norm, PReLU (80 -> 40 px);
- ``conv2_dw``: 3x3 depthwise convolution block;
- four stages, each opened by a stride-2 inverted-bottleneck block (``conv_23``, ``conv_34``,
  ``conv_45``) and followed by residual blocks (``conv_3`` x4, ``conv_4`` x6, ``conv_5`` x2);
  an inverted bottleneck is a 1x1 expansion, a 3x3 depthwise convolution and a 1x1 linear
  projection. In the SE variant the last residual block of each stage re-weights its
  projection's channels (squeeze-and-excitation, reduction 4) before the skip connection;
- ``conv_6_sep`` (1x1 to 512 channels) and ``conv_6_dw`` (5x5 depthwise, no activation), which
  pools the 5x5 map into a 512-d vector;
- ``linear`` (512 -> 128, no bias), ``bn`` (batch norm 1-d), ``prob`` (128 -> 3 logits, no bias).

Class 1 of the three logits is "real face"; 0 and 2 are the two attack classes of training.
The two released models differ only in their channel widths (pruned differently) and in the SE
blocks, so the builder reads every width from the state dict instead of hard-coding them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

INPUT_PX = 80
"""Both released models take 80x80 crops."""

NUM_CLASSES = 3
REAL_CLASS = 1


class ConvBn(nn.Module):
    """Convolution (no bias) and batch norm with no activation: a linear projection."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))


class ConvBnPrelu(ConvBn):
    """Convolution (no bias), batch norm, per-channel PReLU."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1
    ) -> None:
        super().__init__(in_ch, out_ch, kernel, stride, padding, groups)
        self.prelu = nn.PReLU(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return self.prelu(super().forward(x))


class SqueezeExcite(nn.Module):
    """Channel attention: global average, bottleneck of 1x1 convolutions, sigmoid gate."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeezed, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(squeezed)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeezed, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        gate = self.sigmoid(self.bn2(self.fc2(self.relu(self.bn1(self.fc1(self.avg_pool(x)))))))
        return x * gate


class InvertedBottleneck(nn.Module):
    """1x1 expansion -> 3x3 depthwise (stride 1 or 2) -> 1x1 projection, optional skip and SE.

    The attribute names (``conv``, ``conv_dw``, ``project``, ``se_module``) are the state-dict
    keys of the released weights.
    """

    def __init__(
        self,
        in_ch: int,
        mid_ch: int,
        out_ch: int,
        *,
        stride: int,
        residual: bool,
        se_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.conv = ConvBnPrelu(in_ch, mid_ch)
        self.conv_dw = ConvBnPrelu(mid_ch, mid_ch, kernel=3, stride=stride, padding=1, groups=mid_ch)
        self.project = ConvBn(mid_ch, out_ch)
        self.residual = residual
        self.se_module = SqueezeExcite(out_ch, se_channels) if se_channels is not None else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.conv_dw(self.conv(x)))
        if not self.residual:
            return out
        if self.se_module is not None:
            out = self.se_module(out)
        return x + out


class ResidualStage(nn.Module):
    """A run of residual bottlenecks at one resolution (state-dict prefix ``<stage>.model.<i>``)."""

    def __init__(self, blocks: list[InvertedBottleneck]) -> None:
        super().__init__()
        self.model = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class MiniFASNet(nn.Module):
    """The whole network; build it with :func:`from_state_dict`.

    Args:
        widths: channel widths read from a state dict (see :func:`_widths`).
        conv6_kernel: side of the final depthwise "pooling" kernel, ``ceil(input_px / 16)``.
    """

    STAGES = (("conv_23", "conv_3"), ("conv_34", "conv_4"), ("conv_45", "conv_5"))

    def __init__(self, widths: _Widths, conv6_kernel: int = (INPUT_PX + 15) // 16) -> None:
        super().__init__()
        self.conv1 = ConvBnPrelu(3, widths.stem, kernel=3, stride=2, padding=1)
        self.conv2_dw = ConvBnPrelu(
            widths.stem, widths.stem, kernel=3, stride=1, padding=1, groups=widths.stem
        )
        for (down_name, stage_name), down, stage in zip(
            self.STAGES, widths.downsamples, widths.stages, strict=True
        ):
            setattr(self, down_name, InvertedBottleneck(*down, stride=2, residual=False))
            blocks = [
                InvertedBottleneck(in_ch, mid_ch, out_ch, stride=1, residual=True, se_channels=se)
                for in_ch, mid_ch, out_ch, se in stage
            ]
            setattr(self, stage_name, ResidualStage(blocks))
        self.conv_6_sep = ConvBnPrelu(widths.head_in, widths.head)
        self.conv_6_dw = ConvBn(widths.head, widths.head, kernel=conv6_kernel, groups=widths.head)
        self.linear = nn.Linear(widths.head, widths.embedding, bias=False)
        self.bn = nn.BatchNorm1d(widths.embedding)
        self.prob = nn.Linear(widths.embedding, NUM_CLASSES, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[N, 3]`` for BGR crops ``[N, 3, 80, 80]`` with values 0-255."""
        out = self.conv2_dw(self.conv1(x))
        for down_name, stage_name in self.STAGES:
            out = getattr(self, stage_name)(getattr(self, down_name)(out))
        out = self.conv_6_dw(self.conv_6_sep(out)).flatten(1)
        return self.prob(self.bn(self.linear(out)))


class _Widths:
    """Channel widths of one pruned MiniFASNet, read from its weights."""

    def __init__(self, state: Mapping[str, Tensor]) -> None:
        def out_ch(key: str) -> int:
            return int(state[key].shape[0])

        def in_ch(key: str) -> int:
            return int(state[key].shape[1])

        def bottleneck(prefix: str) -> tuple[int, int, int]:
            return (
                in_ch(f"{prefix}.conv.conv.weight"),
                out_ch(f"{prefix}.conv.conv.weight"),
                out_ch(f"{prefix}.project.conv.weight"),
            )

        self.stem = out_ch("conv1.conv.weight")
        self.downsamples = [bottleneck(down) for down, _ in MiniFASNet.STAGES]
        self.stages: list[list[tuple[int, int, int, int | None]]] = []
        for _, stage in MiniFASNet.STAGES:
            blocks = []
            index = 0
            while f"{stage}.model.{index}.conv.conv.weight" in state:
                prefix = f"{stage}.model.{index}"
                se_key = f"{prefix}.se_module.fc1.weight"
                se = out_ch(se_key) if se_key in state else None
                blocks.append((*bottleneck(prefix), se))
                index += 1
            if not blocks:
                raise ValueError(f"state dict has no residual blocks for {stage}")
            self.stages.append(blocks)
        self.head_in = in_ch("conv_6_sep.conv.weight")
        self.head = out_ch("conv_6_sep.conv.weight")
        self.embedding = out_ch("linear.weight")


def _strip_data_parallel(state: Mapping[str, Tensor]) -> OrderedDict[str, Tensor]:
    """The released weights were saved from ``nn.DataParallel``: keys start with ``module.``."""
    prefix = "module."
    return OrderedDict((k[len(prefix) :] if k.startswith(prefix) else k, v) for k, v in state.items())


def from_state_dict(state: Mapping[str, Tensor]) -> MiniFASNet:
    """A MiniFASNet (V2 or V1SE) shaped after ``state`` with its weights loaded, in eval mode."""
    clean = _strip_data_parallel(state)
    try:
        model = MiniFASNet(_Widths(clean))
    except KeyError as e:
        raise ValueError(f"not a MiniFASNet state dict: missing {e}") from e
    model.load_state_dict(clean, strict=True)
    return model.eval()


def load(path: Path) -> MiniFASNet:
    """Load a released ``.pth`` state dict (tensors only; no pickled code is run)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict")
    return from_state_dict(state)
