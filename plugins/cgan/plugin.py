"""The cgan plugin: method ``cgan``, the dcgan plugin with classes added."""
from __future__ import annotations

import torch

from ganrun.errors import UserError
from ganrun.sampling import Samples
from ganrun_plugins.cgan.method import CGANConfig, CGANTrainer, class_rows
from ganrun_plugins.cgan.networks import ConditionalGenerator, ProjectionDiscriminator
from ganrun_plugins.dcgan.plugin import DCGANPlugin


class CGANPlugin(DCGANPlugin):
    """Everything dcgan's, but the networks, the trainer's inputs and class-aware sampling."""

    name, schema, trainer_class = "cgan", CGANConfig, CGANTrainer
    description = "conditional GAN on the DCGAN tutorial's networks (Mirza & Osindero 2014)"

    def build_generator(self, m: CGANConfig) -> torch.nn.Module:
        return ConditionalGenerator(m.num_classes, m.noise_dim, m.g_widths, m.channels,
                                    m.leaky_slope, m.bn_momentum, m.bn_eps, m.tf_padding)

    def build_discriminator(self, m: CGANConfig) -> torch.nn.Module:
        return ProjectionDiscriminator(m.num_classes, m.d_widths, m.channels, m.leaky_slope,
                                       m.dropout, m.tf_padding)

    def sample(self, recipe, generator, n, seed, label):
        """``label``: n of that digit; no label: n of every digit, one grid row each."""
        classes = recipe.model.num_classes
        if label is not None and not 0 <= label < classes:
            raise UserError(f"--label: {label} is not a class of this generator "
                            f"(0 to {classes - 1})")
        noise = self.noise(recipe, generator, n, seed)
        if label is None:
            noise, labels = class_rows(noise, classes)
            nrow = n
        else:
            labels, nrow = torch.full((n,), label, dtype=torch.long, device=noise.device), None
        with torch.no_grad():
            return Samples(generator.eval()(noise, labels), labels, nrow)


plugin = CGANPlugin()
