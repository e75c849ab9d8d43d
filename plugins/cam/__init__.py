"""CAM (Zhou et al. 2016): class activation maps for localisation, and for a GAN discriminator's decision."""
