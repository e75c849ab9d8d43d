"""ganrun-wgan: an outside plugin package for ganrun.

It adds the method ``wgan_gp`` (WGAN-GP on the dcgan networks: :mod:`ganrun_wgan.plugin`)
and a spectral-norm discriminator for ganrun's ``dcgan`` method, behind the recipe section
``wgan_sn`` (:mod:`ganrun_wgan.spectral`). ganrun finds both through the ``ganrun``
entry-point group of this package's pyproject.toml; ganrun itself never imports it.
"""
__version__ = "0.1.0"
