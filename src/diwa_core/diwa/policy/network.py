"""The networks of a DiWA skill: the epsilon-predicting denoiser and the critic used by PPO.

Both are residual MLPs with Mish activations, the shape DiWA fine-tunes ([512]x3 on the
world-model latent in the paper, smaller in the quick profile), so a policy pretrained here can
be handed to the denoising-MDP fine-tuner unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    """Two pre-activation linear layers around a skip connection."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.first = nn.Linear(width, width)
        self.second = nn.Linear(width, width)
        self.activation = nn.Mish()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.second(self.activation(self.first(self.activation(h))))


class ResidualMLP(nn.Module):
    """Linear lift to the width, (len(widths) - 1) / 2 residual blocks, then Mish and a linear head."""

    def __init__(self, in_dim: int, widths: Sequence[int], out_dim: int) -> None:
        super().__init__()
        if len(widths) % 2 != 1 or len(set(widths)) != 1:
            raise ValueError(f"a residual MLP needs an odd number of equal widths, got {list(widths)}")
        width = widths[0]
        self.lift = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width) for _ in range(len(widths) // 2))
        self.activation = nn.Mish()
        self.head = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lift(x)
        for block in self.blocks:
            h = block(h)
        return self.head(self.activation(h))


class SinusoidalEmbedding(nn.Module):
    """Transformer-style sin/cos features of the integer denoising timestep."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        half = dim // 2
        frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / max(half - 1, 1))
        # Not persistent: it is a constant of the architecture, not a learned weight.
        self.register_buffer("frequencies", frequencies, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t.to(torch.float32)[:, None] * self.frequencies[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class EpsilonMLP(nn.Module):
    """Predicts the noise in a noisy action chunk x_t given the timestep t and the conditioning.

    Input = flattened chunk (horizon * action_dim) + time embedding + conditioning vector.
    """

    def __init__(self, horizon: int, action_dim: int, cond_dim: int, widths: Sequence[int], time_dim: int = 16) -> None:
        super().__init__()
        self.horizon = horizon
        self.action_dim = action_dim
        self.cond_dim = cond_dim
        self.time_embedding = nn.Sequential(
            SinusoidalEmbedding(time_dim),
            nn.Linear(time_dim, 2 * time_dim),
            nn.Mish(),
            nn.Linear(2 * time_dim, time_dim),
        )
        self.body = ResidualMLP(horizon * action_dim + time_dim + cond_dim, widths, horizon * action_dim)

    def lift_columns(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The first layer's weight split by what its columns read, (W_x, W_t, W_c), so that
        lift(concat(x, e(t), c)) = W_x x + W_t e(t) + W_c c + b: the fast paths (SamplingEpsilon,
        rl's CachedConditionDenoiser) compute the terms that repeat once."""
        chunk = self.horizon * self.action_dim
        weight = self.body.lift.weight
        time_end = weight.shape[1] - self.cond_dim
        return weight[:, :chunk], weight[:, chunk:time_end], weight[:, time_end:]

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: (B, horizon, action_dim); t: (B,) integer timesteps; cond: (B, cond_dim)."""
        batch = x.shape[0]
        inputs = torch.cat([x.flatten(1), self.time_embedding(t), cond], dim=-1)  # flatten: B may be 0
        return self.body(inputs).view(batch, self.horizon, self.action_dim)


# 0-d tensors: on CPU a Python scalar operand costs about as much per call as the arithmetic here.
_ONE, _TWO = torch.tensor(1.0), torch.tensor(2.0)


def sampling_mish(x: torch.Tensor) -> torch.Tensor:
    """Mish(x) = x tanh(softplus(x)) for gradient-free sampling, about 3x faster than torch's on CPU.

    With s = sigmoid(x), tanh(softplus(x)) = n / (2 - n) where n = s (2 - s) = lerp(s, 1, s): one
    sigmoid and three cheap operations instead of exp, log1p and tanh, without cancellation (n lies
    in [0, 1] and lerp is exact at both ends), so it agrees with torch's Mish to float rounding.
    In-place on its intermediates: not for autograd.
    """
    s = torch.sigmoid(x)
    n = torch.lerp(s, _ONE, s)
    return n.div_(_TWO - n).mul_(x)


class SamplingEpsilon:
    """An EpsilonMLP prepared for sampling a denoising chain at a fixed list of timesteps, without
    gradients: `eps = prepared(x, k, prepared.condition(cond))` at the k-th of `timesteps`.

    The first layer reads concat(x, e(t), c), so it splits into W_x x + W_t e(t) + (W_c c + b). A
    chain evaluates the network at known timesteps with the same c throughout, so W_t e(t) is
    computed here once per timestep (one batched pass; valid while the weights do not change),
    W_c c + b once per conditioning batch (`condition`), and each call runs only the rest, as bare
    matrix products with `sampling_mish`. The weights are read detached, so the in-place arithmetic
    is safe in any grad mode; outputs agree with `EpsilonMLP.forward` to float rounding.
    """

    def __init__(self, network: EpsilonMLP, timesteps: torch.Tensor) -> None:
        body = network.body
        x_weight, t_weight, c_weight = (w.detach() for w in network.lift_columns())
        with torch.no_grad():
            embedded = network.time_embedding(timesteps.to(x_weight.device))
            self._time_terms = F.linear(embedded, t_weight).unbind(0)
        self._cond_weight, self._lift_bias = c_weight, body.lift.bias.detach()
        # Weights transposed: torch.addmm(bias, h, weight^T) is what F.linear runs.
        self._x_weight = x_weight.t()
        self._blocks = [
            (
                block.first.weight.detach().t(),
                block.first.bias.detach(),
                block.second.weight.detach().t(),
                block.second.bias.detach(),
            )
            for block in body.blocks
        ]
        self._head = (body.head.weight.detach().t(), body.head.bias.detach())
        self._chunk_shape = (network.horizon, network.action_dim)

    def condition(self, cond: torch.Tensor) -> torch.Tensor:
        """The conditioning's share W_c c + b of the first layer, (B, width)."""
        return F.linear(cond.detach(), self._cond_weight, self._lift_bias)

    def __call__(self, x: torch.Tensor, k: int, cond_term: torch.Tensor) -> torch.Tensor:
        """eps for x (B, horizon, action_dim) at the k-th timestep, with `condition(cond)`."""
        batch = x.shape[0]
        h = torch.addmm(cond_term, x.reshape(batch, -1), self._x_weight).add_(self._time_terms[k])
        for first_weight, first_bias, second_weight, second_bias in self._blocks:
            inner = sampling_mish(torch.addmm(first_bias, sampling_mish(h), first_weight))
            h = torch.addmm(second_bias, inner, second_weight).add_(h)
        head_weight, head_bias = self._head
        return torch.addmm(head_bias, sampling_mish(h), head_weight).view(batch, *self._chunk_shape)


class Critic(nn.Module):
    """State value V(s) on the conditioning vector, for PPO over the denoising MDP."""

    def __init__(self, cond_dim: int, widths: Sequence[int]) -> None:
        super().__init__()
        self.body = ResidualMLP(cond_dim, widths, 1)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        return self.body(cond).squeeze(-1)
