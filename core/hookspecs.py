"""Every ganrun hook, one docstring each: this module is the plugin author's reference.

A plugin is any module or object with functions named after these hooks and marked with
``ganrun.hookimpl``. Ship it in a pip package and register it under the ``ganrun``
entry-point group::

    [project.entry-points.ganrun]
    myplugin = "my_package.plugin"

A hook implementation may accept any subset of the arguments its spec lists.

Three kinds of hook:

* **registration hooks** are called on every plugin once, when the plugin manager starts;
  each returns a list of descriptions (methods, datasets) that ganrun adds to its registry;
* **role hooks** (``firstresult``) build one part of a run. ganrun asks every plugin, newest
  first, and takes the first answer that is not ``None``. ganrun's own plugins are
  registered first, then the installed ones (by entry-point name), then ``GANRUN_PLUGINS``,
  so an outside plugin is asked before the built-in ones. A plugin answers only for a
  method it knows and returns ``None`` otherwise (``ganrun plugins --check`` asks each role
  hook about a method no plugin registered), so a third-party plugin can replace one role
  (say, a spectral-norm discriminator for an existing method) and leave the rest;
* **lifecycle hooks** are called on every plugin while a run trains. Tracking, sample grids,
  checkpoints and progress bars are themselves plugins on these hooks.

Under ``torchrun`` every process builds the networks through the role hooks, but the
lifecycle hooks run on rank 0 alone (``run.is_main``), so one process writes the files and
the tracking. A plugin that must run on every rank sets ``ganrun_every_rank = True`` at
module level and checks ``run.is_main`` before it writes anything. ``losses`` in
``ganrun_step_end`` are then the global batch's: the mean over the ranks.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganrun import hookspec

if TYPE_CHECKING:  # imported for annotations only: keeps `ganrun --help` free of torch
    from collections.abc import Mapping

    import torch
    from torch import nn

    from ganrun.data.download import ArchiveSpec
    from ganrun.engine import EpochReport, Run
    from ganrun.registry import (CommandInfo, DatasetInfo, EvaluatorInfo, ImporterInfo,
                                 MethodInfo, MetricInfo, MonitorInfo, SectionInfo)
    from ganrun.sampling import Samples
    from ganrun.trainer import Trainer
    from ganrun.translate import Translator


# --------------------------------------------------------------------------- registration


@hookspec
def ganrun_register_methods() -> list[MethodInfo]:
    """Describe the training methods this plugin provides.

    Return a list of :class:`ganrun.registry.MethodInfo`: the name a recipe selects with
    ``method: NAME``, the dataclass that is the schema of the recipe's ``model`` section,
    and the names of the method's generators and discriminators (for CycleGAN four nets,
    for DCGAN one of each). The role hooks are then asked once per network name.
    A method that translates images (it answers ``ganrun_translator``) gives an example
    target, ``translate_example="AtoB"``: the run report suggests
    ``ganrun translate MODEL --to AtoB``, and a method without one is told apart as one that
    samples from noise. ``lower_is_better`` / ``higher_is_better``: the ``eval/`` keys the
    method measures itself that are best lowest / highest (fnmatch patterns allowed), from
    which ``ganrun runs`` and ``ganrun compare`` pick each run's best.
    """


@hookspec
def ganrun_register_datasets() -> list[DatasetInfo]:
    """Describe the datasets this plugin provides.

    Return a list of :class:`ganrun.registry.DatasetInfo`: the name a recipe selects with
    ``data.name``, the dataclass that is the schema of the recipe's ``data`` section, and a
    loader ``load(cfg, split) -> torch.utils.data.Dataset`` whose items (or
    ``__getitems__`` batches) are dicts of tensors, images under ``"image"`` in [-1, 1].
    A loader raises :class:`ganrun.errors.UserError` when its files are missing.
    """


@hookspec
def ganrun_register_evaluators() -> list[EvaluatorInfo]:
    """Describe the evaluators (trained classifiers that measure samples) this plugin provides.

    Return a list of :class:`ganrun.registry.EvaluatorInfo`: the name a recipe selects with
    ``metrics.evaluator``, ``load() -> Evaluator`` giving the ready network, and optionally
    ``train(out_dir) -> dict`` that retrains it reproducibly (``ganrun evaluator train``).
    An evaluator is an ``nn.Module`` in eval mode with ``num_classes`` and
    ``num_features`` attributes and two methods on images in [-1, 1]: ``logits(x)``
    (N x num_classes) and ``features(x)`` (N x num_features, the penultimate layer).
    """


@hookspec
def ganrun_register_metrics() -> list[MetricInfo]:
    """Describe the sample-quality metrics this plugin provides.

    Return a list of :class:`ganrun.registry.MetricInfo`. ``make(evaluator, real)`` is
    called once per run with the evaluator and the real training images measured by it
    (a :class:`ganrun.metrics.samples.MeasuredSet`: images, labels, features, class logits
    and predicted classes), so a metric caches its real statistics there; it returns a function that
    takes the generated samples, measured the same way, and returns ``{"eval/NAME": value}``
    (``real/NAME`` for a reference value computed on the real data). ``lower_is_better`` /
    ``higher_is_better`` name the returned keys that are best lowest / highest; a key in
    neither has no best.
    """


@hookspec
def ganrun_register_monitors() -> list[MonitorInfo]:
    """Describe the health monitors this plugin provides.

    Return a list of :class:`ganrun.registry.MonitorInfo`: the monitor's name and its class,
    built once per run as ``cls(config)`` with the recipe's ``health`` section
    (:class:`ganrun.health.HealthConfig`). A class deriving from
    :class:`ganrun.health.convergence.StepMonitor` implements ``observe_step(step, losses,
    grad_norms, scores, param_change)`` and is fed every step; one deriving from
    :class:`ganrun.health.collapse.EvalMonitor` implements ``judge(epoch, metrics,
    reference)`` and is fed every evaluation's ``eval/*`` metrics with their ``real/*``
    references. Both return new :class:`ganrun.health.Alarm` s, each once per episode
    (``self.episode(key, clear_after).update(condition)``), read only the names that are
    there (a method that does not report a signal is not judged on it), and keep their
    state in attributes (windows, episodes, counters), which the health plugin saves in
    every checkpoint and restores on resume. ganrun's own monitors are registered here by
    the built-in health plugin.
    """


@hookspec
def ganrun_register_sections() -> list[SectionInfo]:
    """Describe the top-level recipe sections this plugin adds.

    Return a list of :class:`ganrun.registry.SectionInfo`: the section's name (``myplug``) and a
    dataclass with defaults that is its schema. Every recipe then has the section, validated
    as strictly as the core's (unknown keys, types, ``limit`` ranges), and the plugin reads
    it from ``run.recipe.<name>`` in its lifecycle hooks. A name the core uses (``train``,
    ``model`` ...) or another plugin registered is refused.
    """


@hookspec
def ganrun_register_commands() -> list[CommandInfo]:
    """Describe the ``ganrun NAME ...`` commands this plugin adds.

    Return a list of :class:`ganrun.registry.CommandInfo`: the command's name,
    ``add_arguments(parser)`` declaring its arguments on an ``argparse`` parser, and
    ``run(args, pm, registry) -> exit code``. Bad input is reported by raising
    :class:`ganrun.errors.UserError` (one line, exit 2). The core's own commands (``train``,
    ``sample`` ...) come first: a plugin command of the same name is never reached.
    """


@hookspec
def ganrun_register_archives() -> list[ArchiveSpec]:
    """Describe the published dataset archives this plugin knows, for ``ganrun data download``.

    Return a list of :class:`ganrun.data.download.ArchiveSpec`: the name, the publisher's
    URL, the exact size and SHA-256 (the download is refused unless both match), the folder
    the archive unpacks to and the parts a complete folder has.
    """


@hookspec
def ganrun_register_importers() -> list[ImporterInfo]:
    """Describe converters of other projects' weights into ganrun generators.

    Return a list of :class:`ganrun.registry.ImporterInfo`: the name that
    ``ganrun import NAME SOURCE --out FILE`` selects and ``convert(source, out, network)``,
    which reads ``source`` without running its code (``torch.load(weights_only=True)``),
    refuses a file of another shape with :class:`ganrun.errors.UserError` naming the first
    key that does not fit, and writes a ganrun generator (safetensors with its recipe) to
    ``out``. ``network`` (or ``None`` for the converter's default) names the generator.
    """


# --------------------------------------------------------------------------- roles


@hookspec(firstresult=True)
def ganrun_make_generator(recipe: Any, name: str) -> nn.Module | None:
    """Build the generator called ``name`` for ``recipe``, or return ``None``.

    ``recipe`` is the validated recipe (``recipe.method``, ``recipe.model`` ...). Return an
    ``nn.Module`` on the CPU with its initial weights; the engine moves it to the device.
    The same hook rebuilds the generator when a saved one is loaded for sampling, so it
    must depend only on the recipe.
    """


@hookspec(firstresult=True)
def ganrun_make_discriminator(recipe: Any, name: str) -> nn.Module | None:
    """Build the discriminator called ``name`` for ``recipe``, or return ``None``."""


@hookspec(firstresult=True)
def ganrun_make_losses(recipe: Any) -> dict[str, Any] | None:
    """Return the method's losses by role (e.g. ``{"adversarial": get_loss("bce")}``).

    Shared adversarial losses live in :mod:`ganrun.losses` and are chosen by name; a plugin
    replacing this role can swap in its own objects with the same interface.
    """


@hookspec(firstresult=True)
def ganrun_make_trainer(
    recipe: Any,
    generators: dict[str, nn.Module],
    discriminators: dict[str, nn.Module],
    losses: dict[str, Any],
    device: torch.device,
) -> Trainer | None:
    """Build the method's :class:`ganrun.trainer.Trainer`, or return ``None``.

    The trainer owns its optimisers and schedulers, implements ``train_step(batch)``
    returning its losses, and ``preview()`` returning the images of the epoch's grid. It
    never writes its own loop, checkpoints, logs or progress bars: the engine and the
    lifecycle plugins do. It takes gradients with ``self.backward(loss)`` or
    ``self.grads(loss, params)`` and steps with ``self.step(name)``, never
    ``optimizer.step()`` directly: then the same step runs in mixed precision and under
    torchrun, its gradients averaged over the ranks. ``train.batch_size`` is the global
    batch; a trainer that draws its own batch (noise) draws
    ``ganrun.distributed.local_batch(train.batch_size)``.
    """


@hookspec(firstresult=True)
def ganrun_sample(
    recipe: Any, generator: nn.Module, n: int, seed: int, label: int | None
) -> Samples | None:
    """Draw ``n`` images from a trained ``generator`` with a reproducible ``seed``.

    Return :class:`ganrun.sampling.Samples` (images ``N x C x H x W`` in [-1, 1], their
    classes for a conditional method, the grid's row length), or ``None`` for a method
    this plugin does not know. The same seed must give the same images, and drawing must
    not touch the global RNG (a run's evaluation samples mid-training). Put the generator
    in eval mode; the caller restores training mode.

    ``label`` is the class asked for. A conditional method given no label draws ``n`` of
    every class, one grid row per class, and refuses a class out of range with
    :class:`ganrun.errors.UserError`; an unconditional method refuses any label.
    """


@hookspec(firstresult=True)
def ganrun_translator(
    recipe: Any, generators: Mapping[str, nn.Module], target: str
) -> Translator | None:
    """Say how trained ``generators`` translate images to ``target``, for ``ganrun translate``.

    Return :class:`ganrun.translate.Translator`: ``translate(batch)`` maps ``N x C x H x W``
    images in [-1, 1] to their translations in the same range; ``channels`` (1 grey, 3 RGB)
    and ``size`` (bicubic resize to ``size x size``, or ``None``) say how the input files are
    read. The core reads, batches (under ``torch.no_grad()``) and writes the images; it never
    calls a network itself. Return ``None`` for a method this plugin does not know.

    ``target`` is the ``--to`` text (``AtoB``, ``thick=1,slanted=0``, ``rafd=happy``): parse
    it, and refuse a bad one with :class:`ganrun.errors.UserError` in one line naming
    ``--to``, the bad name and the known ones (``ganrun.translate.bad_target`` writes it).
    ``generators`` holds, by name, every generator the method declares, rebuilt from the
    saved files (``<name>.safetensors`` beside the one the user named); each is loaded when
    first indexed, so index the ones the target needs here, not later in ``translate``.
    Put them in eval mode, and never touch the global RNG.
    """


# --------------------------------------------------------------------------- lifecycle


@hookspec
def ganrun_check_run(recipe: Any) -> None:
    """A run is about to start or resume; nothing of it exists yet (no folder, data or network).

    Refuse a setting this plugin cannot serve by raising :class:`ganrun.errors.UserError`
    with one line naming the recipe key: the run then ends with exit code 2 and leaves
    nothing behind. Keep it to a few seconds (a tracker checks that its server answers).
    """


@hookspec
def ganrun_run_start(run: Run) -> None:
    """A run starts, or resumes (``run.resumed`` is true), before its first step.

    ``run.recipe``, ``run.output_dir`` and ``run.trainer`` are set. A tracker sets
    ``run.id`` here (ganrun makes one up when nobody does) and may add lines to
    ``run.summary``, which the CLI prints at the end. Set up freely (build an evaluator,
    look at a training item): the engine restores every RNG afterwards, so that a resumed
    run continues exactly as an uninterrupted one would.
    """


@hookspec
def ganrun_epoch_start(run: Run, epoch: int, steps: int) -> None:
    """Epoch ``epoch`` (1-based) starts; it will take ``steps`` steps."""


@hookspec
def ganrun_step_end(run: Run, losses: dict[str, float]) -> None:
    """One ``train_step`` finished; ``run.step`` is the global step count (1-based).

    ``losses`` maps names to Python floats: what ``train_step`` returned, the losses and
    the method's training signals (D(x), gradient norms). Keep this hook cheap: it runs
    every step.
    To end the run, call ``run.request_stop(reason)``; the engine stops after the step.
    """


@hookspec
def ganrun_epoch_end(run: Run, report: EpochReport) -> None:
    """Epoch ``report.epoch`` finished.

    ``report.metrics`` holds the epoch's mean losses; plugins may add metrics and files
    (``report.artifacts[name] = path``; a tracker files ``grid`` under ``grids/`` and
    ``folder/name`` under ``folder/``). Plugins that consume the report (trackers) use
    ``@hookimpl(trylast=True)`` so they see what the others added.
    """


@hookspec
def ganrun_save_state(run: Run) -> dict[str, Any] | None:
    """A checkpoint is being taken (at a step boundary): return the state this plugin needs
    to continue exactly after a resume, as ``{KEY: state}`` with a KEY of its own (its
    name), or None when it keeps none.

    The state must load with ``torch.load(weights_only=True)``: tensors, numbers, strings,
    None, and lists, tuples and dicts of them. Health monitors save their windows here; a
    tracker flushes what it has buffered, so the checkpoint never runs ahead of the record.
    """


@hookspec
def ganrun_load_state(run: Run, state: dict[str, Any]) -> None:
    """Right after ``ganrun_run_start`` of a resumed run: ``state`` holds what every plugin
    returned from ``ganrun_save_state`` for the checkpoint being resumed (``{}`` for a new
    run, or a checkpoint without it). Take your KEY's part, if present."""


@hookspec
def ganrun_checkpoint_saved(run: Run, path: str, epoch: int) -> None:
    """A complete checkpoint of the whole run state was written atomically to ``path``:
    at the end of epoch ``epoch``, or inside epoch ``epoch + 1`` after step ``run.step``."""


@hookspec
def ganrun_export(run: Run) -> None:
    """The run finished training: write what the user takes away (the checkpointing plugin
    exports each network of ``run.trainer.exports()`` as safetensors and sets
    ``run.generator_path``). An exception here (a full disk) ends the run FAILED, its
    checkpoints intact."""


@hookspec
def ganrun_run_end(run: Run, status: str, error: BaseException | None) -> None:
    """The run ended with ``status``: ``FINISHED``, ``FAILED`` or ``KILLED``.

    Called however the run ended, crash and Ctrl-C included, so a tracker can close its
    run with the right status. ``error`` is the exception that ended it, if any. On
    ``FINISHED``, ``run.generator_path`` is the exported generator, if one was saved.
    """
