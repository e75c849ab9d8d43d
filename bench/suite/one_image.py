"""Induced failure for bench/health_suite.py: a dcgan generator that draws one image
whatever the noise (a learnable image, broadcast to the batch): total mode collapse."""
import torch
from torch import nn

from ganrun import hookimpl


class OneImage(nn.Module):
    def __init__(self):
        super().__init__()
        self.image = nn.Parameter(torch.zeros(1, 1, 28, 28))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.image).expand(len(z), -1, -1, -1)


@hookimpl
def ganrun_make_generator(recipe, name):
    return OneImage() if recipe.method == "dcgan" else None
