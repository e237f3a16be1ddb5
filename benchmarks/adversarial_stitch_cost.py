"""Benchmark: one stitch-training epoch under adversarial training vs. a clean one.

Trains the same panel (every trained mode at the given points) for one epoch with
alpha = 0 (clean), 0.5 and 1, with PGD of ``--steps`` steps (the paper: 10; the quick
suite: 1) mixed in as ``--mix`` says (batch: the authors' share of each batch replaced;
loss: eq. 4's two passes), and prints seconds per epoch and the ratio to the clean
epoch of the same run (each includes the DM initialisation and scoring on 64 test images, both
negligible). Models are randomly initialised (speed does not depend on
the weights).

    python benchmarks/adversarial_stitch_cost.py --steps 10 --points 5 9
"""

import argparse

import torch
from stitch_stream import timed_fit  # the sibling benchmark; run as a script from anywhere

from stitchkit.common.compute import default_device
from stitchkit.data.datasets import prepare_digits
from stitchkit.models.architectures import ModelSpec, build_model
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.stitching.objectives import MODES
from stitchkit.stitching.recipe import StitchRecipe, make_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--points", type=int, nargs="+", default=[5, 9])
    parser.add_argument("--steps", type=int, default=10, help="PGD steps")
    parser.add_argument("--mix", choices=["batch", "loss"], default="batch")
    parser.add_argument("--samples", type=int, default=1024, help="training images per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    device = default_device()
    data = prepare_digits(0.25, 0)
    repeats = -(-args.samples // len(data.train_labels))
    data.train_images = data.train_images.repeat(repeats, 1, 1, 1)
    data.train_labels = data.train_labels.repeat(repeats)
    mean, std = data.channel_stats()
    torch.manual_seed(0)
    front, end = (build_model(ModelSpec(args.arch, 10, 1, args.width, mean, std)) for _ in "fe")
    recipe = StitchRecipe(
        epochs=1, batch_size=args.batch_size, train_samples=args.samples, eval_samples=64,
        lr_drops=(),
    )  # fmt: skip
    specs = [make_spec(m, k, k, end) for m in MODES if m != "dm" for k in args.points]
    print(
        f"device {device}, {args.arch} width {args.width}, {len(specs)} trained stitches, "
        f"{args.samples} images, PGD {args.steps} steps, {args.mix} mix"
    )
    clean = None
    for alpha in (0.0, 0.5, 1.0):
        adversarial = None
        if alpha:
            adversarial = AdversarialTraining(alpha, 8 / 255, 2 / 255, args.steps, args.mix)
        seconds = timed_fit(front, end, data, specs, recipe, device, adversarial)
        clean = clean or seconds
        print(
            f"alpha {alpha:3.1f}: {seconds:7.2f} s/epoch   ratio to clean {seconds / clean:5.2f}x"
        )


if __name__ == "__main__":
    main()
