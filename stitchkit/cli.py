"""The `stitchkit` command (`main`). A UserError becomes one `error:` line and exit
status 2 (stages: stitchkit.common.entry_point)."""

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stitchkit")
    commands = parser.add_subparsers(dest="command", required=True)
    repro = commands.add_parser(
        "repro",
        help="dvc repro, with independent stages running in parallel on Ray",
        description="Bring the DVC pipeline (or TARGETS and what they depend on) up to "
        "date, running out-of-date stages side by side on Ray: every core or GPU of this "
        "machine, or a Ray cluster (--address). Stage logs: .dvc/tmp/stitchkit-repro/.",
    )
    repro.add_argument("targets", nargs="*", help="stages as `dvc repro` names them")
    repro.add_argument("-f", "--force", action="store_true", help="run even unchanged stages")
    repro.add_argument(
        "-S",
        "--set-param",
        action="append",
        default=[],
        metavar="OVERRIDE",
        help="compose params.yaml from conf/ first, as `dvc exp run -S` does (suite=quick)",
    )
    repro.add_argument(
        "--address",
        help="a running Ray cluster (`ray start --head` prints it; `auto` finds a local "
        "one); the repository must be at the same path on every node",
    )
    evidence = commands.add_parser(
        "evidence",
        help="run the evidence suite and write docs/evidence.md",
        description="Compose the evidence suite (suite=evidence, then -S overrides), take "
        "this machine's benchmark figure (benchmarks/stitch_stream.py), bring the pipeline "
        "up to date with `stitchkit repro`, save the run's record under "
        "docs/evidence/runs/LABEL.json and write docs/evidence.md from the records.",
    )
    evidence.add_argument(
        "--label",
        default="main",
        help="the record's name: `main` (default) is the page's run and copies its figures; "
        "any other is a stability rerun, compared with main (e.g. threads-2)",
    )
    evidence.add_argument(
        "-S",
        "--set-param",
        action="append",
        default=[],
        metavar="OVERRIDE",
        help="an override after suite=evidence (e.g. compute.cpu_threads=2)",
    )
    evidence.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="rerun every stage (a rerun under other float arithmetic, e.g. "
        "ATEN_CPU_CAPABILITY=avx2, changes no parameter that DVC tracks)",
    )
    evidence.add_argument(
        "--page-only",
        action="store_true",
        help="run nothing: rewrite docs/evidence.md from the saved records",
    )
    layers = commands.add_parser(
        "layers",
        help="list a model's candidate stitching points with their activation shapes",
        description="List the candidate stitching points of the model SPEC names (block "
        "and stage outputs found in its graph; a stitchkit model's numbered points), in "
        "forward order, with the shape of each activation.",
    )
    layers.add_argument(
        "spec",
        metavar="SPEC",
        help="torchvision:NAME[,KEY=VALUE...][@STATE_DICT], timm:NAME[,...][@STATE_DICT], "
        "or a stitchkit model file (e.g. torchvision:resnet18,num_classes=10)",
    )
    layers.add_argument(
        "--input-shape",
        metavar="CxHxW",
        help="the images the model takes (default: the model's own, e.g. 3x224x224)",
    )
    return parser


def _input_shape(text: str) -> tuple[int, ...]:
    from stitchkit.common.errors import UserError

    try:
        shape = tuple(int(n) for n in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise UserError(f"--input-shape {text!r}: give channels x height x width, e.g. 3x32x32")
    return shape


def _layers(args: argparse.Namespace) -> int:
    from stitchkit.models.model_spec import named_model
    from stitchkit.models.points import candidate_points, numbered_points

    named = named_model(args.spec)
    if named.stitchkit:
        if args.input_shape:
            print("note: a stitchkit model takes its own input shape", file=sys.stderr)
        points, shape = numbered_points(named.model), named.input_shape
    else:
        shape = _input_shape(args.input_shape) if args.input_shape else named.input_shape
        points = candidate_points(named.model, shape)
    print(f"{args.spec}: {len(points)} stitching points on inputs {'x'.join(map(str, shape))}")
    width = max((len(p.name) for p in points), default=0)
    for k, point in enumerate(points, 1):
        print(f"{k:>3}  {point.name:<{width}}  {'x'.join(map(str, point.shape))}")
    return 0


def _evidence(args: argparse.Namespace) -> int:
    from stitchkit.pipeline.evidence import MAIN, RUNS
    from stitchkit.pipeline.evidence.page import write_page
    from stitchkit.pipeline.evidence.run import run_evidence

    if not args.page_only:
        outcome = run_evidence(args.label, args.set_param, args.force)
        if not outcome.ok:
            return _failed(outcome)
        if args.label != MAIN and not (RUNS / f"{MAIN}.json").exists():
            print(
                f"saved {RUNS / args.label}.json; docs/evidence.md is written once "
                f"{RUNS / MAIN}.json exists",
                file=sys.stderr,
            )
            return 0
    print(f"wrote {write_page()}", file=sys.stderr)
    return 0


def _repro(args: argparse.Namespace) -> int:
    from stitchkit.pipeline.params_compose import compose_params
    from stitchkit.pipeline.ray_repro import repro

    if args.set_param:
        compose_params(args.set_param)
    outcome = repro(args.targets, force=args.force, address=args.address)
    print(
        f"{len(outcome.ran)} stages ran, {len(outcome.skipped)} were up to date or cached",
        file=sys.stderr,
    )
    return 0 if outcome.ok else _failed(outcome)


def _failed(outcome) -> int:
    """Says which stages failed and how to continue; the exit status."""
    for name, error in outcome.failed.items():
        print(f"error: stage {name} failed: {error}", file=sys.stderr)
    if outcome.not_run:
        print(f"not run (they depend on a failed stage): {', '.join(outcome.not_run)}")
    print("fix the failure and rerun `stitchkit repro`; it continues from here", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> None:
    from stitchkit.common.errors import UserError

    args = _parser().parse_args(argv)
    try:
        command = {"evidence": _evidence, "layers": _layers, "repro": _repro}[args.command]
        status = command(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished stages are in dvc.lock; rerun to continue", file=sys.stderr)
        sys.exit(130)
    sys.exit(status)
