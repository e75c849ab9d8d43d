"""``ganrun cam MODEL --input IMAGE --out overlay.png [--class K]``: a trained classifier's
class activation map over one image, with the box drawn from it."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch

from ganrun.errors import UserError
from ganrun.images import read_image
from ganrun.sampling import load_generator, locate
from ganrun_plugins.cam.cam import box_from_map, cam_for
from ganrun_plugins.cam.overlay import render_overlay


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="classifier .safetensors, run folder, MLflow run id or models:/NAME/V")
    p.add_argument("--input", required=True, help="an image file")
    p.add_argument("--out", required=True, help="the overlay PNG to write")
    p.add_argument("--class", dest="klass", type=int, default=None,
                   help="class whose map to draw (default: the predicted class)")
    p.add_argument("--tracking-uri", default=None, help="MLflow store (default: ./mlruns)")


def run(args: argparse.Namespace, pm: Any, registry: Any) -> int:
    from ganrun.mlflow_store import default_uri

    with tempfile.TemporaryDirectory() as tmp:
        path = locate(args.model, args.tracking_uri or default_uri(), Path(tmp))
        net, recipe = load_generator(path, pm, registry)
    if recipe.method != "cam":
        raise UserError(f"{args.model}: a '{recipe.method}' network, not a cam classifier")
    m = recipe.model
    if args.klass is not None and not 0 <= args.klass < m.num_classes:
        raise UserError(f"--class: {args.klass} is not a class of this classifier "
                        f"(0 to {m.num_classes - 1})")
    image_path = Path(args.input)
    if not image_path.is_file():
        raise UserError(f"--input: {image_path} not found")
    try:
        image = read_image(image_path, m.channels)
    except OSError as e:
        raise UserError(f"--input: {image_path}: not a readable image ({type(e).__name__})") from None
    x = image.unsqueeze(0)
    with torch.no_grad():
        probs = net(x).softmax(1)[0]
    chosen = None if args.klass is None else torch.tensor([args.klass])
    maps, classes = cam_for(net, x, chosen)
    c = int(classes[0])
    box = box_from_map(maps[0])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    render_overlay(image, maps[0], box).save(out, format="PNG")
    print(f"class {c} (p={probs[c]:.3f}), box {box} -> {out}")
    return 0
