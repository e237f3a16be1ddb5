"""Projected cost of a cross-layer stitching panel from FLOP counts.

Counts forward FLOPs of every segment of a CIFAR ResNet with PyTorch's FlopCounterMode
and adds up one panel's training and evaluation work as the engine does it: per batch,
one front pass (to the deepest front point) and one reference pass of the end model,
shared by all stitches; per trained stitch, the end model from its end point forward and
backward to the stitch (input gradients ~ forward FLOPs; Hint needs neither); per
evaluated stitch, the end model forward. Prints TFLOPs per panel and hours at the
sustained throughputs given (a GPU's real rate for these small convs must be measured).

    python benchmarks/cross_layer_cost.py --width 64 --points 1 2 3 4 5 6 7 8 9
"""

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from stitchkit.models import ModelSpec, build_model

TRAINED_WITH_END_PASS = ("slm", "tlm", "fula")  # hint: T only; dm: untrained


def segment_flops(arch: str, width: int) -> list[float]:
    """Forward FLOPs per image of segments 1..9 and of the head."""
    model = build_model(ModelSpec(arch, 10, 3, width, (0.5,) * 3, (0.25,) * 3)).eval()
    h, flops = torch.zeros(1, 3, 32, 32), []
    with torch.no_grad():
        for segment in model.segments:
            with FlopCounterMode(display=False) as counter:
                h = segment(h)
            flops.append(counter.get_total_flops())
        with FlopCounterMode(display=False) as counter:
            model.fc(model.pool(h))
        flops.append(counter.get_total_flops())
    return flops


def panel_flops(seg, points, train_images, epochs, test_images) -> float:
    def forward_to(k):
        return sum(seg[:k])

    def forward_from(j):
        return sum(seg[j:])

    pairs = [(i, j) for i in points for j in points]
    per_image_train = forward_to(max(points)) + forward_to(len(seg) - 1) + seg[-1]
    per_image_train += sum(2 * forward_from(j) for _, j in pairs) * len(TRAINED_WITH_END_PASS)
    per_image_eval = forward_to(max(points)) + sum(forward_from(j) for _, j in pairs) * 5
    return epochs * train_images * per_image_train + test_images * per_image_eval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--points", type=int, nargs="+", default=list(range(1, 10)))
    parser.add_argument("--train-images", type=int, default=50000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--test-images", type=int, default=10000)
    parser.add_argument("--tflops", type=float, nargs="+", default=[25.0, 50.0, 100.0])
    args = parser.parse_args()
    seg = segment_flops(args.arch, args.width)
    total = panel_flops(seg, args.points, args.train_images, args.epochs, args.test_images)
    n = len(args.points)
    print(
        f"{args.arch} width {args.width}: {n}x{n} pairs x 5 modes, {args.epochs} epochs on "
        f"{args.train_images} images: {total / 1e12:,.1f} TFLOP per panel"
    )
    for rate in args.tflops:
        print(f"  at a sustained {rate:g} TFLOP/s: {total / rate / 1e12 / 3600:.2f} h")


if __name__ == "__main__":
    main()
