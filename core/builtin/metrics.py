"""Built-in plugin: registers the sample-quality metrics of :mod:`ganrun.metrics`.

Each works in the evaluator's feature space (or on its predicted classes) and caches what
it needs of the real data once per run; ``fid_inception`` (standard FID) works on the images
with the Inception-v3 network the evaluation plugin loads for ``metrics.fid.feature:
inception``.
"""
from __future__ import annotations

from ganrun import hookimpl
from ganrun.errors import UserError
from ganrun.registry import MetricInfo


def _fid(evaluator, real):
    from ganrun.metrics.fid import FIDLeNet

    fid = FIDLeNet(evaluator).set_real(real.features)
    return lambda fake: {"eval/fid_lenet": fid.score(fake.features)}


def _fid_inception(evaluator, real, network=None):
    # Standard FID. The evaluation plugin hands over the FID Inception it loaded from
    # metrics.fid.weights, and only when metrics.fid.feature is inception; reads images only.
    if network is None:
        raise UserError("metrics.names: fid_inception needs metrics.fid.feature: inception")
    from ganrun.metrics.inception import FIDInception

    fid = FIDInception(network).set_real(real.images)
    return lambda fake: {"eval/fid": fid.score(fake.images)}


def _kid(evaluator, real):
    from ganrun.metrics.kid import KIDLeNet

    kid = KIDLeNet(evaluator).set_real(real.features)

    def score(fake):
        mean, std = kid.score(fake.features)
        return {"eval/kid": mean, "eval/kid_std": std}

    return score


def _modes(evaluator, real):
    from ganrun.metrics.modes import class_kl, mode_coverage

    k = evaluator.num_classes
    return lambda fake: {"eval/modes": float(mode_coverage(fake.predicted, k)),
                         "eval/class_kl": class_kl(fake.predicted, real.predicted, k)}


def _confident(evaluator, real):
    from ganrun.metrics.modes import confident_share

    reference = confident_share(real.logits)
    return lambda fake: {"eval/confident": confident_share(fake.logits),
                         "real/confident": reference}


def _prdc(evaluator, real):
    from ganrun.metrics.prdc import knn_radii, prdc

    radii3, radii5 = knn_radii(real.features, 3), knn_radii(real.features, 5)  # once a run

    def score(fake):
        return {f"eval/{k}": v for k, v in prdc(real.features, fake.features, radii3, radii5).items()}

    return score


def _ndb(evaluator, real):
    from ganrun.metrics.ndb import NDB

    bins = NDB(real.features)
    return lambda fake: {"eval/ndb": bins.score(fake.features)}


def _ssim(evaluator, real):
    from ganrun.metrics.diversity import mean_intra_class_ssim

    reference = mean_intra_class_ssim(real.images, real.classes)
    return lambda fake: {"eval/ssim": mean_intra_class_ssim(fake.images, fake.classes),
                         "real/ssim": reference}


def _cond_acc(evaluator, real):
    def score(fake):
        if fake.labels is None:  # unconditional: no class was asked for
            return {}
        return {"eval/cond_acc": (fake.predicted == fake.labels).float().mean().item()}

    return score


@hookimpl
def ganrun_register_metrics():
    return [
        MetricInfo("fid_lenet", _fid, "Frechet distance of evaluator features (Heusel 2017)",
                   lower_is_better=frozenset({"eval/fid_lenet"})),
        MetricInfo("fid_inception", _fid_inception, "standard FID: Inception-v3 pool3 features "
                   "(pytorch-fid's weights); only with metrics.fid.feature: inception",
                   lower_is_better=frozenset({"eval/fid"})),
        MetricInfo("kid", _kid, "kernel inception distance on evaluator features (Binkowski 2018)",
                   lower_is_better=frozenset({"eval/kid"})),
        MetricInfo("modes", _modes, "classes present, KL(generated || real class histogram)",
                   lower_is_better=frozenset({"eval/class_kl"}),
                   higher_is_better=frozenset({"eval/modes"})),
        MetricInfo("confident", _confident, "share the evaluator classifies with probability "
                   ">= 0.9 (real/confident: the same of real images)",
                   higher_is_better=frozenset({"eval/confident"})),
        # density has no best: above 1, samples crowd the real data's dense regions
        MetricInfo("prdc", _prdc, "precision/recall k=3 (Kynkaanniemi 2019), "
                                  "density/coverage k=5 (Naeem 2020)",
                   higher_is_better=frozenset({"eval/precision", "eval/recall", "eval/coverage"})),
        MetricInfo("ndb", _ndb, "share of k-means bins that differ (Richardson & Weiss 2018)",
                   lower_is_better=frozenset({"eval/ndb"})),
        # no best either: the closer to real/ssim, the better
        MetricInfo("ssim", _ssim, "mean intra-class SSIM of sample pairs, and of real digits"),
        MetricInfo("cond_acc", _cond_acc, "share classified as the class asked for",
                   higher_is_better=frozenset({"eval/cond_acc"})),
    ]
