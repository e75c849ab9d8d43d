"""Built-in plugin: registers the evaluators that ship with the core."""
from __future__ import annotations

from ganrun import hookimpl
from ganrun.registry import EvaluatorInfo


@hookimpl
def ganrun_register_evaluators() -> list[EvaluatorInfo]:
    from ganrun.evaluators import lenet, strokes  # lazy: keeps `ganrun plugins` and --help light

    return [
        EvaluatorInfo("lenet_mnist", lenet.load_lenet_mnist, lenet.train_lenet_mnist,
                      "LeNet-style CNN trained on the mnist5k train split (4,000 digits); "
                      "logits and 128 penultimate features on 1 x 28 x 28 images in [-1, 1]"),
        EvaluatorInfo("strokes_mnist", strokes.load_strokes_mnist, strokes.train_strokes_mnist,
                      "tiny CNN: thin (0) or thick (1) strokes, trained on the mnist5k train "
                      "split made thin and thick (ganrun.data.strokes); 1 x 28 x 28 in [-1, 1]"),
    ]
