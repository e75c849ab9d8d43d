"""The dcgan plugin: answers ganrun's role hooks for ``method: dcgan``."""
from __future__ import annotations

from typing import Any

import torch

from ganrun import hookimpl
from ganrun.errors import UserError
from ganrun.registry import MethodInfo
from ganrun.sampling import Samples
from ganrun_plugins.dcgan.method import (DCGANConfig, DCGANTrainer, initialise, make_losses,
                                         make_noise)
from ganrun_plugins.dcgan.networks import Discriminator, Generator

METHOD = "dcgan"


@hookimpl
def ganrun_register_methods() -> list[MethodInfo]:
    return [MethodInfo(METHOD, DCGANConfig, ("G",), ("D",),
                       "DCGAN as in the TensorFlow tutorial (Radford et al. 2016)")]


@hookimpl
def ganrun_make_generator(recipe: Any, name: str):
    if recipe.method != METHOD:
        return None
    m = recipe.model
    net = Generator(m.noise_dim, m.g_widths, m.channels, m.leaky_slope, m.bn_momentum, m.bn_eps,
                    m.tf_padding)
    return initialise(net, m)


@hookimpl
def ganrun_make_discriminator(recipe: Any, name: str):
    if recipe.method != METHOD:
        return None
    m = recipe.model
    return initialise(Discriminator(m.d_widths, m.channels, m.leaky_slope, m.dropout,
                                    m.tf_padding), m)


@hookimpl
def ganrun_make_losses(recipe: Any):
    if recipe.method != METHOD:
        return None
    return make_losses(recipe.model)


@hookimpl
def ganrun_make_trainer(recipe, generators, discriminators, losses, device):
    if recipe.method != METHOD:
        return None
    return DCGANTrainer(recipe, generators, discriminators, losses, device)


@hookimpl
def ganrun_sample(recipe, generator, n, seed, label):
    if recipe.method != METHOD:
        return None
    if label is not None:
        raise UserError("--label: method 'dcgan' is unconditional; it draws no chosen class")
    device = next(generator.parameters()).device
    noise = make_noise(n, recipe.model.noise_dim, torch.Generator().manual_seed(seed), device)
    with torch.no_grad():
        return Samples(generator.eval()(noise))
