"""docs/evidence.md, written from the run records alone: the main record's verdict
table, the stability table against every other record, a paragraph per claim
(docs/evidence/analysis.md) and the stage times."""

import json
import re
from pathlib import Path

from stitchkit.common.io import atomic_path
from stitchkit.pipeline.evidence import (
    ANALYSIS,
    COMMAND,
    MAIN,
    PAGE,
    RUNS,
    STABILITY,
)
from stitchkit.report.claims import CLAIM_NAMES
from stitchkit.report.run_report import BADGES, FOREST_FIGURE
from stitchkit.report.verdicts import CONTRADICTED, HOLDS


def analysis_sections(text: str) -> dict[str, str]:
    """docs/evidence/analysis.md's `## <check>` sections: check -> its paragraph(s)."""
    sections, name, lines = {}, None, []
    for line in text.splitlines():
        heading = re.match(r"^## +`?([\w-]+)`?\s*$", line)
        if heading:
            if name:
                sections[name] = "\n".join(lines).strip()
            name, lines = heading.group(1), []
        elif name:
            lines.append(line)
    if name:
        sections[name] = "\n".join(lines).strip()
    return sections


def _effect(m: dict | None) -> str:
    if m is None:
        return "-"
    side = ">" if m["side"] == "above" else "<"
    return (
        f"{m['effect']:+.3f} [{m['low']:+.3f}, {m['high']:+.3f}] ({side} {m['threshold'] + 0.0:g})"
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min ({seconds:.0f} s)"


def _machine_line(record: dict) -> str:
    m = record["machine"]
    where = f"{m['cpu']}, {m['cores']} cores" + (f", {m['gpu']}" if m["gpu"] else "")
    bench = record.get("stitch_stream")
    bench = (
        f"; `benchmarks/stitch_stream.py`: {bench:.0f} shared-stream stitch-images/s"
        if bench
        else ""
    )
    skipped = record.get("stages_up_to_date", 0)
    skipped = (
        f" for the {len(record['stage_seconds'])} stages that ran ({skipped} were up to date)"
        if skipped
        else ""
    )
    overrides = record.get("overrides")
    overrides = "; overrides " + ", ".join(f"`{o}`" for o in overrides) if overrides else ""
    note = f". {record['note']}" if record.get("note") else ""
    return (
        f"commit `{record['commit']}`, {record['date']}; {where}; Python {m['python']}, "
        f"torch {m['torch']}, {_arithmetic(record)} per stage{bench}{overrides}; wall time "
        f"{_minutes(record['wall_seconds'])}{skipped}{note}"
    )


def in_paper_order(checks: dict) -> list[tuple[str, dict]]:
    """A record's checks (name -> check, saved in sorted order) in the papers' order
    (takeaways.CLAIM_NAMES), any other after them."""
    rank = {name: n for n, name in enumerate(CLAIM_NAMES)}
    return sorted(checks.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def _n(measurement: dict) -> str:
    """Test images, and replicates where there are several (older records have none)."""
    replicates = measurement.get("replicates", 1)
    return f"{measurement['n']:,}" + (f" x {replicates} replicates" if replicates > 1 else "")


def verdict_table(record: dict) -> list[str]:
    lines = [
        "| Claim | Section | Effect [95% interval] (threshold) | n | Verdict |",
        "|---|---|---|---|---|",
    ]
    for name, check in in_paper_order(record["takeaways"]["checks"]):
        m = check["deciding"]
        n = _n(m) if m else "-"
        lines.append(
            f"| `{name}` | {check['section']} | {_effect(m)} | {n} | {BADGES[check['verdict']]} |"
        )
    return lines


def _moved(a: str, b: str) -> bool:
    return {a, b} == {HOLDS, CONTRADICTED}


def _arithmetic(record: dict) -> str:
    """What a run's float arithmetic depends on: torch threads per stage and the CPU
    kernels' vector instructions."""
    threads = record["compute"].get("cpu_threads", "?")
    isa = record["machine"].get("cpu_capability", "?")
    return f"{threads} thread(s), {isa}"


def _drift(check: dict, others: list[dict], name: str) -> float | None:
    """The largest change of a claim's deciding effect from the main run to another."""
    m = check["deciding"]
    effects = [
        o["deciding"]["effect"]
        for r in others
        if (o := r["takeaways"]["checks"].get(name)) is not None and o["deciding"] is not None
    ]
    return max(abs(e - m["effect"]) for e in effects) if m is not None and effects else None


def same_suite(main: dict, others: list[dict]) -> tuple[list[dict], list[dict]]:
    """The other records split into those of the main run's suite configuration (same
    `suite` digest) and those of another (an earlier configuration, or a record from
    before digests: not comparable)."""
    digest = main.get("suite")
    same = [r for r in others if digest is not None and r.get("suite") == digest]
    return same, [r for r in others if r not in same]


def stability_table(main: dict, others: list[dict]) -> list[str]:
    """Each check's verdict and deciding effect in every run of the main run's suite
    configuration, and its drift: the largest change of its effect between runs against
    its margin (the main effect's distance from the threshold); whether any verdict
    moved between holds and contradicted, and which verdicts stand by less than their
    drift. Records of another configuration are listed, not compared."""
    others, stale = same_suite(main, others)
    stale_lines = [
        f"- `{r['label']}` is a run of another suite configuration (commit `{r['commit']}`), "
        "not compared: rerun it with the current suite."
        for r in stale
    ]
    if not others:
        return [
            "No second run of this suite configuration is recorded. Run the suite again "
            f"with different float arithmetic (`{COMMAND} --label threads-2 -S "
            "compute.cpu_threads=2`) to add one.",
            *([""] if stale_lines else []),
            *stale_lines,
        ]
    runs = [main, *others]
    header = " | ".join(f"`{r['label']}` ({_arithmetic(r)})" for r in runs)
    lines = [f"| Claim | {header} | Drift (margin) |", "|---|" + "---|" * (len(runs) + 1)]
    moved, fragile = [], []
    for name, check in in_paper_order(main["takeaways"]["checks"]):
        cells = []
        for r in runs:
            other = r["takeaways"]["checks"].get(name)
            if other is None:
                cells.append("-")
                continue
            cells.append(f"{BADGES[other['verdict']]}: {_effect(other['deciding'])}")
            if _moved(check["verdict"], other["verdict"]):
                moved.append(f"`{name}` ({r['label']})")
        drift = _drift(check, others, name)
        if drift is None:
            cells.append("-")
        else:
            margin = abs(check["deciding"]["effect"] - check["deciding"]["threshold"])
            cells.append(f"{drift:.3f} ({margin:.3f})" + (" ⚠" if drift >= margin else ""))
            if drift >= margin:
                fragile.append(f"`{name}`")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    summary = (
        "No verdict moved between holds and contradicted."
        if not moved
        else "Verdicts that moved between holds and contradicted: " + ", ".join(moved) + "."
    )
    summary += (
        " Every effect's drift between runs is smaller than its distance from the threshold."
        if not fragile
        else " Effects that drifted between runs by at least their distance from the threshold"
        " (⚠: another machine could decide them the other way): " + ", ".join(fragile) + "."
    )
    runs_lines = [f"- `{r['label']}`: {_machine_line(r)}." for r in others]
    return [*lines, "", summary, "", *runs_lines, *stale_lines]


def stage_times(record: dict, top: int = 12) -> list[str]:
    seconds = record["stage_seconds"]
    if not seconds:
        return ["No stage ran in this record's run (every stage was up to date)."]
    kinds: dict[str, list[float]] = {}
    for stage, s in seconds.items():
        kinds.setdefault(stage.split("@")[0], []).append(s)
    lines = [
        f"{len(seconds)} stages, {sum(seconds.values()):.0f} stage-seconds in all "
        f"(stages run side by side, {record['compute'].get('cpu_threads', 1)} thread(s) each).",
        "",
        "| Stage kind | Stages | Seconds | Longest |",
        "|---|---|---|---|",
    ]
    for kind, values in sorted(kinds.items(), key=lambda kv: -sum(kv[1])):
        lines.append(f"| {kind} | {len(values)} | {sum(values):.0f} | {max(values):.0f} |")
    longest = sorted(seconds.items(), key=lambda kv: -kv[1])[:top]
    lines += ["", "Longest stages: " + ", ".join(f"`{k}` {v:.0f} s" for k, v in longest) + "."]
    return lines


def evidence_markdown(main: dict, others: list[dict], analysis: dict[str, str]) -> str:
    """docs/evidence.md from the records and the analysis paragraphs."""
    counts = main["takeaways"]
    lines = [
        "# Evidence: do the papers' claims hold?",
        "",
        f"Generated by `{COMMAND}` (the evidence suite, `stitchkit repro -S suite=evidence`, "
        "then this page). Each claim of both papers is tested at the smallest scale that "
        "decides it (`conf/suite/evidence.yaml` says what and why). A verdict is decided only "
        "when the effect's 95% interval (percentile bootstrap over test images, paired "
        "across modes on the same images) lies wholly on one side of the claim's threshold.",
        "",
        f"**{_count(counts['holds'], 'holds', 'hold')}, "
        f"{_count(counts['contradicted'], 'is contradicted', 'are contradicted')}, "
        f"{_count(counts['inconclusive'], 'is inconclusive', 'are inconclusive')}, "
        f"{counts['not_measured']} not measured.**",
        "",
        f"Run: {_machine_line(main)}.",
        "",
        f"![Each claim's deciding effect and 95% interval against its threshold]"
        f"(evidence/figures/{FOREST_FIGURE})",
        "",
        *verdict_table(main),
        "",
        "## Stability: the same suite, different float arithmetic",
        "",
        *stability_table(main, others),
        "",
        *([analysis[STABILITY], ""] if STABILITY in analysis else []),
        "## What decided each claim",
        "",
    ]
    for name, check in in_paper_order(main["takeaways"]["checks"]):
        lines += [f"### `{name}` ({check['section']}): {BADGES[check['verdict']]}", ""]
        lines += [f"*Claim.* {check['claim']} *Holds when* {check['rule']}.", ""]
        for label, m in check["measurements"].items():
            lines.append(f"- {label}: {_effect(m)}, n = {_n(m)}: {m['verdict']}")
        lines += ["", check["note"][0].upper() + check["note"][1:] + ".", ""]
        if name in analysis:
            lines += [analysis[name], ""]
        figures = [f for f in check["figures"].split(", ") if f]
        lines += [f"![{f}](evidence/figures/{f}.png)" for f in figures]
        lines += [""] if figures else []
    lines += ["## Where the time went", "", *stage_times(main), ""]
    return "\n".join(lines)


def load_records(root: Path = Path(".")) -> tuple[dict, list[dict]]:
    """The ``main`` record and the others (by label), from docs/evidence/runs/."""
    folder = root / RUNS
    records = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    if MAIN not in records:
        from stitchkit.common.errors import UserError

        raise UserError(f"{folder / (MAIN + '.json')} not found; run `{COMMAND}` first")
    main = records.pop(MAIN)
    return main, list(records.values())


def write_page(root: Path = Path(".")) -> Path:
    """(Re)writes docs/evidence.md from the saved records and analysis."""
    main, others = load_records(root)
    analysis_file = root / ANALYSIS
    analysis = analysis_sections(analysis_file.read_text()) if analysis_file.exists() else {}
    with atomic_path(root / PAGE) as tmp:
        tmp.write_text(evidence_markdown(main, others, analysis))
    return root / PAGE
