"""Sample-quality metrics on evaluator features: pure functions and small classes.

One module per role: ``features`` (evaluator as a torchmetrics feature extractor), ``fid``,
``kid``, ``modes`` (class coverage and KL, confident share), ``prdc`` (precision/recall, density/coverage),
``ndb`` (number of different bins) and ``diversity`` (intra-class SSIM).
"""
from ganrun.metrics.diversity import intra_class_ssim, mean_intra_class_ssim, ssim
from ganrun.metrics.features import EvaluatorFeatures, batched_features
from ganrun.metrics.fid import (FIDLeNet, check_inception_available, feature_stats,
                                frechet_distance, inception_unavailable)
from ganrun.metrics.kid import KIDLeNet, kid_score
from ganrun.metrics.modes import (class_histogram, class_kl, class_logits, confident_share,
                                  mode_coverage, predict_classes)
from ganrun.metrics.ndb import NDB, ndb
from ganrun.metrics.prdc import density_coverage, knn_radii, precision_recall

__all__ = [
    "EvaluatorFeatures", "batched_features",
    "FIDLeNet", "frechet_distance", "feature_stats", "inception_unavailable",
    "check_inception_available",
    "KIDLeNet", "kid_score",
    "class_logits", "predict_classes", "confident_share", "class_histogram", "mode_coverage", "class_kl",
    "precision_recall", "density_coverage", "knn_radii",
    "NDB", "ndb",
    "ssim", "intra_class_ssim", "mean_intra_class_ssim",
]
