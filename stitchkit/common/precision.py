"""How a stage's networks compute: fp32 or bf16 autocast, on contiguous (NCHW) or
channels_last (NHWC) tensors.

bf16 autocast runs convolutions and matmuls in bfloat16 while weights, optimiser
state, BatchNorm statistics and losses stay float32. channels_last lays weights, images
and activations out the way tensor cores and oneDNN's CPU convolutions read them: on
the 2-core CPU a width-8 ResNet18's training step runs about 1.2x and a VGG16-BN's
about 1.4x as fast (benchmarks/memory_format.py); it changes only the order of float
operations, so results move in their last bits. Robust accuracy is always measured in fp32
(robustness.py), so that lower precision cannot weaken the attack.
"""

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import nn

PRECISIONS = ("auto", "fp32", "bf16")  # auto: bf16 on CUDA, fp32 elsewhere


@dataclass(frozen=True)
class Precision:
    """``bf16``: autocast to bfloat16 on ``device_type``; ``channels_last``: models and
    images in that memory format."""

    bf16: bool = False
    device_type: str = "cpu"
    channels_last: bool = False

    @classmethod
    def resolve(cls, name: str, device: torch.device | str, channels_last: bool) -> "Precision":
        device_type = torch.device(device).type
        bf16 = name == "bf16" or (name == "auto" and device_type == "cuda")
        return cls(bf16, device_type, channels_last)

    @property
    def name(self) -> str:
        """The number format: ``bf16`` or ``fp32``."""
        return "bf16" if self.bf16 else "fp32"

    @property
    def layout(self) -> str:
        """The memory format: ``channels_last`` or ``contiguous``."""
        return "channels_last" if self.channels_last else "contiguous"

    @property
    def arithmetic(self) -> str:
        """Number format and layout, e.g. ``fp32/channels_last``: what a checkpoint's
        run must match to be resumed bitwise."""
        return f"{self.name}/{self.layout}"

    def autocast(self) -> AbstractContextManager:
        """Context for forward passes: bfloat16 autocast, or nothing."""
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

    def prepare(self, model: nn.Module) -> nn.Module:
        """``model`` in this precision's memory format (in place; weights stay fp32)."""
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of images (N C H W) in this precision's memory format."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


FP32 = Precision()  # fp32 on contiguous tensors: the library's default
