"""Label sets: which labels a dataset gives its images, for methods conditioned on them.

A conditioned image-to-image method (StarGAN) sizes its networks from the recipe alone, so
that a saved generator can be rebuilt on another machine without the data. A dataset whose
labels such a method uses therefore says what they are from its config: its schema class
implements ``label_sets(self) -> list[LabelSet]`` (one set for one dataset, one per dataset,
in order, for a joint dataset; see :mod:`ganrun.data.joint`).

Batches carry the labels as ``label`` (one dataset) or ``label_0``, ``label_1``, ... (a
joint dataset): for a multi-label set an ``N x len(names)`` float tensor of 0/1, for a
single-label set an ``N`` long tensor of class indices.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelSet:
    """The labels one dataset gives: attribute names (multi-label) or class names (single)."""

    dataset: str  # a short name; a single-label target is written DATASET=CLASS (rafd=happy)
    names: tuple[str, ...]  # attributes or classes, in label order
    multi: bool  # True: independent 0/1 attributes; False: exactly one class per image
    # multi-label only: groups of attributes of which an image has at most one (CelebA's
    # hair colours); a target that sets one to 1 sets the others of its group to 0
    exclusive: tuple[tuple[str, ...], ...] = ()
    # multi-label only: every image has exactly one member of each exclusive group (a colour
    # every digit is drawn in), not at most one (CelebA: none of the chosen hair colours)
    exactly_one: bool = False

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError(f"label set '{self.dataset}' has no names")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"label set '{self.dataset}' repeats a name: {self.names}")
        for group in self.exclusive:
            unknown = set(group) - set(self.names)
            if not self.multi or unknown:
                raise ValueError(f"label set '{self.dataset}': exclusive group {group} "
                                 f"is not a group of its attributes")

    def __len__(self) -> int:
        return len(self.names)
