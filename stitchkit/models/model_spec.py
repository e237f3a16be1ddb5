"""A researcher's model, named by one string (SPEC), for `stitchkit layers` and compare.

SPEC is one of:

- ``torchvision:NAME[,KEY=VALUE...]``: ``torchvision.models.get_model(NAME, **kwargs)``,
  untrained (initialised from seed 0) unless ``weights=DEFAULT`` (which downloads);
- ``timm:NAME[,KEY=VALUE...]``: ``timm.create_model(NAME, **kwargs)``;
- either of those, then ``@PATH``: with the state dict at PATH (loaded with
  ``weights_only=True``);
- the path of a stitchkit model file (`models/<id>.pt`).

Values are Python literals (``num_classes=10``, ``img_size=32``), else strings.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from stitchkit.common.errors import UserError
from stitchkit.models.checkpoints import load_model

SOURCES = ("torchvision", "timm")
IMAGENET_SHAPE = (3, 224, 224)


@dataclass
class NamedModel:
    """A model from a SPEC, the (channels, height, width) its images take, and whether it
    is a stitchkit model (numbered points) rather than one cut at module paths."""

    model: nn.Module
    input_shape: tuple[int, int, int]
    stitchkit: bool


def _kwargs(items: list[str], spec: str) -> dict:
    kwargs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{spec}: {item!r} is not KEY=VALUE (e.g. num_classes=10)")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value
    return kwargs


def _build(source: str, name: str, kwargs: dict, spec: str) -> tuple[nn.Module, tuple]:
    if source == "torchvision":
        import torchvision

        if name not in torchvision.models.list_models():
            raise UserError(
                f"{spec}: no torchvision model {name!r}; torchvision.models.list_models() "
                "names them"
            )
        build, shape = torchvision.models.get_model, IMAGENET_SHAPE
    else:
        import timm

        if not timm.is_model(name):
            raise UserError(f"{spec}: no timm model {name!r}; timm.list_models() names them")
        build, shape = timm.create_model, None
    try:
        with torch.random.fork_rng():  # an untrained model is the same on every call
            torch.manual_seed(0)
            model = build(name, **kwargs)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise UserError(f"{spec}: {name} does not build with {kwargs}: {exc}") from None
    if shape is None:  # timm's own input size, or the one asked for
        channels, height, width = model.pretrained_cfg.get("input_size", IMAGENET_SHAPE)
        size = kwargs.get("img_size", (height, width))
        size = (size, size) if isinstance(size, int) else tuple(size)
        shape = (kwargs.get("in_chans", channels), *size)
    return model, shape


def _load_state(model: nn.Module, path: str, spec: str) -> None:
    if not Path(path).is_file():
        raise UserError(f"{spec}: no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or non-tensor file
        raise UserError(f"{spec}: {path} is not a state dict torch can load ({exc})") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        first = str(exc).splitlines()[1 if len(str(exc).splitlines()) > 1 else 0].strip()
        raise UserError(f"{spec}: the checkpoint does not fit the architecture ({first})") from None


def named_model(spec: str) -> NamedModel:
    """The model that ``spec`` names (see the module's docstring), in eval mode."""
    source, sep, rest = spec.partition(":")
    if not sep or source not in SOURCES:
        if not Path(spec).is_file():
            raise UserError(
                f"{spec!r} is neither a model file nor torchvision:NAME or timm:NAME "
                "(e.g. torchvision:resnet18,num_classes=10)"
            )
        model = load_model(spec)
        return NamedModel(model, tuple(model.input_shape), stitchkit=True)
    description, _, checkpoint = rest.partition("@")
    name, *items = description.split(",")
    model, shape = _build(source, name, _kwargs(items, spec), spec)
    if checkpoint:
        _load_state(model, checkpoint, spec)
    return NamedModel(model.eval(), shape, stitchkit=False)
