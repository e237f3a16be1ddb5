"""Front/end derived from the graph (graph_split.GraphSplit) against hand-written
forward_to / forward_from on our ResNet18 (the code our ResNets had before they were
split from their graph: a loop over their segments), in one run.

Per width, times a front pass to point k plus an end pass from it (eval, no gradients)
and a stitch-training end pass (train-mode BatchNorm, backward to the activation),
alternating the two implementations, and prints the median of each and their ratio.

    python benchmarks/graph_split_speed.py [--widths 8 64] [--point 5] [--repeats 7]
"""

import argparse
import statistics
import time

import torch

from stitchkit.models.architectures import RESNET_POINTS, ModelSpec, ResNet
from stitchkit.models.graph_split import GraphSplit


class HandWritten:
    """Our ResNet's front and end as explicit loops over its segments."""

    def __init__(self, network: ResNet):
        self.network = network

    def forward_to(self, x: torch.Tensor, k: int) -> torch.Tensor:
        for segment in self.network.segments[:k]:
            x = segment(x)
        return x

    def forward_from(self, h: torch.Tensor, k: int) -> torch.Tensor:
        for segment in self.network.segments[k:]:
            h = segment(h)
        return self.network.fc(h.mean(dim=(2, 3)))


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def inference(model, net, x, k: int) -> None:
    model.eval()
    with torch.no_grad():
        net.forward_from(net.forward_to(x, k), k)


def end_training(model, net, x, k: int) -> None:
    model.train()
    h = net.forward_to(x, k).detach().requires_grad_()
    net.forward_from(h, k).sum().backward()


def compare(width: int, k: int, batch: int, repeats: int) -> None:
    torch.manual_seed(0)
    model = ResNet(ModelSpec("resnet18", 10, 3, width, (0.5,) * 3, (0.25,) * 3))
    hand_written = HandWritten(model)
    split = GraphSplit(model, RESNET_POINTS, (3, 32, 32), classifier="fc")
    x = torch.rand(batch, 3, 32, 32)
    for name, run in (("inference", inference), ("end, backward", end_training)):
        run(model, hand_written, x, k), run(model, split, x, k)  # warm-up
        hand, derived = [], []
        for _ in range(repeats):
            hand.append(_seconds(lambda: run(model, hand_written, x, k)))  # noqa: B023
            derived.append(_seconds(lambda: run(model, split, x, k)))  # noqa: B023
        a, b = statistics.median(hand), statistics.median(derived)
        print(f"{width:>5} {name:<14} {a * 1e3:>10.1f} ms {b * 1e3:>6.1f} ms {b / a:>6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--point", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"ResNet18, point {args.point}, batch {args.batch}, median of {args.repeats}")
    print(f"{'width':>5} {'pass':<14} {'hand-written':>13} {'derived':>9} {'ratio':>6}")
    for width in args.widths:
        compare(width, args.point, args.batch, args.repeats)


if __name__ == "__main__":
    main()
