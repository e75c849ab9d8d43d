"""Train the CAM classifier on the canvas task, then localise the test digits.

    .venv/bin/python bench/quality_cam.py [KEY=VALUE ...]

Trains ``recipes/cam_mnist_canvas.yaml`` through ganrun (overrides as for ``ganrun``) in
``bench/out/``, reloads the exported classifier from its file, and on the 1,000 test canvases
measures top-1 classification accuracy and localisation accuracy (class right and IoU >= 0.5
with the true box; Zhou et al. 2016, Sec. 3.1) of CAM boxes and of gradient-saliency boxes
(Simonyan et al. 2014) from the same network. Writes an overlay sheet of 16 test canvases
(white: the CAM box, green: the true box) beside the run.
Last line: ``cls_acc=<a> loc_acc=<b> saliency_loc_acc=<c> seconds=<training time>``.
Targets: cls_acc >= 0.95, loc_acc >= 0.80, loc_acc > saliency_loc_acc, under 10 minutes.
"""
from __future__ import annotations

import sys

from trained import train


def main() -> None:
    from ganrun_plugins.cam.cam import boxes_from_maps, cam_for, localisation_scores
    from ganrun_plugins.cam.overlay import save_overlays

    run = train("cam_mnist_canvas.yaml", sys.argv[1:])
    net, recipe = run.load()
    test = run.registry.dataset(recipe.data.name).load(recipe.data, "test")
    cam = localisation_scores(net, test.images, test.labels, test.boxes, method="cam")
    saliency = localisation_scores(net, test.images, test.labels, test.boxes, method="saliency")
    maps, _ = cam_for(net, test.images[:16])
    sheet = save_overlays(run.output_dir / "test_cam.png", test.images[:16], maps,
                          boxes_from_maps(maps), test.boxes[:16])
    print(f"{len(test)} test canvases; CAM mean IoU {cam['mean_iou']:.3f}, "
          f"saliency mean IoU {saliency['mean_iou']:.3f}")
    print(f"overlays: {sheet}")
    print(f"cls_acc={cam['cls_acc']:.3f} loc_acc={cam['loc_acc']:.3f} "
          f"saliency_loc_acc={saliency['loc_acc']:.3f} seconds={run.seconds:.0f}")


if __name__ == "__main__":
    main()
