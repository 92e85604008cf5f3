"""Encoders and decoders between observations and the RSSM.

The CNN shapes are DreamerV2's (used by DiWA): four stride-2 convolutions with kernels 4 take a
64x64 image to 2x2 x (8 x depth) channels; four stride-2 transposed convolutions with kernels
5, 5, 6, 6 take a 1x1 map back to exactly 64x64.
"""

from __future__ import annotations

from torch import Tensor, nn


def mlp(inputs: int, units: int, layers: int, outputs: int, output_bias: bool = True) -> nn.Sequential:
    """`layers` hidden layers of Linear + LayerNorm + ELU, then a linear output."""
    parts: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        parts += [nn.Linear(width, units, bias=False), nn.LayerNorm(units), nn.ELU()]
        width = units
    parts.append(nn.Linear(width, outputs, bias=output_bias))
    return nn.Sequential(*parts)


class ConvEncoder(nn.Module):
    def __init__(self, depth: int, kernels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for i, kernel in enumerate(kernels):
            layers += [nn.Conv2d(channels, depth * 2**i, kernel, stride=2), nn.ELU()]
            channels = depth * 2**i
        self.net = nn.Sequential(*layers, nn.Flatten())
        # 64 -> 31 -> 14 -> 6 -> 2 with four kernel-4 stride-2 convolutions.
        self.out_dim = channels * 2 * 2

    def forward(self, image: Tensor) -> Tensor:
        """(..., 3, 64, 64) -> (..., out_dim)."""
        lead = image.shape[:-3]
        return self.net(image.reshape(-1, *image.shape[-3:])).reshape(*lead, self.out_dim)


class ConvDecoder(nn.Module):
    def __init__(self, feat_dim: int, depth: int, kernels: tuple[int, ...]) -> None:
        super().__init__()
        self.bottleneck = 32 * depth
        self.project = nn.Linear(feat_dim, self.bottleneck)
        layers: list[nn.Module] = []
        channels = self.bottleneck
        for i, kernel in enumerate(kernels):
            last = i == len(kernels) - 1
            out = 3 if last else depth * 2 ** (len(kernels) - i - 2)
            layers.append(nn.ConvTranspose2d(channels, out, kernel, stride=2))
            if not last:
                layers.append(nn.ELU())
            channels = out
        self.net = nn.Sequential(*layers)

    def forward(self, features: Tensor) -> Tensor:
        """(..., feat_dim) -> (..., 3, 64, 64) in the [-0.5, 0.5] pixel scale."""
        lead = features.shape[:-1]
        x = self.project(features).reshape(-1, self.bottleneck, 1, 1)
        image = self.net(x)
        return image.reshape(*lead, *image.shape[-3:])
