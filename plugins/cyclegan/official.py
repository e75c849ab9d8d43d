"""``ganrun import cyclegan-official``: a generator saved by the official PyTorch CycleGAN.

The official code saves ``net.state_dict()`` to ``<epoch>_net_G_A.pth`` (the pretrained
models users download are ``latest_net_G.pth``). Its ``ResnetGenerator`` keeps layers in one
``nn.Sequential`` named ``model``, as :mod:`ganrun_plugins.cyclegan.networks` does, so keys
map one to one. As the official loader does, a ``module.`` prefix (DataParallel) and the
running statistics that PyTorch < 0.4 stored for InstanceNorm are dropped. The file is read
with ``torch.load(weights_only=True)``: it is never unpickled into code.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from ganrun.checkpoint import export_generator
from ganrun.errors import UserError
from ganrun_plugins.cyclegan.networks import ResnetGenerator

NETWORKS = {"G_A": "genAB", "G_B": "genBA"}  # official name -> ganrun's
_STALE = ("running_mean", "running_var", "num_batches_tracked")  # InstanceNorm: no stats

RECIPE = """\
# Imported from an official CycleGAN generator ({source}); test-time preprocessing:
# images resized to crop_size.
method: cyclegan
name: {name}
data:
  name: unaligned
  load_size: {size}
  crop_size: {size}
  channels: {in_channels}
model:
  netG: resnet_{blocks}blocks
  ngf: {ngf}
  channels: {in_channels}
"""


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of an official ``.pth``, cleaned as the official loader cleans them."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"{path}: not a PyTorch state dict readable without running code "
                        f"({type(e).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path}: not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()
            if not k.endswith(_STALE)}


def build_matching(state: dict[str, torch.Tensor]) -> tuple[ResnetGenerator, int]:
    """A ResnetGenerator shaped like ``state`` (ngf, blocks, channels read from it)."""
    first, last = state.get("model.1.weight"), None
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.conv_block", k))}
    n_blocks = len(blocks) if len(blocks) in (6, 9) else 9
    last = state.get(f"model.{n_blocks + 17}.weight")
    ngf = first.shape[0] if first is not None and first.dim() == 4 else 64
    in_ch = first.shape[1] if first is not None and first.dim() == 4 else 3
    out_ch = last.shape[0] if last is not None and last.dim() == 4 else 3
    return ResnetGenerator(in_ch, out_ch, ngf, n_blocks), n_blocks


def check_fits(net: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse, naming the first key that is missing, unexpected or of another shape."""
    mine = net.state_dict()
    for key in list(mine) + [k for k in state if k not in mine]:
        if key not in state:
            raise UserError(f"{path}: not an official CycleGAN ResnetGenerator: key '{key}' "
                            f"is missing")
        if key not in mine:
            raise UserError(f"{path}: not an official CycleGAN ResnetGenerator: unexpected "
                            f"key '{key}'")
        if mine[key].shape != state[key].shape:
            raise UserError(f"{path}: not an official CycleGAN ResnetGenerator: key '{key}' "
                            f"has shape {tuple(state[key].shape)}, expected "
                            f"{tuple(mine[key].shape)}")


def import_official(source: str | Path, out: str | Path, network: str | None = None,
                    size: int = 256) -> Path:
    """Convert the official generator ``source`` into the ganrun generator file ``out``.

    ``network``: ``genAB`` or ``genBA`` (also the official ``G_A`` / ``G_B``); by default
    read from the file name (``..._G_B.pth`` is genBA), else genAB.
    """
    source, out = Path(source), Path(out)
    if network is None:
        network = "genBA" if re.search(r"G_B\b|G_B\.", source.name) else "genAB"
    network = NETWORKS.get(network, network)
    if network not in NETWORKS.values():
        raise UserError(f"--network: '{network}' is not genAB or genBA (G_A or G_B)")
    state = read_state_dict(source)
    net, n_blocks = build_matching(state)
    check_fits(net, state, source)
    if net.model[1].in_channels != net.model[-2].out_channels:
        raise UserError(f"{source}: translates {net.model[1].in_channels} channels to "
                        f"{net.model[-2].out_channels}; ganrun's cyclegan keeps the channels")
    net.load_state_dict(state)
    recipe = RECIPE.format(source=source.name, name=out.stem, size=size, blocks=n_blocks,
                           ngf=net.model[1].out_channels, in_channels=net.model[1].in_channels)
    return export_generator(out, net, recipe, network)
