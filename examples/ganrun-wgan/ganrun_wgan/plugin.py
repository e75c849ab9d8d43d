"""The ``wgan_gp`` method: the dcgan plugin's networks, built and initialised as dcgan
builds them, trained by Algorithm 1 of Gulrajani et al. 2017 (:mod:`ganrun_wgan.method`)."""
from __future__ import annotations

from ganrun_plugins.dcgan.plugin import DCGANPlugin
from ganrun_wgan.method import WGANGPConfig, WGANGPTrainer


class WGANGPPlugin(DCGANPlugin):
    """dcgan's plugin with another name, schema and trainer: networks, losses (by
    ``model.loss``, here ``wgan``) and sampling are inherited."""

    name = "wgan_gp"
    schema = WGANGPConfig
    description = "WGAN-GP on the DCGAN networks (Gulrajani et al. 2017), from ganrun-wgan"
    trainer_class = WGANGPTrainer


plugin = WGANGPPlugin()
