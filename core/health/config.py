"""The ``health:`` section of a recipe: which training failures to watch for, and how hard.

Each field's ``doc`` says what it does (the recipe reference prints it); the comments above
the fields give the measurements behind each default. Every threshold is conservative.
"Measured" below means four healthy DCGAN runs on ``mnist5k`` (BCE, the two D terms summed;
G loss ~0.7-1.2, D loss ~1.0-1.4): the quick start (2,500 and 7,500 steps, seeds 0 and 1,
plus two older 7,500- and 756-step runs) and the tutorial's settings (3,000 steps = 188
epochs); and six failing ones: lr_g 0 (tutorial and quick start), lr_g 1e-6 with lr_d 1e-3
(tutorial) or 2e-6 with 2e-3 (quick start), lr 5e-2 (tutorial) and 2e-2 (quick start). No
healthy run raised an alarm; each default says how far it sits from them.
A threshold that is ``None`` turns its check off.

Step signals are counted in observations: a signal fed every step (as the engine's
``ganrun_step_end`` does) makes ``window`` a number of steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ganrun.limits import limit


@dataclass
class HealthConfig:
    """``health``: which training failures to watch for, and how hard (docs/health.md)."""

    enabled: bool = limit(True, doc="false: no monitor runs")
    on_failure: str = limit("warn", choices=("warn", "stop"),
                            doc="warn: print and log alarms only; stop: end the run (FAILED, "
                                "exit code 3) at the first failed alarm")

    # ------------------------------------------------------------------ windows
    # Steps a windowed check averages over. 200 steps is ~1 epoch of the tutorial on the full
    # MNIST (235 steps), 12 epochs of it on mnist5k (16 steps), 0.8 epoch of the quick start
    # (250 steps): long enough that a windowed mean is not one bad batch (healthy step losses
    # have a standard deviation of ~0.15-0.2 around their mean), short enough to stop a
    # doomed run early.
    window: int = limit(200, ge=10, doc="steps a windowed check looks at")
    # Steps before the trend test (gen_rise_*) starts: from a random start D learns first,
    # and G's loss climbs from ln 2 = 0.69 to ~1.2-1.3 within ~60 steps of the quick start:
    # windows starting in its first steps rise by +54-62% (healthy; within 2x of the rise
    # threshold), windows starting after step 250 by at most +7%. A run doomed from the start
    # is caught meanwhile by the level checks, which need no warm-up: no healthy start comes
    # near them.
    warmup_steps: int = limit(250, ge=0, doc="steps before the generator-loss trend is judged")

    # ------------------------------------------------------------------ keys
    gen_key: str = limit("gen", doc="the generator's loss in train_step's losses")
    disc_key: str = limit("disc", doc="the discriminator's loss")
    d_real_key: str = limit("d_real", doc="mean D(x) on the real batch, a probability")
    d_fake_key: str = limit("d_fake", doc="mean D(G(z)) on the generated batch, a probability")

    # ------------------------------------------------------------------ convergence
    # D loss (key disc_key) below this as the MEDIAN of a whole window: FAILED. With BCE
    # summed over real + fake, 0.05 means D puts > 97.5% on the right side of both batches
    # on most steps of a window: it has won, and G's gradient vanishes (minimax loss) or
    # becomes noise (non-saturating loss; Arjovsky & Bottou 2017, Thms 2.4-2.6). The five
    # measured runs that got there had medians of 0-2e-4 from step 200 to their end (1,000-
    # 1,500 steps), with no sign of recovery. Measured healthy: lowest
    # windowed median 0.69 (quick start, early), lowest single step 0.39: 8-14x away. The
    # median, not the mean: one fooled step of D loss ~450 holds a window's mean up for
    # 200 steps. Right for bce and least_squares (>= 0, 0 when D wins); set None for wgan
    # (its critic loss is negative by design) and hinge (0 once margins are met).
    disc_loss_min: Optional[float] = limit(
        0.05, ge=0.0, doc="D loss median of a window below this: FAILED (D wins); null: off "
                          "(set null for wgan and hinge)")
    # Mean D(x) above d_real_max AND mean D(G(z)) below d_fake_min over a window: WARNING,
    # the same victory seen in D's outputs (loss-independent, and earlier: with BCE it is a
    # D loss of ~0.1). Measured healthy windowed means: D(x) <= 0.80, D(G(z)) >= 0.32; the
    # failing runs reached 0.99 / 0.01 within their first 200-250 steps.
    d_real_max: float = limit(0.95, ge=0.0, le=1.0,
                              doc="mean D(x) of a window above this and ...: WARNING")
    d_fake_min: float = limit(0.05, ge=0.0, le=1.0,
                              doc="... mean D(G(z)) below this: D saturated")
    # G loss rising over a window (after warmup_steps): WARNING when both
    #  - the least-squares slope is > 0 with p-value < gen_rise_alpha (scipy linregress), and
    #  - the mean of the window's last quarter exceeds its first quarter's by more than
    #    gen_rise_frac of the first quarter's mean.
    # The p-value alone means little: GAN losses are autocorrelated (tutorial settings:
    # lag-1 autocorrelation 0.95) and drift (0.85 -> 1.14 over 3,000 steps), so healthy
    # windows reach p ~1e-38. The size does the work. 1.0 (G's loss doubled within a
    # window): the largest measured healthy rise after warm-up is +30% (tutorial settings;
    # quick start +7%); 0.5 would be too close: an AR(1) model of the tutorial's loss
    # (lag-1 0.95, sd 0.15, stationary) exceeds +50% somewhere in 65% of simulated
    # 3,000-step runs, +100% in 1.5%, and a 0.9 -> 3.0 ramp is caught ~110 steps after it
    # starts. Slow doublings (over 400+ steps) are left alone: slow drifts are common.
    # Assumes a positive G loss (bce, least_squares); set gen_rise_frac None for wgan/hinge.
    gen_rise_alpha: float = limit(1e-3, gt=0.0, le=1.0,
                                  doc="G loss rising: the slope's p-value must be below this ...")
    gen_rise_frac: Optional[float] = limit(
        1.0, gt=0.0, doc="... and the last quarter of the window this much above the first: "
                         "WARNING; null: off (set null for wgan and hinge)")
    # Gradient norms (the L2 norm over all of a network's parameters, per network):
    # exploding: the median of a window above grad_norm_max: WARNING (Adam divides the
    # gradient by its own scale, so large norms alone need not break training; NaN, which
    # they lead to, is FAILED at once). Measured healthy: largest windowed median 34 (D,
    # quick start; tutorial 8), largest single step 98; 1e3 is 30x that median. The
    # lr 5e-2 tutorial run reached a windowed median of 2,552.
    grad_norm_max: Optional[float] = limit(
        1e3, gt=0.0, doc="a network's median gradient norm of a window above this: WARNING")
    # vanishing: every gradient norm of a whole window below grad_norm_min: FAILED, the
    # network gets no learning signal (measured healthy: smallest single step 0.5; a
    # saturated D in the D-wins runs: exactly 0). A learning rate of 0 does NOT show here:
    # its gradients stay normal (G's median 45-93 with lr_g 0), only the update is 0.
    grad_norm_min: Optional[float] = limit(
        1e-8, ge=0.0, doc="every gradient norm of a window below this: FAILED (vanished)")
    # frozen: every relative parameter change ||theta_t - theta_t-1|| / ||theta_t-1|| of a
    # window at or below param_change_min: FAILED, the network is not being updated (a
    # learning rate of 0, frozen parameters, a net missing from its optimiser, or Adam's
    # steps dying out on a saturated D's zero gradients). Adam moves a weight by ~lr per
    # step: measured G changes of 8e-4-1.3e-3 per step at lr 1e-4-2e-4, 1e-5 at lr_g 1e-6,
    # exactly 0 at lr_g 0. float32 cannot change a weight by less than ~6e-8 of itself, so
    # at most 1e-9 on every step of a window means nothing moved.
    param_change_min: Optional[float] = limit(
        1e-9, ge=0.0, doc="every relative parameter change of a window at or below this: "
                          "FAILED (frozen)")

    # ------------------------------------------------------------------ mode collapse
    # Evaluations not judged at the start of a run (still tracked for their best values):
    # an early generator draws blobs, which look alike (high SSIM) and classify into few
    # classes without any collapse.
    eval_grace: int = limit(2, ge=0, doc="first evaluations not judged")
    # eval/modes (classes given >= 1 sample of 10) below modes_min: FAILED, whole classes
    # are gone. 8 of 10 leaves room for one or two rare-looking classes in a small sample.
    modes_min: Optional[int] = limit(8, ge=1, doc="eval/modes below this: FAILED (classes lost)")
    # eval/coverage below (1 - coverage_drop) x its best so far: WARNING, half of the real
    # neighbourhoods a generator once reached are no longer reached. Only once the best is at
    # least coverage_floor: early coverage is small and noisy.
    coverage_drop: Optional[float] = limit(
        0.5, gt=0.0, le=1.0, doc="eval/coverage fallen by this share of its best: WARNING ...")
    coverage_floor: float = limit(0.25, ge=0.0, le=1.0,
                                  doc="... once its best reached this")
    # eval/ssim (mean intra-class SSIM of generated digits) above the real digits' (reference
    # real/ssim) + ssim_margin: WARNING, samples of a class are near-duplicates. On mnist5k
    # (torchmetrics SSIM, 11x11 Gaussian, data_range 2) real digits give 0.45 (per class
    # 0.36-0.62); one digit with pixel noise of sd 0.1 gives 0.77, of sd 0.2 0.61. +0.15
    # (0.60) is above every real class mean but the "1"s and below any near-duplicate set.
    ssim_margin: Optional[float] = limit(
        0.15, ge=0.0, doc="eval/ssim above real/ssim by more than this: WARNING (near-duplicates)")
    # eval/precision above precision_high while eval/recall is below recall_low: WARNING,
    # the classic collapse signature (Kynkaanniemi et al. 2019): samples look real but
    # reach under a tenth of the real manifold.
    precision_high: float = limit(0.7, ge=0.0, le=1.0,
                                  doc="eval/precision above this while ...")
    recall_low: Optional[float] = limit(
        0.1, ge=0.0, le=1.0, doc="... eval/recall is below this: WARNING")
    # eval/fid_lenet risen at fid_rises consecutive evaluations AND above its best by more
    # than fid_rise_frac: WARNING, the generator is getting worse, not noisier. Three rises
    # in a row happen by chance 1 time in 24 on a plateau, and the best is itself a lucky
    # low draw: simulated runs of 30 evaluations converging to a plateau with 8% noise per
    # evaluation (FID from a few hundred samples) raise it in 6.6% of runs at +25% over the
    # best, 0.1% at +50% (5% noise: 0.1% and 0).
    fid_rises: Optional[int] = limit(
        3, ge=1, doc="eval/fid_lenet risen at this many evaluations in a row and ...")
    fid_rise_frac: float = limit(0.5, ge=0.0, doc="... this share above its best: WARNING")

    # ------------------------------------------------------------------ translation
    # Read from a translation method's evaluation (core/health/translation.py), each eval/
    # value against its real/ baseline on the untranslated inputs; judged after eval_grace
    # evaluations, like the mode-collapse checks. Each threshold was set from healthy and
    # induced-failure runs of the shipped translation recipes: the figures are in
    # docs/health.md, "How the thresholds were set".
    #
    # eval/spread (RMS distance of the translations from their mean image) below
    # spread_ratio_min x real/spread (the inputs'): FAILED, the generator ignores its input.
    spread_ratio_min: Optional[float] = limit(
        0.25, ge=0.0, le=1.0, doc="eval/spread below this share of the inputs' real/spread: "
                                  "FAILED (input ignored); null: off")
    # eval/domain (or eval/attr_acc) moved less than translated_min of the way from its
    # baseline real/domain (the untranslated inputs judged in the target domain) to 1:
    # WARNING, nothing is translated.
    translated_min: Optional[float] = limit(
        0.25, ge=0.0, le=1.0, doc="eval/domain moved less than this share of the way from "
                                  "the untranslated inputs' real/domain to 1: WARNING "
                                  "(nothing translated); null: off")
    # eval/class_kept below class_kept_ratio_min x real/class_kept (the class evaluator's
    # accuracy on the untranslated inputs): WARNING, the content is lost.
    class_kept_ratio_min: Optional[float] = limit(
        0.5, ge=0.0, le=1.0, doc="eval/class_kept below this share of the untranslated "
                                 "inputs' real/class_kept: WARNING (content lost); null: off")
    # eval/cycle_l1 below cycle_ratio_max x real/cycle_l1 (the L1 distance between two
    # different inputs: the error of a cycle that brings nothing of its source back) while
    # eval/domain (or eval/attr_acc) is below cycle_domain_max: WARNING, the cycle is kept
    # without translating (Chu et al. 2017).
    cycle_ratio_max: Optional[float] = limit(
        0.5, gt=0.0, doc="eval/cycle_l1 below this share of real/cycle_l1 while ...; null: off")
    cycle_domain_max: float = limit(
        0.5, ge=0.0, le=1.0, doc="... eval/domain is below this: WARNING (cycle without "
                                 "translation)")
    # eval/class_spread (the translations' spread within each class) below
    # class_spread_ratio_min x real/class_spread (the target domain's own, per class):
    # WARNING, every input of a class comes out alike.
    class_spread_ratio_min: Optional[float] = limit(
        0.5, ge=0.0, le=1.0, doc="eval/class_spread below this share of the target domain's "
                                 "real/class_spread: WARNING (collapse within a domain); "
                                 "null: off")

    # ------------------------------------------------------------------ wasserstein critics
    # Read from train_step's signals (core/health/wasserstein.py), under the names below,
    # for any method with a Wasserstein critic. Each threshold was set from healthy and
    # induced-failure runs of critics on 32x32 RGB and 28x28 grey images (windows of 200
    # steps): the figures are in docs/health.md, "How the thresholds were set".
    w_key: str = limit("w_distance", doc="the critic's Wasserstein estimate, mean D(x) - "
                                         "mean D(G(z)), in train_step's values")
    w_bound_key: str = limit("w_bound", doc="the mean L2 distance between the real and "
                                            "generated images the critic compared")
    gp_key: str = limit("gp", doc="the gradient penalty as the critic's loss adds it")
    g_cls_key: str = limit("g_cls", doc="the generator's domain-classification loss")
    # The critic's estimate running away: the median of |w_distance| / w_bound over a window
    # above w_ratio_max: FAILED. w_bound is the mean L2 distance between the real and
    # generated images the critic compared; a 1-Lipschitz critic's estimate cannot exceed it,
    # and the penalty holds the gradient norm near 1 on the segments between them, so a
    # healthy ratio stays near or under 1 whatever the image size. 3 is twice the largest
    # healthy window median measured.
    w_ratio_max: Optional[float] = limit(
        3.0, gt=0.0, doc="median |w_distance| / w_bound of a window above this: FAILED "
                         "(critic diverging); null: off")
    # The penalty's share of penalty + |estimate| (window medians) above gp_share_max:
    # WARNING.
    gp_share_max: Optional[float] = limit(
        0.5, gt=0.0, lt=1.0, doc="median gp over median gp + median |w_distance| of a window "
                                 "above this: WARNING (penalty dominates); null: off")
    # G's classification loss: after g_cls_steps steps its window mean still above
    # (1 - g_cls_drop) x its first window's: WARNING. A slow schedule learns to classify
    # more slowly: set g_cls_steps higher for it.
    g_cls_drop: Optional[float] = limit(
        0.25, gt=0.0, lt=1.0, doc="g_cls must have fallen by this share of its first window's "
                                  "mean ...; null: off")
    g_cls_steps: int = limit(400, ge=1, doc="... within this many steps that report it: "
                                            "WARNING (classification not falling)")
