"""ganrun.metrics: sample-quality metrics on the digit evaluator's features (offline, CPU)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganrun.data.mnist import Mnist5kConfig, load_mnist5k
from ganrun.errors import UserError
from ganrun.evaluators.lenet import load_lenet_mnist
from ganrun.metrics import fid as fid_module
from ganrun.metrics import (NDB, EvaluatorFeatures, FIDLeNet, KIDLeNet, batched_features,
                            check_inception_available, class_kl, density_coverage,
                            frechet_distance, inception_unavailable, intra_class_ssim,
                            kid_score, knn_radii, mean_intra_class_ssim, mode_coverage,
                            ndb, precision_recall, predict_classes, ssim)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def net():
    return load_lenet_mnist()


@pytest.fixture(scope="module")
def train():
    return load_mnist5k(Mnist5kConfig(), "train")


@pytest.fixture(scope="module")
def test_split():
    return load_mnist5k(Mnist5kConfig(), "test")


@pytest.fixture(scope="module")
def train_f(net, train):
    return batched_features(net, train.images)


@pytest.fixture(scope="module")
def test_f(net, test_split):
    return batched_features(net, test_split.images)


@pytest.fixture(scope="module")
def fid(net, train):
    return FIDLeNet(net).set_real(train.images)


@pytest.fixture(scope="module")
def noise():
    return torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


def gaussian(n: int, d: int = 16, seed: int = 0, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


# --- features ---------------------------------------------------------------------------

def test_evaluator_features_casts_and_stays_frozen(net, test_split):
    x = test_split.images[:8]
    ext = EvaluatorFeatures(net)
    assert ext.num_features == net.num_features == 128
    want = net.features(x)
    assert torch.allclose(ext(x.double()), want)  # float64 input is cast to float32
    as_uint8 = ((x + 1) * 127.5).round().to(torch.uint8)
    assert torch.allclose(ext(as_uint8), net.features(as_uint8.float() / 127.5 - 1), atol=1e-5)
    ext.train()
    assert not ext.training and not net.training
    assert not ext(x).requires_grad
    assert EvaluatorFeatures(net, out_dtype=torch.float64)(x).dtype == torch.float64
    # batches of 3 may take other kernels than one of 8 (they do on an AMD EPYC): the same
    # features up to float rounding, never bit for bit on every CPU
    assert torch.allclose(batched_features(net, x, batch=3), want, rtol=1e-4, atol=1e-5)


# --- FID --------------------------------------------------------------------------------

def test_frechet_distance_closed_form():
    # N(0, 1) vs N(1, 4): 1 + 1 + 4 - 2 * sqrt(4) = 2
    assert frechet_distance(np.zeros(1), np.eye(1), np.ones(1), 4 * np.eye(1)) == pytest.approx(2)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    sigma = a @ a.T
    assert frechet_distance(np.ones(5), sigma, np.ones(5), sigma) == pytest.approx(0, abs=1e-8)


def test_frechet_distance_agrees_with_torchmetrics(fid, net, train_f, test_split):
    """Independent float64 statistics + scipy sqrtm vs torchmetrics' eigvals route."""
    def stats(f: torch.Tensor):
        f = f.double()
        mu = f.mean(0)
        c = f - mu
        return mu.numpy(), (c.T @ c / (len(f) - 1)).numpy()

    fake = test_split.images[:500]
    fake_f = batched_features(net, fake)
    ours = frechet_distance(*stats(train_f), *stats(fake_f))
    theirs = fid.score(fake)
    assert theirs == pytest.approx(ours, rel=1e-3)
    assert fid.score(fake_f) == pytest.approx(theirs, rel=1e-9)  # features in, same statistics
    assert fid.metric.compute().dtype == torch.float64


def test_fid_real_vs_noise(fid, test_split, noise, capsys):
    real = fid.score(test_split.images)
    assert fid.score(test_split.images) == real  # fake statistics reset between scores
    noisy = fid.score(noise)
    constant = fid.score(torch.full((1000, 1, 28, 28), -1.0))
    untrained = fid.score(untrained_samples(1000))
    with capsys.disabled():
        print(f"\nFID-LeNet vs mnist5k train: test split {real:.3f}, untrained generator "
              f"{untrained:.1f}, uniform noise {noisy:.1f}, blank images {constant:.1f}")
    assert 0 < real < 20
    assert min(noisy, constant, untrained) > 50 * real


def untrained_samples(n: int) -> torch.Tensor:
    """Images from the quick start's generator as initialised (Glorot), before any step."""
    from ganrun_plugins.dcgan.method import DCGANConfig, initialise
    from ganrun_plugins.dcgan.networks import Generator

    torch.manual_seed(0)
    cfg = DCGANConfig(g_widths=[64, 32, 16])
    g = initialise(Generator(cfg.noise_dim, cfg.g_widths), cfg).eval()
    with torch.no_grad():
        return g(torch.randn(n, cfg.noise_dim))


def test_fid_needs_real_first(net):
    with pytest.raises(RuntimeError, match="set_real"):
        FIDLeNet(net).score(torch.zeros(4, 1, 28, 28))


def test_inception_unavailable_is_one_line_user_error(monkeypatch, tmp_path):
    err = inception_unavailable()
    assert isinstance(err, UserError) and "\n" not in str(err)
    assert str(err).startswith("metrics.fid.feature:")
    assert fid_module.INCEPTION_WEIGHTS_URL in str(err) and "torch-fidelity" not in str(err)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(UserError, match=r"metrics\.fid\.feature: weights file .*hub.*not found"):
        check_inception_available(None)
    missing = tmp_path / "inception.pth"
    with pytest.raises(UserError, match=r"metrics\.fid\.feature.*not found"):
        check_inception_available(str(missing))
    missing.write_bytes(b"x")
    assert check_inception_available(str(missing)) == missing


# --- KID --------------------------------------------------------------------------------

def test_kid_real_vs_real_near_zero(train_f, test_f, noise, net):
    mean, std = kid_score(train_f, test_f)
    noisy, _ = kid_score(train_f, batched_features(net, noise))
    assert abs(mean) < 0.05 * noisy
    assert abs(mean) < 3 * std / math.sqrt(100) + 0.01 * noisy
    assert kid_score(train_f, test_f) == (mean, std)  # seeded subsets


def test_kid_images_and_features_agree(net, test_split):
    real, fake = test_split.images[:300], test_split.images[300:500]
    by_images = KIDLeNet(net, subsets=5).set_real(real).score(fake)
    by_features = kid_score(batched_features(net, real), batched_features(net, fake), subsets=5)
    assert by_images == pytest.approx(by_features, rel=1e-6)


# --- modes ------------------------------------------------------------------------------

def test_mode_coverage_and_class_kl():
    uniform = torch.arange(10).repeat(50)
    two = torch.tensor([3, 7]).repeat(250)
    real_hist = torch.full((10,), 400.0)
    assert mode_coverage(uniform, 10) == 10 and mode_coverage(two, 10) == 2
    assert class_kl(uniform, real_hist, 10) == pytest.approx(0, abs=1e-9)
    assert class_kl(uniform, uniform.flip(0), 10) == pytest.approx(0, abs=1e-9)  # labels
    assert class_kl(two, real_hist, 10) == pytest.approx(math.log(5), rel=1e-4)
    # a class the real data lacks: large but finite
    assert math.isfinite(class_kl(uniform, torch.tensor([1.0] * 9 + [0.0]), 10))
    logits = torch.nn.functional.one_hot(two, 10).float()
    assert mode_coverage(logits, 10) == 2


def test_predicted_modes_of_real_digits(net, test_split):
    pred = predict_classes(net, test_split.images)
    assert mode_coverage(pred, 10) == 10
    assert class_kl(pred, test_split.labels, 10) < 0.01


# --- precision / recall, density / coverage ---------------------------------------------

def test_knn_radii_exclude_self():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(x, 1).tolist() == [1, 1, 2, 4]
    assert knn_radii(x, 2).tolist() == [3, 2, 3, 6]


def test_prdc_identical_sets():
    f = gaussian(600)
    assert precision_recall(f, f.clone()) == (1.0, 1.0)
    density, coverage = density_coverage(f, f.clone())
    assert coverage >= 0.99 and 0.5 < density < 1.5


def test_prdc_same_distribution_and_disjoint():
    real, fake = gaussian(800, seed=1), gaussian(800, seed=2)
    p, r = precision_recall(real, fake)
    d, c = density_coverage(real, fake)
    assert p > 0.6 and r > 0.6 and c > 0.8 and 0.7 < d < 1.3
    far = fake + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)
    assert density_coverage(real, far) == (0.0, 0.0)


def test_prdc_real_digit_features(train_f, test_f):
    p, r = precision_recall(train_f, test_f)
    d, c = density_coverage(train_f, test_f)
    assert p > 0.7 and r > 0.7 and c > 0.5 and d > 0.7


# --- NDB --------------------------------------------------------------------------------

def test_ndb_same_vs_shifted(train_f):
    idx = torch.arange(len(train_f))
    a, b = train_f[idx % 2 == 0], train_f[idx % 2 == 1]  # both halves hold every class
    bins = NDB(a, bins=20, seed=0)
    same = bins.score(b)
    assert same <= 0.15
    assert bins.score(b + 20.0) >= 0.9
    assert bins.score(b) == same and bins.different.shape == (20,)
    assert ndb(a, b, bins=20, seed=0) == same  # seeded k-means: same bins


def test_ndb_missing_modes(train, train_f):
    keep = train.labels < 5  # a generator that only makes digits 0-4
    assert ndb(train_f, train_f[keep]) >= 0.5


# --- diversity --------------------------------------------------------------------------

def test_ssim_identity_and_diversity(train):
    x = train.images[:10]
    assert torch.allclose(ssim(x, x), torch.ones(10))
    labels = train.labels
    real = mean_intra_class_ssim(train.images, labels)
    collapsed = train.images[labels == 0][:1].expand(len(labels), -1, -1, -1)
    assert mean_intra_class_ssim(collapsed, labels) == pytest.approx(1.0)
    assert 0.2 < real < 0.7
    per_class = intra_class_ssim(train.images, labels, pairs_per_class=20)
    assert sorted(per_class) == list(range(10)) and all(v < 1 for v in per_class.values())


def test_ssim_pairs_are_distinct():
    # two independent noise images per class (SSIM ~0): a sample paired with itself gives 1
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    labels = torch.tensor([0, 0, 1, 1])
    scores = intra_class_ssim(x, labels, pairs_per_class=10)
    assert sorted(scores) == [0, 1] and all(abs(v) < 0.1 for v in scores.values())
    assert intra_class_ssim(x[:1], labels[:1]) == {}  # a class needs two samples


def test_confident_share_counts_samples_read_with_probability_at_least_0_9():
    from ganrun.metrics import confident_share

    logits = torch.tensor([[10.0, 0.0], [0.1, 0.0], [0.0, 3.0], [0.0, 2.0]])  # p 1.0, .52, .95, .88
    assert confident_share(logits) == 0.5
    assert confident_share(logits, threshold=0.5) == 1.0


def test_prdc_in_one_pass_equals_the_two_functions():
    from ganrun.metrics.prdc import density_coverage, knn_radii, prdc

    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(1500, 8, generator=g), torch.randn(300, 8, generator=g) * 1.2 + 0.3
    got = prdc(real, fake, knn_radii(real, 3), knn_radii(real, 5))
    assert (got["precision"], got["recall"]) == precision_recall(real, fake, k=3)
    assert (got["density"], got["coverage"]) == density_coverage(real, fake, k=5)


def test_mean_ssim_of_pairs_as_channels_is_the_mean_of_pair_ssims():
    from ganrun.metrics.diversity import mean_ssim

    g = torch.Generator().manual_seed(0)
    a = torch.rand(40, 1, 28, 28, generator=g) * 2 - 1
    b = (a + 0.3 * torch.randn(40, 1, 28, 28, generator=g)).clamp(-1, 1)
    assert abs(mean_ssim(a, b) - ssim(a, b).double().mean().item()) < 1e-6
