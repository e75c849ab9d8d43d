"""StarGAN's pieces: official network sizes, the label vector and mask, the losses, the
n_critic rhythm and the learning-rate schedule, on hand-made tensors and tiny networks."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from ganrun.data.labels import LabelSet
from ganrun.errors import UserError
from ganrun.losses import get_loss, gradient_penalty
from ganrun_plugins.stargan.labels import LabelLayout
from ganrun_plugins.stargan.method import StarGANConfig, StarGANTrainer, batch_parts
from ganrun_plugins.stargan.networks import Discriminator, Generator, tile_label

CELEBA = LabelSet("celeba", ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"), True,
                  (("Black_Hair", "Blond_Hair", "Brown_Hair"),))
RAFD = LabelSet("rafd", ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral",
                         "sad", "surprised"), False)


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_official_networks_have_the_official_sizes_and_shapes():
    G, D = Generator(64, 5, 6), Discriminator(128, 64, 5, 6)
    assert count(G) == 8_430_528 and count(D) == 44_762_048 and count(G) + count(D) == 53_192_576
    # CelebA + RaFD: G reads 5 + 8 labels + a 2-way mask = 15 label channels (the issue's
    # "c_dim 13" counts D's logits; G's input has the mask as well)
    assert LabelLayout((CELEBA, RAFD)).c_dim == 15
    assert count(Generator(64, 15, 6)) == 8_461_888
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        src, cls = D(x)
        assert src.shape == (2, 1, 2, 2) and cls.shape == (2, 5)
        assert G(x, torch.zeros(2, 5)).shape == (2, 3, 128, 128)
    assert not any(isinstance(m, torch.nn.Conv2d) and m.bias is not None for m in G.modules())
    keys = set(G.state_dict())  # the official layout: an official checkpoint loads key for key
    assert {"main.0.weight", "main.1.running_mean", "main.9.main.0.weight"} <= keys
    assert set(D.state_dict()) >= {"main.0.weight", "main.0.bias", "conv1.weight", "conv2.weight"}


def test_label_is_tiled_over_every_pixel():
    x = torch.zeros(2, 3, 4, 4)
    c = torch.tensor([[1.0, 0.0], [0.25, 1.0]])
    joined = tile_label(x, c)
    assert joined.shape == (2, 5, 4, 4)
    assert torch.equal(joined[:, 3:], c[:, :, None, None].expand(2, 2, 4, 4))  # copies only


def test_mask_vector_layout_and_per_dataset_classification_slice():
    layout = LabelLayout((CELEBA, RAFD))
    assert (layout.cls_dim, layout.c_dim, layout.span(0), layout.span(1)) == \
        (13, 15, slice(0, 5), slice(5, 13))
    celeb = torch.tensor([[1.0, 0, 0, 1, 0]])
    assert layout.encode(0, celeb).tolist() == [[1, 0, 0, 1, 0] + [0] * 8 + [1, 0]]
    assert layout.encode(1, torch.tensor([4])).tolist() == [[0] * 5 + [0, 0, 0, 0, 1, 0, 0, 0] + [0, 1]]
    single = LabelLayout((CELEBA,))  # one dataset: no mask
    assert single.c_dim == single.cls_dim == 5 and torch.equal(single.encode(0, celeb), celeb)

    logits = torch.randn(3, 13)
    labels = torch.tensor([[1.0, 0, 0, 1, 1], [0, 1, 0, 0, 1], [0, 0, 1, 1, 0]])
    by_hand = F.binary_cross_entropy_with_logits(logits[:, :5], labels, reduction="sum") / 3
    assert layout.classification_loss(0, logits, labels).item() == pytest.approx(by_hand.item())
    classes = torch.tensor([2, 7, 0])
    by_hand = F.cross_entropy(logits[:, 5:], classes)
    assert layout.classification_loss(1, logits, classes).item() == pytest.approx(by_hand.item())
    other = logits.clone()
    other[:, 5:] += 1000.0  # the other dataset's logits never enter set 0's loss
    assert torch.equal(layout.classification_loss(0, other, labels),
                       layout.classification_loss(0, logits, labels))


def test_targets_permute_attributes_and_draw_classes():
    layout = LabelLayout((CELEBA, RAFD))
    labels = torch.eye(5)[:4]
    g = torch.Generator().manual_seed(0)
    permuted = layout.random_targets(0, labels, g)
    assert sorted(map(tuple, permuted.tolist())) == sorted(map(tuple, labels.tolist()))
    drawn = layout.random_targets(1, torch.zeros(400, dtype=torch.long), g)
    assert drawn.dtype == torch.long and set(drawn.tolist()) == set(range(8))


def test_grid_targets_follow_the_official_create_labels():
    layout = LabelLayout((CELEBA,))
    blond_young = torch.tensor([[0.0, 1, 0, 0, 1]])
    columns = [t.tolist()[0] for t in layout.column_targets(0, blond_young)]
    assert columns == [[1, 0, 0, 0, 1], [0, 1, 0, 0, 1], [0, 0, 1, 0, 1],  # hair: one of three
                       [0, 1, 0, 1, 1], [0, 1, 0, 0, 0]]  # other attributes flipped


def test_to_text_is_parsed_and_checked():
    layout = LabelLayout((CELEBA, RAFD))
    assert layout.parse("Male=1, Young=0") == (0, {"Male": 1, "Young": 0})
    assert layout.parse("rafd=happy") == (1, {"happy": 1})
    assert layout.target_vector(1, {"happy": 1}, 2)[:, 5:].argmax(1).tolist() == [4, 4]
    vector = layout.target_vector(0, {"Blond_Hair": 1}, 1)
    assert vector.tolist() == [[0, 1, 0, 0, 0] + [0] * 8 + [1, 0]]
    for bad, needle in [("Bald=1", "unknown attribute or dataset 'Bald'"),
                        ("rafd=bored", "'bored' is not a class of rafd"),
                        ("Male=2", "an attribute is 0 or 1"), ("Male", "NAME=VALUE"),
                        ("Male=1,rafd=happy", "unknown attribute or dataset 'rafd'")]:
        with pytest.raises(UserError, match=needle) as e:
            layout.parse(bad)
        assert str(e.value).startswith("--to: ") and "\n" not in str(e.value)


def test_gradient_penalty_by_hand_on_a_tiny_critic():
    """D(x) = (a . x)^2: grad = 2 (a . x^) a, so the penalty is (2 |a . x^| ||a|| - 1)^2."""
    a = torch.tensor([0.5, -1.0, 2.0])
    critic = lambda z: ((z.flatten(1) * a).sum(1) ** 2)  # noqa: E731
    real, fake = torch.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]]), torch.zeros(2, 3)
    torch.manual_seed(3)
    got = gradient_penalty(critic, real, fake)
    torch.manual_seed(3)
    alpha = torch.rand(2, 1)  # the one interpolation weight per sample the penalty draws
    x_hat = alpha * real + (1 - alpha) * fake
    by_hand = ((2 * (x_hat @ a).abs() * a.norm() - 1) ** 2).mean()
    assert got.item() == pytest.approx(by_hand.item(), rel=1e-6)


# ------------------------------------------------------------------ the trainer, tiny


def tiny_trainer(sets=(CELEBA,), total_steps: int = 100, **model) -> StarGANTrainer:
    cfg = StarGANConfig(image_size=8, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1,
                        d_repeat_num=2, **model)
    layout = LabelLayout(tuple(sets))
    torch.manual_seed(0)
    G = Generator(4, layout.c_dim, 1)
    D = Discriminator(8, 4, layout.cls_dim, 2)
    trainer = StarGANTrainer(SimpleNamespace(model=cfg), {"G": G}, {"D": D},
                             {"adversarial": get_loss("wgan"), "layout": layout}, torch.device("cpu"))
    trainer.prepare(total_steps, 1)
    return trainer


def celeba_batch(n: int = 4) -> dict[str, torch.Tensor]:
    labels = torch.zeros(n, 5)
    labels[torch.arange(n), torch.arange(n) % 3] = 1
    labels[:, 3] = torch.arange(n) % 2
    return {"image": torch.rand(n, 3, 8, 8) * 2 - 1, "label": labels}


def snapshot(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def moved(before: list[torch.Tensor], net: torch.nn.Module) -> bool:
    return any(not torch.equal(b, p) for b, p in zip(before, net.parameters()))


def test_generator_steps_once_every_n_critic_iterations():
    trainer = tiny_trainer(n_critic=5)
    batch = celeba_batch()
    for iteration in range(1, 11):
        g, d = snapshot(trainer.G), snapshot(trainer.D)
        out = trainer.train_step(batch)
        assert moved(d, trainer.D), iteration  # the critic learns every iteration
        assert moved(g, trainer.G) == (iteration % 5 == 0), iteration
        assert ("g_loss" in out) == (iteration >= 5)  # the latest G step's signals
    assert trainer.iteration == 10
    assert set(out) == {"d_loss", "w_distance", "w_bound", "d_cls", "gp", "g_loss", "g_adv", "g_cls", "g_rec"}


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler")
def test_learning_rate_is_constant_then_linear_to_zero():
    trainer = tiny_trainer(total_steps=100, num_iters_decay=40, n_critic=1000)
    rates = {}
    batch = celeba_batch(2)
    for step in range(1, 101):
        rates[step] = trainer.optimizers["G"].param_groups[0]["lr"]  # the rate step `step` uses
        for sched in trainer.schedulers.values():  # what train_step does after its updates
            sched.step()
    assert rates[1] == rates[60] == pytest.approx(1e-4)
    assert rates[61] == pytest.approx(1e-4 * 40 / 41)
    assert rates[80] == pytest.approx(1e-4 * 21 / 41)
    assert rates[100] == pytest.approx(1e-4 / 41)
    assert trainer.optimizers["D"].param_groups[0]["lr"] == pytest.approx(0.0)
    trainer.train_step(batch)  # the schedule steps with each iteration


def test_joint_batches_train_each_dataset_with_its_own_slice():
    trainer = tiny_trainer(sets=(CELEBA, RAFD), n_critic=1)
    celeb = celeba_batch()
    batch = {"image_0": celeb["image"], "label_0": celeb["label"],
             "image_1": torch.rand(4, 3, 8, 8) * 2 - 1, "label_1": torch.tensor([0, 3, 7, 4])}
    assert [len(x) for x, _ in batch_parts(batch)] == [4, 4]
    out = trainer.train_step(batch)
    assert all(torch.isfinite(v) for v in out.values()) and "g_rec" in out
    images, columns = trainer.preview()
    assert columns == 1 + 5 + 8  # the input, every CelebA attribute, every RaFD class
    assert images.shape == (2 * 4 * columns, 3, 8, 8)  # 4 kept images of each dataset


def test_state_holds_the_iteration_and_the_critic_phase():
    trainer = tiny_trainer(n_critic=5)
    for _ in range(3):
        trainer.train_step(celeba_batch())
    state = trainer.state_dict()
    again = tiny_trainer(n_critic=5)
    again.load_state_dict(state)
    assert again.iteration == 3 and len(again.previews[0][0]) == 4
    g = snapshot(again.G)
    again.train_step(celeba_batch())  # iteration 4: critic only
    assert not moved(g, again.G)
    again.train_step(celeba_batch())  # iteration 5: the generator's turn
    assert moved(g, again.G)


def test_identity_term_is_off_by_default_and_adds_lambda_id_l1_when_set():
    batch = celeba_batch()
    x, label = batch["image"], batch["label"]
    for lambda_id in (0.0, 2.0):
        trainer = tiny_trainer(lambda_id=lambda_id)
        layout = trainer.layout
        c_org = layout.encode(0, label)
        target = label.flip(0)
        with torch.no_grad():
            expected = (x - trainer.G(x, c_org)).abs().mean()  # G as it is before the step
        out = trainer.generator_step(0, x, target, c_org, layout.encode(0, target))
        if not lambda_id:  # the official objective: no identity term
            assert "g_id" not in out
            continue
        assert torch.allclose(out["g_id"], expected)  # same ops, same order
        total = out["g_adv"] + 10 * out["g_rec"] + out["g_cls"] + lambda_id * out["g_id"]
        assert torch.allclose(out["g_loss"], total)


def test_a_blank_label_is_a_domain_the_set_has():
    """Test targets for images a set never labelled start from its blank label: CelebA's hair
    colours may all be 0; a set whose images always have one colour gets its first."""
    coloured = LabelSet("attributes", ("thick", "slanted", "red", "green", "blue"), True,
                        (("red", "green", "blue"),), exactly_one=True)
    layout = LabelLayout((CELEBA, coloured, RAFD))
    assert layout.blank(0, 2).tolist() == [[0.0] * 5] * 2
    assert layout.blank(1, 1).tolist() == [[0.0, 0.0, 1.0, 0.0, 0.0]]
    assert layout.blank(2, 3).tolist() == [0, 0, 0]
    thick, slanted, red, green, blue = layout.column_targets(1, layout.blank(1, 1))
    assert thick.tolist() == [[1.0, 0.0, 1.0, 0.0, 0.0]] and green.tolist() == [[0.0, 0.0, 0.0, 1.0, 0.0]]
