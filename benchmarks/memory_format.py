"""Benchmark: fp32 networks on contiguous (NCHW) against channels_last (NHWC) tensors.

For each architecture, a training step (forward, backward, SGD step) and a forward
pass in eval mode, timed with torch.utils.benchmark in three layouts in the same run:
everything contiguous (the baseline), channels_last weights with contiguous images
(what a model loaded in channels_last gets from code that passes plain images, as the
attacks do), and channels_last weights and images. The layouts alternate over rounds,
so that a drift of the machine's speed (2x within an hour here) does not favour one.
Prints median milliseconds and the median over rounds of each speed-up.

    python benchmarks/memory_format.py [--threads 1] [--scale quick paper] [--rounds 5]
"""

import argparse
import copy
import statistics

import torch
from torch.nn import functional as F
from torch.utils.benchmark import Timer

from stitchkit.models.architectures import ModelSpec, build_model

# (arch, width, depth, patch, input shape, batch): the quick suite's models on
# Fashion-MNIST and the paper suite's on CIFAR-10
SCALES = {
    "quick": [
        ("resnet18", 8, None, None, (1, 32, 32), 64),
        ("vgg16_bn", 8, None, None, (1, 32, 32), 64),
        ("vit_tiny", 48, 4, 8, (1, 32, 32), 64),
    ],
    "paper": [
        ("resnet18", 64, None, None, (3, 32, 32), 128),
        ("vgg16_bn", 64, None, None, (3, 32, 32), 128),
    ],
}
LAYOUTS = ("contiguous", "channels_last weights", "channels_last")
TASKS = ("training", "evaluation")


def _workloads(model, x, y, layout: str) -> dict:
    """{task: a no-argument call} of a copy of ``model`` in ``layout`` (one of LAYOUTS)."""
    weights = torch.contiguous_format if layout == "contiguous" else torch.channels_last
    images = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    model = copy.deepcopy(model).to(memory_format=weights)
    x = x.contiguous(memory_format=images)
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-3)

    def training():
        model.train()
        optimiser.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimiser.step()

    @torch.no_grad()
    def evaluation():
        model.eval()
        model(x)

    return {"training": training, "evaluation": evaluation}


def time_layouts(arch, width, depth, patch, shape, batch, rounds, min_run_time) -> dict:
    """{(task, layout): [seconds per call, one per round]} for one model, every layout
    from the same weights. Each round times every layout in turn (the order rotating),
    so that a machine whose speed drifts slows all of them alike."""
    channels, size = shape[0], shape[1]
    stats = (0.5,) * channels, (0.25,) * channels
    spec = ModelSpec(arch, 10, channels, width, *stats, size, depth, patch)
    torch.manual_seed(0)
    model = build_model(spec)
    x = torch.rand(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    calls = {layout: _workloads(model, x, y, layout) for layout in LAYOUTS}
    seconds = {(task, layout): [] for task in TASKS for layout in LAYOUTS}
    for task in TASKS:
        for layout in LAYOUTS:
            calls[layout][task]()  # warm-up
        for r in range(rounds):
            for layout in LAYOUTS[r % 3 :] + LAYOUTS[: r % 3]:
                timer = Timer(stmt="fn()", globals={"fn": calls[layout][task]})
                measured = timer.blocked_autorange(min_run_time=min_run_time)
                seconds[task, layout].append(measured.median)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--scale", nargs="+", default=["quick", "paper"], choices=list(SCALES))
    parser.add_argument("--rounds", type=int, default=5, help="timings per layout")
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds per timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"CPU, {args.threads} thread(s), {args.rounds} alternating rounds; median ms per "
        "batch, in brackets the median over rounds of the speed-up over contiguous"
    )
    for scale in args.scale:
        for arch, width, depth, patch, shape, batch in SCALES[scale]:
            seconds = time_layouts(
                arch, width, depth, patch, shape, batch, args.rounds, args.min_run_time
            )
            for task in TASKS:
                base = seconds[task, "contiguous"]
                cells = "  ".join(
                    f"{layout} {statistics.median(t) * 1e3:7.1f} "
                    f"({statistics.median(b / s for b, s in zip(base, t, strict=True)):.2f}x)"
                    for layout in LAYOUTS
                    for t in [seconds[task, layout]]
                )
                name = f"{scale} {arch} w{width} {'x'.join(map(str, shape))} b{batch}"
                print(f"{name:<34} {task:<10} {cells}")


if __name__ == "__main__":
    main()
