"""BatchNorm running statistics as swappable state, so stitches can share one end model.

Stitch training freezes every weight but, under the paper's default policy ("train"),
runs the front and end models' BatchNorm in train mode: batch statistics normalise, and
running statistics are updated. Each stitch owns its own copy of the end model's
statistics; ``swapped`` puts a stitch's copy into the shared model for one pass.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

BN_POLICIES = ("train", "frozen")
_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def batchnorms(model: nn.Module) -> dict[str, nn.modules.batchnorm._BatchNorm]:
    return {
        n: m for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    }


def bn_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every BatchNorm buffer of ``model`` (``<module>.<buffer>`` -> tensor)."""
    return {
        f"{name}.{b}": getattr(bn, b).detach().clone()
        for name, bn in batchnorms(model).items()
        for b in _BUFFERS
    }


@contextmanager
def swapped(model: nn.Module, state: dict[str, torch.Tensor] | None) -> Iterator[None]:
    """Within the block, ``model``'s BatchNorm layers read and update ``state`` in place."""
    if state is None:
        yield
        return
    modules = batchnorms(model)
    saved = {key: getattr(modules[key.rsplit(".", 1)[0]], key.rsplit(".", 1)[1]) for key in state}
    try:
        for key, tensor in state.items():
            name, buffer = key.rsplit(".", 1)
            setattr(modules[name], buffer, tensor)
        yield
    finally:
        for key, tensor in saved.items():
            name, buffer = key.rsplit(".", 1)
            setattr(modules[name], buffer, tensor)


def set_bn_mode(model: nn.Module, policy: str) -> None:
    """Eval mode everywhere, except BatchNorm in train mode under the "train" policy."""
    model.eval()
    if policy == "train":
        for bn in batchnorms(model).values():
            bn.train()


def load_into(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy saved BatchNorm buffers (from ``bn_state``) into ``model``."""
    modules = batchnorms(model)
    for key, tensor in state.items():
        name, buffer = key.rsplit(".", 1)
        getattr(modules[name], buffer).copy_(tensor)


def on_device(
    state: dict[str, torch.Tensor] | None, device: torch.device | str
) -> dict[str, torch.Tensor] | None:
    """A loaded BatchNorm state (checkpoints load onto the CPU) moved to ``device``."""
    return None if state is None else {k: v.to(device) for k, v in state.items()}
