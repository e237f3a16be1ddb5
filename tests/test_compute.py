"""compute.cpu_threads holds torch's threads and the BLAS library's under numpy."""

import torch
from threadpoolctl import threadpool_info, threadpool_limits

from stitchkit.common.compute import stage_device


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_a_stage_computes_with_the_threads_params_gives_it():
    torch_before, blas_before = torch.get_num_threads(), max(blas_threads())
    try:
        for threads in (2, 1):
            assert stage_device({"compute": {"cpu_threads": threads}}).type in ("cpu", "cuda")
            assert torch.get_num_threads() == threads
            assert blas_threads() == {threads}
    finally:
        torch.set_num_threads(torch_before)
        threadpool_limits(blas_before, user_api="blas")
