"""The mean of replicate panel reports: v2's figure columns average stitches of several
fronts (the authors: seeds 1-3) into one end, point by point, mode by mode; each
averaged stitch keeps the spread across its replicates."""

from stitchkit.common.errors import UserError
from stitchkit.measures.bootstrap import spread


def _mean(values: list):
    """Numbers that differ are averaged; anything else is taken from the first value.
    Dicts are averaged key by key (keys that every value has)."""
    first = values[0]
    if isinstance(first, dict):
        return {k: _mean([v[k] for v in values]) for k in first if all(k in v for v in values)}
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if numeric and any(v != first for v in values):
        return sum(values) / len(values)
    return first


def _key(result: dict) -> tuple:
    return result["mode"], result["front_point"], result["end_point"]


def mean_panel_report(reports: list[dict]) -> dict:
    """One report whose stitch results and front/end scores are the replicates' means;
    ``replicates`` names the panels. One report is returned as it is (plus the name)."""
    results = [{_key(r): r for r in report["results"]} for report in reports]
    if any(set(r) != set(results[0]) for r in results):
        names = [report["panel"] for report in reports]
        raise UserError(f"replicate panels {names} must stitch the same modes at the same points")
    mean = _mean([{k: v for k, v in report.items() if k != "results"} for report in reports])
    mean["results"] = [_mean([r[key] for r in results]) for key in results[0]]
    if len(reports) > 1:
        for averaged, key in zip(mean["results"], results[0], strict=True):
            averaged["spread"] = _spread([r[key] for r in results])
    return mean | {"replicates": [report["panel"] for report in reports]}


def _spread(replicates: list[dict]) -> dict:
    """Across the replicates of one stitch: the spread (bootstrap.spread) of its clean
    accuracy and agreement probability, apart from any interval over test images."""
    values = {
        "test_accuracy": [r.get("test_accuracy") for r in replicates],
        "agreement_prob": [
            ((r.get("agreement") or {}).get("clean") or {}).get("agreement_prob")
            for r in replicates
        ],
    }
    return {name: spread(v) for name, v in values.items() if None not in v}
