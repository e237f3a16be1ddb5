"""The evidence report, docs/evidence.md: the evidence suite's verdicts on the papers'
claims, with the commit, machine and wall time of the run that decided them.

A *run record* (docs/evidence/runs/<label>.json) keeps what one run of the suite
decided (reports/takeaways.json), where and how fast it ran. The page is built from the
records alone: the ``main`` record's verdict table, figures and stage times, a paragraph
per claim (docs/evidence/analysis.md, hand-written, one `## <check>` section each, and
`## stability` on the stability table), and
every other record against ``main``: the stability check, runs that differ only in
float arithmetic (say, torch's thread count), in which no verdict may move between
holds and contradicted.
"""

from pathlib import Path

DOCS = Path("docs")
EVIDENCE = DOCS / "evidence"
RUNS = EVIDENCE / "runs"
ANALYSIS = EVIDENCE / "analysis.md"
PAGE = DOCS / "evidence.md"
MAIN = "main"
COMMAND = "stitchkit evidence"
STABILITY = "stability"  # analysis.md's section under the stability table
