"""The stargan plugin: method ``stargan``, its networks, trainer and domain metrics."""
from __future__ import annotations

import time
from typing import Any

import torch

from ganrun import hookimpl
from ganrun.errors import UserError
from ganrun.method_plugin import MethodPlugin
from ganrun.translate import Translator
from ganrun_plugins.stargan.method import (StarGANConfig, StarGANTrainer, label_layout,
                                           make_losses)
from ganrun_plugins.stargan.networks import Discriminator, Generator


class StarGANPlugin(MethodPlugin):
    name, schema = "stargan", StarGANConfig
    translate_example = "ATTRIBUTE=1"
    description = "StarGAN, one generator for many domains (Choi et al. 2018)"
    higher_is_better = frozenset({"eval/attr_acc*", "eval/class_kept"})

    def __init__(self) -> None:
        self._metrics: dict[int, Any] = {}  # id(run) -> DomainMetrics

    def generator(self, recipe: Any, name: str) -> torch.nn.Module:
        m: StarGANConfig = recipe.model
        return Generator(m.g_conv_dim, label_layout(recipe).c_dim, m.g_repeat_num, m.channels)

    def discriminator(self, recipe: Any, name: str) -> torch.nn.Module:
        m: StarGANConfig = recipe.model
        try:
            return Discriminator(m.image_size, m.d_conv_dim, label_layout(recipe).cls_dim,
                                 m.d_repeat_num, m.channels)
        except ValueError as e:
            raise UserError(f"model.image_size: {e}") from None

    def losses(self, recipe: Any) -> dict:
        return make_losses(recipe)

    def trainer(self, recipe, generators, discriminators, losses, device):
        return StarGANTrainer(recipe, generators, discriminators, losses, device)

    def sample(self, recipe, generator, n, seed, label):
        raise UserError("method 'stargan' translates images to target domains rather than "
                        "sampling noise: use ganrun translate MODEL --to ATTR=1 --input "
                        "IMAGES --out DIR")

    def translator(self, recipe: Any, generators: Any, target: str) -> Translator:
        """``--to thick=1,slanted=0`` (attributes of one dataset; those not named are 0) or
        ``--to rafd=happy`` (a class); inputs resized to ``model.image_size``."""
        layout = label_layout(recipe)
        k, values = layout.parse(target)
        G = generators["G"].eval()

        def translate(x: torch.Tensor) -> torch.Tensor:
            return G(x, layout.target_vector(k, values, len(x)).to(x.device))

        return Translator(translate, recipe.model.channels, recipe.model.image_size)

    # ------------------------------------------------------------ checks and metrics
    @hookimpl
    def ganrun_run_start(self, run) -> None:
        if not self._mine(run.recipe):
            return
        m, cfg = run.recipe.model, run.recipe.metrics
        first = run.loader.dataset[0]  # may draw (a flip): the engine restores the RNGs
        image = first.get("image", first.get("image_0"))
        if tuple(image.shape) != (m.channels, m.image_size, m.image_size):
            raise UserError(f"model.image_size, model.channels: {m.channels}x{m.image_size}x"
                            f"{m.image_size}, but the data's images are "
                            f"{'x'.join(map(str, image.shape))}")
        if cfg.every and (m.attribute_evaluators or m.class_evaluator):
            self._metrics[id(run)] = self._domain_metrics(run)

    def _domain_metrics(self, run) -> Any:
        from ganrun_plugins.stargan.evaluation import DomainMetrics, first_test_images

        m, layout = run.recipe.model, label_layout(run.recipe)
        if m.attribute_evaluators and len(m.attribute_evaluators) != len(layout.sets):
            raise UserError(f"model.attribute_evaluators: {len(m.attribute_evaluators)} given, "
                            f"one per label set needed ({len(layout.sets)}: "
                            f"{', '.join(s.dataset for s in layout.sets)}); '' for none")

        def load(name: str, key: str) -> Any:
            return run.registry.evaluator(name, key).load() if name else None

        judges = [load(name, "model.attribute_evaluators") for name in m.attribute_evaluators]
        test = run.registry.dataset(run.recipe.data.name).load(run.recipe.data, "test")
        return DomainMetrics(first_test_images(test, run.recipe.metrics.samples), layout,
                             judges or [None] * len(layout.sets),
                             load(m.class_evaluator, "model.class_evaluator"))

    @hookimpl(tryfirst=True)  # before the health monitors and trackers read eval/*
    def ganrun_epoch_end(self, run, report) -> None:
        metrics = self._metrics.get(id(run))
        if metrics is None or not run.recipe.metrics.due(report.epoch, run.recipe.train.epochs):
            return
        started = time.perf_counter()
        report.metrics.update(metrics(run.trainer.generators["G"]))
        report.metrics["time/eval_seconds"] = time.perf_counter() - started

    @hookimpl
    def ganrun_run_end(self, run, status, error) -> None:
        self._metrics.pop(id(run), None)


plugin = StarGANPlugin()
