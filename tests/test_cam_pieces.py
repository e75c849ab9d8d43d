"""CAM's pieces: the maps against the paper's formula, boxes, IoU, discriminator maps, canvases."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganrun.data import canvas
from ganrun.data.canvas import CanvasConfig, compose, load_mnist_canvas
from ganrun_plugins.cam.cam import (box_from_map, cam_for, class_activation_maps, dense_head_map,
                                    iou, linear_head_contributions, localisation_scores,
                                    patch_map, saliency_map, upsample)
from ganrun_plugins.cam.networks import GAPClassifier
from ganrun_plugins.dcgan.networks import Discriminator


def hand_built() -> GAPClassifier:
    """Last conv straight on the image: f_0 = relu(x), f_1 = relu(-x); S_0 = F_0 + 0.5,
    S_1 = 2 F_1 - 0.5. So M_0 = relu(x) and M_1 = 2 relu(-x)."""
    net = GAPClassifier(channels=1, widths=(2,), num_classes=2, pools=0, batchnorm=False)
    conv = net.last[0]
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1], conv.weight[1, 0, 1, 1] = 1.0, -1.0
        conv.bias.zero_()
        net.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        net.fc.bias.copy_(torch.tensor([0.5, -0.5]))
    return net.eval()


def test_cam_is_the_papers_weighted_sum_on_a_hand_built_network():
    net = hand_built()
    x = torch.randn(3, 1, 8, 8)
    maps = net.feature_maps(x)
    assert torch.allclose(class_activation_maps(maps, net.fc.weight, torch.tensor([0, 0, 0])),
                          x[:, 0].clamp(min=0))
    assert torch.allclose(class_activation_maps(maps, net.fc.weight, torch.tensor([1, 1, 1])),
                          2 * (-x[:, 0]).clamp(min=0))


def test_mean_of_each_cam_plus_bias_is_the_logit():
    torch.manual_seed(0)
    net = GAPClassifier(1, (4, 6, 8), 5, pools=2)
    with torch.no_grad():  # BatchNorm statistics away from 0 and 1
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.2, 0.2)
    net.eval()
    x = torch.randn(2, 1, 32, 32)
    maps = net.feature_maps(x)
    assert maps.shape == (2, 8, 8, 8) and net.stride == 4
    logits = net(x)
    for c in range(5):
        cams = class_activation_maps(maps, net.fc.weight, torch.tensor([c, c]))
        by_hand = sum(net.fc.weight[c, k] * maps[:, k] for k in range(8))
        assert torch.allclose(cams, by_hand, atol=1e-6)
        assert torch.allclose(cams.mean(dim=(1, 2)) + net.fc.bias[c], logits[:, c], atol=1e-5)
    full, classes = cam_for(net, x)
    assert full.shape == (2, 32, 32) and classes.tolist() == logits.argmax(1).tolist()


def test_upsample_is_bilinear_to_the_image_size():
    cam = torch.arange(4.0).view(1, 2, 2)
    up = upsample(cam, 4)
    assert up.shape == (1, 4, 4)
    assert up[0, 0, 0] == 0 and up[0, -1, -1] == 3 and torch.allclose(up.mean(), cam.mean())


def test_box_is_the_largest_region_above_a_fifth_of_the_maximum():
    m = np.full((32, 32), 0.1)
    m[2:8, 3:9] = 1.0  # bright but small: 36 pixels
    m[15:25, 10:30] = 0.5  # dimmer but larger: 200 pixels
    m[25, 12] = 0.19  # touches the large blob, below 20%: left out
    m[14, 29] = 0.21  # touches it, above 20%: kept
    assert box_from_map(m) == (10, 14, 30, 25)
    assert box_from_map(torch.from_numpy(m), threshold=0.6) == (3, 2, 9, 8)
    assert box_from_map(np.zeros((5, 7))) == (0, 0, 7, 5)


def test_iou_of_known_boxes():
    assert iou((0, 0, 4, 4), (0, 0, 4, 4)) == 1
    assert iou((0, 0, 2, 2), (2, 2, 4, 4)) == 0  # exclusive ends: touching is no overlap
    assert torch.isclose(iou((0, 0, 2, 2), (1, 1, 3, 3)), torch.tensor(1 / 7))
    assert iou((0, 0, 4, 4), (0, 0, 2, 2)) == 0.25
    both = iou(torch.tensor([[0, 0, 4, 4], [0, 0, 2, 2]]), torch.tensor([0, 0, 2, 4]))
    assert torch.allclose(both, torch.tensor([0.5, 0.5]))


def test_localisation_needs_the_right_class_and_half_overlap():
    net = hand_built()
    images = torch.zeros(4, 1, 16, 16)
    for i in range(4):
        images[i, 0, 2 + i : 8 + i, 3:9] = 1.0  # one blob each: class 0 wins, M_0 = the blob
    boxes = torch.tensor([[3, 2 + i, 9, 8 + i] for i in range(4)], dtype=torch.float32)
    labels = torch.tensor([0, 0, 0, 1])  # the last is misclassified
    boxes[2] = torch.tensor([9, 2, 15, 8])  # the third's true box is elsewhere
    net.train()
    scores = localisation_scores(net, images, labels, boxes, "cam", batch_size=3)
    assert scores["cls_acc"] == 0.75 and scores["loc_acc"] == 0.5
    assert net.training  # mode restored
    sal = localisation_scores(net, images, labels, boxes, "saliency")
    assert sal["cls_acc"] == 0.75
    with pytest.raises(ValueError, match="method"):
        localisation_scores(net, images, labels, boxes, "gradcam")


def test_saliency_of_a_linear_model_is_its_weight_magnitude():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    x = torch.randn(2, 2, 4, 4)
    sal, classes = saliency_map(net, x, torch.tensor([1, 2]))
    w = net[1].weight.detach().view(3, 2, 4, 4).abs().amax(dim=1)
    assert torch.allclose(sal, w[[1, 2]]) and classes.tolist() == [1, 2]
    sal, predicted = saliency_map(net, x)  # no classes: the predicted ones, same forward
    assert torch.equal(predicted, net(x).argmax(1)) and torch.allclose(sal, w[predicted])


def test_dcgan_discriminator_logit_decomposes_into_per_location_terms():
    torch.manual_seed(0)
    D = Discriminator(widths=(4, 8)).eval()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        terms = dense_head_map(D, x)
        logit = D(x)
        maps = D.features(x).view(3, 7, 7, 8).permute(0, 3, 1, 2)
    assert terms.shape == (3, 1, 7, 7)
    assert torch.allclose(terms.sum(dim=(2, 3)) + D.fc.bias, logit, atol=1e-5)
    w = D.fc.weight.view(7, 7, 8)  # Keras flattens H, W, C
    assert torch.isclose(terms[1, 0, 2, 5], (w[2, 5] * maps[1, :, 2, 5]).sum(), atol=1e-6)


def test_a_channels_first_head_decomposes_too():
    torch.manual_seed(0)
    maps, head = torch.randn(2, 3, 4, 5), nn.Linear(3 * 4 * 5, 2)
    terms = linear_head_contributions(maps, head.weight, order="chw")
    assert terms.shape == (2, 2, 4, 5)
    assert torch.allclose(terms.sum(dim=(2, 3)) + head.bias, head(maps.flatten(1)), atol=1e-5)
    per_image = head.weight[None] + torch.randn(2, 1, 60)  # e.g. a projection discriminator
    logit = (maps.flatten(1)[:, None] * per_image).sum(-1)
    per_terms = linear_head_contributions(maps, per_image, order="chw")
    assert torch.allclose(per_terms.sum(dim=(2, 3)), logit, atol=1e-5)
    with pytest.raises(ValueError, match="inputs"):
        linear_head_contributions(maps, torch.zeros(1, 7))


def test_patch_map_is_the_patchgan_output():
    D = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 4, 1, 1))
    x = torch.randn(2, 1, 16, 16)
    # exact: patch_map is D's own forward, computed twice here
    assert torch.equal(patch_map(D, x), D(x)) and patch_map(D, x).shape == (2, 1, 7, 7)
    with pytest.raises(ValueError, match="PatchGAN"):
        patch_map(nn.Sequential(nn.Flatten(), nn.Linear(256, 1)), x)


# ------------------------------------------------------------------------------ canvases
def test_ink_threshold_narrows_the_box():
    layer = np.zeros((8, 8), np.uint8)
    layer[2:6, 3:5], layer[1, 3], layer[2:6, 5] = 255, 20, 40  # faint edges above and right
    assert canvas.ink_box(layer) == (3, 1, 6, 6)
    assert canvas.ink_box(layer, 0.1) == (3, 2, 6, 6)
    assert canvas.ink_box(layer, 0.2) == (3, 2, 5, 6)


def test_compose_boxes_the_digits_ink_and_keeps_distractors_out():
    digit = np.zeros((28, 28), np.uint8)
    digit[6:20, 12:16] = 255  # a "1"
    cfg = CanvasConfig(fragments=6, salt=0.0, margin=2)
    rng = np.random.RandomState(0)
    for _ in range(20):
        image, layer, (x0, y0, x1, y1) = compose(digit, [digit] * 6, cfg, rng)
        ink = layer > 0  # the default cfg.ink: every pixel the digit touches
        assert ink[y0:y1, x0:x1].sum() == ink.sum()  # all of the digit's ink is in the box
        assert ink[y0, x0:x1].any() and ink[y1 - 1, x0:x1].any()  # and the box is tight
        assert ink[y0:y1, x0].any() and ink[y0:y1, x1 - 1].any()
        near = slice(max(y0 - 2, 0), y1 + 2), slice(max(x0 - 2, 0), x1 + 2)
        assert np.array_equal(image[near], layer[near])  # no fragment inside or within the margin
        assert (image > layer).any()  # but there are fragments


def test_canvas_set_is_fixed_in_range_and_boxed(registry):
    assert "mnist_canvas" in registry.datasets
    cfg = CanvasConfig()
    ds = load_mnist_canvas(cfg, "test")
    canvas._build.cache_clear()
    again = load_mnist_canvas(cfg, "test")
    # exact: both builds run here, from the same digits and seeds
    assert torch.equal(ds.images, again.images) and torch.equal(ds.boxes, again.boxes)
    assert torch.equal(ds.labels, again.labels) and torch.bincount(ds.labels).tolist() == [100] * 10
    assert ds.images.shape == (1000, 1, 64, 64)
    assert ds.images.min() == -1 and ds.images.max() == 1
    x0, y0, x1, y1 = ds.boxes.T
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= 64).all() and (y1 <= 64).all()
    assert ((x1 > x0) & (y1 > y0)).all()
    area = ((x1 - x0) * (y1 - y0) / 64**2)
    assert area.max() < 0.3 and area.mean() < 0.15  # the digit is a minority of the canvas
    for i in range(0, 1000, 97):  # the ink reaches every edge of the box
        a, b, c, d = ds.boxes[i].int().tolist()
        inside = ds.images[i, 0, b:d, a:c] > -1  # canvas >= the digit's layer
        assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
    batch = ds.__getitems__([5, 2])
    assert torch.equal(batch["box"], ds.boxes[[5, 2]]) and ds[5]["box"].tolist() == ds.boxes[5].tolist()
    other = load_mnist_canvas(CanvasConfig(seed=1, limit=10), "test")
    assert len(other) == 10 and not torch.equal(other.boxes, ds.boxes[:10])


def test_canvas_settings_that_cannot_fit_are_refused():
    from ganrun.errors import UserError

    with pytest.raises(UserError, match="data.scale"):
        load_mnist_canvas(CanvasConfig(size=32, scale=[1.0, 1.6]), "test")
    with pytest.raises(UserError, match="data.scale"):
        load_mnist_canvas(CanvasConfig(scale=[1.2, 0.8]), "test")


def test_overlay_png_has_the_boxes(tmp_path):
    from PIL import Image

    from ganrun_plugins.cam.overlay import FOUND, TRUE, save_overlays

    images, heat = torch.zeros(2, 1, 16, 16), torch.rand(2, 16, 16)
    boxes = torch.tensor([[2, 2, 10, 10], [0, 0, 16, 16]])
    path = save_overlays(tmp_path / "o.png", images, heat, boxes, boxes + 1, nrow=2, scale=2, pad=4)
    picture = Image.open(path).convert("RGB")
    assert picture.size == (2 * 32 + 3 * 4, 32 + 2 * 4)
    assert picture.getpixel((4 + 2 * 2, 4 + 2 * 2)) == FOUND
    assert picture.getpixel((4 + 2 * 9 + 1, 4 + 2 * 9 + 1)) == FOUND  # exclusive end: last pixel 9
    assert picture.getpixel((4 + 3 * 2, 4 + 2 * 6)) == TRUE
