"""A spectral-norm discriminator for ganrun's ``dcgan`` method (Miyato et al. 2018).

With ``wgan_sn.enabled: true`` in a dcgan recipe, the discriminator is dcgan's own, built
and initialised as dcgan builds it, with the weight of every convolution and linear layer
divided by its largest singular value (``torch.nn.utils.parametrizations.spectral_norm``,
``n_power_iterations`` power iterations per forward pass while training). Its state holds
``parametrizations.weight.original`` and the power iteration's ``_u`` / ``_v``.

This plugin answers one role, ``ganrun_make_discriminator``, only for ``dcgan`` with the
section enabled, and ``None`` otherwise, so dcgan's generator, losses and trainer stay its
own, and dcgan's discriminator is used whenever the section is off. ganrun registers its
own plugins before installed ones and pluggy asks the newest first: this answer comes
before dcgan's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganrun import hookimpl
from ganrun.errors import UserError
from ganrun.registry import SectionInfo
from ganrun.schema import limit
from ganrun_plugins.dcgan.plugin import plugin as dcgan

SECTION = "wgan_sn"


@dataclass
class SpectralNormConfig:
    """The recipe section ``wgan_sn``."""

    enabled: bool = False  # dcgan's discriminator with spectral normalisation
    n_power_iterations: int = limit(1, ge=1)  # per forward pass (Miyato et al.: 1)


def spectral_normalise(net: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """``net`` with every convolution and linear weight spectrally normalised, in place."""
    for layer in [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]:
        spectral_norm(layer, n_power_iterations=n_power_iterations)
    return net


@hookimpl
def ganrun_register_sections() -> list[SectionInfo]:
    return [SectionInfo(SECTION, SpectralNormConfig,
                        "spectral-norm discriminator for dcgan (ganrun-wgan)")]


@hookimpl
def ganrun_check_run(recipe: Any) -> None:
    if recipe.wgan_sn.enabled and recipe.method != dcgan.name:
        raise UserError(f"{SECTION}.enabled: the spectral-norm discriminator serves method "
                        f"'{dcgan.name}', not '{recipe.method}'")


@hookimpl
def ganrun_make_discriminator(recipe: Any, name: str) -> nn.Module | None:
    if recipe.method != dcgan.name or not recipe.wgan_sn.enabled:
        return None
    return spectral_normalise(dcgan.discriminator(recipe, name),
                              recipe.wgan_sn.n_power_iterations)
