"""The run's index pages: every figure in the papers' order with its number and caption,
and the HTML page as a real browser (headless Chromium) shows it: every image resolves."""

import re
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.image
import matplotlib.pyplot as plt
import pytest
from test_takeaways import PARAMS, fake_run

from stitchkit.report.claims import check_claims
from stitchkit.report.claims.base import TakeawayThresholds
from stitchkit.report.figures import save_figure, verdict_forest
from stitchkit.report.run_report import index_entries, index_html, index_markdown

FIGURES = {
    "grids": {
        "fig4": {"title": "Cross-task stitching", "rows": {"a": ["at1-cross", "at1-same"]}},
        "same-task-architectures": {"title": "Architectures", "rows": {"a": ["seed"]}},
    },
    "similarities": {"fig6-similarity": {"title": "Similarity", "panels": {"c1": "at1-same"}}},
    "shortcut_examples": {"shortcut-examples": {"settings": ["cifar-pixels"], "per_row": 5}},
    "subset_figures": {"fig9-subsets": {"title": "Subsets", "series": {"cross": "seed"}}},
    "cross_layer_figures": {"fig11-depth": {"title": "Depth", "rows": {"self": "xl"}}},
    "agreement_figures": {"v2-information": PARAMS["agreement_figures"]["v2-info"]},
}
TABLE1 = "| Model | Accuracy (%) |\n|---|---|\n| a0 | 91.20 |\n"


def params() -> dict:
    return {k: v for k, v in PARAMS.items() if k not in ("grids", "agreement_figures")} | FIGURES


def test_index_lists_table_1_then_figures_in_the_papers_order_with_captions():
    entries = index_entries(params())
    assert [(e.label, e.stem) for e in entries] == [
        ("Table 1", "table1"),
        ("Fig. 4", "fig4"),
        ("Fig. 6", "fig6-similarity"),
        ("Fig. 7", "shortcut-examples"),
        ("Fig. 9", "fig9-subsets"),
        ("Fig. 11", "fig11-depth"),
        ("v2", "v2-information"),
        ("Beyond the papers", "same-task-architectures"),
    ]
    fig4 = entries[1].caption
    assert fig4.startswith("Cross-task stitching: stitched accuracy against stitching point")
    assert "Panels: at1-cross (b0 → a0 on cifar, points [5, 9]); at1-same (a0 → a1" in fig4
    # a series named like a panel is the series (b0 -> a0), not the panel (a1 -> a0)
    assert entries[4].caption.endswith("Series: seed (b0 → a0 on cifar, points [5]).")


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed (make setup installs Debian's package as root)")
    return path


def browse(page, *flags: str) -> subprocess.CompletedProcess:
    profile = page.parent / ".chromium-profile"
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        *flags,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def write_pages(reports, figures: list[str]) -> None:
    (reports / "figures").mkdir(parents=True, exist_ok=True)
    for stem in figures:
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([1, 5, 9], [0.2, 0.6, 0.9], marker="o")
        ax.set_title(stem)
        fig.savefig(reports / "figures" / f"{stem}.png", dpi=60)
        plt.close(fig)
    verdicts = check_claims(PARAMS, fake_run(reports, holds=True), TakeawayThresholds())
    save_figure(verdict_forest(verdicts), reports / "verdicts")
    (reports / "index.html").write_text(index_html(params(), verdicts, TABLE1))
    (reports / "index.md").write_text(index_markdown(params(), verdicts))


BROKEN_IMAGES = """<script>window.addEventListener('load', () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0);
  document.title = 'broken:' + broken.length + '/' + document.images.length;
});</script>"""


def broken_images(reports) -> tuple[int, int]:
    """(broken, all) images of index.html as Chromium loads it, from a copy beside it
    with a script that counts them."""
    probe = reports / ".probe.html"
    probe.write_text((reports / "index.html").read_text().replace("</body>", BROKEN_IMAGES))
    dom = browse(probe, "--dump-dom").stdout
    broken, total = re.search(r"<title>broken:(\d+)/(\d+)</title>", dom).groups()
    return int(broken), int(total)


def test_index_html_shows_every_figure_in_a_browser(tmp_path):
    stems = [e.stem for e in index_entries(params()) if e.stem != "table1"]
    write_pages(tmp_path, stems)
    assert broken_images(tmp_path) == (0, len(stems) + 1)  # and the verdicts' figure
    screenshot = tmp_path / "index.png"
    browse(tmp_path / "index.html", f"--screenshot={screenshot}", "--window-size=1200,1600")
    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels[..., :3].std() > 0.05  # text, tables and plots, not a blank page
    assert "91.20" in (tmp_path / "index.html").read_text()  # Table 1's rows


def test_a_missing_figure_shows_as_broken(tmp_path):
    stems = [e.stem for e in index_entries(params()) if e.stem != "table1"]
    write_pages(tmp_path, stems[1:])  # the first figure was never drawn
    assert broken_images(tmp_path) == (1, len(stems) + 1)
