"""StarGAN (Choi et al. 2018): one generator for translations among many domains."""
