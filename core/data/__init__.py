"""Datasets that ship with the core: embedded MNIST digits and MNIST from IDX files."""
