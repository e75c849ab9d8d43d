"""Wasserstein-critic monitors on hand-made step streams: each fires on its failure, once per
episode, and stays silent on a healthy WGAN-GP critic and on a method that reports none of
its signals. The healthy levels are the measured ones (bench/health_suite.py): stargan's
w_distance ~0.65 falling to ~0.25 between images ~25 apart (w_bound), its penalty ~0.08
falling to ~0.015 with early spikes to ~8, G's classification loss from ~2.4 to ~0.05 within
500 steps; the WGAN-GP example's estimate at 1-1.6x w_bound. Pure numbers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ganrun.health import (ClassificationStalled, CriticDiverging, HealthConfig, HealthMonitor,
                           PenaltyDominates)

WINDOW = HealthConfig().window
N_CRITIC = 5


def critic(seed: int, n: int = 1500) -> list[dict[str, float]]:
    """train_step values of a healthy stargan: the critic's signals every step, G's (g_cls)
    from its first update on, repeated until the next (every ``N_CRITIC`` steps)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    w = 0.25 + 0.45 * np.exp(-t / 400) + rng.normal(0, 0.06, n)
    w[:20] *= np.linspace(0.05, 1, 20)  # the critic starts from nothing
    gp = (0.015 + 0.07 * np.exp(-t / 300)) * np.exp(rng.normal(0, 0.3, n))
    gp[rng.random(n) < 0.02] *= 50  # early-style spikes, any time
    g_cls = 0.05 + 2.35 * np.exp(-t / 120) * np.exp(rng.normal(0, 0.1, n))
    bound = 25 + rng.normal(0, 1.5, n)
    steps, last = [], None
    for i in range(n):
        values = {"d_loss": -w[i] + gp[i], "w_distance": w[i], "w_bound": bound[i],
                  "gp": gp[i], "d_cls": 0.4}
        if (i + 1) % N_CRITIC == 0:
            last = g_cls[i]
        if last is not None:
            values["g_cls"] = last
        steps.append(values)
    return steps


def feed(monitor, steps, start: int = 1):
    alarms = []
    for i, values in enumerate(steps):
        alarms += monitor.observe_step(start + i, values)
    return alarms


def replaced(steps, key: str, values, start: int = 0):
    out = [dict(s) for s in steps]
    for s, v in zip(out[start:], values):
        s[key] = float(v)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_a_healthy_critic_raises_nothing(seed):
    assert feed(HealthMonitor(), critic(seed)) == []


def test_a_soft_penalty_above_the_lipschitz_bound_is_not_a_divergence():
    # the example's critic: its estimate 1-1.6x the distance between the images it compares
    rng = np.random.default_rng(9)
    steps = critic(9, 1000)
    ratio = 1.3 + 0.25 * np.sin(np.arange(1000) / 150) + rng.normal(0, 0.1, 1000)
    steps = [{**s, "w_distance": r * s["w_bound"], "gp": 6.0} for s, r in zip(steps, ratio)]
    assert feed(HealthMonitor(), steps) == []


def test_signals_that_are_not_reported_are_not_judged():
    plain = [{"gen": 1.0, "disc": 1.2}] * 800  # a BCE method: no w_distance, gp, g_cls
    assert feed(HealthMonitor(), plain) == []


def test_a_critic_without_penalty_diverges_failed_once():
    # lambda_gp 0 on stargan: |w_distance| in the hundreds within 100 steps, oscillating,
    # between images ~25-35 apart
    steps = critic(1, 800)
    runaway = [0.5 * math.exp(i / 15) if i < 110 else 600 * (1 + math.sin(i / 9))
               for i in range(780)]
    alarms = feed(CriticDiverging(HealthConfig()), replaced(steps, "w_distance", runaway, 20))
    assert [a.severity for a in alarms] == ["failed"]  # once: the oscillation is one episode
    assert WINDOW <= alarms[0].step <= WINDOW + 20  # once half a window is past 3 x w_bound
    line = alarms[0].line()
    assert line.startswith("health: FAILED convergence: critic diverging: 'w_distance' beyond "
                           "the distance between the images it compares at step ")
    assert "max=3," in line and "w_bound=" in line


def test_a_negative_runaway_diverges_too_and_a_missing_bound_is_not_judged():
    steps = replaced(critic(2, 400), "w_distance", [-300.0] * 250, 150)  # from step 151
    # the window's median passes 3 once 100 of its 200 steps are at -300 / 25: step 250
    assert [a.step for a in feed(CriticDiverging(HealthConfig()), steps)] == [250]
    unbounded = [{k: v for k, v in s.items() if k != "w_bound"} for s in steps]
    assert feed(CriticDiverging(HealthConfig()), unbounded) == []


def test_a_penalty_that_dominates_the_critic_warns_once():
    steps = critic(3, 1200)
    heavy = replaced(steps, "gp", np.full(700, 2.0), 500)  # the penalty 4-8x the estimate
    alarms = feed(PenaltyDominates(HealthConfig()), heavy)
    assert len(alarms) == 1 and 500 < alarms[0].step <= 500 + WINDOW
    assert alarms[0].severity == "warning" and alarms[0].evidence["share"] > 0.5


def test_a_classification_loss_that_does_not_fall_warns_once():
    # lambda_cls 0 on stargan: g_cls stays at chance (~2.43) for good
    noise = np.random.default_rng(0).normal(0, 0.02, 996)
    flat = replaced(critic(4, 1000), "g_cls", 2.43 + noise, 4)
    alarms = feed(ClassificationStalled(HealthConfig()), flat)
    steps_seen = HealthConfig().g_cls_steps
    assert [(a.step, a.severity) for a in alarms] == [(steps_seen + 4, "warning")]
    assert alarms[0].line().startswith("health: WARNING convergence: classification loss "
                                       "'g_cls' not falling at step")


def test_thresholds_of_null_turn_the_checks_off():
    steps = critic(5, 1000)
    broken = replaced(replaced(replaced(steps, "w_distance", [500.0] * 1000), "gp",
                               [5000.0] * 1000), "g_cls", [2.4] * 1000)
    assert {a.monitor for a in feed(HealthMonitor(), broken)} == \
        {"CriticDiverging", "PenaltyDominates", "ClassificationStalled"}
    off = HealthConfig(w_ratio_max=None, gp_share_max=None, g_cls_drop=None)
    assert feed(HealthMonitor(off), broken) == []
