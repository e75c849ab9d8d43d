"""StarGAN's domain labels: the label vector G is given, the slice of D's logits each
dataset is classified on, target labels for training, the grid's targets, and ``--to`` text.

With one dataset the label vector is that dataset's labels (attributes as 0/1, a class as
one-hot). With several datasets of different label sets (Sec. 3.2, "mask vector") it is
``[labels of dataset 1, labels of dataset 2, ..., one-hot mask over the datasets]``: the
labels of the batch's own dataset, zeros for the others, and the mask saying which part is
known. D classifies into every dataset's labels (no mask), and each classification loss
uses only the slice of the batch's own dataset.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganrun.data.labels import LabelSet
from ganrun.errors import UserError


@dataclass(frozen=True)
class LabelLayout:
    """Where each label set sits in G's label vector and in D's domain logits."""

    sets: tuple[LabelSet, ...]

    def __post_init__(self) -> None:
        if not self.sets:
            raise ValueError("StarGAN needs at least one label set")

    @property
    def masked(self) -> bool:
        """Several datasets: the label vector ends with a one-hot mask over them."""
        return len(self.sets) > 1

    @property
    def cls_dim(self) -> int:
        """D's domain logits: every label set's labels (CelebA 5 + RaFD 8 = 13)."""
        return sum(len(s) for s in self.sets)

    @property
    def c_dim(self) -> int:
        """G's label channels: the logits' labels plus the mask (5 + 8 + 2 = 15)."""
        return self.cls_dim + (len(self.sets) if self.masked else 0)

    def span(self, k: int) -> slice:
        """The columns of label set ``k`` in the label vector and in D's logits."""
        start = sum(len(s) for s in self.sets[:k])
        return slice(start, start + len(self.sets[k]))

    def as_vector(self, k: int, label: torch.Tensor) -> torch.Tensor:
        """Set ``k``'s labels as ``N x len(set)`` floats: attributes as they are, a class one-hot."""
        if self.sets[k].multi:
            return label.float()
        return F.one_hot(label.long(), len(self.sets[k])).float()

    def encode(self, k: int, label: torch.Tensor) -> torch.Tensor:
        """G's ``N x c_dim`` label vector for labels of set ``k`` (Sec. 3.2's mask vector)."""
        own = self.as_vector(k, label)
        if not self.masked:
            return own
        c = own.new_zeros(len(own), self.c_dim)
        c[:, self.span(k)] = own
        c[:, self.cls_dim + k] = 1.0
        return c

    def classification_loss(self, k: int, logits: torch.Tensor, label: torch.Tensor
                            ) -> torch.Tensor:
        """L_cls on set ``k``'s slice of D's logits (eq. 2 and 3): binary cross-entropy summed
        over the attributes and averaged over the batch for multi-label data (the official
        ``size_average=False`` sum divided by the batch), cross-entropy for a class."""
        logits = logits[:, self.span(k)]
        if self.sets[k].multi:
            return F.binary_cross_entropy_with_logits(logits, label.float(),
                                                      reduction="sum") / logits.size(0)
        return F.cross_entropy(logits, label.long())

    def random_targets(self, k: int, label: torch.Tensor, generator: torch.Generator | None = None
                       ) -> torch.Tensor:
        """Training targets: the batch's labels in a random order (multi-label, as the
        official code), or a random class for each image (single-label)."""
        if self.sets[k].multi:
            return label[torch.randperm(len(label), generator=generator, device="cpu")
                         .to(label.device)]
        return torch.randint(len(self.sets[k]), (len(label),), generator=generator,
                             device="cpu").to(label.device)

    def blank(self, k: int, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """Labels of set ``k`` for ``n`` images it never labelled, as the base of their test
        targets: class 0; no attribute, except the first member of each exclusive group of
        a set whose images always have one (``LabelSet.exactly_one``): a target must be a
        domain the set has, or G is asked for a label it never saw (a digit in no colour)."""
        s = self.sets[k]
        if not s.multi:
            return torch.zeros(n, dtype=torch.long, device=device)
        out = torch.zeros(n, len(s), device=device)
        if s.exactly_one:
            for group in s.exclusive:
                out[:, s.names.index(group[0])] = 1.0
        return out

    # ------------------------------------------------------------------ test-time targets
    def columns(self, k: int) -> list[str]:
        """One grid column per target of set ``k``: each attribute, or each class."""
        return list(self.sets[k].names)

    def column_targets(self, k: int, label: torch.Tensor) -> list[torch.Tensor]:
        """The targets of the grid's columns for images labelled ``label`` (set ``k``): for
        attributes, the official ``create_labels``: an exclusive group's member set to 1 and
        the rest of its group to 0, any other attribute flipped; for classes, each class."""
        s = self.sets[k]
        if not s.multi:
            return [torch.full_like(label, i) for i in range(len(s))]
        targets = []
        for i, name in enumerate(s.names):
            t = label.clone().float()
            if any(name in g for g in s.exclusive):
                t[:, list(self.changed(k, i))] = 0.0
                t[:, i] = 1.0
            else:
                t[:, i] = 1.0 - t[:, i]
            targets.append(t)
        return targets

    def changed(self, k: int, i: int) -> tuple[int, ...]:
        """The attributes of set ``k`` that column ``i`` sets: its exclusive group, or itself."""
        s = self.sets[k]
        group = next((g for g in s.exclusive if s.names[i] in g), (s.names[i],))
        return tuple(s.names.index(name) for name in group)

    def parse(self, text: str, key: str = "--to") -> tuple[int, dict[str, int]]:
        """``"thick=1,slanted=0"`` (attributes of one multi-label set) or ``"rafd=happy"``
        (a class of the single-label set ``rafd``) -> (set index, {name: value})."""
        pairs = [p.strip() for p in text.split(",") if p.strip()]
        if not pairs or any(p.count("=") != 1 for p in pairs):
            raise UserError(f"{key}: '{text}' is not NAME=VALUE[,NAME=VALUE...] "
                            f"(known: {self.known()})")
        asked = {n.strip(): v.strip() for n, v in (p.split("=") for p in pairs)}
        for k, s in enumerate(self.sets):
            if not s.multi and set(asked) == {s.dataset}:
                value = asked[s.dataset]
                if value not in s.names:
                    raise UserError(f"{key}: '{value}' is not a class of {s.dataset} "
                                    f"(known: {', '.join(s.names)})")
                return k, {value: 1}
        owners = {k for k, s in enumerate(self.sets) if s.multi and set(asked) <= set(s.names)}
        if not owners:
            unknown = [n for n in asked if not any(s.multi and n in s.names for s in self.sets)]
            if not unknown:  # every name known, but from two datasets
                raise UserError(f"{key}: '{text}' mixes attributes of different datasets")
            raise UserError(f"{key}: unknown attribute or dataset '{unknown[0]}' "
                            f"(known: {self.known()})")
        k = min(owners)
        values = {}
        for name, v in asked.items():
            if v not in ("0", "1"):
                raise UserError(f"{key}: {name}={v}: an attribute is 0 or 1")
            values[name] = int(v)
        return k, values

    def target_vector(self, k: int, values: dict[str, int], n: int) -> torch.Tensor:
        """G's label vector for a parsed ``--to``: named attributes as given, the others 0
        (members of a group whose chosen member is 1 are 0 anyway); a class one-hot."""
        s = self.sets[k]
        own = torch.zeros(n, len(s))
        for name, v in values.items():
            own[:, s.names.index(name)] = float(v)
        if not s.multi:
            return self.encode(k, own.argmax(1))
        return self.encode(k, own)

    def known(self) -> str:
        parts = []
        for s in self.sets:
            parts.append(", ".join(s.names) if s.multi else f"{s.dataset}=" + "|".join(s.names))
        return "; ".join(parts)
