"""Benchmark: a panel's stitches one by one, on one shared batch stream, and stacked.

All runs do the same training work (every stitch sees every batch once). The shared
stream draws and augments each batch once and runs the frozen front and the end
model's reference pass once for all stitches, then each stitch its own end pass; the
stacked path (stitch.batching: stacked) runs the stitches of each point pair as one
vmapped end pass. Prints stitch-images/s of each and the ratios to one by one, in one
run. Models are randomly initialised (speed does not depend on the weights). With
--alpha > 0 the stitches train adversarially (the batch mix, --steps PGD steps); the
stacked path then also crafts every stitch's PGD examples in one vmapped pass.

    python benchmarks/stitch_stream.py --arch resnet18 --width 8 --points 1 3 5 7 9
"""

import argparse
import time
from dataclasses import replace

import torch

from stitchkit.common.compute import default_device
from stitchkit.data.datasets import prepare_digits
from stitchkit.models.architectures import ModelSpec, build_model
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.stitching.objectives import MODES
from stitchkit.stitching.recipe import StitchRecipe, make_spec
from stitchkit.stitching.trainer import PanelTrainer


def timed_fit(front, end, data, specs, recipe, device, adversarial=None) -> float:
    """Wall seconds of one PanelTrainer.fit (CUDA synchronised), optionally adversarial."""
    trainer = PanelTrainer(front, end, data, specs, recipe, device, adversarial)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    trainer.fit(progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--points", type=int, nargs="+", default=[1, 3, 5, 7, 9])
    parser.add_argument("--samples", type=int, default=1024, help="training images per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--alpha", type=float, default=0.0, help="adversarial share (0: clean)")
    parser.add_argument("--steps", type=int, default=10, help="PGD steps when --alpha > 0")
    args = parser.parse_args()

    device = default_device()
    data = prepare_digits(0.25, 0)
    data.train_images = data.train_images.repeat(
        -(-args.samples // len(data.train_labels)), 1, 1, 1
    )
    data.train_labels = data.train_labels.repeat(-(-args.samples // len(data.train_labels)))
    mean, std = data.channel_stats()
    torch.manual_seed(0)
    front, end = (build_model(ModelSpec(args.arch, 10, 1, args.width, mean, std)) for _ in "fe")
    recipe = StitchRecipe(
        epochs=1,
        batch_size=args.batch_size,
        train_samples=args.samples,
        eval_samples=64,
        crop_padding=4,
        hflip=True,
        lr_drops=(),
    )
    specs = [make_spec(m, k, k, end) for m in MODES if m != "dm" for k in args.points]
    work = len(specs) * (args.samples // args.batch_size) * args.batch_size

    adversarial = None
    if args.alpha > 0:
        adversarial = AdversarialTraining(alpha=args.alpha, steps=args.steps)
    per_stitch = replace(recipe, batching="per-stitch")
    seconds = {
        "one by one": sum(
            timed_fit(front, end, data, [s], per_stitch, device, adversarial) for s in specs
        ),
        "shared stream": timed_fit(front, end, data, specs, per_stitch, device, adversarial),
        "stacked": timed_fit(
            front, end, data, specs, replace(recipe, batching="stacked"), device, adversarial
        ),
    }
    print(
        f"device {device}, {args.arch} width {args.width}, {len(specs)} stitches, "
        f"{args.samples} images, alpha {args.alpha:g}"
    )
    for name, wall in seconds.items():
        ratio = seconds["one by one"] / wall
        print(f"{name:14s}: {work / wall:10.0f} stitch-images/s  ({wall:.1f} s, {ratio:.2f}x)")
    print(f"ratio (shared / one by one): {seconds['one by one'] / seconds['shared stream']:.2f}x")


if __name__ == "__main__":
    main()
