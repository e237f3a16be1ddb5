"""A run record (docs/evidence/runs/<label>.json): what one run of the evidence suite
decided, on which commit and machine, with which float arithmetic, and how fast."""

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from stitchkit.common.io import atomic_path, write_json
from stitchkit.pipeline.evidence import (
    EVIDENCE,
    MAIN,
    RUNS,
)
from stitchkit.report.run_report import FOREST_FIGURE


def machine() -> dict:
    """What the run's numbers depend on: CPU model and cores, Python and torch."""
    import torch

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = names[0] if names else cpu
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        # the vector instructions torch's CPU kernels use (ATEN_CPU_CAPABILITY and
        # ONEDNN_MAX_CPU_ISA lower them: the float arithmetic of an older CPU)
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def suite_digest(params: dict) -> str:
    """A fingerprint of the suite's configuration: the composed params without
    `compute:` (threads and precision change only the float arithmetic), so that two
    runs with the same digest ran the same experiments."""
    settings = {k: v for k, v in params.items() if k != "compute"}
    canonical = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:12]


def commit() -> str:
    """HEAD's hash, with `+changes` when tracked files differ from it; `unknown` outside
    a git checkout with commits."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], capture_output=True, text=True)

    head = git("rev-parse", "--short=12", "HEAD")
    if head.returncode:
        return "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + ("+changes" if changed else "")


def run_record(
    label: str,
    params: dict,
    wall_seconds: float,
    stage_seconds: dict[str, float],
    benchmark: float | None,
    overrides: list[str] = (),
    up_to_date: int = 0,
    revision: str | None = None,
    reports: Path = Path("reports"),
) -> dict:
    """A run of the suite as a record: its verdicts (reports/takeaways.json), commit,
    machine, `compute:` settings, the `-S` overrides of suite=evidence, wall time, each
    stage's wall time (of the stages that ran; ``up_to_date`` others did not need to)
    the machine's benchmark figure (benchmarks/stitch_stream.py, shared-stream
    stitch-images/s) and the suite's digest (`suite_digest`). ``revision``: the commit
    the run started from (default: now's)."""
    return {
        "label": label,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": revision or commit(),
        "machine": machine(),
        "compute": params.get("compute") or {},
        "suite": suite_digest(params),
        "overrides": list(overrides),
        "wall_seconds": round(wall_seconds, 1),
        "stages_up_to_date": up_to_date,
        "stage_seconds": {k: round(v, 1) for k, v in sorted(stage_seconds.items())},
        "stitch_stream": benchmark,
        "takeaways": json.loads((reports / "takeaways.json").read_text()),
    }


def save_record(record: dict, reports: Path = Path("reports"), root: Path = Path(".")) -> None:
    """Writes the record; for ``main`` also copies its figures under docs/evidence/."""
    write_json(root / RUNS / f"{record['label']}.json", record)
    if record["label"] != MAIN:
        return
    figures = {FOREST_FIGURE: reports / FOREST_FIGURE}
    for check in record["takeaways"]["checks"].values():
        for name in filter(None, check["figures"].split(", ")):
            figures[f"{name}.png"] = reports / "figures" / f"{name}.png"
    for name, source in figures.items():
        with atomic_path(root / EVIDENCE / "figures" / name) as tmp:
            shutil.copyfile(source, tmp)


def stitch_stream_figure() -> float | None:
    """This machine's benchmark figure: benchmarks/stitch_stream.py's shared-stream
    stitch-images/s (None if the benchmark is not there, e.g. outside a checkout)."""
    script = Path("benchmarks/stitch_stream.py")
    if not script.exists():
        return None
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"^shared stream\s*:\s*([\d.]+)", out, re.MULTILINE)
    return float(found.group(1)) if found else None
