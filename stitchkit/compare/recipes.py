"""The stitch recipes a compare names: ``fast`` for a first look in minutes on a CPU, and
``paper``, the papers' recipe (Appendix A.2: StitchRecipe's defaults, 30 epochs of Adam
with drops at 10 and 20, crops and flips)."""

import dataclasses

from stitchkit.common.errors import UserError
from stitchkit.data.prepared import PreparedDataset
from stitchkit.stitching.recipe import StitchRecipe

RECIPES = {
    # 2 epochs on 4,096 training images, one drop, scored on 2,000 test images
    "fast": StitchRecipe(
        epochs=2,
        batch_size=64,
        lr_drops=(1.5,),
        crop_padding=0,
        hflip=False,
        train_samples=4096,
        eval_samples=2000,
        eval_batch_size=250,
    ),
    "paper": StitchRecipe(),
}


def named_recipe(recipe: str | StitchRecipe, data: PreparedDataset) -> StitchRecipe:
    """``recipe`` itself, or the preset it names with its image counts capped at what
    ``data`` has."""
    if isinstance(recipe, StitchRecipe):
        return recipe
    if recipe not in RECIPES:
        raise UserError(f"no stitch recipe {recipe!r}; choose one of {', '.join(RECIPES)}")

    def cap(count: int | None, available: int) -> int | None:
        return None if count is None or count >= available else count

    preset = RECIPES[recipe]
    return dataclasses.replace(
        preset,
        train_samples=cap(preset.train_samples, len(data.train_labels)),
        eval_samples=cap(preset.eval_samples, len(data.test_labels)),
    )
