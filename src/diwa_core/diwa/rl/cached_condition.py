"""A denoiser view that computes the conditioning's share of its first layer once per state.

The denoiser's first layer reads concat(noisy chunk, time embedding, conditioning); its weight
splits into three column blocks (EpsilonMLP.lift_columns), so  lift = W_x x + W_t e(t) + W_c c + b.
The conditioning c (the 512-d latent in the quick profile, 2048-d in the paper's) is most of the
input, and the same c recurs: at each of the 20 denoising steps of a chunk, at each of the 10
log-probabilities scored per stored chain, and ~4 times per PPO minibatch drawn over (chunk x
denoising step). Computing W_c c + b once per distinct state nearly halves the policy's cost in
imagination and in the update. The view shares the network's parameters (gradients flow to them as usual), so it always
computes what the network computes (tests compare the two). When the whole batch is at one
timestep, as in sampling and in scoring stored chains, the time embedding is computed once too.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from diwa.policy.network import EpsilonMLP


class CachedConditionDenoiser(nn.Module):
    """`network` for one fixed conditioning batch; call it as the network, with `self.cond`.

    cond: (M, D) distinct conditioning vectors; rows: (N,) index of the vector each batch row uses
    (None: row i uses cond[i]).
    """

    def __init__(self, network: EpsilonMLP, cond: torch.Tensor, rows: torch.Tensor | None = None) -> None:
        super().__init__()
        self.network = network
        self.cond = cond if rows is None else cond[rows]
        self._x_weight, self._t_weight, cond_weight = network.lift_columns()
        term = F.linear(cond, cond_weight, network.body.lift.bias)
        self._cond_term = term if rows is None else term[rows]

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if cond is not self.cond:
            raise ValueError("a cached-condition denoiser only accepts the conditioning batch it was built for")
        network, body = self.network, self.network.body
        batch = x.shape[0]
        if bool((t == t[0]).all()):
            # Sampling and scoring run one timestep for the whole batch: embed it once.
            time_term = F.linear(network.time_embedding(t[:1]), self._t_weight)
        else:
            time_term = F.linear(network.time_embedding(t), self._t_weight)
        h = F.linear(x.reshape(batch, -1), self._x_weight) + time_term + self._cond_term
        for block in body.blocks:
            h = block(h)
        return body.head(body.activation(h)).view(batch, network.horizon, network.action_dim)
