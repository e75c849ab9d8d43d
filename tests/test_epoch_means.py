"""The engine's per-epoch means: a signal a method sends only on some steps (a lazy R1
penalty, a generator loss every n_critic-th step) is averaged over the steps that sent it."""
from __future__ import annotations

from ganrun import hookimpl


class Probe:
    """Records each step's signals and each epoch's report."""

    def __init__(self):
        self.steps: list[dict[str, float]] = []
        self.reports: list[dict[str, float]] = []

    @hookimpl
    def ganrun_step_end(self, run, losses):
        self.steps.append(dict(losses))

    @hookimpl
    def ganrun_epoch_end(self, run, report):
        self.reports.append(dict(report.metrics))


def test_a_signal_sent_on_some_steps_is_averaged_over_those(tiny_recipe, registry):
    from ganrun.engine import execute, prepare
    from ganrun.plugins import get_plugin_manager
    from ganrun.recipe import load_recipe

    pm = get_plugin_manager()
    probe = Probe()
    pm.register(probe, "probe")
    recipe = load_recipe(tiny_recipe(epochs=1, every=0),
                         ["model.r1_gamma=1", "model.r1_every=2", "track.enabled=false"],
                         registry=registry)
    execute(prepare(recipe, pm, registry))
    r1 = [s["r1"] for s in probe.steps if "r1" in s]
    assert len(probe.steps) == 4 and len(r1) == 2  # 256 digits, batch 64: steps 0 and 2
    assert abs(probe.reports[0]["epoch/r1"] - sum(r1) / 2) < 1e-6
    gen = [s["gen"] for s in probe.steps]
    assert abs(probe.reports[0]["epoch/gen"] - sum(gen) / 4) < 1e-6
