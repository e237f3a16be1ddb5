"""The papers' claims as checks over one run's results (the `takeaways` stage), one
module per section of the papers; CHECKS lists them in the papers' order.

A check finds the results that play its claim's part from params.yaml itself (an
adversarial panel at alpha = 1 between two models trained without adversarial
training, a cross-task panel on shortcut data, a cross-layer panel, ...), computes the
claim's *effect* in each (a difference of accuracies or agreements, say), with its 95%
bootstrap interval over test images (run_results.py: paired across modes on the same
images), and judges it against a threshold of `takeaways:` (verdicts.py): holds,
contradicted or inconclusive; not measured when no result plays the part. A claim over
several panels holds only if every panel holds, and is contradicted if any is.
"""

from stitchkit.report.claims.adversarial import (
    alignment_interpolates,
    cka_ranks_differently,
    fabricated_robustness,
    fula_at_or_above_hint,
    robustness_costs_clean_accuracy,
)
from stitchkit.report.claims.base import Run, TakeawayThresholds, Verdict
from stitchkit.report.claims.cross_layer import (
    averaging_raises_self_accuracy,
    fula_directional,
    fula_terms_move_gradually,
)
from stitchkit.report.claims.information import iris_fula_separates_bias, natural_data_hides_bias
from stitchkit.report.claims.shortcuts import shortcuts_cost_clean_accuracy, shortcuts_exploited
from stitchkit.report.claims.subsets import (
    subsets_fula_leads_at_fewest_classes,
    subsets_task_modes_degrade_more,
)
from stitchkit.report.run_results import RunResults

CHECKS = (
    fabricated_robustness,
    robustness_costs_clean_accuracy,
    alignment_interpolates,
    fula_at_or_above_hint,
    cka_ranks_differently,
    shortcuts_exploited,
    shortcuts_cost_clean_accuracy,
    subsets_task_modes_degrade_more,
    subsets_fula_leads_at_fewest_classes,
    fula_directional,
    averaging_raises_self_accuracy,
    fula_terms_move_gradually,
    iris_fula_separates_bias,
    natural_data_hides_bias,
)
# each check's claim name, in the papers' order
CLAIM_NAMES = tuple(check.__name__.replace("_", "-") for check in CHECKS)


def check_claims(
    params: dict, results: RunResults, thresholds: TakeawayThresholds
) -> list[Verdict]:
    """Every check of CHECKS on this run, in the papers' order."""
    run = Run(params, results, thresholds)
    return [check(run) for check in CHECKS]
