"""Weight initialisations, written once and shared by the methods."""
from __future__ import annotations

from torch import nn

_WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)


def init_glorot(module: nn.Module) -> nn.Module:
    """Keras' default initialisation: Glorot-uniform kernels, zero biases, norms at 1 and 0."""
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module


def init_normal(module: nn.Module, std: float = 0.02) -> nn.Module:
    """DCGAN / pix2pix / CycleGAN initialisation: weights N(0, std), biases 0, norm scales
    N(1, std) (the official ``init_weights(net, 'normal', 0.02)``)."""
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module
