"""The published CycleGAN datasets, registered for ``ganrun data download`` (unaligned
``trainA/ trainB/ testA/ testB/`` folders, read by the core's ``unaligned`` dataset)."""
from __future__ import annotations

from ganrun.data.download import ArchiveSpec

_CYCLEGAN = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets"
# Sizes and SHA-256 from tensorflow_datasets (tensorflow_datasets/url_checksums/cycle_gan.txt,
# recorded for the same files at their former address people.eecs.berkeley.edu/~taesung_park/
# CycleGAN/datasets/); horse2zebra's size is also the Content-Length efrosgans served in 2022.
ARCHIVES: dict[str, ArchiveSpec] = {spec.name: spec for spec in (
    ArchiveSpec("horse2zebra", f"{_CYCLEGAN}/horse2zebra.zip", 116_867_962,
                "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1", "horse2zebra"),
    ArchiveSpec("apple2orange", f"{_CYCLEGAN}/apple2orange.zip", 78_456_409,
                "845a191e9af8926408ea597001cd03a452e3300a1f44a79fe329b3d59f6e3eb8", "apple2orange"),
    ArchiveSpec("summer2winter_yosemite", f"{_CYCLEGAN}/summer2winter_yosemite.zip", 132_640_856,
                "167fe1726807a9d22bd106b4a6c0bd7953b688af924ac1bf967439c4961e49f9",
                "summer2winter_yosemite"),
    ArchiveSpec("monet2photo", f"{_CYCLEGAN}/monet2photo.zip", 305_231_073,
                "88f91b00fc228f97c9411fbf1880ec1d119c98f1722e4cfcfaa2fb35fac05b04", "monet2photo"),
)}
