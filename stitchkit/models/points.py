"""Candidate stitching points of any torch.fx-traceable model, found automatically.

A candidate is a module whose output is a block's or a stage's: a module with children
(a residual block, a transformer block, a stage of blocks), or, inside a flat
``nn.Sequential`` of layers (VGG's ``features``), an activation or pooling layer. One
forward pass with hooks gives their order and output shapes. Dropped: a module called
more than once; one that returns what a module inside it returned (a stage, whose last
block is kept); one that holds another point (a cut inside it would be lost); the
model's output (the logits); and any output that a residual connection skips over
(GraphSplit refuses it as a cut). The rest, in forward order, can all be cut at
together.
"""

from dataclasses import dataclass

import torch
from torch import nn

from stitchkit.common.errors import UserError
from stitchkit.models.graph_split import GraphSplit

CUT_LAYERS = (nn.ReLU, nn.GELU, nn.SiLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)


@dataclass(frozen=True)
class Point:
    """A stitching point: the module path and the activation's shape (without batch)."""

    name: str
    shape: tuple[int, ...]


def _is_candidate(name: str, module: nn.Module, parents: dict[str, nn.Module]) -> bool:
    if not name:
        return False  # the model itself
    if any(True for _ in module.children()):
        return True
    parent = parents[name.rpartition(".")[0]]
    flat = isinstance(parent, nn.Sequential) and not any(
        any(True for _ in child.children()) for child in parent.children()
    )
    return flat and isinstance(module, CUT_LAYERS)


def candidate_points(model: nn.Module, input_shape: tuple[int, ...]) -> list[Point]:
    """The candidate stitching points of ``model`` on inputs of ``input_shape`` (channels,
    height, width), in forward order (see the module's docstring)."""
    modules = dict(model.named_modules())
    candidates = {name for name, m in modules.items() if _is_candidate(name, m, modules)}
    calls: list[tuple[str, torch.Tensor]] = []
    hooks = [
        modules[name].register_forward_hook(
            lambda _m, _in, out, name=name: calls.append((name, out))
        )
        for name in candidates
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(torch.zeros(1, *input_shape, device=_device(model)))
    except RuntimeError as exc:
        raise UserError(
            f"{type(model).__name__} fails on inputs of shape {tuple(input_shape)} "
            f"({str(exc).splitlines()[0]}); give the input shape it takes"
        ) from None
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    counts: dict[str, int] = {}
    for name, _ in calls:
        counts[name] = counts.get(name, 0) + 1
    points, seen = [], {(output.data_ptr(), tuple(output.shape))}  # not the output
    for name, out in calls:  # a block's hook fires before its stage's: keep the block
        key = (out.data_ptr(), tuple(out.shape)) if isinstance(out, torch.Tensor) else None
        if counts[name] != 1 or key is None or key in seen:
            continue
        seen.add(key)
        points.append(Point(name, tuple(out.shape[1:])))
    cuts = [p for p in points if _cuts(model, p.name, input_shape)]
    return [p for p in cuts if not any(q.name.startswith(p.name + ".") for q in cuts)]


@torch.no_grad()
def numbered_points(model) -> list[Point]:
    """The points 1..num_points of a stitchkit model (a Stitchable), with their shapes."""
    x = torch.zeros(1, *model.input_shape, device=_device(model))
    acts = model.eval().activations(x, range(1, model.num_points + 1))
    return [Point(str(k), tuple(acts[k].shape[1:])) for k in sorted(acts)]


def _cuts(model: nn.Module, name: str, input_shape: tuple[int, ...]) -> bool:
    """Whether the model can be cut after ``name`` (no residual connection skips it)."""
    try:
        GraphSplit(model, [name], input_shape)
    except UserError:
        return False
    return True


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
