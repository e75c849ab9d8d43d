"""The CAM classifier: a small conv backbone, last conv, global average pooling, one linear layer.

Zhou et al. 2016, Sec. 2: the network ends in the last conv's maps f_k, GAP
F_k = sum_{x,y} f_k(x, y) / Z, and a linear layer S_c = sum_k w_k^c F_k (softmax over S_c in
the loss). The paper removes layers to keep the last maps at 14x14; here the backbone halves
the resolution only ``pools`` times. With the defaults a 64 px canvas gives 32x32 maps and a
16 px receptive field: on ``mnist_canvas`` 16x16 maps (pools=2, receptive field 34 px)
classified a little better but their CAM boxes overshot the digit by ~14 px and localised
about a fifth of the digits; a wider field at stride 2 overshoots too.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def conv_block(c_in: int, c_out: int, batchnorm: bool = True) -> nn.Sequential:
    """3x3 conv (stride 1, padding 1), BatchNorm, ReLU."""
    if not batchnorm:
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 1, 1), nn.ReLU(inplace=True))
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class GAPClassifier(nn.Module):
    """image (N x C x H x W) -> class logits (N x num_classes), through GAP + Linear.

    ``widths[:-1]``: one conv block each (3x3 conv, BatchNorm, ReLU), the first ``pools`` of
    them followed by 2x2 max pooling; ``widths[-1]``: the last conv (3x3, stride 1, padding
    1; BatchNorm when ``batchnorm``) + ReLU, whose maps f_k the CAM weighs by ``fc``.
    """

    def __init__(self, channels: int = 1, widths: Sequence[int] = (16, 32, 32, 64),
                 num_classes: int = 10, pools: int = 1, batchnorm: bool = True):
        super().__init__()
        if not 0 <= pools <= len(widths) - 1:
            raise ValueError(f"pools: {pools} must be between 0 and len(widths) - 1")
        layers, c = [], channels
        for i, w in enumerate(widths[:-1]):
            layers.append(conv_block(c, w, batchnorm))
            if i < pools:
                layers.append(nn.MaxPool2d(2))
            c = w
        self.backbone = nn.Sequential(*layers)
        self.last = conv_block(c, widths[-1], batchnorm)  # 3x3 s1 p1 (+ BN) + ReLU
        self.fc = nn.Linear(widths[-1], num_classes)
        self.num_classes = num_classes
        self.stride = 2**pools  # image pixels per map cell

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The last conv's maps after ReLU, f_k(x, y): N x K x H/stride x W/stride."""
        return self.last(self.backbone(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.feature_maps(x).mean(dim=(2, 3)))  # GAP, then S_c = sum_k w_k^c F_k
