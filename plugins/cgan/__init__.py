"""Conditional GAN (Mirza & Osindero 2014) on the DCGAN tutorial's backbone."""
