"""Datasets that ship with the core: embedded MNIST digits, MNIST from IDX files, digit canvases."""
