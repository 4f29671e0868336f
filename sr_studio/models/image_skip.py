"""Networks whose output is a learnt residual on top of an upscaled copy of their input (MSRResNet, SRVGG).

In reduced precision that copy and the sum are where the bits go: bf16 keeps 8 significant bits, so an
output of 0.5-1 computed in bf16 lands on a grid of 1/256, about one 8-bit level, and an 8-bit input read
as bf16 moves by as much; the residual is small, and its rounding is small with it. So such a network
runs `residual` in its weights' precision but `skip` and the sum in its input's: fed fp32 (the engine
does, and the OpenVINO backend converts only the residual), a bf16 network gives nearly fp32's pixels.
Measured on srresnet-x2 over `sr/val.txt` (`benchmarks/bf16_skip.py`): bf16 everywhere 0.02 dB under fp32
on torch and 0.07 on OpenVINO (1.3 dB on a smooth wallpaper), the residual alone 0.0015, at the same speed.
"""

from __future__ import annotations

import torch
from torch import nn


class ImageSkip(nn.Module):
    """`residual(x) + skip(x)`, the residual in the weights' dtype and the rest in the input's."""

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """The input upscaled without learnt weights, so any dtype computes it exactly enough."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = next(self.parameters()).dtype
        return self.residual(x.to(weights)).to(x.dtype) + self.skip(x)


class ResidualBranch(nn.Module):
    """Only the residual of an `ImageSkip` network, as a module of its own: what another runtime
    converts, the skip and the sum staying in torch at the input's precision."""

    def __init__(self, network: ImageSkip) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.residual(x)
