"""The two sides of a compare: each model as a Stitchable on the data's images, and the
points at which it is compared.

A model is a SPEC string (stitchkit.models.model_spec), a NamedModel, a Stitchable
(stitchkit's own models, a GraphSplit) or any other ``nn.Module`` taking the data's
images. Points are ``"auto"`` (every candidate point: stitchkit.models.points),
``"auto:N"`` (N of them, evenly spaced, the first and the last included) or names:
a stitchkit model's point numbers, else module paths. With ``auto`` the model is cut at
every candidate, so FuLA's terms after a point are those of every later block; with
names, at those names only.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from stitchkit.common.errors import UserError
from stitchkit.data.prepared import PreparedDataset
from stitchkit.models.adapt import stitchable
from stitchkit.models.model_spec import NamedModel, named_model
from stitchkit.models.points import Point, numbered_points

Points = str | Sequence[str | int]


@dataclass
class Side:
    """A compared model: its label, the Stitchable, and the compared points, each as its
    number in the Stitchable and its Point (name, activation shape)."""

    label: str
    model: nn.Module
    points: dict[int, Point]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.points.values()]


def _is_stitchable(model: nn.Module) -> bool:
    return all(hasattr(model, a) for a in ("forward_to", "forward_from", "num_points"))


def _named(model: str | NamedModel | nn.Module, data: PreparedDataset) -> NamedModel:
    if isinstance(model, str):
        return named_model(model)
    if isinstance(model, NamedModel):
        return model
    if _is_stitchable(model):
        return NamedModel(model.eval(), tuple(model.input_shape), stitchkit=True)
    return NamedModel(model.eval(), data.image_shape, stitchkit=False)


def evenly_spaced(names: list, count: int) -> list:
    """``count`` of ``names``, evenly spaced, the first and the last included."""
    picks = np.unique(np.linspace(0, len(names) - 1, min(count, len(names))).round().astype(int))
    return [names[i] for i in picks]


def _auto_count(points: Points) -> int | None:
    """None for "auto", N for "auto:N"; raises for other strings."""
    kind, _, count = points.partition(":")
    if kind != "auto" or (count and not (count.isdigit() and int(count) >= 1)):
        raise UserError(f"points {points!r}: give auto, auto:N (N >= 1) or a list of names")
    return int(count) if count else None


def compared_side(
    model: str | NamedModel | nn.Module, data: PreparedDataset, points: Points, label: str
) -> Side:
    """``model`` made stitchable on ``data``'s images, with its compared ``points``."""
    named = _named(model, data)
    auto = isinstance(points, str)
    count = _auto_count(points) if auto else None
    cuts = None if named.stitchkit or auto else [str(p) for p in points]
    split = stitchable(named, data.image_shape, cuts)
    found = numbered_points(split)
    names = [p.name for p in found] if named.stitchkit else list(split.points)
    if auto:
        chosen = names if count is None else evenly_spaced(names, count)
    else:
        chosen = [str(p) for p in points]
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise UserError(
            f"{label}: no point {unknown[0]!r} in the model; `stitchkit layers` lists its points "
            f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})"
        )
    numbers = sorted({names.index(name) + 1 for name in chosen})
    return Side(label, split, {k: Point(names[k - 1], found[k - 1].shape) for k in numbers})


def check_classes(end: Side, data: PreparedDataset) -> None:
    """The end model's head must have one output per class of the data."""
    if end.model.num_classes != data.num_classes:
        raise UserError(
            f"the end model has {end.model.num_classes} outputs, the data {data.num_classes} "
            "classes: give the end a head of as many (e.g. torchvision:NAME,num_classes="
            f"{data.num_classes}@STATE_DICT, trained on the data)"
        )
