"""docs/evidence.md from run records: the verdict table, the stability check between runs,
the analysis paragraphs, the figures of the main run, and a clear error without records."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stitchkit.pipeline.evidence.page import (
    analysis_sections,
    evidence_markdown,
    load_records,
    write_page,
)
from stitchkit.pipeline.evidence.record import run_record, save_record, suite_digest
from stitchkit.report.claims import CLAIM_NAMES


def measurement(effect, low, high, verdict, n=10_000, threshold=0.02):
    return {
        "effect": effect,
        "low": low,
        "high": high,
        "n": n,
        "threshold": threshold,
        "side": "above",
        "verdict": verdict,
    }


def takeaways(verdicts: dict[str, str]) -> dict:
    effects = {"holds": (0.1, 0.05, 0.15), "contradicted": (-0.1, -0.15, -0.05)}
    effects["inconclusive"] = (0.02, -0.01, 0.05)
    effects["not measured"] = (0.0, 0.0, 0.0)
    checks = {}
    for name, verdict in verdicts.items():
        m = measurement(*effects[verdict], verdict)
        checks[name] = {
            "section": "Sec. 3.2",
            "claim": f"the claim of {name}.",
            "rule": f"the rule of {name}",
            "figures": "fig8-shortcuts",
            "verdict": verdict,
            "holds": {"holds": 1, "contradicted": 0}.get(verdict),
            "note": f"decided by {name}'s panel",
            "deciding": m,
            "measurements": {f"{name}'s panel": m},
        }
    counts = {k: sum(v == k for v in verdicts.values()) for k in effects}
    return counts | {"not_measured": 0, "checks": checks}


def record(label: str, verdicts: dict[str, str], threads: int = 1) -> dict:
    return {
        "label": label,
        "date": "2026-12-05 10:00 UTC",
        "commit": "abc123",
        "machine": {"cpu": "Test CPU", "cores": 2, "gpu": None, "python": "3.11", "torch": "2"},
        "compute": {"cpu_threads": threads},
        "suite": "digest-1",
        "wall_seconds": 3600.0,
        "stage_seconds": {"train@a": 100.0, "train@b": 50.0, "stitch@p": 300.0},
        "stitch_stream": 2000.0,
        "takeaways": takeaways(verdicts),
    }


def test_the_page_tabulates_every_claim_with_effect_interval_n_and_verdict():
    main = record("main", {"shortcuts-exploited": "holds", "fula-directional": "contradicted"})
    page = evidence_markdown(main, [], {"shortcuts-exploited": "Markers at point 9 decide it."})
    row = next(line for line in page.splitlines() if line.startswith("| `shortcuts-exploited`"))
    assert "+0.100 [+0.050, +0.150] (> 0.02)" in row and "10,000" in row and "holds" in row
    assert "1 holds, 1 is contradicted, 0 are inconclusive" in page
    assert "Markers at point 9 decide it." in page
    assert "commit `abc123`" in page and "Test CPU, 2 cores" in page
    assert "2000 shared-stream stitch-images/s" in page and "60.0 min" in page
    assert "No second run of this suite configuration is recorded" in page
    assert "| train | 2 | 150 | 100 |" in page


def test_claims_are_listed_in_the_papers_order_whatever_order_the_record_keeps():
    names = sorted(CLAIM_NAMES)  # as a saved record keeps them
    main = record("main", dict.fromkeys(names, "holds"))
    page = evidence_markdown(main, [record("avx2", dict.fromkeys(names, "holds"))], {})
    for prefix in ("| `", "### `"):
        rows = [line for line in page.splitlines() if line.startswith(prefix)]
        table = [row.split("`")[1] for row in rows]
        assert table[: len(CLAIM_NAMES)] == list(CLAIM_NAMES), prefix


def test_the_stability_check_flags_a_verdict_that_moves_between_holds_and_contradicted():
    main = record("main", {"a": "holds", "b": "holds", "c": "inconclusive"})
    steady = record("threads-2", {"a": "holds", "b": "inconclusive", "c": "holds"}, threads=2)
    page = evidence_markdown(main, [steady], {"stability": "Effects move by 0.02."})
    assert "No verdict moved between holds and contradicted." in page
    # b: +0.1 (margin 0.08 from 0.02) drifted to +0.02: by more than its margin
    assert "| `b` |" in page and "0.080 (0.080) ⚠" in page
    assert "at least their distance from the threshold" in page and ": `b`, `c`." in page
    assert page.index("Effects move by 0.02.") < page.index("## What decided each claim")
    flipped = record("threads-2", {"a": "contradicted", "b": "holds", "c": "holds"}, threads=2)
    page = evidence_markdown(main, [flipped], {})
    assert "moved between holds and contradicted: `a` (threads-2)" in page


def test_a_run_of_another_suite_configuration_is_listed_not_compared():
    main = record("main", {"a": "holds"})
    earlier = record("avx2", {"a": "contradicted"}) | {"suite": "digest-0", "commit": "e30be86"}
    page = evidence_markdown(main, [earlier], {})
    assert "moved between holds and contradicted" not in page
    assert "No second run of this suite configuration is recorded" in page
    assert "`avx2` is a run of another suite configuration (commit `e30be86`)" in page
    undigested = {k: v for k, v in earlier.items() if k != "suite"}
    same = record("threads-2", {"a": "holds"}, threads=2)
    page = evidence_markdown(main, [undigested, same], {})
    assert "| Claim | `main` (1 thread(s), ?) | `threads-2` (2 thread(s), ?) |" in page
    assert "`avx2` is a run of another suite configuration" in page


def test_the_suite_digest_ignores_compute_settings_only():
    params = {"compute": {"cpu_threads": 1}, "stitch": {"epochs": 4}}
    assert suite_digest(params) == suite_digest(params | {"compute": {"cpu_threads": 2}})
    assert suite_digest(params) != suite_digest(params | {"stitch": {"epochs": 8}})


def test_a_run_with_overrides_or_up_to_date_stages_says_so():
    main = record("main", {"a": "holds"}) | {"stages_up_to_date": 30, "note": "Resumed once."}
    partial = record("avx2", {"a": "not measured"}) | {"overrides": ["~panels.at1"]}
    page = evidence_markdown(main, [partial], {})
    assert "60.0 min (3600 s) for the 3 stages that ran (30 were up to date). Resumed once." in page
    assert "- `avx2`: commit `abc123`" in page and "overrides `~panels.at1`" in page


def test_analysis_paragraphs_are_read_by_check():
    text = "# Notes\n\nintro\n\n## `fula-directional`\n\nDeep into shallow.\n\nMore.\n\n## b\nB.\n"
    assert analysis_sections(text) == {"fula-directional": "Deep into shallow.\n\nMore.", "b": "B."}


def test_the_main_record_keeps_its_figures_and_the_page_is_written_from_records(
    tmp_path, monkeypatch
):
    reports = tmp_path / "reports"
    (reports / "figures").mkdir(parents=True)
    (reports / "figures" / "fig8-shortcuts.png").write_bytes(b"png")
    (reports / "verdicts.png").write_bytes(b"forest")
    (reports / "takeaways.json").write_text(json.dumps(takeaways({"a": "holds"})))
    monkeypatch.chdir(tmp_path)
    made = run_record("main", {"compute": {"cpu_threads": 1}}, 12.0, {"stitch@p": 10.0}, None)
    assert made["takeaways"]["checks"]["a"]["verdict"] == "holds"
    assert made["commit"] == "unknown" and made["wall_seconds"] == 12.0
    save_record(made | {"commit": "abc"}, reports=reports, root=tmp_path)
    assert made["suite"] == suite_digest({"compute": {"cpu_threads": 2}})
    rerun = record("threads-2", {"a": "holds"}, 2) | {"suite": made["suite"]}
    save_record(rerun, reports=reports, root=tmp_path)
    figures = tmp_path / "docs" / "evidence" / "figures"
    assert (figures / "fig8-shortcuts.png").read_bytes() == b"png"
    assert (figures / "verdicts.png").read_bytes() == b"forest"
    main, others = load_records(tmp_path)
    assert main["label"] == "main" and [r["label"] for r in others] == ["threads-2"]
    page = write_page(tmp_path).read_text()
    assert "![fig8-shortcuts](evidence/figures/fig8-shortcuts.png)" in page
    assert "`threads-2` (2 thread(s), ?)" in page


def test_the_page_without_a_main_record_is_one_clear_error(tmp_path):
    result = subprocess.run(
        [Path(sys.executable).parent / "stitchkit", "evidence", "--page-only"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: docs/evidence/runs/main.json not found; run `stitchkit evidence` first"
    ]
    assert not (tmp_path / "docs" / "evidence.md").exists()


@pytest.mark.parametrize("bad", ["no-such-key=1", "suite=nonexistent"])
def test_a_bad_override_is_refused_before_anything_runs(bad):
    from stitchkit.common.errors import UserError
    from stitchkit.pipeline.evidence.run import run_evidence

    params = Path("params.yaml").read_bytes()
    with pytest.raises(UserError):
        run_evidence("main", [bad])
    assert Path("params.yaml").read_bytes() == params


def test_the_committed_evidence_page_is_what_its_records_give(tmp_path):
    """docs/evidence.md is generated: rewriting it from the committed records and
    analysis changes nothing (edit analysis.md, then `stitchkit evidence --page-only`)."""
    repo = Path(__file__).resolve().parents[1]
    committed = repo / "docs" / "evidence.md"
    shutil.copytree(repo / "docs", tmp_path / "docs")
    assert write_page(tmp_path).read_text() == committed.read_text()


def test_a_second_run_before_the_main_one_keeps_its_record_and_says_what_is_missing(
    tmp_path, monkeypatch, capsys
):
    import stitchkit.pipeline.evidence.run
    from stitchkit.cli import main
    from stitchkit.pipeline.ray_repro import Outcome

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(stitchkit.pipeline.evidence.run, "run_evidence", lambda *args: Outcome())
    with pytest.raises(SystemExit) as exit:
        main(["evidence", "--label", "avx2"])
    assert exit.value.code == 0
    assert "docs/evidence.md is written once docs/evidence/runs/main.json exists" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "docs" / "evidence.md").exists()
