"""Every scalar of a run's stitching results, as DVC reads metrics and plots: nested
mappings of numbers (DVC ignores lists) and one curve file per panel and mode.

scalars: panels.<panel>.<mode>.<score>.p<k> (p<i>-p<j> for cross-layer pairs): the
value with its 95% interval and n ({value, low, high, n}, from the per-sample outputs), with
score one of accuracy, shortcut_accuracy, rolled_accuracy, robust_accuracy and
agreement (the clean test split's agreement probability); self-accuracy of every mode
of a cross-layer panel, directional and non-directional; subsets.<series>.<mode>.k<k>;
similarities.<figure>.<configuration>.<score>.p<k> (Fig. 6's CKA and FuLA accuracies) and
cka.<figure>.<column>.<natural|iris>.p<k> (v2's CKA of front and end);
replicates.<panel>.<mode>.<score>.p<k>: across a panel and its replicates, the spread of
each shared stitch's score ({mean, std, min, max, replicates}), apart from the intervals.
"""

from stitchkit.measures.bootstrap import spread
from stitchkit.testbeds.cross_layer import accuracy_matrix, non_directional, self_accuracy

# scalar name -> the report's score (run_results.SCORE_SPLITS)
SCORES = {
    "accuracy": "test_accuracy",
    "shortcut_accuracy": "shortcut_test_accuracy",
    "rolled_accuracy": "rolled_test_accuracy",
    "robust_accuracy": "robust_accuracy",
    "agreement": "agreement",
}


def _scalar(r: dict, score: str) -> dict | None:
    """{value, low, high, n}: a result's score with its 95% interval (the result as
    RunResults.with_intervals gives it); None if the result has no such score."""
    return (r.get("intervals") or {}).get(score)


def _point_key(r: dict) -> str:
    i, j = r["front_point"], r["end_point"]
    return f"p{i}" if i == j else f"p{i}-p{j}"


def panel_scalars(report: dict) -> dict:
    """{mode: {score: {p<k>: value}}} of one panel's report, and for a cross-layer panel
    (front points = end points) each mode's self-accuracy, directional and not."""
    out: dict = {}
    for r in report["results"]:
        for name, score in SCORES.items():
            if _scalar(r, score) is not None:
                out.setdefault(r["mode"], {}).setdefault(name, {})[_point_key(r)] = _scalar(
                    r, score
                )
    fronts = sorted({r["front_point"] for r in report["results"]})
    ends = sorted({r["end_point"] for r in report["results"]})
    if _cross_layer(report) and fronts == ends:
        for mode in out:
            matrix = accuracy_matrix(report["results"], mode, fronts)
            out[mode]["self_accuracy"] = self_accuracy(matrix)
            out[mode]["self_accuracy_non_directional"] = self_accuracy(non_directional(matrix))
    return out


def replicate_scalars(reports: list[dict]) -> dict:
    """{mode: {score: {p<k>: spread}}} across the reports of a panel and its replicates
    (as RunResults.with_intervals gives them), for the stitches and scores they all
    have."""
    values: dict = {}
    for report in reports:
        for r in report["results"]:
            for name, score in SCORES.items():
                if _scalar(r, score) is not None:
                    cell = values.setdefault(r["mode"], {}).setdefault(name, {})
                    cell.setdefault(_point_key(r), []).append(_scalar(r, score)["value"])
    return {
        mode: {
            name: {p: spread(v) for p, v in cells.items() if len(v) == len(reports)}
            for name, cells in scores.items()
        }
        for mode, scores in values.items()
    }


def series_scalars(report: dict) -> dict:
    """{mode: {k<classes>: accuracy with its interval}} of one class-subset series."""
    out: dict = {}
    for r in report["results"]:
        out.setdefault(r["mode"], {})[f"k{r['classes']}"] = _scalar(r, "test_accuracy")
    return out


def similarity_scalars(report: dict) -> dict:
    """{configuration: {score: {p<k>: value}}} of one Fig. 6 similarity report."""
    return {
        config: {
            score: {f"p{row['point']}": row[score] for row in rows}
            for score in rows[0]
            if score != "point"
        }
        for config, rows in report["configurations"].items()
    }


def cka_scalars(report: dict) -> dict:
    """{column: {natural|iris: {p<k>: CKA}}} of one v2 CKA report."""
    return {
        column: {
            data: dict(zip((f"p{k}" for k in entry["points"]), entry[data], strict=True))
            for data in ("natural", "iris")
        }
        for column, entry in report["columns"].items()
    }


def _cross_layer(report: dict) -> bool:
    return any(r["front_point"] != r["end_point"] for r in report["results"])


def curves(report: dict) -> dict[str, str]:
    """mode -> CSV text of its stitching curve (point, accuracy, the 95% interval's low
    and high, n), for a panel that stitches each point into itself; {} for a cross-layer
    panel."""
    if _cross_layer(report):
        return {}
    rows: dict[str, list[str]] = {}
    for r in sorted(report["results"], key=lambda r: r["front_point"]):
        a = _scalar(r, "test_accuracy")
        rows.setdefault(r["mode"], ["point,accuracy,low,high,n"]).append(
            f"{r['front_point']},{a['value']!r},{a['low']!r},{a['high']!r},{a['n']}"
        )
    return {mode: "\n".join(lines) + "\n" for mode, lines in rows.items()}
