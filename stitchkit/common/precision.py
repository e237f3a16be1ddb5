"""How a stage's networks compute: fp32, or bf16 autocast on channels_last tensors.

bf16 autocast runs convolutions and matmuls in bfloat16 while weights, optimiser
state, BatchNorm statistics and losses stay float32; channels_last lays images and
activations out the way tensor cores read them. Robust accuracy is always measured in
fp32 (robustness.py), so that lower precision cannot weaken the attack.
"""

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import nn

PRECISIONS = ("auto", "fp32", "bf16")  # auto: bf16 on CUDA, fp32 elsewhere


@dataclass(frozen=True)
class Precision:
    """``bf16``: autocast to bfloat16 on ``device_type`` with channels_last tensors."""

    bf16: bool = False
    device_type: str = "cpu"

    @classmethod
    def resolve(cls, name: str, device: torch.device | str) -> "Precision":
        device_type = torch.device(device).type
        bf16 = name == "bf16" or (name == "auto" and device_type == "cuda")
        return cls(bf16, device_type)

    @property
    def name(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    def autocast(self) -> AbstractContextManager:
        """Context for forward passes: bfloat16 autocast, or nothing."""
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

    def prepare(self, model: nn.Module) -> nn.Module:
        """``model`` in this precision's memory format (in place; weights stay fp32)."""
        return model.to(memory_format=torch.channels_last) if self.bf16 else model

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of images (N C H W) in this precision's memory format."""
        return x.contiguous(memory_format=torch.channels_last) if self.bf16 else x


FP32 = Precision()
