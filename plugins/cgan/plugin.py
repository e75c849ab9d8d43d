"""The cgan plugin: answers ganrun's role hooks for ``method: cgan``."""
from __future__ import annotations

from typing import Any

import torch

from ganrun import hookimpl
from ganrun.errors import UserError
from ganrun.registry import MethodInfo
from ganrun.sampling import Samples
from ganrun_plugins.cgan.method import CGANConfig, CGANTrainer, class_rows
from ganrun_plugins.cgan.networks import ConditionalGenerator, ProjectionDiscriminator
from ganrun_plugins.dcgan.method import initialise, make_losses, make_noise

METHOD = "cgan"


@hookimpl
def ganrun_register_methods() -> list[MethodInfo]:
    return [MethodInfo(METHOD, CGANConfig, ("G",), ("D",),
                       "conditional GAN on the DCGAN tutorial's networks (Mirza & Osindero 2014)")]


@hookimpl
def ganrun_make_generator(recipe: Any, name: str):
    if recipe.method != METHOD:
        return None
    m = recipe.model
    net = ConditionalGenerator(m.num_classes, m.noise_dim, m.g_widths, m.channels,
                               m.leaky_slope, m.bn_momentum, m.bn_eps, m.tf_padding)
    return initialise(net, m)


@hookimpl
def ganrun_make_discriminator(recipe: Any, name: str):
    if recipe.method != METHOD:
        return None
    m = recipe.model
    net = ProjectionDiscriminator(m.num_classes, m.d_widths, m.channels, m.leaky_slope,
                                  m.dropout, m.tf_padding)
    return initialise(net, m)


@hookimpl
def ganrun_make_losses(recipe: Any):
    if recipe.method != METHOD:
        return None
    return make_losses(recipe.model)


@hookimpl
def ganrun_make_trainer(recipe, generators, discriminators, losses, device):
    if recipe.method != METHOD:
        return None
    return CGANTrainer(recipe, generators, discriminators, losses, device)


@hookimpl
def ganrun_sample(recipe, generator, n, seed, label):
    if recipe.method != METHOD:
        return None
    classes = recipe.model.num_classes
    if label is not None and not 0 <= label < classes:
        raise UserError(f"--label: {label} is not a class of this generator (0 to {classes - 1})")
    device = next(generator.parameters()).device
    noise = make_noise(n, recipe.model.noise_dim, torch.Generator().manual_seed(seed), device)
    if label is None:
        noise, labels = class_rows(noise, classes)
        nrow = n
    else:
        labels, nrow = torch.full((n,), label, dtype=torch.long, device=device), None
    with torch.no_grad():
        return Samples(generator.eval()(noise, labels), labels, nrow)
