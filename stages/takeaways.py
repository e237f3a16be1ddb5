"""DVC stage `takeaways`: python -m stages.takeaways

Last in the DAG. Checks the papers' claims on this run's results (stitchkit/report/claims/)
and writes, each file atomically:
- reports/takeaways.md, a row per claim (verdict, effects with their 95% intervals and
  n, rule, figures), reports/takeaways.json, every verdict and number (a DVC metric),
  and reports/verdicts.png / .pdf, every claim's effect against its threshold;
- reports/scalars.json, every stitching scalar (a DVC metric), and
  reports/curves/<panel>/<mode>.csv, the stitching curves (DVC plots);
- reports/index.md and index.html, every figure and table in the papers' order with the
  takeaways on top (stitchkit/report/run_report.py).
"""

from pathlib import Path

from stitchkit.common.compute import limit_stage_threads
from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.io import atomic_path, write_json
from stitchkit.common.params_file import read_params, replicate_groups
from stitchkit.common.schema import validated
from stitchkit.measures.bootstrap import BootstrapSettings, Resampler
from stitchkit.report.claims import check_claims
from stitchkit.report.claims.base import TakeawayThresholds
from stitchkit.report.figures import save_figure, verdict_forest
from stitchkit.report.run_report import (
    FOREST_FIGURE,
    index_html,
    index_markdown,
    takeaways_markdown,
    takeaways_metrics,
)
from stitchkit.report.run_results import RunResults
from stitchkit.report.run_scalars import (
    cka_scalars,
    curves,
    panel_scalars,
    replicate_scalars,
    series_scalars,
    similarity_scalars,
)

REPORTS = Path("reports")


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_scalars(params: dict, results: RunResults) -> None:
    panels = [*(params.get("panels") or {}), *(params.get("iri_panels") or {})]
    reports = {p: results.with_intervals(p, results.panel(p)) for p in panels}
    series = {
        s: results.with_intervals(f"subset-{s}", results.series(s))
        for s in params.get("subsets") or {}
    }
    groups = replicate_groups(params)
    scalars = {
        "panels": {p: panel_scalars(report) for p, report in reports.items()},
        **({"replicates": {}} if groups else {}),
        "subsets": {s: series_scalars(report) for s, report in series.items()},
        "similarities": {
            f: similarity_scalars(results.similarity(f)) for f in params.get("similarities") or {}
        },
        "cka": {f: cka_scalars(results.cka(f)) for f in params.get("cka_figures") or {}},
    }
    for main, members in groups.items():
        scalars["replicates"][main] = replicate_scalars([reports[p] for p in members])
    write_json(REPORTS / "scalars.json", scalars)
    for panel, report in reports.items():
        for mode, text in curves(report).items():
            write_text(REPORTS / "curves" / panel / f"{mode}.csv", text)


def main(argv: list[str]) -> None:
    if argv:
        raise UserError("usage: python -m stages.takeaways (no arguments)")
    params = read_params()
    limit_stage_threads(params)
    thresholds = validated(TakeawayThresholds, params.get("takeaways") or {}, "takeaways")
    table1 = REPORTS / "table1.md"
    if not table1.exists():
        raise UserError(f"{table1} not found; run the report stage first (dvc repro report)")
    settings = validated(BootstrapSettings, params.get("bootstrap") or {}, "bootstrap")
    results = RunResults(REPORTS, Resampler(settings))
    verdicts = check_claims(params, results, thresholds)
    write_scalars(params, results)
    save_figure(verdict_forest(verdicts), REPORTS / FOREST_FIGURE.removesuffix(".png"))
    pages = {
        "takeaways.md": takeaways_markdown(params, verdicts),
        "index.md": index_markdown(params, verdicts),
        "index.html": index_html(params, verdicts, table1.read_text()),
    }
    write_json(REPORTS / "takeaways.json", takeaways_metrics(verdicts))
    for name, text in pages.items():
        write_text(REPORTS / name, text)
    print("\n".join(f"{v.verdict:>26}  {v.check}" for v in verdicts))


if __name__ == "__main__":
    run_stage(main)
