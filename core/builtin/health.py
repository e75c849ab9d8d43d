"""Built-in plugin: watches every run for convergence failure, mode collapse and failed
translation, with every monitor registered through ``ganrun_register_monitors`` (ganrun's own,
:data:`ganrun.health.BUILTIN_MONITORS`, are registered here).

It feeds each step's values (losses, D(x), D(G(z)), gradient norms, and each network's
relative parameter change, which it measures itself) and each epoch's
``eval/*`` metrics to a :class:`ganrun.health.HealthMonitor` built from the recipe's
``health:`` section. An alarm prints one line with its evidence, sets the run's tags
``health.status`` (ok / warning / failed) and ``health.alarms``, and the monitors'
statistics are logged as ``health/*`` metrics each epoch. A NaN or Inf stops the run at
once, and with ``health.on_failure: stop`` so does any failed alarm: status FAILED, exit
code 3, the last good checkpoint kept.
"""
from __future__ import annotations

import sys

import torch

from ganrun import hookimpl
from ganrun.health import BUILTIN_MONITORS, HealthMonitor, split_step_values
from ganrun.registry import MonitorInfo

_monitors: dict[int, HealthMonitor] = {}
_params: dict[int, dict[str, torch.Tensor]] = {}  # each network's sampled weights, last step
STRIDE = 61  # every 61st weight: a ~60x cheaper estimate, still exactly 0 when nothing moves


def _param_change(run) -> dict[str, float]:
    """||theta_t - theta_t-1|| / ||theta_t-1|| per network, on a fixed sample of its
    weights: 0 when a network is not updated (a learning rate of 0, frozen weights), which
    its gradients alone do not show. Copying every weight would cost ~1 ms a step."""
    previous = _params.setdefault(id(run), {})
    change = {}
    with torch.no_grad():
        for name, net in run.trainer.networks.items():
            now = torch.cat([p.detach().reshape(-1)[::STRIDE] for p in net.parameters()])
            if name in previous:
                before = previous[name]
                change[name] = float((now - before).norm() / before.norm().clamp_min(1e-12))
            previous[name] = now
    return change


def _say(run, alarms) -> None:
    from tqdm import tqdm

    for alarm in alarms:
        tqdm.write(alarm.line(), file=sys.stderr)  # keeps a running progress bar intact
    monitor = _monitors[id(run)]
    run.tags["health.status"] = monitor.status
    run.tags["health.alarms"] = " | ".join(a.line() for a in monitor.alarms)
    fatal = [a for a in alarms if a.monitor == "NonFinite"]
    if fatal or monitor.should_stop:
        run.request_stop((fatal or alarms)[0].line())


@hookimpl
def ganrun_register_monitors():
    """ganrun's own monitors, through the same hook as any plugin's."""
    return [MonitorInfo(cls.__name__, cls, (cls.__doc__ or "").split("\n")[0])
            for cls in BUILTIN_MONITORS]


@hookimpl
def ganrun_run_start(run):
    if run.recipe.health.enabled:
        monitors = [info.monitor for info in run.registry.monitors.values()]
        _monitors[id(run)] = HealthMonitor(run.recipe.health, monitors)
        run.tags["health.status"] = "ok"


@hookimpl
def ganrun_save_state(run):
    """The monitors' windows and alarms, and the weights the parameter change compares with."""
    monitor = _monitors.get(id(run))
    if monitor is None:
        return None
    return {"health": {"monitor": monitor.state_dict(), "status": run.tags.get("health.status"),
                       "alarms": run.tags.get("health.alarms"),
                       "params": dict(_params.get(id(run), {}))}}


@hookimpl
def ganrun_load_state(run, state):
    monitor, saved = _monitors.get(id(run)), state.get("health")
    if monitor is None or saved is None:
        return
    monitor.load_state_dict(saved["monitor"])
    _params[id(run)] = dict(saved["params"])
    for tag in ("status", "alarms"):
        if saved[tag] is not None:
            run.tags[f"health.{tag}"] = saved[tag]


@hookimpl
def ganrun_step_end(run, losses):
    monitor = _monitors.get(id(run))
    if monitor is None:
        return
    values, grads, scores, changes = split_step_values(losses, run.trainer.networks,
                                                       run.recipe.health)
    changes = {**_param_change(run), **changes}  # a method's own measure wins
    alarms = monitor.observe_step(run.step, values, grads, scores, changes)
    if alarms:
        _say(run, alarms)


@hookimpl
def ganrun_epoch_end(run, report):
    monitor = _monitors.get(id(run))
    if monitor is None:
        return
    evaluated = {k: v for k, v in report.metrics.items() if k.startswith("eval/")}
    if evaluated:
        reference = {k: v for k, v in report.metrics.items() if k.startswith("real/")}
        alarms = monitor.observe_eval(report.epoch, evaluated, reference)
        if alarms:
            _say(run, alarms)
    report.metrics.update(monitor.statistics())


@hookimpl
def ganrun_run_end(run, status, error):
    _params.pop(id(run), None)
    monitor = _monitors.pop(id(run), None)
    if monitor is not None:  # the report's "health: ok", or the status and every alarm line
        run.summary["health"] = monitor.status + "".join(f"\n    {a.line()}"
                                                         for a in monitor.alarms)
