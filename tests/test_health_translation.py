"""Translation monitors on hand-made evaluation streams: each fires on its failure, once per
episode, and stays silent on a healthy translation and on a method that reports none of the
names it reads. The healthy numbers are the embedded cyclegan task's (bench/health_suite.py:
recipes/cyclegan_mnist_strokes.yaml, 500 test digits each way). Pure numbers, no training."""
from __future__ import annotations

import numpy as np
import pytest

from ganrun.health import (ContentLost, CycleWithoutTranslation, DomainCollapse, HealthConfig,
                           HealthMonitor, InputIgnored, NothingTranslated)

GRACE = HealthConfig().eval_grace

# the untranslated inputs' values, as cyclegan's evaluation reports them (thin A -> thick B)
REFERENCE = {"real/spread_AB": 0.492, "real/class_kept_AB": 0.958, "real/domain_AB": 0.022,
             "real/cycle_l1_AB": 0.278, "real/class_spread_AB": 0.502,
             "real/spread_BA": 0.572, "real/class_kept_BA": 0.96, "real/domain_BA": 0.03,
             "real/cycle_l1_BA": 0.45, "real/class_spread_BA": 0.41}


def healthy(seed: int, epochs: int = 8) -> list[dict[str, float]]:
    """Evaluations of a healthy cyclegan on the strokes task, with evaluation noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        e = {}
        for tag, spread, within, cycle in (("AB", 0.53, 0.45, 0.13), ("BA", 0.5, 0.37, 0.2)):
            e[f"eval/spread_{tag}"] = spread + rng.normal(0, 0.02)
            e[f"eval/class_spread_{tag}"] = within + rng.normal(0, 0.02)
            e[f"eval/class_kept_{tag}"] = 0.93 + rng.normal(0, 0.01)
            e[f"eval/domain_{tag}"] = min(1.0, 0.99 + rng.normal(0, 0.01))
            e[f"eval/cycle_l1_{tag}"] = cycle + rng.normal(0, 0.01)
        out.append(e)
    return out


def broken(series: list[dict], start: int, **values: float) -> list[dict]:
    """``series`` with the AB values named in ``values`` replaced from evaluation ``start``
    (1-based) on."""
    out = [dict(e) for e in series]
    for e in out[start - 1:]:
        e.update({f"eval/{k}_AB": v for k, v in values.items()})
    return out


def evals(monitor, series, reference=REFERENCE):
    alarms = []
    for epoch, metrics in enumerate(series, 1):
        alarms += monitor.observe_eval(epoch, metrics, reference)
    return alarms


@pytest.mark.parametrize("seed", range(4))
def test_a_healthy_translation_raises_nothing(seed):
    assert evals(HealthMonitor(), healthy(seed)) == []


def test_a_method_reporting_none_of_the_names_is_not_judged():
    plain = [{"eval/fid_lenet": 30.0, "eval/modes": 10}] * 6
    assert evals(HealthMonitor(), plain, {}) == []
    # eval values without their real/ baselines are not judged either
    assert evals(HealthMonitor(), broken(healthy(0), 1, spread=0.0, class_kept=0.0), {}) == []


def test_a_constant_output_is_input_ignored_failed_once():
    series = broken(healthy(1), 2, spread=0.0)
    alarms = evals(InputIgnored(HealthConfig()), series)
    assert [(a.epoch, a.severity) for a in alarms] == [(GRACE + 1, "failed")]
    line = alarms[0].line()
    assert line.startswith("health: FAILED mode collapse: input ignored: 'spread_AB' far below")
    assert "ratio=0" in line and "min=0.25" in line


def test_an_identity_generator_translates_nothing():
    # the outputs are the inputs: the domain verdict stays at the sources' 0.022
    series = broken(healthy(2), 4, domain=0.03, cycle_l1=0.01, spread=0.49, class_spread=0.5)
    alarms = evals(NothingTranslated(HealthConfig()), series)
    assert [a.epoch for a in alarms] == [4]
    assert alarms[0].line().startswith(
        "health: WARNING translation: nothing translated: 'domain_AB' stays at the source's")
    assert alarms[0].evidence["source"] == 0.022
    assert [a.epoch for a in evals(CycleWithoutTranslation(HealthConfig()), series)] == [4]


def test_a_lost_class_is_content_lost_and_a_slight_loss_is_not():
    assert evals(ContentLost(HealthConfig()), broken(healthy(3), 1, class_kept=0.85)) == []
    alarms = evals(ContentLost(HealthConfig()), broken(healthy(3), 5, class_kept=0.16))
    assert [(a.epoch, a.severity) for a in alarms] == [(5, "warning")]
    assert "untranslated=0.958" in alarms[0].line()


def test_a_kept_cycle_with_a_poor_domain_verdict_is_a_cycle_without_translation():
    # translated part of the way (not "nothing translated"), the source hidden in the output
    series = broken(healthy(4), 3, domain=0.35, cycle_l1=0.05)
    alarms = evals(CycleWithoutTranslation(HealthConfig()), series)
    assert [a.epoch for a in alarms] == [3]
    assert alarms[0].evidence["domain"] == 0.35
    assert evals(NothingTranslated(HealthConfig()), series) == []
    # a poor verdict with a poor cycle is something else (not this alarm)
    assert evals(CycleWithoutTranslation(HealthConfig()),
                 broken(healthy(4), 3, domain=0.35, cycle_l1=0.25)) == []


def test_outputs_alike_within_a_class_is_a_domain_collapse():
    series = broken(healthy(5), 3, class_spread=0.08)
    alarms = evals(DomainCollapse(HealthConfig()), series)
    assert [a.epoch for a in alarms] == [3]
    assert alarms[0].line().startswith("health: WARNING mode collapse: collapse within the "
                                       "target domain: 'class_spread_AB'")


def test_each_direction_is_its_own_episode_and_an_episode_alarms_again_after_it_clears():
    series = healthy(6, 10)
    for e in series[2:4]:
        e["eval/spread_AB"] = 0.0
    for e in series[3:5]:
        e["eval/spread_BA"] = 0.0
    for e in series[6:8]:
        e["eval/spread_AB"] = 0.0
    alarms = evals(InputIgnored(HealthConfig()), series)
    assert [(a.epoch, a.symptom.split("'")[1]) for a in alarms] == \
        [(3, "spread_AB"), (4, "spread_BA"), (7, "spread_AB")]


def test_stargan_names_without_a_direction_are_judged_too():
    reference = {"real/class_kept": 0.975, "real/attr_acc": 0.2, "real/spread": 0.45}
    good = {"eval/class_kept": 0.9, "eval/attr_acc": 0.85, "eval/attr_acc_styles": 0.8,
            "eval/spread": 0.44}
    cipher = {**good, "eval/class_kept": 0.16}
    alarms = evals(HealthMonitor(), [good] * GRACE + [good, cipher], reference)
    assert [(a.monitor, a.epoch) for a in alarms] == [("ContentLost", GRACE + 2)]
    # a per-set accuracy is judged only when its own baseline is reported
    assert evals(HealthMonitor(), [{**good, "eval/attr_acc_styles": 0.2}] * 4, reference) == []


def test_thresholds_of_null_turn_the_checks_off():
    off = HealthConfig(spread_ratio_min=None, translated_min=None, class_kept_ratio_min=None,
                       cycle_ratio_max=None, class_spread_ratio_min=None)
    series = broken(healthy(7), 1, spread=0.0, domain=0.0, class_kept=0.0, cycle_l1=0.0,
                    class_spread=0.0)
    assert evals(HealthMonitor(off), series) == []
    assert evals(HealthMonitor(), series) != []
