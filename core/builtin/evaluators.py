"""Built-in plugin: registers the evaluators that ship with the core."""
from __future__ import annotations

from ganrun import hookimpl
from ganrun.registry import EvaluatorInfo


@hookimpl
def ganrun_register_evaluators() -> list[EvaluatorInfo]:
    # lazy: keeps `ganrun plugins` and --help light
    from ganrun.evaluators import attributes, lenet, lenet32, strokes, styles

    return [
        EvaluatorInfo("lenet_mnist", lenet.load_lenet_mnist, lenet.train_lenet_mnist,
                      "LeNet-style CNN trained on the mnist5k train split (4,000 digits); "
                      "logits and 128 penultimate features on 1 x 28 x 28 images in [-1, 1]"),
        EvaluatorInfo("strokes_mnist", strokes.load_strokes_mnist, strokes.train_strokes_mnist,
                      "tiny CNN: thin (0) or thick (1) strokes, trained on the mnist5k train "
                      "split made thin and thick (ganrun.data.strokes); 1 x 28 x 28 in [-1, 1]"),
        EvaluatorInfo("lenet_mnist32", lenet32.load_lenet_mnist32, None,
                      "lenet_mnist reading 3 x 32 x 32 RGB digits in [-1, 1] (mnist_attributes, "
                      "mnist_styles) through ganrun.data.mnist32.as_mnist; nothing to train"),
        EvaluatorInfo("attributes_mnist", attributes.load_attributes_mnist,
                      attributes.train_attributes_mnist,
                      "tiny CNN: the 5 attributes (thick, slanted, red, green, blue; multi-label, "
                      "logit > 0) of mnist_attributes images; 3 x 32 x 32 in [-1, 1]"),
        EvaluatorInfo("styles_mnist", styles.load_styles_mnist, styles.train_styles_mnist,
                      "tiny CNN: the style (plain, striped, shadowed, framed) of mnist_styles "
                      "images; 3 x 32 x 32 in [-1, 1]"),
    ]
