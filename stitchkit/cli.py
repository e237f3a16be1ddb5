"""The `stitchkit` command (`main`). A UserError becomes one `error:` line and exit
status 2 (stages: stitchkit.common.entry_point)."""

import argparse
import sys
from pathlib import Path


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
    compare = commands.add_parser(
        "compare",
        help="how alike two models are, layer by layer, by stitching and similarity measures",
        description="Stitch the front model's points into the end model's (every pair, "
        "each mode) and compute similarity measures between their activations, each value "
        "with a 95%% interval; write OUT/comparison.csv and .parquet, a heatmap per method "
        "and metric (OUT/heatmaps/) and OUT/index.html.",
    )
    model_help = (
        "torchvision:NAME[,KEY=VALUE...][@STATE_DICT], timm:NAME[,...][@STATE_DICT] or a "
        "stitchkit model file"
    )
    compare.add_argument("--front", required=True, metavar="SPEC", help=model_help)
    compare.add_argument("--end", required=True, metavar="SPEC", help=model_help)
    compare.add_argument(
        "--data",
        required=True,
        metavar="SPEC",
        help="a built-in dataset (fashion-mnist, cifar10, digits, ls-imagenet-10) or "
        "imagefolder:PATH[,size=N]",
    )
    compare.add_argument(
        "--points",
        default="auto",
        help="auto (every candidate point), auto:N (N evenly spaced) or comma-separated "
        "names (`stitchkit layers` lists them); both models, unless --end-points",
    )
    compare.add_argument("--end-points", help="the end model's points, as --points")
    compare.add_argument(
        "--modes",
        default="dm,tlm,fula",
        help="stitching modes, comma-separated, of dm, hint, slm, tlm, fula (none: no stitching)",
    )
    compare.add_argument(
        "--measures",
        default="cka,cka_debiased,rbf_cka,procrustes,rsa,mutual_knn",
        help="similarity measures, comma-separated, of cka, cka_debiased, rbf_cka, cca, "
        "svcca, pwcca, procrustes, rsa, mutual_knn (none: no measures)",
    )
    compare.add_argument(
        "--recipe",
        default="fast",
        choices=("fast", "paper"),
        help="the stitches' training: fast (2 epochs on 4,096 images) or paper (30 epochs)",
    )
    compare.add_argument(
        "--samples", type=int, default=1000, help="test images the measures read (default 1000)"
    )
    compare.add_argument("--device", help="cpu or cuda (default: cuda when there is one)")
    compare.add_argument(
        "--threads",
        type=int,
        help="torch's and BLAS's CPU threads (default: one per core); give 1 per job when "
        "other torch jobs share the cores, or every job slows several-fold",
    )
    compare.add_argument(
        "--cache",
        default="~/.cache/stitchkit/activations",
        help="the activation cache's folder (none: recompute activations)",
    )
    compare.add_argument("--out", required=True, type=Path, help="the output folder")
    return parser


def _listed(text: str | None) -> list[str] | str | None:
    """auto, auto:N or none as they are; names as a list."""
    if text is None or text.startswith("auto") or text == "none":
        return text
    return [name.strip() for name in text.split(",") if name.strip()]


def _compare(args: argparse.Namespace) -> int:
    import torch

    from stitchkit.common.compute import limit_cpu_threads
    from stitchkit.common.errors import UserError
    from stitchkit.compare.comparison import compare
    from stitchkit.compare.outputs import check_output_folder, summary, write_outputs

    check_output_folder(args.out)
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads {args.threads}: give a positive number of threads")
        limit_cpu_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    modes, measures = (() if v == "none" else _listed(v) for v in (args.modes, args.measures))
    table = compare(
        args.front,
        args.end,
        args.data,
        points=_listed(args.points),
        end_points=_listed(args.end_points),
        modes=modes,
        measures=measures,
        recipe=args.recipe,
        samples=args.samples,
        device=device,
        cache=None if args.cache == "none" else args.cache,
        checkpoint=args.out / ".stitches.ckpt",
    )
    settings = {
        "front": args.front,
        "end": args.end,
        "data": args.data,
        "recipe": args.recipe,
        "measure images": str(args.samples),
        "device": device,
    }
    written = write_outputs(args.out, table, settings)
    (args.out / ".stitches.ckpt").unlink(missing_ok=True)  # done: nothing to resume
    print(summary(table))
    print(f"wrote {len(written)} files under {args.out}; open {args.out / 'index.html'}")
    return 0


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
        command = {
            "compare": _compare,
            "evidence": _evidence,
            "layers": _layers,
            "repro": _repro,
        }[args.command]
        status = command(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished stages are in dvc.lock; rerun to continue", file=sys.stderr)
        sys.exit(130)
    sys.exit(status)
