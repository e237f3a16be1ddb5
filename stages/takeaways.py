"""DVC stage `takeaways`: python -m stages.takeaways

Last in the DAG. Checks the papers' claims on this run's results (stitchkit/takeaways.py)
and writes, each file atomically:
- reports/takeaways.md, a row per claim (verdict, numbers, rule, figures), and
  reports/takeaways.json, every verdict and number (a DVC metric);
- reports/scalars.json, every stitching scalar (a DVC metric), and
  reports/curves/<panel>/<mode>.csv, the stitching curves (DVC plots);
- reports/index.md and index.html, every figure and table in the papers' order with the
  takeaways on top (stitchkit/run_report.py).
"""

from pathlib import Path

from stitchkit.cli import run_stage
from stitchkit.config import load_params
from stitchkit.errors import UserError
from stitchkit.io import atomic_path, write_json
from stitchkit.run_report import index_html, index_markdown, takeaways_markdown, takeaways_metrics
from stitchkit.run_scalars import (
    cka_scalars,
    curves,
    panel_scalars,
    series_scalars,
    similarity_scalars,
)
from stitchkit.schema import validated
from stitchkit.takeaways import RunResults, TakeawayThresholds, check_claims

REPORTS = Path("reports")


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_scalars(params: dict, results: RunResults) -> None:
    panels = [*(params.get("panels") or {}), *(params.get("iri_panels") or {})]
    scalars = {
        "panels": {p: panel_scalars(results.panel(p)) for p in panels},
        "subsets": {s: series_scalars(results.series(s)) for s in params.get("subsets") or {}},
        "similarities": {
            f: similarity_scalars(results.similarity(f)) for f in params.get("similarities") or {}
        },
        "cka": {f: cka_scalars(results.cka(f)) for f in params.get("cka_figures") or {}},
    }
    write_json(REPORTS / "scalars.json", scalars)
    for panel in panels:
        for mode, text in curves(results.panel(panel)).items():
            write_text(REPORTS / "curves" / panel / f"{mode}.csv", text)


def main(argv: list[str]) -> None:
    if argv:
        raise UserError("usage: python -m stages.takeaways (no arguments)")
    params = load_params()
    thresholds = validated(TakeawayThresholds, params.get("takeaways") or {}, "takeaways")
    table1 = REPORTS / "table1.md"
    if not table1.exists():
        raise UserError(f"{table1} not found; run the report stage first (dvc repro report)")
    results = RunResults(REPORTS)
    verdicts = check_claims(params, results, thresholds)
    write_scalars(params, results)
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
