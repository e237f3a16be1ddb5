"""A run's report pages: reports/takeaways.md (the papers' claims, judged), and
reports/index.md / index.html (every figure and table of the run in the papers' order,
each with its figure number and a caption, the takeaways table on top).
"""

import html
import re
from dataclasses import dataclass

from stitchkit.measures.bootstrap import Interval
from stitchkit.report.claims.base import SERIES_FIGURE_SECTIONS, Verdict, strings_in
from stitchkit.report.verdicts import CONTRADICTED, HOLDS, INCONCLUSIVE, UNMEASURED, Measurement

PAPER_SCALE = (
    "The papers' scale: CIFAR-10 (cross-task fronts from LS-ImageNet-10), ResNet18, "
    "ResNet34 and plain18 of width 64 trained 200 epochs, stitches trained 30 epochs on "
    "all 50,000 training images at all 9 points, robust accuracy by AutoAttack on all "
    "10,000 test images; v2's IRIs of all 50,000 images by 200 steps, three fronts per "
    "column. A verdict here speaks for this run's scale only."
)
# plain symbols that every system font draws (emoji need a colour-emoji font)
BADGES = {
    HOLDS: "✓ holds",
    CONTRADICTED: "✗ contradicted",
    INCONCLUSIVE: "? inconclusive",
    UNMEASURED: "– not measured",
}
COUNT_KEYS = {
    HOLDS: "holds",
    CONTRADICTED: "contradicted",
    INCONCLUSIVE: "inconclusive",
    UNMEASURED: "not_measured",
}
FOREST_FIGURE = "verdicts.png"  # under reports/, by the takeaways stage (figures.verdict_forest)
# figure sections of params.yaml, and what a figure of each shows
SECTION_CAPTIONS = {
    "grids": "stitched accuracy against stitching point (End, points, Front), one panel a cell",
    "similarities": "CKA and FuLA similarity at the penultimate layer on adversarial examples",
    "shortcut_examples": "example images of each shortcut setting",
    "subset_figures": "stitched accuracy on all classes, stitches fitted on the first k classes",
    "cross_layer_figures": "accuracy of every front point stitched into every end point",
    "agreement_figures": "agreement with the end model against stitching point, "
    "natural images against IRIs",
    "cka_figures": "CKA of front and end activations beside FuLA's agreement, natural images "
    "against IRIs",
    "iri_examples": "training images and their IRIs by depth",
}
V2_SECTIONS = ("agreement_figures", "cka_figures", "iri_examples")


def run_scale(params: dict) -> str:
    """This run's scale, in one sentence, from params.yaml."""
    models = params.get("models") or {}
    archs = sorted({m["arch"] for m in models.values()})
    widths = sorted({m.get("width", 64) for m in models.values()})
    stitch = params.get("stitch") or {}
    iris = params.get("iris") or {}
    return (
        f"This run: datasets {', '.join(params.get('datasets') or [])}; {len(models)} models "
        f"({', '.join(archs)}; widths {', '.join(map(str, widths))}); stitches trained "
        f"{stitch.get('epochs', '?')} epochs on {stitch.get('train_samples') or 'all'} images; "
        f"IRIs of {iris.get('samples') or 'all'} images by {iris.get('steps', '?')} steps."
    )


def verdict_counts(verdicts: list[Verdict]) -> dict[str, int]:
    return {key: sum(v.verdict == verdict for v in verdicts) for verdict, key in COUNT_KEYS.items()}


def measurement_metrics(m: Measurement) -> dict:
    """A measurement as numbers (and its verdict) for reports/takeaways.json."""
    e = m.effect
    return {
        "effect": e.value,
        "low": e.low,
        "high": e.high,
        "n": e.n,
        "replicates": e.replicates,
        "threshold": m.threshold,
        "side": "above" if m.above else "below",
        "verdict": m.verdict,
    }


def takeaways_metrics(verdicts: list[Verdict]) -> dict:
    """Counts and, per check, its section, claim, rule and figures, its verdict (text,
    and holds as 1 / 0 / null: 1 holds, 0 contradicted), the deciding measurement and
    every measurement."""
    checks = {}
    for v in verdicts:
        decided = v.verdict in (HOLDS, CONTRADICTED)
        checks[v.check] = {
            "section": v.section,
            "claim": v.claim,
            "rule": v.rule,
            "figures": ", ".join(v.figures),
            "verdict": v.verdict,
            "holds": int(v.verdict == HOLDS) if decided else None,
            "note": v.note(),
            "deciding": None if v.deciding is None else measurement_metrics(v.deciding),
            "measurements": {m.label: measurement_metrics(m) for m in v.measurements},
        }
    return verdict_counts(verdicts) | {"checks": checks}


def _summary(verdicts: list[Verdict]) -> str:
    n = verdict_counts(verdicts)
    counts = (
        (n["holds"], "holds", "hold"),
        (n["contradicted"], "is contradicted", "are contradicted"),
        (n["inconclusive"], "is inconclusive", "are inconclusive"),
        (n["not_measured"], "is not measured by this suite", "are not measured by this suite"),
    )
    said = ", ".join(f"{k} {one if k == 1 else many}" for k, one, many in counts)
    return (
        f"Of {len(verdicts)} checks, {said}. A verdict is decided only when the effect's 95% "
        "interval (percentile bootstrap over test images, `bootstrap:` in params.yaml) lies "
        "wholly on one side of the threshold (`takeaways:`); accuracies and agreements are "
        "fractions."
    )


def times(effect: Interval) -> str:
    """`` x R replicates`` for an effect of several replicates, else nothing."""
    return f" x {effect.replicates} replicates" if effect.replicates > 1 else ""


def measurement_text(m: Measurement) -> str:
    e = m.effect
    side = ">" if m.above else "<"
    return (
        f"{m.label}: {e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}], n={e.n}{times(e)} "
        f"({side} {m.threshold + 0.0:g}: {m.verdict})"
    )


def _cells(v: Verdict) -> tuple[str, str, list[str], str, tuple[str, ...]]:
    numbers = [measurement_text(m) for m in v.measurements] + [v.note()]
    return BADGES[v.verdict], f"{v.section}: {v.claim}", numbers, v.rule, v.figures


def takeaways_markdown(params: dict, verdicts: list[Verdict], heading: str = "#") -> str:
    lines = [
        f"{heading} Takeaways: do the papers' claims hold on this run?",
        "",
        _summary(verdicts),
        "",
        PAPER_SCALE,
        "",
        run_scale(params),
        "",
        f"![Each claim's effect and 95% interval against its threshold]({FOREST_FIGURE})",
        "",
        "| Verdict | Claim | Effect [95% interval], n | Holds when | Figures |",
        "|---|---|---|---|---|",
    ]
    for v in verdicts:
        badge, claim, numbers, rule, figures = _cells(v)
        links = "<br>".join(f"[{f}](figures/{f}.png)" for f in figures) or "-"
        cells = [badge, f"{claim} (`{v.check}`)", "<br>".join(numbers) or "-", rule, links]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class IndexEntry:
    """One figure or table of the run: its paper label, file stem and caption."""

    label: str
    stem: str
    caption: str


def _paper_label(name: str, section: str) -> tuple[tuple, str]:
    """(sort key, label): v1's figures by number, then v2's, then ours."""
    number = re.match(r"fig(\d+)(?:-|$)", name)
    if number:
        return (1, int(number.group(1)), name), f"Fig. {number.group(1)}"
    if section == "shortcut_examples":
        return (1, 7, name), "Fig. 7"
    if section in V2_SECTIONS or name.startswith("v2-"):
        return (2, 0, name), "v2"
    return (3, 0, name), "Beyond the papers"


def _panels_caption(params: dict, entry: dict, section: str) -> str:
    """The panels (or, for class-subset figures, the series) a figure draws, with their
    models and points."""
    if section in SERIES_FIGURE_SECTIONS:
        kind, sources = "Series", params.get("subsets") or {}
    else:
        kind = "Panels"
        sources = {**(params.get("panels") or {}), **(params.get("iri_panels") or {})}
    described = []
    for name in dict.fromkeys(strings_in(entry)):
        e = sources.get(name)
        if e is not None:
            points = e.get("points") or e.get("front_points") or [e.get("point")]
            described.append(f"{name} ({e['front']} → {e['end']} on {e['data']}, points {points})")
    return f" {kind}: " + "; ".join(described) + "." if described else ""


def index_entries(params: dict) -> list[IndexEntry]:
    """Table 1, then every figure of params.yaml in the papers' order, captioned."""
    entries = []
    if params.get("models"):
        caption = (
            "Table 1: accuracy and robust accuracy of every model "
            f"({len(params['models'])} models)."
        )
        entries.append(((0, 1, "table1"), IndexEntry("Table 1", "table1", caption)))
    for section, what in SECTION_CAPTIONS.items():
        for name, entry in (params.get(section) or {}).items():
            order, label = _paper_label(name, section)
            title = entry.get("title") or name
            caption = f"{title}: {what}.{_panels_caption(params, entry, section)}"
            entries.append((order, IndexEntry(label, name, caption)))
    return [entry for _, entry in sorted(entries, key=lambda pair: pair[0])]


def _entry_markdown(entry: IndexEntry) -> list[str]:
    if entry.stem == "table1":
        return [f"## {entry.label}", "", entry.caption, "", "[table1.md](table1.md)", ""]
    image = f"figures/{entry.stem}.png"
    return [
        f"## {entry.label}: {entry.stem}",
        "",
        entry.caption,
        "",
        f"![{entry.stem}]({image})",
        "",
    ]


def index_markdown(params: dict, verdicts: list[Verdict]) -> str:
    lines = [
        "# The run's figures and tables",
        "",
        "In the papers' order; every panel's own plot is under figures/panels/.",
        "",
        takeaways_markdown(params, verdicts, heading="##"),
    ]
    for entry in index_entries(params):
        lines += _entry_markdown(entry)
    return "\n".join(lines)


STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px;"
    "vertical-align:top}img{max-width:100%;border:1px solid #eee}figure{margin:2em 0}"
)


def _table_html(table_md: str) -> str:
    rows = [line for line in table_md.splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]
    header = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells[1:]
    )
    return f"<table><tr>{header}</tr>{body}</table>"


def _inline_html(text: str) -> str:
    """``text`` escaped, with its `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def index_html(params: dict, verdicts: list[Verdict], table1: str) -> str:
    """The index as one HTML page; ``table1`` is reports/table1.md's text."""
    esc = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>stitchkit run</title>"
        f"<style>{STYLE}</style></head><body>",
        "<h1>The run's figures and tables</h1>",
        "<h2>Takeaways: do the papers' claims hold on this run?</h2>",
        f"<p>{_inline_html(_summary(verdicts))}</p><p>{esc(PAPER_SCALE)}</p>"
        f"<p>{esc(run_scale(params))}</p>",
        f"<img src='{FOREST_FIGURE}' alt='verdicts: effects and intervals'>",
        "<table><tr><th>Verdict</th><th>Claim</th><th>Effect [95% interval], n</th>"
        "<th>Holds when</th>"
        "<th>Figures</th></tr>",
    ]
    for v in verdicts:
        badge, claim, numbers, rule, figures = _cells(v)
        links = "<br>".join(f"<a href='figures/{esc(f)}.png'>{esc(f)}</a>" for f in figures)
        parts.append(
            f"<tr><td>{esc(badge)}</td><td>{_inline_html(claim)}</td>"
            f"<td>{'<br>'.join(map(esc, numbers))}</td><td>{_inline_html(rule)}</td>"
            f"<td>{links}</td></tr>"
        )
    parts.append("</table>")
    for entry in index_entries(params):
        parts.append(
            f"<figure id='{esc(entry.stem)}'><h2>{esc(entry.label)}: {esc(entry.stem)}</h2>"
        )
        parts.append(f"<figcaption>{esc(entry.caption)}</figcaption>")
        if entry.stem == "table1":
            parts.append(_table_html(table1))
        else:
            parts.append(f"<img src='figures/{esc(entry.stem)}.png' alt='{esc(entry.stem)}'>")
        parts.append("</figure>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
