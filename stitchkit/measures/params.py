"""params.yaml's `robust_eval:`: the settings of every robust accuracy."""

from stitchkit.common.errors import UserError
from stitchkit.common.schema import validated
from stitchkit.measures.robustness import RobustEvaluation


def robust_evaluation(params: dict) -> RobustEvaluation:
    """The `robust_eval:` settings of every robust accuracy (Table 1, adversarial panels)."""
    if params.get("robust_eval") is None:
        raise UserError(
            "params.yaml has no `robust_eval:` section; add one (see docs/parameters.md)"
        )
    return validated(RobustEvaluation, params["robust_eval"], "robust_eval")
