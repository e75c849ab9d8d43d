"""The cyclegan plugin: method ``cyclegan``, its networks, trainer, metrics and importer."""
from __future__ import annotations

import time
from typing import Any

import torch

from ganrun import hookimpl
from ganrun.errors import UserError
from ganrun.init import init_normal
from ganrun.method_plugin import MethodPlugin
from ganrun.registry import ImporterInfo
from ganrun.translate import Translator, bad_target
from ganrun_plugins.cyclegan.method import (DISCRIMINATORS, GENERATORS, CycleGANConfig,
                                            CycleGANTrainer, make_losses)
from ganrun_plugins.cyclegan.networks import PatchDiscriminator, ResnetGenerator

# ``--to`` target -> the generator that translates to it: a direction, or the target domain
TARGETS = {"AtoB": "genAB", "BtoA": "genBA", "B": "genAB", "A": "genBA"}


class CycleGANPlugin(MethodPlugin):
    name, schema = "cyclegan", CycleGANConfig
    generators, discriminators = GENERATORS, DISCRIMINATORS
    translate_example = "AtoB"
    description = "CycleGAN, unpaired translation with cycle consistency (Zhu et al. 2017)"
    lower_is_better = frozenset({"eval/cycle_l1_*"})
    higher_is_better = frozenset({"eval/class_kept_*", "eval/domain_*"})

    def __init__(self) -> None:
        self._metrics: dict[int, Any] = {}  # id(run) -> TranslationMetrics

    def generator(self, recipe: Any, name: str) -> torch.nn.Module:
        m: CycleGANConfig = recipe.model
        blocks = {"resnet_9blocks": 9, "resnet_6blocks": 6}[m.netG]
        net = ResnetGenerator(m.channels, m.channels, m.ngf, blocks, m.dropout)
        return init_normal(net, m.init_gain)

    def discriminator(self, recipe: Any, name: str) -> torch.nn.Module:
        m: CycleGANConfig = recipe.model
        return init_normal(PatchDiscriminator(m.channels, m.ndf, m.n_layers_D), m.init_gain)

    def losses(self, recipe: Any) -> dict:
        return make_losses(recipe.model)

    def trainer(self, recipe, generators, discriminators, losses, device):
        return CycleGANTrainer(recipe, generators, discriminators, losses, device)

    def sample(self, recipe, generator, n, seed, label):
        raise UserError("method 'cyclegan' translates images rather than sampling noise: "
                        "use ganrun translate MODEL --to AtoB --input IMAGES --out DIR")

    def translator(self, recipe: Any, generators: Any, target: str) -> Translator:
        """genAB translates to B (``AtoB``, ``B``), genBA to A; inputs read at crop_size."""
        if target not in TARGETS:
            raise bad_target(target, TARGETS)
        net = generators[TARGETS[target]].eval()
        return Translator(net, recipe.model.channels, getattr(recipe.data, "crop_size", None))

    # ------------------------------------------------------------ data, importer
    @hookimpl
    def ganrun_register_archives(self) -> list:
        from ganrun_plugins.cyclegan.archives import ARCHIVES

        return list(ARCHIVES.values())

    @hookimpl
    def ganrun_register_importers(self) -> list[ImporterInfo]:
        from ganrun_plugins.cyclegan.official import import_official

        return [ImporterInfo("cyclegan-official", import_official,
                             "a ResnetGenerator .pth saved by the official PyTorch CycleGAN")]

    # ------------------------------------------------------------ translation metrics
    @hookimpl
    def ganrun_run_start(self, run) -> None:
        from ganrun_plugins.cyclegan.evaluation import TranslationMetrics, first_test_images

        m, cfg = run.recipe.model, run.recipe.metrics
        if not self._mine(run.recipe) or not cfg.every:
            return

        def evaluator(key: str) -> Any:
            name = getattr(m, key)
            return run.registry.evaluator(name, f"model.{key}").load() if name else None

        classes, domains = evaluator("class_evaluator"), evaluator("domain_evaluator")
        test = run.registry.dataset(run.recipe.data.name).load(run.recipe.data, "test")
        images = first_test_images(test, cfg.samples)
        self._metrics[id(run)] = TranslationMetrics(images, classes, domains)

    @hookimpl(tryfirst=True)  # before the health monitors and trackers read eval/*
    def ganrun_epoch_end(self, run, report) -> None:
        metrics = self._metrics.get(id(run))
        if metrics is None or not run.recipe.metrics.due(report.epoch, run.recipe.train.epochs):
            return
        started = time.perf_counter()
        report.metrics.update(metrics(run.trainer.generators))
        report.metrics["time/eval_seconds"] = time.perf_counter() - started

    @hookimpl
    def ganrun_run_end(self, run, status, error) -> None:
        self._metrics.pop(id(run), None)


plugin = CycleGANPlugin()
