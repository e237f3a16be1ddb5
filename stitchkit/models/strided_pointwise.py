"""A 1x1 convolution with a stride: the residual shortcut of a downsampling ResNet block.

On the CPU in channels_last (NHWC), torch computes its weight gradient with oneDNN's
1x1 kernel, which first copies every stride-th pixel to a workspace. With fewer input
channels than the kernel's block (8 with AVX2) it writes past that workspace
(uxlfoundation/oneDNN#6035): on an AMD EPYC with torch 2.14.1, a width-4 ResNet18's
training dies in its first backward pass (SIGSEGV, or "double free or corruption"), or
with two threads returns a weight gradient wrong by 1e-3 relative. ``StridedPointwise``
takes every stride-th pixel itself and convolves at stride 1: the same function, and
on AVX2 the same bits wherever oneDNN's kernel is sound (in_channels 8 to 256, one and
two threads, tested); in any other case it is the plain strided convolution.
"""

import torch
import torch.nn.functional as F
from torch import nn


@torch.fx.wrap  # one node in a traced graph: torch.fx cannot follow its branch
def strided_pointwise(x: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int]):
    """``conv2d(x, weight, stride=stride)`` for a 1x1 ``weight``, without oneDNN's
    strided 1x1 kernel on CPU tensors other than NCHW-contiguous ones (channels_last;
    asked as "not contiguous", the one layout query torch.func.vmap answers)."""
    if x.device.type == "cpu" and not x.is_contiguous():
        rows, cols = stride
        return F.conv2d(x[:, :, ::rows, ::cols], weight)
    return F.conv2d(x, weight, stride=stride)


class StridedPointwise(nn.Conv2d):
    """A bias-free 1x1 convolution of ``stride``; its parameters and state dict are
    those of ``nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return strided_pointwise(x, self.weight, self.stride)
