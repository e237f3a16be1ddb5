"""The throughput of each kernel family of the cost model on this machine, in FLOP/s.

stitchkit.pipeline.stage_cost splits every stage's FLOPs into families (FAMILIES):
base-model training steps, stitch training, input-gradient (PGD, IRI) steps, robust
evaluation (APGD iterations) and test-image scoring. Their throughputs differ (a panel
runs many small stitch steps beside its shared passes; an attack iteration carries
APGD's bookkeeping), so one assumed TFLOP/s misjudges a suite's mix. On a ResNet18 of
the given width and input, this script times a training step, an input-gradient step,
the official APGD and a forward pass with torch.utils.benchmark (warm-up, CUDA
synchronisation), and a real panel's training (PanelTrainer.fit: four modes at two
points), and divides the FLOPs the cost model counts for each by its time.

    python benchmarks/kernel_rates.py [--width 64] [--input 3x32x32] [--batch 128]
"""

import argparse
import time

import torch
from torch.nn import functional as F
from torch.utils.benchmark import Timer

from stitchkit.data.prepared import PreparedDataset
from stitchkit.models.architectures import ModelSpec, build_model
from stitchkit.pipeline.stage_cost import (
    FAMILIES,
    GRAD_PASSES,
    TRAIN_PASSES,
    layer_flops,
    model_flops,
)
from stitchkit.stitching.recipe import StitchRecipe, make_spec
from stitchkit.stitching.trainer import PanelTrainer

STITCH_BATCHES = 3  # batches of the timed panel
APGD_ITERATIONS = 5  # per timed attack: enough that APGD's set-up is a small share


def _seconds(fn, min_run_time: float) -> float:
    """The median seconds of one call of ``fn`` (after a warm-up call)."""
    fn()
    timer = Timer(stmt="fn()", globals={"fn": fn})
    return timer.blocked_autorange(min_run_time=min_run_time).median


def _stitch_panel(spec: ModelSpec, flops, device, batch: int) -> tuple[float, float]:
    """(seconds, FLOPs per image) of a real panel's training (PanelTrainer.fit): the
    four trained modes at points 5 and 9 on the shared batch stream, STITCH_BATCHES
    batches of random images; FLOPs as the cost model counts them (its few evaluation
    and least-squares images are timed, not counted)."""
    images = STITCH_BATCHES * batch
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (images, *spec.input_shape), generator=generator)
    labels = torch.randint(0, 10, (images,), generator=generator)
    data = PreparedDataset(
        pixels.to(torch.uint8),
        labels,
        pixels[:batch].to(torch.uint8),
        labels[:batch],
        [str(c) for c in range(10)],
        list(range(10)),
    )
    front, end = (build_model(spec).to(device) for _ in "fe")
    specs = [make_spec(m, k, k, end) for m in ("hint", "slm", "tlm", "fula") for k in (5, 9)]
    recipe = StitchRecipe(
        epochs=1,
        batch_size=batch,
        train_samples=images,
        eval_samples=batch,
        dm_samples=batch,
        crop_padding=0,
        hflip=False,
        lr_drops=(),
    )
    trainer = PanelTrainer(front, end, data, specs, recipe, device)
    started = time.perf_counter()
    trainer.fit(progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    per_image = flops.total + flops.front[9]  # the shared reference and front passes
    for s in specs:
        backward = 0.0 if s.objective == "hint" else flops.end[s.end_point]
        layer = layer_flops(flops.shape[s.front_point], flops.shape[s.end_point])
        per_image += flops.end[s.end_point] + backward + TRAIN_PASSES * layer
    return seconds / images, per_image


def measure_rates(
    device: torch.device,
    width: int = 64,
    shape: tuple[int, int, int] = (3, 32, 32),
    batch: int = 128,
    min_run_time: float = 1.0,
) -> dict[str, float]:
    """FLOP/s of each family of FAMILIES for a ResNet18 of ``width`` on images of
    ``shape`` (channels, height, width) in batches of ``batch`` on ``device``."""
    from pyautoattack.autopgd_base import APGDAttack

    channels = shape[0]
    spec = ModelSpec("resnet18", 10, channels, width, (0.0,) * channels, (1.0,) * channels)
    flops = model_flops("resnet18", width, None, channels, 10)
    generator = torch.Generator().manual_seed(0)
    model = build_model(spec).to(device)
    x = torch.rand(batch, *shape, generator=generator).to(device)
    y = torch.randint(0, 10, (batch,), generator=generator).to(device)
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-3)

    def training_step():
        optimiser.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimiser.step()

    seconds = {"training": _seconds(training_step, min_run_time)}
    per_image = {"training": TRAIN_PASSES * flops.total}

    seconds["stitch"], per_image["stitch"] = _stitch_panel(spec, flops, device, batch)
    model.eval().requires_grad_(False)

    def pgd_step():
        x_adv = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x_adv), y), x_adv)
        return grad

    @torch.no_grad()
    def evaluation():
        model(x)

    apgd = APGDAttack(model, n_iter=APGD_ITERATIONS, eps=8 / 255, seed=0, device=device)
    apgd.init_hyperparam(x)  # as APGDAttack.perturb does first

    def attack():
        apgd.attack_single_run(x, y)

    seconds |= {
        "pgd": _seconds(pgd_step, min_run_time),
        "attack": _seconds(attack, min_run_time),
        "evaluation": _seconds(evaluation, min_run_time),
    }
    per_image |= {
        "pgd": GRAD_PASSES * flops.total,
        "attack": (1 + APGD_ITERATIONS * GRAD_PASSES) * flops.total,
        "evaluation": flops.total,
    }
    seconds["stitch"] *= batch  # the panel's seconds per image, as the others' per batch
    return {f: batch * per_image[f] / seconds[f] for f in FAMILIES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--input", default="3x32x32", help="channels x height x width")
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    shape = tuple(int(n) for n in args.input.split("x"))
    rates = measure_rates(device, args.width, shape, args.batch)
    print(f"device {device}, resnet18 width {args.width}, input {args.input}, batch {args.batch}")
    for family, rate in rates.items():
        ratio = rate / rates["training"]
        print(f"{family:<11} {rate / 1e9:10.1f} GFLOP/s  ({ratio:.2f}x training)")


if __name__ == "__main__":
    main()
