"""Benchmark: fp32 networks on contiguous (NCHW) against channels_last (NHWC) tensors.

For each architecture, a training step (forward, backward, SGD step) and a forward
pass in eval mode, timed with torch.utils.benchmark (warm-up, median of repeats) in
three layouts measured in the same run: everything contiguous (the baseline),
channels_last weights with contiguous images (what a model loaded in channels_last
gets from code that passes plain images, as the attacks do), and channels_last
weights and images. Prints milliseconds and the speed-up over the baseline.

    python benchmarks/memory_format.py [--threads 1] [--scale quick paper]
"""

import argparse

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


def _median_seconds(fn, min_run_time: float) -> float:
    fn()
    return (
        Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time).median
    )


def _time_layout(model, x, y, layout: str, min_run_time: float) -> dict:
    """{task: median seconds} of ``model`` on ``x`` in ``layout`` (one of LAYOUTS)."""
    weights = torch.contiguous_format if layout == "contiguous" else torch.channels_last
    images = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=weights)
    x = x.contiguous(memory_format=images)
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-3)

    def training_step():
        optimiser.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimiser.step()

    @torch.no_grad()
    def evaluation():
        model(x)

    model.train()
    seconds = {"training": _median_seconds(training_step, min_run_time)}
    model.eval()
    seconds["evaluation"] = _median_seconds(evaluation, min_run_time)
    return seconds


def time_layouts(arch, width, depth, patch, shape, batch, min_run_time) -> dict:
    """{(task, layout): median seconds} for one model, every layout from the same weights."""
    channels, size = shape[0], shape[1]
    stats = (0.5,) * channels, (0.25,) * channels
    spec = ModelSpec(arch, 10, channels, width, *stats, size, depth, patch)
    torch.manual_seed(0)
    model = build_model(spec)
    x = torch.rand(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    return {
        (task, layout): seconds
        for layout in LAYOUTS
        for task, seconds in _time_layout(model, x, y, layout, min_run_time).items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--scale", nargs="+", default=["quick", "paper"], choices=list(SCALES))
    parser.add_argument("--min-run-time", type=float, default=2.0, help="seconds per timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU, {args.threads} thread(s); ms per batch, speed-up over contiguous in brackets")
    for scale in args.scale:
        for arch, width, depth, patch, shape, batch in SCALES[scale]:
            seconds = time_layouts(arch, width, depth, patch, shape, batch, args.min_run_time)
            for task in ("training", "evaluation"):
                base = seconds[task, "contiguous"]
                cells = "  ".join(
                    f"{layout} {t * 1e3:7.1f} ({base / t:.2f}x)"
                    for layout in LAYOUTS
                    for t in [seconds[task, layout]]
                )
                name = f"{scale} {arch} w{width} {'x'.join(map(str, shape))} b{batch}"
                print(f"{name:<34} {task:<10} {cells}")


if __name__ == "__main__":
    main()
