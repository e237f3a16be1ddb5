"""params.yaml's `robust_eval:`: the settings of every robust accuracy."""

from stitchkit.common.errors import UserError
from stitchkit.common.params_file import merged
from stitchkit.measures.robustness import RobustEvaluation


def robust_evaluation(params: dict, model_id: str | None = None) -> RobustEvaluation:
    """The `robust_eval:` settings of every robust accuracy (adversarial panels); with
    ``model_id``, of that model's own (Table 1), with `models.<id>.robust_eval` over them."""
    if params.get("robust_eval") is None:
        raise UserError(
            "params.yaml has no `robust_eval:` section; add one (see docs/parameters.md)"
        )
    overrides = {}
    if model_id is not None:
        overrides = params["models"][model_id].get("robust_eval") or {}
    where = f"models.{model_id}.robust_eval"
    return merged(RobustEvaluation, params["robust_eval"], overrides, "robust_eval", where)
