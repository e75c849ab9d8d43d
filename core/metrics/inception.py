"""Standard FID: the Inception-v3 network of TTUR / pytorch-fid, in plain torch.

The FID Inception is torchvision's ``Inception3`` layout (1008 classes, no auxiliary head)
with the TensorFlow graph's quirks that pytorch-fid reproduces: the average pools inside
the A, C and first E blocks leave the zero padding out of the mean, and the last E block
(``Mixed_7c``) max-pools in its pool branch. Module and parameter names are torchvision's,
so pytorch-fid's published weights (:data:`~ganrun.metrics.fid.INCEPTION_WEIGHTS_FILE`, a
plain state dict ported from ``inception-2015-12-05.tgz``) load strictly. The features
are the 2048-d output of the final average pool ("pool3"), on images resized to 299 x 299
(bilinear, ``align_corners=False``) in [-1, 1]; grayscale is repeated to three channels.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ganrun.metrics.fid import FIDLeNet, check_inception_available, inception_unavailable

__all__ = ["FIDInceptionV3", "FIDInception", "load_fid_inception"]


class BasicConv2d(nn.Module):
    """conv (no bias) + BatchNorm (eps 0.001) + ReLU: keys ``conv.weight``, ``bn.*``."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 3 x 3 average pool: padded zeros do not count in the mean."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class InceptionA(nn.Module):  # Mixed_5b..5d
    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool_3x3(x)),
        ], 1)


class InceptionB(nn.Module):  # Mixed_6a: 35 x 35 -> 17 x 17
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, kernel_size=3, stride=2),
        ], 1)


class InceptionC(nn.Module):  # Mixed_6b..6e
    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7dbl = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                     self.branch7x7dbl_4, self.branch7x7dbl_5):
            b7dbl = conv(b7dbl)
        return torch.cat([self.branch1x1(x), b7, b7dbl, self.branch_pool(_avg_pool_3x3(x))], 1)


class InceptionD(nn.Module):  # Mixed_7a: 17 x 17 -> 8 x 8
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7,
                          F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):  # Mixed_7b (average pool), Mixed_7c (max pool: the TF graph's)
    def __init__(self, in_channels: int, max_pool: bool = False) -> None:
        super().__init__()
        self.pool = _max_pool_3x3 if max_pool else _avg_pool_3x3
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(b3), self.branch3x3_2b(b3),
            self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl),
            self.branch_pool(self.pool(x)),
        ], 1)


class FIDInceptionV3(nn.Module):
    """pytorch-fid's FID Inception-v3: N x C x H x W in [-1, 1] -> N x 2048 pool3 features.

    C is 1 (repeated to RGB) or 3; any H x W is resized to ``size`` (299) first. ``fc``
    (2048 -> 1008) is only there so that the published weights load strictly.
    """

    num_features = 2048
    size = 299  # the input size the TF graph was trained at

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"FID Inception: expected N x 1 or 3 x H x W images, "
                             f"got {tuple(x.shape)}")
        if tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear",
                              align_corners=False)
        x = x.expand(-1, 3, -1, -1)  # grayscale: the same plane on R, G and B
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    features = forward  # the evaluator interface: EvaluatorFeatures adapts it for torchmetrics


class FIDInception(FIDLeNet):
    """Standard FID through torchmetrics: :class:`FIDLeNet`'s bookkeeping on Inception features.

    ``set_real(images)`` once, then ``score(fake_images)``; images in [-1, 1], fed to the
    network ``batch`` at a time (299 x 299 activations are large).
    """

    def __init__(self, network: FIDInceptionV3, batch: int = 50) -> None:
        super().__init__(network, batch)


def load_fid_inception(path: str | os.PathLike | None = None) -> FIDInceptionV3:
    """The FID Inception with pytorch-fid's weights from ``path`` (None: torch.hub's cache).

    A missing or unreadable file, or one whose keys or shapes differ from the network's,
    raises a one-line :class:`~ganrun.errors.UserError` naming ``metrics.fid.weights`` (or
    ``metrics.fid.feature`` when no path was given). Returns the network in eval mode, on
    the CPU, without gradients.
    """
    setting = "metrics.fid.feature" if path is None else "metrics.fid.weights"
    found = check_inception_available(path, setting)
    try:
        state = torch.load(found, map_location="cpu", weights_only=True)
    except Exception as e:  # not a torch file, truncated, pickled objects, unreadable
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise inception_unavailable(setting, f"cannot read {found}: {why[:200]}") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor)
                                                 for v in state.values()):
        raise inception_unavailable(setting, f"{found} is not a state dict of tensors")
    network = FIDInceptionV3()
    problem = _first_mismatch(network.state_dict(), state)
    if problem is None:
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as e:
            problem = str(e).strip().splitlines()[-1].strip()[:200]
    if problem is not None:
        raise inception_unavailable(setting, f"{found} does not fit the FID Inception-v3: "
                                             f"{problem}")
    return network.eval().requires_grad_(False)


def _first_mismatch(expected: Mapping[str, torch.Tensor],
                    state: Mapping[str, torch.Tensor]) -> str | None:
    """The first key of ``state`` the network lacks, or it lacks, or of another shape."""
    for key in state:
        if key not in expected:
            return f"unexpected key '{key}'"
    for key, value in expected.items():
        if key not in state:
            if key.endswith(".num_batches_tracked"):  # older files lack it; torch fills it in
                continue
            return f"missing key '{key}'"
        if tuple(state[key].shape) != tuple(value.shape):
            return (f"key '{key}' has shape {tuple(state[key].shape)}, "
                    f"expected {tuple(value.shape)}")
    return None
