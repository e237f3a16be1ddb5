"""The initial stitch layers of a panel: per (front point, end point) pair, DM's
least-squares solution (direct matching) on a few training images, or a seeded random
layer where the activations' kinds have no such solution."""

from collections.abc import Collection
from functools import cached_property

import torch

from stitchkit.common.errors import UserError
from stitchkit.common.sampling import seeded_subset
from stitchkit.data import shortcuts
from stitchkit.data.augment import to_unit_float
from stitchkit.data.prepared import PreparedDataset
from stitchkit.models.stitchable import Stitchable
from stitchkit.stitching.layers import (
    StitchLayer,
    activation_kind,
    fit_direct_matching,
    has_least_squares,
    stitch_layer,
)
from stitchkit.stitching.recipe import StitchRecipe, StitchSpec


@torch.no_grad()
def point_shapes(
    model: Stitchable, image_shape: tuple[int, ...], device: torch.device | str
) -> dict[int, tuple[int, ...]]:
    """Per-sample shape of ``model``'s activation at every stitching point."""
    x = torch.zeros(1, *image_shape, device=device)
    acts = model.activations(x, range(1, model.num_points + 1))
    return {k: tuple(a.shape[1:]) for k, a in acts.items()}


class InitialLayers:
    """The initial layers between ``front`` and ``end`` (prepared, in eval mode) for
    stitches from ``front_points``, fitted on ``data`` with ``recipe``'s dm_samples and
    dm_seed."""

    def __init__(
        self,
        front,
        end,
        data: PreparedDataset,
        recipe: StitchRecipe,
        device: torch.device,
        front_points: list[int],
    ):
        self.front, self.end, self.data, self.recipe = front, end, data, recipe
        self.device, self.front_points = device, front_points
        self.shortcut = shortcuts.shortcut_of(data)

    @torch.no_grad()
    def initial(
        self, specs: Collection[StitchSpec]
    ) -> dict[tuple[int, int], tuple[dict, float | None]]:
        """Initial layer state and DM residual for every (i, j) pair: the least-squares
        solution on dm_samples training images drawn with dm_seed (with their shortcut
        markers, if any), front and end in eval mode; between kinds of activation with no
        such solution (stitch_layer.py), a random initialisation seeded by dm_seed and no
        residual."""
        r, data = self.recipe, self.data
        pairs = sorted({(s.front_point, s.end_point) for s in specs})
        for i, j in sorted({(s.front_point, s.end_point) for s in specs if not s.trained}):
            if has_least_squares(self.front_shapes[i], self.end_shapes[j]):
                continue
            raise UserError(
                f"mode dm has no least-squares solution from the front's "
                f"{activation_kind(self.front_shapes[i])} at point {i} to the end's "
                f"{activation_kind(self.end_shapes[j])} at point {j}; drop dm from the "
                "modes, or stitch points of one kind"
            )
        keep = seeded_subset(len(data.train_labels), r.dm_samples, r.dm_seed)
        images, labels = data.train_images[keep], data.train_labels[keep]
        if self.shortcut is not None:
            generator = torch.Generator().manual_seed(r.dm_seed)
            images = self.shortcut.stamp(
                images, labels, generator, carry=self.shortcut.train_mask[keep]
            )
        x = to_unit_float(images.to(self.device))
        front_acts = self.front.activations(x, self.front_points)
        end_acts = self.end.activations(x, sorted({j for _, j in pairs}))
        inits = {}
        for i, j in pairs:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(r.dm_seed)
                layer = self.blank(i, j).to(self.device)
            residual = None
            if layer.solvable:
                residual = fit_direct_matching(layer, front_acts[i], end_acts[j])
            inits[(i, j)] = ({k: v.clone() for k, v in layer.state_dict().items()}, residual)
        return inits

    def blank(self, i: int, j: int) -> StitchLayer:
        """A fresh stitch layer from the front's point i to the end's point j."""
        return stitch_layer(self.front_shapes[i], self.end_shapes[j])

    def layer_from(
        self, inits: dict[tuple[int, int], tuple[dict, float | None]], spec: StitchSpec
    ) -> StitchLayer:
        """``spec``'s layer, on the device, in its pair's initial state of ``inits``."""
        state, _ = inits[(spec.front_point, spec.end_point)]
        layer = self.blank(spec.front_point, spec.end_point).to(self.device)
        layer.load_state_dict(state)
        return layer

    @cached_property
    def front_shapes(self) -> dict[int, tuple[int, ...]]:
        """Per-sample shape of the front model's activation at every stitching point."""
        return point_shapes(self.front, self.data.image_shape, self.device)

    @cached_property
    def end_shapes(self) -> dict[int, tuple[int, ...]]:
        """Per-sample shape of the end model's activation at every stitching point."""
        return point_shapes(self.end, self.data.image_shape, self.device)
