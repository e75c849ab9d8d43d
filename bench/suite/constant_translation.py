"""Induced failure for bench/health_suite.py: cyclegan generators that output one learnable
image whatever their input (broadcast to the batch): the input is ignored entirely."""
import torch
from torch import nn

from ganrun import hookimpl


class ConstantImage(nn.Module):
    def __init__(self, channels: int, size: int = 28):
        super().__init__()
        self.image = nn.Parameter(torch.zeros(1, channels, size, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.image).expand(len(x), -1, -1, -1)


@hookimpl
def ganrun_make_generator(recipe, name):
    return ConstantImage(recipe.model.channels) if recipe.method == "cyclegan" else None
