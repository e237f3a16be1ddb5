"""DVC stage `report`: python -m stages.report [name ...]

Draws every figure and table of the paper from the results of the earlier stages:
reports/figures/ (see stages/figures.py for what goes where) and Table 1
(reports/table1.{md,csv}). One stage for all of them: a figure takes a fraction of a
second, a stage's start-up and DVC's bookkeeping several. Names restrict it to some
figures (a figure's name in params.yaml, `panels` for every panel's own figure,
`table1`), e.g. to redraw one after restyling. Every input is read before anything is
drawn, and every file is written atomically.
"""

from tqdm import tqdm

from stages.figures import figure_jobs, figure_sections
from stages.table1 import write_table1
from stitchkit.common.compute import limit_stage_threads
from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.params_file import read_params
from stitchkit.report.figures import save_figure


def main(argv: list[str]) -> None:
    params = read_params()
    limit_stage_threads(params)
    known = ["table1", *figure_sections(params), "panels"]
    unknown = [name for name in argv if name not in known]
    if unknown:
        raise UserError(f"no figure or table named {unknown[0]!r}; choose from {known}")
    names = argv or known
    jobs = figure_jobs(params, [name for name in names if name != "table1"])
    written = write_table1(params) if "table1" in names else []
    for job in tqdm(jobs, desc="figures", unit="figure"):
        written += save_figure(job.draw(), job.stem)
    print(f"wrote {len(written)} files under reports/")


if __name__ == "__main__":
    run_stage(main)
