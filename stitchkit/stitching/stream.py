"""The shared, seeded stream of training batches of a panel.

Each batch is drawn once for every stitch of the panel: on natural data, augmented and
then stamped with its class's shortcut markers (so no marker is cropped, shifted or
mirrored), one batch for every front point; on a front's IRIs, per front point the IRIs
of the batch's source images at that point, as they are.
"""

import torch

from stitchkit.common.errors import UserError
from stitchkit.common.precision import Precision
from stitchkit.common.sampling import seeded_subset
from stitchkit.data import shortcuts
from stitchkit.data.augment import crop_and_flip, to_unit_float
from stitchkit.data.prepared import PreparedDataset
from stitchkit.stitching.recipe import StitchRecipe


class BatchStream:
    """The ``recipe.train_samples`` training images of ``data`` (of the IRI sets
    ``iris``, front point -> IRIs, if given), on ``device``, in batches of
    ``recipe.batch_size`` for the stitches from ``front_points``."""

    def __init__(
        self,
        data: PreparedDataset,
        iris: dict[int, PreparedDataset] | None,
        recipe: StitchRecipe,
        front_points: list[int],
        device: torch.device,
        precision: Precision,
    ):
        self.recipe, self.front_points, self.device = recipe, front_points, device
        self.precision, self.iris = precision, iris
        self.shortcut = shortcuts.shortcut_of(data)
        sources = data if iris is None else next(iter(iris.values()))
        keep = seeded_subset(len(sources.train_labels), recipe.train_samples, 0)
        self.labels, self.carries = sources.train_labels[keep], None
        if iris is None:
            self.images = data.train_images[keep].to(device)
            if self.shortcut is not None:
                self.carries = self.shortcut.train_mask[keep]
        else:
            self.images = {k: d.train_images[keep].to(device) for k, d in iris.items()}
        self.size = len(self.labels)
        self.steps = self.size // recipe.batch_size
        if self.steps == 0:
            raise UserError(f"stitch.batch_size {recipe.batch_size} exceeds the {self.size} images")

    def batches(self, idx: torch.Tensor, generator: torch.Generator) -> list[tuple]:
        """(front points, x, y) for training batch ``idx``: on natural data one batch for
        every point (see batch); on IRIs, per front point the IRIs of the batch's
        sources at that point, as they are."""
        if self.iris is None:
            return [(self.front_points, *self.batch(idx, generator))]
        y = self.labels[idx].to(self.device)
        return [
            ([k], self.precision.images(to_unit_float(self.images[k][idx.to(self.device)])), y)
            for k in self.front_points
        ]

    def batch(self, idx: torch.Tensor, generator: torch.Generator) -> tuple:
        """Training batch ``idx`` as (x in [0, 1], labels) on the device: augmented, then
        stamped with its shortcut markers (where the image carries one)."""
        r = self.recipe
        batch = crop_and_flip(self.images[idx.to(self.device)], r.crop_padding, r.hflip, generator)
        y = self.labels[idx]
        if self.shortcut is not None:
            batch = self.shortcut.stamp(batch, y, generator, carry=self.carries[idx])
        return self.precision.images(to_unit_float(batch)), y.to(self.device)
