"""The dcgan plugin: the TensorFlow DCGAN tutorial as ganrun method ``dcgan``."""
from __future__ import annotations

from typing import Any

import torch

from ganrun.errors import UserError
from ganrun.method_plugin import MethodPlugin
from ganrun.sampling import Samples
from ganrun_plugins.dcgan.method import (DCGANConfig, DCGANTrainer, initialise, make_losses,
                                         make_noise)
from ganrun_plugins.dcgan.networks import Discriminator, Generator


class DCGANPlugin(MethodPlugin):
    name = "dcgan"
    schema = DCGANConfig
    description = "DCGAN as in the TensorFlow tutorial (Radford et al. 2016)"
    trainer_class = DCGANTrainer

    def build_generator(self, m: DCGANConfig) -> torch.nn.Module:
        return Generator(m.noise_dim, m.g_widths, m.channels, m.leaky_slope, m.bn_momentum,
                         m.bn_eps, m.tf_padding)

    def build_discriminator(self, m: DCGANConfig) -> torch.nn.Module:
        return Discriminator(m.d_widths, m.channels, m.leaky_slope, m.dropout, m.tf_padding)

    def generator(self, recipe: Any, name: str) -> torch.nn.Module:
        return initialise(self.build_generator(recipe.model), recipe.model)

    def discriminator(self, recipe: Any, name: str) -> torch.nn.Module:
        return initialise(self.build_discriminator(recipe.model), recipe.model)

    def losses(self, recipe: Any) -> dict:
        return make_losses(recipe.model)

    def trainer(self, recipe, generators, discriminators, losses, device):
        return self.trainer_class(recipe, generators, discriminators, losses, device)

    def noise(self, recipe: Any, generator: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
        """``n`` noise vectors from ``seed`` alone (never the global RNG), on G's device."""
        device = next(generator.parameters()).device
        return make_noise(n, recipe.model.noise_dim, torch.Generator().manual_seed(seed), device)

    def sample(self, recipe, generator, n, seed, label):
        if label is not None:
            raise UserError(f"--label: method '{self.name}' is unconditional; it draws no "
                            f"chosen class")
        with torch.no_grad():
            return Samples(generator.eval()(self.noise(recipe, generator, n, seed)))


plugin = DCGANPlugin()
