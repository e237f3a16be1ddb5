"""Where and how a stage computes: CUDA when available, else the CPU with a fixed thread
count; in fp32 or bf16 (precision.py).

On the CPU, float results depend bitwise on torch's thread count (a reduction split
over two threads adds in another order than one split over four), so the count is the
parameter `compute.cpu_threads`, not a property of the machine. A stage then gives the
same bytes on a laptop and on a large node, run alone by `dvc repro` or side by side
by `stitchkit repro`, which reserves that many cores for each stage.
"""

from typing import Literal

import torch

from stitchkit.common.precision import PRECISIONS, Precision
from stitchkit.common.schema import PositiveInt, section, validated


@section
class ComputeSettings:
    """`compute:`: torch's CPU threads in every stage (and the cores `stitchkit repro`
    reserves per stage), and the precision of training and stitching: ``auto`` is bf16
    with channels_last on CUDA and fp32 elsewhere."""

    cpu_threads: PositiveInt = 1
    precision: Literal[PRECISIONS] = "auto"


def compute_settings(params: dict) -> ComputeSettings:
    return validated(ComputeSettings, params.get("compute") or {}, "compute")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def stage_device(params: dict) -> torch.device:
    """The device a stage computes on, after fixing torch's CPU threads from params."""
    torch.set_num_threads(compute_settings(params).cpu_threads)
    return default_device()


def stage_precision(params: dict, device: torch.device) -> Precision:
    """The precision a stage trains and stitches in on ``device``."""
    return Precision.resolve(compute_settings(params).precision, device)
