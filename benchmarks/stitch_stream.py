"""Benchmark: a panel trained on one shared batch stream vs. the same stitches one by one.

Both runs do the same training work (every stitch sees every batch once); the shared
stream draws and augments each batch once and runs the frozen front and the end
model's reference pass once for all stitches. Prints stitch-images/s of both and the
ratio. Models are randomly initialised (speed does not depend on the weights).

    python benchmarks/stitch_stream.py --arch resnet18 --width 8 --points 1 3 5 7 9
"""

import argparse
import time

import torch

from stitchkit.datasets import prepare_digits
from stitchkit.device import default_device
from stitchkit.models import ModelSpec, build_model
from stitchkit.objectives import MODES
from stitchkit.stitch_recipe import StitchRecipe, make_spec
from stitchkit.stitching import PanelTrainer


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

    shared = timed_fit(front, end, data, specs, recipe, device)
    alone = sum(timed_fit(front, end, data, [s], recipe, device) for s in specs)
    print(
        f"device {device}, {args.arch} width {args.width}, {len(specs)} stitches, "
        f"{args.samples} images"
    )
    print(f"shared stream : {work / shared:10.0f} stitch-images/s  ({shared:.1f} s)")
    print(f"one by one    : {work / alone:10.0f} stitch-images/s  ({alone:.1f} s)")
    print(f"ratio (shared / one by one): {alone / shared:.2f}x")


if __name__ == "__main__":
    main()
