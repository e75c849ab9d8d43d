"""The embedded StarGAN task: mnist_attributes, mnist_styles, their joint, and as_mnist."""
from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ganrun.data import mnist_attributes as attrs
from ganrun.data import mnist_styles as styles
from ganrun.data.arrays import to_unit_range
from ganrun.data.joint import JointDataset
from ganrun.data.joint_sets import MnistAttributesStylesConfig, load_mnist_attributes_styles
from ganrun.data.labels import LabelSet
from ganrun.data.mnist32 import as_mnist, split_digits
from ganrun.evaluators.shipped import accuracy

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def attributes_test():
    return attrs.load_mnist_attributes(attrs.MnistAttributesConfig(), "test")


@pytest.fixture(scope="module")
def styles_test():
    return styles.load_mnist_styles(styles.MnistStylesConfig(), "test")


def test_label_sets():
    a, = attrs.MnistAttributesConfig().label_sets()
    assert a == LabelSet("attributes", ("thick", "slanted", "red", "green", "blue"), multi=True,
                         exclusive=(("red", "green", "blue"),), exactly_one=True)
    s, = styles.MnistStylesConfig().label_sets()
    assert s == LabelSet("styles", ("plain", "striped", "shadowed", "framed"), multi=False)
    assert MnistAttributesStylesConfig().label_sets() == [a, s]


def test_determinism(attributes_test, styles_test):
    for build, load, cfg, ds in (
            (attrs._build, attrs.load_mnist_attributes, attrs.MnistAttributesConfig(),
             attributes_test),
            (styles._build, styles.load_mnist_styles, styles.MnistStylesConfig(), styles_test)):
        build.cache_clear()  # built again from nothing but the fixed seeds
        again = load(cfg, "test")
        assert torch.equal(again.images, ds.images) and torch.equal(again.labels, ds.labels)
        assert torch.equal(again.digits, ds.digits)


def test_balance_shapes_and_ranges(attributes_test, styles_test):
    a, s = attributes_test, styles_test
    assert len(a) == len(s) == 1000
    assert a.images.shape == s.images.shape == (1000, 3, 32, 32)
    for ds in (a, s):
        assert ds.images.dtype == torch.float32
        assert ds.images.min() == -1 and ds.images.max() == 1
        assert torch.bincount(ds.digits).tolist() == [100] * 10  # every digit of the split
    assert a.labels.dtype == torch.float32 and a.labels.shape == (1000, 5)
    assert set(a.labels.unique().tolist()) == {0.0, 1.0}
    assert a.labels[:, :2].sum(0).tolist() == [500, 500]  # thick, slanted: half each
    assert sorted(a.labels[:, 2:].sum(0).tolist()) == [333, 333, 334]  # a colour each third
    assert (a.labels[:, 2:].sum(1) == 1).all()  # exactly one colour
    combos = {tuple(r) for r in a.labels.int().tolist()}
    assert len(combos) == 12  # every combination occurs
    assert s.labels.dtype == torch.long and torch.bincount(s.labels).tolist() == [250] * 4


def test_colour_is_the_channel_drawn_in(attributes_test):
    a = attributes_test
    for channel in range(3):
        mine = a.labels[:, 2 + channel] == 1
        others = [c for c in range(3) if c != channel]
        assert (a.images[mine][:, others] == -1).all()  # black in the other channels
        assert (a.images[mine][:, channel].amax((1, 2)) > 0.5).all()  # ink in its own


def test_thick_and_slanted_show(attributes_test):
    a = attributes_test
    grey = as_mnist(a.images)
    ink = (grey > 0).float().mean((1, 2, 3))
    thick = a.labels[:, 0] == 1
    assert ink[thick].mean() > 1.5 * ink[~thick].mean()
    assert ink[thick].min() > 0 and ink[~thick].min() > 0
    # a vertical bar sheared: its top moves right, its bottom left; upright stays upright
    bar = np.zeros((2, 32, 32))
    bar[:, 6:26, 15:17] = 255
    upright, slanted = attrs.shear(bar, np.array([0.0, attrs.SLANT]))
    assert np.allclose(upright, bar)
    cols = lambda img, row: np.flatnonzero(img[row] > 127).mean()  # noqa: E731
    assert cols(slanted, 6) - 15.5 > 3 and 15.5 - cols(slanted, 25) > 3


def test_styles_render_as_described():
    digits, _ = split_digits("test")
    digits = digits[:20]
    plain, striped, shadowed, framed = (styles.RENDER[n](digits) for n in styles.STYLES)
    assert plain.shape == (20, 32, 32) and plain.dtype == np.uint8
    assert (framed[:, 0] == 255).all() and (framed[:, :, -1] == 255).all()
    assert np.array_equal(framed[:, 2:30, 2:30], plain[:, 2:30, 2:30])
    assert (shadowed >= plain).all() and (shadowed > plain).any()
    assert ((striped > 0) & (striped < 100)).sum() > ((plain > 0) & (plain < 100)).sum()


def test_as_mnist_gives_back_the_digit(styles_test):
    s = styles_test
    digits, _ = split_digits("test")
    for k in (styles.STYLES.index("plain"), styles.STYLES.index("framed")):
        mine = (s.labels == k).nonzero().flatten()[:10]
        want = to_unit_range(digits[mine.numpy()][:, None])
        assert torch.equal(as_mnist(s.images[mine]), want)
    assert as_mnist(torch.zeros(2, 3, 32, 32)).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError):
        as_mnist(torch.zeros(2, 1, 28, 28))


def test_lenet_reads_every_attribute_combination_and_style(attributes_test, styles_test,
                                                          registry):
    net = registry.evaluator("lenet_mnist32").load()
    a, s = attributes_test, styles_test
    assert accuracy(net, a.images, a.digits) >= 0.95
    for thick, slanted, colour in itertools.product((0, 1), (0, 1), (2, 3, 4)):
        mine = (a.labels[:, 0] == thick) & (a.labels[:, 1] == slanted) & (a.labels[:, colour] == 1)
        assert accuracy(net, a.images[mine], a.digits[mine]) >= 0.9, (thick, slanted, colour)
    for k in range(len(styles.STYLES)):
        mine = s.labels == k
        assert accuracy(net, s.images[mine], s.digits[mine]) >= 0.9, styles.STYLES[k]


def test_items_batches_and_limit(attributes_test):
    item = attributes_test[3]
    assert item["image"].shape == (3, 32, 32) and item["label"].shape == (5,)
    loader = DataLoader(attributes_test, batch_size=16, collate_fn=attributes_test.collate)
    batch = next(iter(loader))
    assert batch["image"].shape == (16, 3, 32, 32) and batch["label"].dtype == torch.float32
    small = styles.load_mnist_styles(styles.MnistStylesConfig(limit=40), "test")
    assert len(small) == 40 and len(set(small.digits.tolist())) == 10  # mixed, not one digit
    assert len(attrs.load_mnist_attributes(attrs.MnistAttributesConfig(), "test")) == 1000


def test_joint_dataset_yields_both_parts():
    cfg = MnistAttributesStylesConfig()
    cfg.styles.limit = 100
    train = load_mnist_attributes_styles(cfg, "train")
    assert isinstance(train, JointDataset) and len(train) == 4000
    random.seed(0)
    batch = train.__getitems__(list(range(64)))
    assert set(batch) == {"image_0", "label_0", "image_1", "label_1"}
    assert torch.equal(batch["image_0"], train.parts[0].images[:64])  # dataset 0 in order
    assert batch["label_0"].shape == (64, 5) and batch["label_1"].shape == (64,)
    assert batch["label_1"].dtype == torch.long
    random.seed(0)
    again = train.__getitems__(list(range(64)))
    assert torch.equal(again["image_1"], batch["image_1"])  # the checkpointed RNG
    drawn = {int(x.sum()) for x in batch["image_1"]}
    assert len(drawn) > 30  # drawn at random among the 100
    test = load_mnist_attributes_styles(MnistAttributesStylesConfig(), "test")
    items = test.__getitems__([0, 1, 999])
    assert torch.equal(items["image_1"], test.parts[1].images[[0, 1, 999]])  # in order
    loader = DataLoader(train, batch_size=8, shuffle=True, collate_fn=train.collate)
    assert next(iter(loader))["image_1"].shape == (8, 3, 32, 32)


def test_registered(registry):
    for name, schema in (("mnist_attributes", attrs.MnistAttributesConfig),
                         ("mnist_styles", styles.MnistStylesConfig),
                         ("mnist_attributes_styles", MnistAttributesStylesConfig)):
        assert registry.dataset(name).schema is schema
