"""The joint datasets that ship: ``celeba_rafd`` (StarGAN's CelebA + RaFD, Choi et al. 2018,
Sec. 4.4) and ``mnist_attributes_styles`` (its embedded, offline counterpart)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ganrun.data.celeba import CelebaConfig, load_celeba
from ganrun.data.class_folders import ClassFoldersConfig, load_class_folders
from ganrun.data.joint import JointConfig, JointDataset, load_joint
from ganrun.data.mnist_attributes import MnistAttributesConfig, load_mnist_attributes
from ganrun.data.mnist_styles import MnistStylesConfig, load_mnist_styles


@dataclass
class CelebaRafdConfig(JointConfig):
    """``celeba_rafd``: CelebA's attributes (part 0) and RaFD's expressions (part 1)."""

    name: str = "celeba_rafd"
    celeba: CelebaConfig = field(default_factory=CelebaConfig)
    rafd: ClassFoldersConfig = field(default_factory=ClassFoldersConfig)


def load_celeba_rafd(cfg: CelebaRafdConfig, split: str) -> JointDataset:
    return load_joint(cfg, split, (load_celeba, load_class_folders))


@dataclass
class MnistAttributesStylesConfig(JointConfig):
    """``mnist_attributes_styles``: digit attributes (part 0) and digit styles (part 1)."""

    name: str = "mnist_attributes_styles"
    attributes: MnistAttributesConfig = field(default_factory=MnistAttributesConfig)
    styles: MnistStylesConfig = field(default_factory=MnistStylesConfig)


def load_mnist_attributes_styles(cfg: MnistAttributesStylesConfig, split: str) -> JointDataset:
    return load_joint(cfg, split, (load_mnist_attributes, load_mnist_styles))
