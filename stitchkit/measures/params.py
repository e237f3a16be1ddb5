"""params.yaml's `robust_eval:` and `stitch_robust_eval:`: the settings of every robust
accuracy."""

from stitchkit.common.errors import UserError
from stitchkit.common.params_file import merged
from stitchkit.measures.robustness import RobustEvaluation, with_preset


def _shared(params: dict) -> dict:
    if params.get("robust_eval") is None:
        raise UserError(
            "params.yaml has no `robust_eval:` section; add one (see docs/parameters.md)"
        )
    return with_preset(params["robust_eval"])


def _merged(params: dict, overrides: dict, where: str) -> RobustEvaluation:
    """`robust_eval:` with ``overrides`` over it; a preset named in the overrides replaces
    the fields `robust_eval:` wrote, and the fields written beside it win over both."""
    overrides = with_preset(overrides)
    return merged(RobustEvaluation, _shared(params), overrides, "robust_eval", where)


def robust_evaluation(params: dict, model_id: str) -> RobustEvaluation:
    """The settings of ``model_id``'s own robust accuracy (Table 1): `robust_eval:`, with
    `models.<id>.robust_eval` over them."""
    overrides = params["models"][model_id].get("robust_eval") or {}
    return _merged(params, overrides, f"models.{model_id}.robust_eval")


def stitch_robust_evaluation(params: dict) -> RobustEvaluation:
    """The settings of every stitch's robust accuracy (adversarial panels):
    `robust_eval:`, with `stitch_robust_eval:` over them (absent or empty: the same)."""
    return _merged(params, params.get("stitch_robust_eval") or {}, "stitch_robust_eval")
