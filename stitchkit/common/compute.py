"""Where and how a stage computes: CUDA when available, else the CPU with a fixed thread
count; in fp32 or bf16 (precision.py).

On the CPU, float results depend bitwise on torch's thread count (a reduction split
over two threads adds in another order than one split over four), so the count is the
parameter `compute.cpu_threads`, not a property of the machine. A stage then gives the
same bytes on a laptop and on a large node, run alone by `dvc repro` or side by side
by `stitchkit repro`, which reserves that many cores for each stage. The BLAS library
under numpy and scipy (bootstrap intervals, CKA) gets the same count: left to itself it
starts a thread per core of the machine, whatever the stage reserved, and where the
other cores are busy its threads wait on each other (the quick suite's report, beside
another run on a 2-core machine: 17 s in 2,286 bootstrap matrix-vector products with
two threads, 0.5 s with one).
"""

from typing import Literal

import torch
from threadpoolctl import threadpool_limits

from stitchkit.common.precision import PRECISIONS, Precision
from stitchkit.common.schema import Bool, PositiveInt, section, validated


@section
class ComputeSettings:
    """`compute:`: torch's CPU threads in every stage (and the cores `stitchkit repro`
    reserves per stage), and how training and stitching compute: ``precision`` ``auto``
    is bf16 on CUDA and fp32 elsewhere; ``channels_last`` lays their tensors out NHWC
    (false: NCHW, the layout of runs before it existed, for bitwise reproduction)."""

    cpu_threads: PositiveInt = 1
    precision: Literal[PRECISIONS] = "auto"
    channels_last: Bool = True


def compute_settings(params: dict) -> ComputeSettings:
    return validated(ComputeSettings, params.get("compute") or {}, "compute")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def limit_cpu_threads(threads: int) -> None:
    """Fix torch's and the BLAS library's CPU threads to ``threads``."""
    torch.set_num_threads(threads)
    threadpool_limits(threads, user_api="blas")


def limit_stage_threads(params: dict) -> None:
    """Fix a stage's CPU threads (torch's and BLAS's) to params' ``compute.cpu_threads``."""
    limit_cpu_threads(compute_settings(params).cpu_threads)


def stage_device(params: dict) -> torch.device:
    """The device a stage computes on, after fixing its CPU threads from params."""
    limit_stage_threads(params)
    return default_device()


def stage_precision(params: dict, device: torch.device) -> Precision:
    """The precision a stage trains and stitches in on ``device``."""
    settings = compute_settings(params)
    return Precision.resolve(settings.precision, device, settings.channels_last)
