"""stitchkit: the functional similarity of two networks by model stitching.

The public API, importable from the package itself (``from stitchkit import stitch``);
each name is loaded from its module on first use, so ``import stitchkit`` stays cheap
for the pipeline's stage processes.
"""

from importlib import import_module

_EXPORTS = {
    # stitching
    "stitch": "stitchkit.stitching.trainer",
    "StitchRecipe": "stitchkit.stitching.recipe",
    "StitchResult": "stitchkit.stitching.recipe",
    "MODES": "stitchkit.stitching.objectives",
    # models
    "GraphSplit": "stitchkit.models.graph_split",
    "load_model": "stitchkit.models.checkpoints",
    "save_model": "stitchkit.models.checkpoints",
    "PreparedDataset": "stitchkit.data.prepared",
    # testbeds
    "ShortcutSetting": "stitchkit.data.shortcuts",
    "make_shortcut_dataset": "stitchkit.data.shortcuts",
    "AdversarialTraining": "stitchkit.models.attacks",
    "RobustEvaluation": "stitchkit.measures.robustness",
    "robust_accuracy": "stitchkit.measures.robustness",
    "IriSettings": "stitchkit.testbeds.iris",
    # measures
    "linear_cka": "stitchkit.measures.cka",
    "AgreementTally": "stitchkit.measures.agreement",
    "MEASURES": "stitchkit.measures.similarity",
    # comparing two models
    "compare": "stitchkit.compare.comparison",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'stitchkit' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
