"""Health monitors on crafted series: each fires on its failure, once per episode, and stays
silent on healthy-looking training (noisy, autocorrelated losses at the DCGAN tutorial's
levels, several seeds). Pure numbers, no training: the whole file runs in a second or two."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ganrun.errors import UserError
from ganrun.health import (Alarm, HealthConfig, HealthMonitor, split_step_values, status_of)
from ganrun.health.monitors import (CoverageFalling, DiscriminatorWins, FIDRising,
                                    GeneratorLossRising, GradientNorms, LowDiversity, NonFinite,
                                    PrecisionWithoutRecall, SaturatedScores)

WINDOW = HealthConfig().window
WARMUP = HealthConfig().warmup_steps


# --------------------------------------------------------------------------- series


def ar1(rng: np.random.Generator, n: int, mean: float, sd: float, phi: float = 0.9) -> np.ndarray:
    """Stationary AR(1) noise around ``mean``: GAN losses wander slowly, they are not iid."""
    e = np.empty(n)
    e[0] = rng.normal(0, sd)
    innovation = sd * math.sqrt(1 - phi * phi)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + rng.normal(0, innovation)
    return mean + e


def healthy(seed: int, n: int = 1200, gen_drift: float = 0.0) -> list[dict]:
    """Steps of a healthy BCE DCGAN as measured on mnist5k: G loss ~0.9, D loss ~1.2,
    D(x) ~0.57, D(G(z)) ~0.43, gradient norms G ~2.5 and D ~12 with spikes, parameter
    changes ~1e-3 per step. Even seeds wander like the tutorial's settings (lag-1
    autocorrelation 0.95, sd 0.15), odd seeds jitter like the quick start's (nearly
    independent steps, sd 0.18). G's loss may drift up by ``gen_drift`` over the run."""
    rng = np.random.default_rng(seed)
    phi, sd = (0.95, 0.15) if seed % 2 == 0 else (0.0, 0.18)
    gen = ar1(rng, n, 0.9, sd, phi) + np.linspace(0, gen_drift, n)
    disc = ar1(rng, n, 1.2, sd, phi)
    real = np.clip(ar1(rng, n, 0.57, 0.06, phi), 0.01, 0.99)
    fake = np.clip(ar1(rng, n, 0.43, 0.06, phi), 0.01, 0.99)
    grad_g = 2.5 * np.exp(rng.normal(0, 0.5, n))
    grad_d = 12 * np.exp(rng.normal(0, 0.7, n))
    grad_d[rng.random(n) < 0.01] *= 8  # occasional spikes (~100, as measured)
    change = 1.2e-3 * np.exp(rng.normal(0, 0.2, (n, 2)))
    return [dict(losses={"gen": max(gen[i], 0.05), "disc": max(disc[i], 0.05)},
                 grad_norms={"G": grad_g[i], "D": grad_d[i]},
                 scores={"d_real": real[i], "d_fake": fake[i]},
                 param_change={"G": change[i, 0], "D": change[i, 1]}) for i in range(n)]


def feed(monitor, steps: list[dict], start: int = 1) -> list[Alarm]:
    alarms = []
    for i, s in enumerate(steps):
        alarms += monitor.observe_step(start + i, s["losses"], s.get("grad_norms"),
                                       s.get("scores"), s.get("param_change"))
    return alarms


def with_losses(steps: list[dict], **series: np.ndarray) -> list[dict]:
    for key, values in series.items():
        for s, v in zip(steps, values):
            s["losses"][key] = float(v)
    return steps


# --------------------------------------------------------------------------- healthy


@pytest.mark.parametrize("seed", range(4))
def test_healthy_training_raises_nothing(seed):
    hm = HealthMonitor()
    assert feed(hm, healthy(seed)) == []
    assert hm.status == "ok" and not hm.should_stop
    stats = hm.statistics()
    assert 1.0 < stats["health/disc_mean"] < 1.4 and stats["health/status"] == 0
    assert {"health/gen_slope", "health/gen_slope_p", "health/grad_G_median",
            "health/param_change_G_mean", "health/d_real_mean"} <= set(stats)


def test_slow_healthy_drift_of_the_generator_loss_is_not_rising():
    # The tutorial's G loss drifts ~0.85 -> 1.15 over 3,000 steps: significant, not alarming.
    for seed in range(3):
        assert feed(GeneratorLossRising(HealthConfig()), healthy(seed, 3000, gen_drift=0.3)) == []


def test_the_warm_up_leaves_the_first_steps_alone():
    # D learns first from a random start, and G's loss climbs from ln 2 (here: to 2.5x)
    rng = np.random.default_rng(0)
    n = WARMUP + WINDOW
    gen = np.minimum(0.6 + np.arange(n) * 0.006, 1.8) + rng.normal(0, 0.05, n)
    steps = with_losses(healthy(0, n), gen=gen)
    assert feed(GeneratorLossRising(HealthConfig()), steps) == []
    assert feed(GeneratorLossRising(HealthConfig(warmup_steps=0)), steps) != []


def test_noisy_decreasing_fid_and_healthy_evaluations_raise_nothing():
    for seed in range(5):
        rng = np.random.default_rng(seed)
        hm = HealthMonitor()
        for epoch in range(1, 31):
            fid = (100 * math.exp(-epoch / 5) + 20) * (1 + rng.normal(0, 0.08))
            metrics = {"eval/fid_lenet": fid, "eval/modes": 10, "eval/class_kl": 0.02,
                       "eval/precision": 0.75 + rng.normal(0, 0.03),
                       "eval/recall": 0.5 + rng.normal(0, 0.05),
                       "eval/coverage": min(1.0, 0.2 + epoch * 0.03) + rng.normal(0, 0.03),
                       "eval/ssim": 0.47 + rng.normal(0, 0.02)}
            assert hm.observe_eval(epoch, metrics, {"real/ssim": 0.45}) == [], (seed, epoch)


# --------------------------------------------------------------------------- convergence


def test_nan_loss_fails_at_its_step_once():
    k = 321
    steps = healthy(0, 600)
    for s in steps[k - 1:]:
        s["losses"]["disc"] = float("nan")
    hm = HealthMonitor()
    alarms = feed(hm, steps)
    assert len(alarms) == 1
    (a,) = alarms
    assert (a.monitor, a.severity, a.step) == ("NonFinite", "failed", k)
    assert a.line().startswith(f"health: FAILED convergence: loss 'disc' is NaN at step {k} [")
    assert a.evidence["last_finite_loss/disc_step"] == k - 1
    assert hm.status == "failed"


def test_inf_gradient_norm_fails_immediately():
    steps = healthy(1, 50)
    steps[10]["grad_norms"]["G"] = float("inf")
    alarms = feed(NonFinite(HealthConfig()), steps)
    assert [(a.step, a.symptom) for a in alarms] == [(11, "grad norm 'G' is inf")]


def test_discriminator_winning_fails_once():
    n = 1200
    disc = 1.3 * (0.001 / 1.3) ** (np.arange(n) / 600)  # 1.3 -> 0.001 at step 600, then below
    steps = with_losses(healthy(2, n), disc=disc)
    alarms = feed(DiscriminatorWins(HealthConfig()), steps)
    assert len(alarms) == 1
    a = alarms[0]
    assert a.severity == "failed" and a.evidence["median"] < 0.05
    # the median of the last window crosses 0.05 when step ~100 steps ago crossed it
    crossing = int(np.argmax(disc < 0.05)) + 1
    assert crossing + WINDOW // 2 - 2 <= a.step <= crossing + WINDOW // 2 + 2
    assert "discriminator wins" in a.line() and "threshold=0.05" in a.line()


def test_discriminator_wins_is_off_for_losses_without_a_floor():
    steps = with_losses(healthy(0, 400), disc=np.full(400, -3.0))  # a WGAN critic's loss
    assert feed(DiscriminatorWins(HealthConfig(disc_loss_min=None)), steps) == []


def test_saturated_scores_warn():
    steps = healthy(3, 500)
    for s in steps[100:]:
        s["scores"] = {"d_real": 0.99, "d_fake": 0.01}
    alarms = feed(SaturatedScores(HealthConfig()), steps)
    assert [a.severity for a in alarms] == ["warning"]
    assert 250 < alarms[0].step < 400


def ramp_steps() -> tuple[list[dict], slice]:
    """Healthy steps whose G loss ramps from 0.7 to 5.0 over one window (noise sd 0.15)."""
    n = WARMUP + 3 * WINDOW
    gen = np.full(n, 0.7)
    ramp = slice(WARMUP + WINDOW, WARMUP + 2 * WINDOW)
    gen[ramp] = np.linspace(0.7, 5.0, WINDOW)
    gen[ramp.stop:] = 5.0
    gen = gen + np.random.default_rng(0).normal(0, 0.15, n)
    return with_losses(healthy(4, n), gen=gen), ramp


def test_generator_loss_ramp_warns_once():
    steps, ramp = ramp_steps()
    alarms = feed(GeneratorLossRising(HealthConfig()), steps)
    assert len(alarms) == 1
    a = alarms[0]
    assert a.severity == "warning" and a.evidence["rise"] > 0.5 and a.evidence["p_value"] < 1e-3
    assert ramp.start < a.step < ramp.stop


def test_frozen_generator_from_a_zero_learning_rate_fails():
    # lr 0: gradients look perfectly normal, only the parameters stop moving.
    steps = healthy(5, 600)
    for s in steps:
        s["param_change"]["G"] = 0.0
    alarms = feed(GradientNorms(HealthConfig()), steps)
    assert [(a.step, a.severity, a.symptom) for a in alarms] == [
        (WINDOW, "failed", "parameters of 'G' not changing")]


def test_exploding_and_vanishing_gradient_norms():
    steps = healthy(6, 700)
    for s in steps[100:]:
        s["grad_norms"]["D"] = 5e4
        s["grad_norms"]["G"] = 1e-10
    alarms = feed(GradientNorms(HealthConfig()), steps)
    assert {(a.symptom, a.severity) for a in alarms} == {
        ("gradient norm of 'D' exploding", "warning"),
        ("gradient norm of 'G' vanished", "failed")}
    assert len(alarms) == 2


def test_an_episode_ends_after_a_clear_window_and_a_new_one_alarms_again():
    steps = healthy(7, 1200)
    bad = list(range(100, 400)) + list(range(800, 1200))
    for i in bad:
        steps[i]["scores"] = {"d_real": 0.99, "d_fake": 0.01}
    alarms = feed(SaturatedScores(HealthConfig()), steps)
    assert len(alarms) == 2 and alarms[0].step < 400 < 800 < alarms[1].step


# --------------------------------------------------------------------------- mode collapse


def evals(monitor, series: list[dict], reference: dict | None = None) -> list[Alarm]:
    alarms = []
    for epoch, metrics in enumerate(series, start=1):
        alarms += monitor.observe_eval(epoch, metrics, reference or {})
    return alarms


def test_modes_dropping_to_two_fail():
    series = [{"eval/modes": m, "eval/class_kl": kl}
              for m, kl in ((10, 0.05), (10, 0.04), (9, 0.1), (6, 0.6), (2, 1.9), (2, 2.0))]
    alarms = evals(CoverageFalling(HealthConfig()), series)
    assert [(a.epoch, a.severity) for a in alarms] == [(4, "failed")]
    assert alarms[0].line().startswith("health: FAILED mode collapse: classes missing")
    assert "modes=6" in alarms[0].line() and "best=10" in alarms[0].line()


def test_early_evaluations_are_not_judged():
    # blobs at the first evaluations: few classes, alike; not a collapse
    series = [{"eval/modes": 3, "eval/ssim": 0.9}, {"eval/modes": 6, "eval/ssim": 0.8},
              {"eval/modes": 10, "eval/ssim": 0.5}]
    hm = HealthMonitor()
    assert evals(hm, series, {"real/ssim": 0.45}) == []


def test_coverage_halving_warns():
    series = [{"eval/coverage": c} for c in (0.3, 0.6, 0.8, 0.7, 0.3, 0.25)]
    alarms = evals(CoverageFalling(HealthConfig()), series)
    assert [(a.epoch, a.severity) for a in alarms] == [(5, "warning")]


def test_ssim_far_above_real_warns():
    series = [{"eval/ssim": s} for s in (0.5, 0.5, 0.52, 0.85, 0.9)]
    alarms = evals(LowDiversity(HealthConfig()), series, {"real/ssim": 0.45})
    assert [(a.epoch, a.evidence["ssim"]) for a in alarms] == [(4, 0.85)]
    assert evals(LowDiversity(HealthConfig()), series, {}) == []  # no reference, no verdict


def test_precision_without_recall_warns():
    series = [{"eval/precision": p, "eval/recall": r}
              for p, r in ((0.6, 0.4), (0.7, 0.4), (0.8, 0.3), (0.9, 0.02), (0.92, 0.01))]
    alarms = evals(PrecisionWithoutRecall(HealthConfig()), series)
    assert [a.epoch for a in alarms] == [4]


def test_fid_rising_three_times_warns():
    series = [{"eval/fid_lenet": f} for f in (30, 35, 45, 60, 70)]
    alarms = evals(FIDRising(HealthConfig()), series)
    assert [(a.epoch, a.evidence["rises"], a.evidence["best"]) for a in alarms] == [(4, 3, 30)]
    # three small rises that stay within 25% of the best: noise, not a trend
    small = [{"eval/fid_lenet": f} for f in (30, 31, 32, 33, 34)]
    assert evals(FIDRising(HealthConfig()), small) == []


# --------------------------------------------------------------------------- facade, format


def test_status_of_and_line():
    warn = Alarm("FIDRising", "FID rising", "warning", {"fid": 60.0, "best": 30.0}, epoch=4,
                 category="mode collapse")
    fail = Alarm("NonFinite", "loss 'disc' is NaN", "failed", step=1234)
    assert status_of([]) == "ok"
    assert status_of([warn]) == "warning"
    assert status_of([warn, fail]) == "failed"
    assert fail.line() == "health: FAILED convergence: loss 'disc' is NaN at step 1234"
    assert warn.line() == "health: WARNING mode collapse: FID rising at epoch 4 [fid=60, best=30]"
    assert Alarm("m", "s", "warning", {"p": 1.234e-9, "x": float("inf")}).line() == \
        "health: WARNING convergence: s [p=1.23e-09, x=inf]"
    assert fail.as_dict()["line"] == fail.line()
    with pytest.raises(ValueError):
        Alarm("m", "s", "fatal")


def test_facade_collects_and_stops_only_when_asked():
    steps = healthy(8, 20)
    steps[5]["losses"]["gen"] = float("nan")
    warn_only = HealthMonitor(HealthConfig(on_failure="warn"))
    feed(warn_only, steps)
    assert warn_only.status == "failed" and not warn_only.should_stop
    stopper = HealthMonitor(HealthConfig(on_failure="stop"))
    new = feed(stopper, steps)
    assert stopper.alarms == new and stopper.should_stop
    assert stopper.statistics()["health/failed"] == 1
    off = HealthMonitor(HealthConfig(enabled=False))
    assert feed(off, steps) == [] and off.observe_eval(1, {"eval/modes": 1}) == []


def test_split_step_values():
    values = {"gen": 0.9, "disc": 1.2, "d_real": 0.6, "d_fake": 0.4, "grad_G": 2.0,
              "grad_D": 9.0, "grad_penalty": 0.3, "param_change_G": 1e-3}
    losses, grads, scores, changes = split_step_values(values, networks=("G", "D"))
    assert losses == {"gen": 0.9, "disc": 1.2, "grad_penalty": 0.3}
    assert grads == {"G": 2.0, "D": 9.0} and changes == {"G": 1e-3}
    assert scores == {"d_real": 0.6, "d_fake": 0.4}


def test_config_limits_and_structured_schema():
    from omegaconf import OmegaConf

    from ganrun.recipe import check_limits

    check_limits(HealthConfig())
    with pytest.raises(UserError, match="on_failure"):
        check_limits(HealthConfig(on_failure="explode"), prefix="health.")
    with pytest.raises(UserError, match="window"):
        check_limits(HealthConfig(window=1), prefix="health.")
    cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(HealthConfig),
                                              {"disc_loss_min": None, "on_failure": "stop"}))
    assert cfg.disc_loss_min is None and cfg.on_failure == "stop"


def test_a_resumed_monitor_judges_as_an_uninterrupted_one(tmp_path):
    # the G-loss ramp of the test above, the run checkpointed and resumed in mid-ramp
    from ganrun.checkpoint import load_checkpoint, save_checkpoint

    steps, ramp = ramp_steps()
    cut = ramp.start + WINDOW // 3
    whole = HealthMonitor()
    feed(whole, steps)
    before = HealthMonitor()
    feed(before, steps[:cut])
    save_checkpoint(tmp_path / "c.pt", {"health": before.state_dict()})  # weights-only I/O
    resumed = HealthMonitor()
    resumed.load_state_dict(load_checkpoint(tmp_path / "c.pt")["health"])
    feed(resumed, steps[cut:], start=cut + 1)
    assert [a.line() for a in resumed.alarms] == [a.line() for a in whole.alarms]
    assert len(whole.alarms) >= 1
    assert resumed.statistics() == whole.statistics()
    refilled = HealthMonitor()  # what a resume did before monitors were checkpointed
    feed(refilled, steps[cut:], start=cut + 1)
    assert [a.line() for a in refilled.alarms] != [a.line() for a in whole.alarms]


def test_a_resumed_run_judges_translation_and_critics_as_an_uninterrupted_one(tmp_path):
    """The monitors of translation and of Wasserstein critics keep their windows, episodes and
    counters across a resume too: a stargan-like run whose classification loss never falls
    and whose critic runs away from step 600, evaluated every 100 steps with its content lost
    from the 5th evaluation, checkpointed at step 650 (mid-window of the runaway)."""
    from ganrun.checkpoint import load_checkpoint, save_checkpoint
    from tests.test_health_translation import REFERENCE, broken
    from tests.test_health_translation import healthy as healthy_evals
    from tests.test_health_wasserstein import critic, replaced

    steps = replaced(critic(0, 1000), "g_cls", [2.43] * 996, 4)
    steps = replaced(steps, "w_distance", [300.0] * 400, 600)
    evals = broken(healthy_evals(0, 10), 5, class_kept=0.1)

    def run(monitor: HealthMonitor, start: int, stop: int) -> None:
        for i in range(start, stop):
            monitor.observe_step(i + 1, steps[i])
            if (i + 1) % 100 == 0:
                monitor.observe_eval((i + 1) // 100, evals[(i + 1) // 100 - 1], REFERENCE)

    cut = 650
    whole, before = HealthMonitor(), HealthMonitor()
    run(whole, 0, 1000)
    run(before, 0, cut)
    save_checkpoint(tmp_path / "c.pt", {"health": before.state_dict()})  # weights-only I/O
    resumed = HealthMonitor()
    resumed.load_state_dict(load_checkpoint(tmp_path / "c.pt")["health"])
    run(resumed, cut, 1000)
    assert [a.line() for a in resumed.alarms] == [a.line() for a in whole.alarms]
    assert [a.monitor for a in whole.alarms] == ["ClassificationStalled", "ContentLost",
                                                 "CriticDiverging"]
    assert whole.alarms[-1].step == 700  # half the window past 100 after the cut
    assert resumed.statistics() == whole.statistics()
    refilled = HealthMonitor()  # monitors started afresh at the cut judge otherwise
    run(refilled, cut, 1000)
    assert [a.line() for a in refilled.alarms] != [a.line() for a in whole.alarms]
