"""Stitching points of any torch.fx-traceable model, derived from its graph.

Given a model and an ordered list of module paths (e.g. ``layer2.1`` in torchvision's
``resnet18``, ``features.22`` in ``vgg16_bn``, ``encoder.layers.encoder_layer_3`` in a
``VisionTransformer``), the model's graph is cut after each of those modules' outputs:
segment k maps the activation at point k - 1 (the input for k = 1) to the activation at
point k, and the head maps the activation at the last point to the output. A point is a
valid cut only if nothing after it reads anything computed before it (a residual
connection that skips over the point, say); otherwise the error names that point.

With ``classifier`` (the module path of the final classifier, e.g. ``fc``), the model also
gives its penultimate features: the classifier's input (for CKA, say).

The segments are GraphModules that share the model's modules, parameters and buffers:
the model stays their owner (its state dict, its device, its train/eval mode). Python
branches on ``self.training`` are fixed at the mode the model was traced in; modules
such as BatchNorm and Dropout follow the mode as usual.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import fx, nn

from stitchkit.common.errors import UserError


class _PointTracer(fx.Tracer):
    """Traces through every module but the stitching points (and the classifier), which
    stay single calls."""

    def __init__(self, points: Sequence[str]):
        super().__init__()
        self.points = set(points)
        self.broken_at: str | None = None  # the innermost module whose tracing failed

    def is_leaf_module(self, module: nn.Module, qualname: str) -> bool:
        return qualname in self.points or super().is_leaf_module(module, qualname)

    def call_module(
        self,
        module: nn.Module,
        forward: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        try:
            return super().call_module(module, forward, args, kwargs)
        except Exception:
            if self.broken_at is None:
                self.broken_at = self.path_of_module(module)
            raise


class _InputOnly(nn.Module):
    """The model called with its input alone: while tracing, its other arguments keep
    their defaults instead of becoming graph inputs (timm's ViT takes ``attn_mask``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _trace(model: nn.Module, points: Sequence[str]) -> fx.GraphModule:
    modules = dict(model.named_modules())
    missing = [p for p in points if p not in modules]
    if missing:
        raise UserError(
            f"stitching point {missing[0]!r} is not a module of {type(model).__name__}; "
            "give module paths as in model.named_modules()"
        )
    if len(set(points)) < len(points):
        raise UserError(f"stitching points {list(points)} name a module twice")
    wrapped, tracer = _InputOnly(model), _PointTracer([f"model.{p}" for p in points])
    try:
        graph = tracer.trace(wrapped)
    except Exception as exc:  # fx raises many kinds; one line names the module and cause
        path = (tracer.broken_at or "model").removeprefix("model").removeprefix(".")
        where = f"module {path!r}" if path else "its own forward"
        raise UserError(
            f"{type(model).__name__} cannot be traced by torch.fx at {where} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); make "
            "that module a stitching point or part of one, or give the model "
            "forward_to/forward_from"
        ) from None
    return fx.GraphModule(wrapped, graph)


def _point_nodes(traced: fx.GraphModule, points: Sequence[str]) -> list[fx.Node]:
    """The one call of each of ``points`` in the graph, checked to be in forward order."""
    calls: dict[str, list[fx.Node]] = {p: [] for p in points}
    for node in traced.graph.nodes:
        path = node.target.removeprefix("model.") if node.op == "call_module" else None
        if path in calls:
            calls[path].append(node)
    order = {node: n for n, node in enumerate(traced.graph.nodes)}
    nodes = []
    for point in points:
        if len(calls[point]) != 1:
            found = "never called" if not calls[point] else "called more than once"
            raise UserError(f"stitching point {point!r} is {found} in the forward pass")
        nodes.append(calls[point][0])
    for before, after, name in zip(nodes, nodes[1:], points[1:], strict=False):
        if order[after] < order[before]:
            raise UserError(
                f"stitching point {name!r} runs before the point listed ahead of it; "
                "list points in forward order"
            )
    return nodes


def _segment(traced: fx.GraphModule, start: fx.Node | None, stop: fx.Node | None, name: str):
    """The graph from ``start``'s output (the model's input when None) to ``stop``'s
    output (the model's output when None), as a GraphModule of one input; ``name`` is
    the stitching point at ``start``."""
    graph, env = fx.Graph(), {}
    nodes = list(traced.graph.nodes)
    inputs = [n for n in nodes if n.op == "placeholder"]
    if start is None:
        if len(inputs) != 1:
            raise UserError(f"stitching needs a model of one input; it takes {len(inputs)}")
        start = inputs[0]
    env[start] = graph.placeholder("activation")
    begin = nodes.index(start) + 1
    end = len(nodes) if stop is None else nodes.index(stop) + 1

    def mapped(arg: fx.Node) -> fx.Node:
        if arg not in env:
            if arg.op != "get_attr":  # a value from before the cut: not a cut
                raise UserError(
                    f"stitching point {name!r} is not a cut of the graph: "
                    f"{arg.name!r}, computed before it, is also read after it; "
                    "pick the output of a whole block"
                )
            env[arg] = graph.node_copy(arg)
        return env[arg]

    for node in nodes[begin:end]:
        if node.op == "output":
            graph.output(fx.map_arg(node.args[0], mapped))
        elif node.op != "get_attr":
            env[node] = graph.node_copy(node, mapped)
    if stop is not None:
        graph.output(env[stop])
    segment = fx.GraphModule(traced, graph)
    segment.graph.eliminate_dead_code()
    segment.delete_all_unused_submodules()
    segment.recompile()
    return segment


class GraphSplit(nn.Module):
    """``model`` cut at ``points`` (module paths, in forward order), as a Stitchable
    (stitchable.py): ``forward_to(x, k)`` is the activation at point k (1-based),
    ``forward_from(h, k)`` the output from it, and ``forward_from(forward_to(x, k), k)
    == model(preprocess(x))`` exactly. Inputs are images in [0, 1] of ``input_shape``
    (channels, height, width); ``preprocess`` (a module, e.g. torchvision's Normalize)
    maps them to what ``model`` expects. ``classifier``, the module path of the final
    classifier (after the last point), enables ``features_from``."""

    def __init__(
        self,
        model: nn.Module,
        points: Sequence[str],
        input_shape: Sequence[int],
        preprocess: nn.Module | None = None,
        classifier: str | None = None,
    ):
        super().__init__()
        if not points:
            raise UserError("give at least one stitching point (a module path)")
        self.model, self.points = model, list(points)
        self.preprocess = preprocess or nn.Identity()
        self.input_shape = tuple(input_shape)
        traced = _trace(model, self.points + ([classifier] if classifier else []))
        nodes = _point_nodes(traced, self.points)
        starts, stops, names = [None, *nodes], [*nodes, None], ["the input", *self.points]
        self._parts = [  # not registered: the model owns every parameter
            _segment(traced, start, stop, name)
            for start, stop, name in zip(starts, stops, names, strict=True)
        ]
        self._features = None  # the last point -> the classifier's input
        self.classifier_path = classifier
        if classifier:
            (head,) = _point_nodes(traced, [classifier])
            order = list(traced.graph.nodes)
            if order.index(head) < order.index(nodes[-1]) or len(head.all_input_nodes) != 1:
                raise UserError(
                    f"classifier {classifier!r} must be one module called on one input after "
                    f"the last stitching point {self.points[-1]!r}"
                )
            self._features = _segment(traced, nodes[-1], head.all_input_nodes[0], self.points[-1])
        self.num_classes = self._output_size()

    def _output_size(self) -> int:
        parameter = next(self.model.parameters(), None)
        device = parameter.device if parameter is not None else "cpu"
        modes = {module: module.training for module in self.modules()}
        self.eval()  # a probe must not move BatchNorm statistics
        try:
            with torch.no_grad():
                out = self(torch.zeros(1, *self.input_shape, device=device))
        except RuntimeError as exc:
            raise UserError(
                f"{type(self.model).__name__} fails on inputs of shape {self.input_shape} "
                f"({str(exc).splitlines()[0]}); give the input_shape it takes"
            ) from None
        finally:
            for module, training in modes.items():
                module.training = training
        if out.dim() != 2:
            raise UserError(
                f"{type(self.model).__name__} returns shape {tuple(out.shape)}; stitching "
                "needs logits of shape (batch, classes)"
            )
        return out.shape[1]

    @property
    def num_points(self) -> int:
        return len(self.points)

    def check_point(self, k: int) -> None:
        if not 1 <= k <= self.num_points:
            raise UserError(f"stitching point {k} is out of range; use 1..{self.num_points}")

    def num_hint_terms(self, k: int) -> int:
        return self.num_points - k + 1

    def forward_to(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Activation at point k (the front f_{<=k})."""
        self.check_point(k)
        x = self.preprocess(x)
        for segment in self._parts[:k]:
            x = segment(x)
        return x

    def activations(self, x: torch.Tensor, points: Iterable[int]) -> dict[int, torch.Tensor]:
        """Activations at each of ``points`` from one pass up to the deepest."""
        for k in points:
            self.check_point(k)
        wanted, out, x = set(points), {}, self.preprocess(x)
        for k, segment in enumerate(self._parts[: max(wanted)], start=1):
            x = segment(x)
            if k in wanted:
                out[k] = x
        return out

    def end_terms(self, h: torch.Tensor, k: int) -> Iterator[torch.Tensor]:
        """Lazily, from the activation ``h`` at point k: h, the activations at the later
        points, then the output."""
        self.check_point(k)
        yield h
        for part in self._parts[k:]:
            h = part(h)
            yield h

    def features_from(self, h: torch.Tensor, k: int) -> torch.Tensor:
        """The penultimate features (the classifier's input) from the activation at
        point k."""
        self.check_point(k)
        if self._features is None:
            raise UserError(
                f"{type(self.model).__name__} has no penultimate features here; "
                "give GraphSplit the classifier's module path"
            )
        for part in self._parts[k:-1]:
            h = part(h)
        return self._features(h)

    def classifier_module(self) -> nn.Module:
        """The final classifier (its module path given as ``classifier``)."""
        if self.classifier_path is None:
            raise UserError("give GraphSplit the classifier's module path")
        return self.model.get_submodule(self.classifier_path)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate features of inputs ``x``."""
        return self.features_from(self.forward_to(x, self.num_points), self.num_points)

    def forward_from(self, h: torch.Tensor, k: int) -> torch.Tensor:
        """The output from the activation at point k (the end g_{>k})."""
        self.check_point(k)
        for part in self._parts[k:]:
            h = part(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from(self.forward_to(x, self.num_points), self.num_points)
