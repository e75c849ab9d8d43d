"""The cam plugin: method ``cam`` (a GAP classifier, its CAMs and boxes), the ``cam`` recipe
section (decision maps of any GAN's discriminators), and ``ganrun cam``."""
from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

from ganrun import hookimpl
from ganrun.errors import UserError
from ganrun.method_plugin import MethodPlugin
from ganrun.registry import CommandInfo, SectionInfo
from ganrun_plugins.cam.method import CLASSIFIER, CAMConfig, CAMTrainer
from ganrun_plugins.cam.networks import GAPClassifier


class CAMPlugin(MethodPlugin):
    name, schema = "cam", CAMConfig
    generators, discriminators = (), (CLASSIFIER,)
    description = "class activation maps: GAP classifier, weakly supervised boxes (Zhou et al. 2016)"
    higher_is_better = frozenset({"eval/cls_acc", "eval/loc_acc", "eval/mean_iou",
                                  "eval/saliency_loc_acc"})

    def __init__(self) -> None:
        self._tests: dict[int, Any] = {}  # id(run) -> the test split (images, labels, boxes)

    def discriminator(self, recipe: Any, name: str) -> torch.nn.Module:
        m: CAMConfig = recipe.model
        return GAPClassifier(m.channels, m.widths, m.num_classes, m.pools, m.batchnorm)

    def losses(self, recipe: Any) -> dict:
        return {"classification": F.cross_entropy}

    def trainer(self, recipe, generators, discriminators, losses, device):
        return CAMTrainer(recipe, discriminators, losses, device)

    def sample(self, recipe, generator, n, seed, label):
        raise UserError("method 'cam' trains a classifier, which draws no samples: "
                        "use ganrun cam MODEL --input IMAGE --out overlay.png")

    # ------------------------------------------------------------ registration
    @hookimpl
    def ganrun_register_sections(self) -> list[SectionInfo]:
        from ganrun_plugins.cam.maps import CamSection

        return [SectionInfo("cam", CamSection, "decision maps of a GAN's discriminators")]

    @hookimpl
    def ganrun_register_commands(self) -> list[CommandInfo]:
        from ganrun_plugins.cam import command

        return [CommandInfo("cam", command.add_arguments, command.run,
                            "draw a cam classifier's class activation map and box over an image")]

    # ------------------------------------------------------------ localisation, every evaluation
    @hookimpl
    def ganrun_run_start(self, run) -> None:
        if self._mine(run.recipe) and run.recipe.metrics.every:
            test = run.registry.dataset(run.recipe.data.name).load(run.recipe.data, "test")
            if not hasattr(test, "boxes"):
                raise UserError(f"data.name: '{run.recipe.data.name}' has no true boxes to "
                                f"localise against; use mnist_canvas or metrics.every=0")
            n = run.recipe.metrics.samples
            self._tests[id(run)] = (test.images[:n], test.labels[:n], test.boxes[:n])

    @hookimpl(tryfirst=True)  # before the trackers read eval/*
    def ganrun_epoch_end(self, run, report) -> None:
        from ganrun_plugins.cam.cam import localisation_scores
        from ganrun_plugins.cam.maps import FOLDER, save_decision_maps

        due = run.recipe.metrics.due(report.epoch, run.recipe.train.epochs)
        test = self._tests.get(id(run))
        if test is not None and due:
            started = time.perf_counter()
            net = run.trainer.discriminators[CLASSIFIER]
            cam = localisation_scores(net, *test, method="cam")
            saliency = localisation_scores(net, *test, method="saliency")
            report.metrics.update({"eval/cls_acc": cam["cls_acc"], "eval/loc_acc": cam["loc_acc"],
                                   "eval/mean_iou": cam["mean_iou"],
                                   "eval/saliency_loc_acc": saliency["loc_acc"],
                                   "time/eval_seconds": time.perf_counter() - started})
        section = run.recipe.cam
        if section.discriminator and due and not self._mine(run.recipe):
            images = getattr(run.loader.dataset, "images", None)  # spread over the set
            real = None if images is None else \
                images[torch.linspace(0, len(images) - 1, section.images).long()]
            report.artifacts.update(save_decision_maps(
                run.trainer, real, run.output_dir / FOLDER, report.epoch, section.images))

    @hookimpl
    def ganrun_run_end(self, run, status, error) -> None:
        self._tests.pop(id(run), None)


plugin = CAMPlugin()
