"""Benchmark: a 9 x 9 compare's similarity measures with and without the activation cache.

Two stitchkit ResNet18s (width 8, seeded; speed does not depend on the weights) at all 9
points, every default measure with its jackknife interval, on --samples digits test
images (all 450 by default) or Fashion-MNIST's (--data fashion-mnist). Three runs, in
one process:

- without the cache: every measure of every pair extracts both activations anew (what
  a loop over measures and pairs does without one);
- cold cache: each model's activations extracted once (all points in one pass), then
  memory-mapped; each point's reduced features computed once;
- warm cache: the same compare again, reading the files the cold run wrote.

Prints each time and its ratio to the run without the cache, and checks that the three
tables are equal.

    python benchmarks/compare_cache.py
"""

import argparse
import tempfile
import time

import torch

from stitchkit.compare.comparison import DEFAULT_MEASURES, compare
from stitchkit.data.data_spec import named_data
from stitchkit.models.architectures import ModelSpec, build_model


def _model(seed: int, channels: int):
    torch.manual_seed(seed)
    return build_model(
        ModelSpec("resnet18", 10, channels, 8, (0.5,) * channels, (0.25,) * channels)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits", help="a built-in dataset (default digits)")
    parser.add_argument("--samples", type=int, default=None, help="test images (default all)")
    args = parser.parse_args()
    data = named_data(args.data)
    front, end = (_model(seed, data.image_shape[0]).eval() for seed in (0, 1))
    settings = dict(modes=(), measures=DEFAULT_MEASURES, samples=args.samples, progress=False)
    times, tables = {}, {}
    with tempfile.TemporaryDirectory() as root:
        for run, cache in (("without the cache", None), ("cold cache", root), ("warm cache", root)):
            start = time.perf_counter()
            tables[run] = compare(front, end, data, cache=cache, **settings)
            times[run] = time.perf_counter() - start
    n = int(tables["cold cache"].n.iloc[0])
    pairs = len(tables["cold cache"]) // len(DEFAULT_MEASURES)
    print(f"{pairs} point pairs x {len(DEFAULT_MEASURES)} measures on {n} {args.data} test images")
    base = times["without the cache"]
    for run, seconds in times.items():
        print(f"{run:>18}: {seconds:7.1f} s  ({base / seconds:.1f}x the run without the cache)")
    same = all(tables[run].equals(tables["without the cache"]) for run in tables)
    print(f"tables equal: {same}")


if __name__ == "__main__":
    main()
