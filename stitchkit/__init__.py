"""stitchkit: the functional similarity of two networks by model stitching.

The public API, importable from the package itself (``from stitchkit import stitch``);
each name is loaded from its module on first use, so ``import stitchkit`` stays cheap
for the pipeline's stage processes.
"""

from importlib import import_module

_EXPORTS = {
    # stitching
    "stitch": "stitchkit.stitching",
    "StitchRecipe": "stitchkit.stitch_recipe",
    "StitchResult": "stitchkit.stitch_recipe",
    "MODES": "stitchkit.objectives",
    # models
    "GraphSplit": "stitchkit.graph_split",
    "load_model": "stitchkit.checkpoints",
    "save_model": "stitchkit.checkpoints",
    "PreparedDataset": "stitchkit.prepared",
    # testbeds
    "ShortcutSetting": "stitchkit.shortcuts",
    "make_shortcut_dataset": "stitchkit.shortcuts",
    "AdversarialTraining": "stitchkit.attacks",
    "RobustEvaluation": "stitchkit.robustness",
    "robust_accuracy": "stitchkit.robustness",
    "IriSettings": "stitchkit.iris",
    # measures
    "linear_cka": "stitchkit.cka",
    "AgreementTally": "stitchkit.agreement",
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
