"""A skill's diffusion policy: denoising network(s), normalisers and the denoising MDP together.

This is the object a checkpoint stores and restores. It maps conditioning features to action
chunks; turning observations into features is the encoder's job (encoder.py), and executing chunks
step by step is the agent's (agent.py).

After RL fine-tuning a policy holds two networks: the frozen `base` for the first denoising
steps and `finetuned` for the last `finetuned_steps`. Evaluating it with anything but the same
split silently evaluates the base policy (a known DPPO pitfall), so the split is part of the
policy and of its checkpoint.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from diwa.policy.config import PolicyConfig
from diwa.policy.denoising_mdp import ChainSample, ChainSampler, DenoisingMDP
from diwa.policy.network import EpsilonMLP
from diwa.policy.normalizer import ActionNormalizer, FeatureNormalizer
from diwa.skills import check_skill


def build_network(config: PolicyConfig, cond_dim: int) -> EpsilonMLP:
    diffusion = config.diffusion
    return EpsilonMLP(
        horizon=diffusion.horizon,
        action_dim=diffusion.action_dim,
        cond_dim=cond_dim,
        widths=config.network.widths,
        time_dim=config.network.time_dim,
    )


class DiffusionPolicy:
    def __init__(
        self,
        config: PolicyConfig,
        skill: str,
        encoder_spec: dict[str, Any],
        feature_normalizer: FeatureNormalizer,
        action_normalizer: ActionNormalizer,
        base: EpsilonMLP,
        finetuned: EpsilonMLP | None = None,
        finetuned_steps: int = 0,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.skill = check_skill(skill)
        self.encoder_spec = dict(encoder_spec)
        self.feature_normalizer = feature_normalizer
        self.action_normalizer = action_normalizer
        self.base = base
        self.finetuned = finetuned
        self.finetuned_steps = finetuned_steps
        self.provenance = dict(provenance or {})
        self.mdp = DenoisingMDP(config.diffusion).to(self.device)
        self._check_consistency()
        if finetuned is not None:
            # DiWA trains only the fine-tuned steps; the base stays as pretrained.
            base.requires_grad_(False)

    @property
    def feature_dim(self) -> int:
        return self.feature_normalizer.dim

    @property
    def device(self) -> torch.device:
        """Where the networks run; conditioning and noise are made there."""
        return next(self.base.parameters()).device

    def to(self, device: str | torch.device) -> DiffusionPolicy:
        """Move the networks and the denoising tables to `device`, in place (as nn.Module.to)."""
        self.base.to(device)
        if self.finetuned is not None:
            self.finetuned.to(device)
        self.mdp.to(device)
        return self

    def on_cpu(self) -> DiffusionPolicy:
        """This policy if it runs on the CPU, else a copy that does: the simulator, the robot's
        agent and the checkpoint reader work there."""
        return self if self.device.type == "cpu" else copy.deepcopy(self).to("cpu")

    def _check_consistency(self) -> None:
        """Every part must agree on the feature and action sizes; a mismatch means the parts come
        from different trainings and would produce garbage actions, so it is refused here."""
        diffusion = self.config.diffusion
        dims = {
            "encoder": int(self.encoder_spec.get("feature_dim", -1)),
            "feature normaliser": self.feature_normalizer.dim,
            "network conditioning": self.base.cond_dim,
        }
        if len(set(dims.values())) != 1:
            raise ValueError(f"inconsistent feature sizes: {dims}")
        if self.action_normalizer.dim != diffusion.action_dim:
            raise ValueError(
                f"action normaliser has {self.action_normalizer.dim} dims, config says {diffusion.action_dim}"
            )
        if not 0 <= self.finetuned_steps <= self.mdp.num_steps:
            raise ValueError(f"finetuned_steps {self.finetuned_steps} outside 0..{self.mdp.num_steps}")
        if (self.finetuned is None) != (self.finetuned_steps == 0):
            raise ValueError("a fine-tuned network and finetuned_steps > 0 go together")
        chunk_shape = (diffusion.horizon, diffusion.action_dim)
        for network in (self.base, self.finetuned):
            if network is not None and (network.horizon, network.action_dim) != chunk_shape:
                raise ValueError("network chunk shape does not match the diffusion config")

    def with_finetuned_copy(self, finetuned_steps: int) -> DiffusionPolicy:
        """A policy whose last `finetuned_steps` denoising steps use a trainable copy of the base
        network, the starting point of DiWA's fine-tuning; the base is frozen."""
        return self._with_finetuned(self.base, finetuned_steps)

    def trainable_copy(self, finetuned_steps: int) -> DiffusionPolicy:
        """The policy whose last `finetuned_steps` denoising steps fine-tuning trains: a fresh
        trainable copy of the base, or, for an already fine-tuned policy with the same split, a copy
        that continues from its fine-tuned network."""
        if self.finetuned is None:
            return self.with_finetuned_copy(finetuned_steps)
        if self.finetuned_steps != finetuned_steps:
            raise ValueError(
                f"the policy is already fine-tuned on its last {self.finetuned_steps} denoising steps; "
                f"the profile fine-tunes {finetuned_steps}"
            )
        return self._with_finetuned(self.finetuned, finetuned_steps)

    def _with_finetuned(self, network: EpsilonMLP, finetuned_steps: int) -> DiffusionPolicy:
        """This policy with a trainable copy of `network` for its last `finetuned_steps` steps."""
        finetuned = copy.deepcopy(network).requires_grad_(True)
        return DiffusionPolicy(
            self.config,
            self.skill,
            self.encoder_spec,
            self.feature_normalizer,
            self.action_normalizer,
            copy.deepcopy(self.base),
            finetuned,
            finetuned_steps,
            self.provenance,
        )

    def condition(self, features: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Normalised conditioning tensor (B, D) from raw features (D,) or (B, D)."""
        cond = torch.as_tensor(features, dtype=torch.float32, device=self.device)
        if cond.ndim == 1:
            cond = cond[None]
        if cond.ndim != 2 or cond.shape[1] != self.feature_dim:
            raise ValueError(f"features have shape {tuple(cond.shape)}, expected (B, {self.feature_dim})")
        if not torch.isfinite(cond).all():
            raise ValueError("features contain NaN or infinite values")
        return self.feature_normalizer.normalize(cond)

    def sample(
        self,
        cond: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        deterministic: bool = False,
        return_chain: bool = False,
    ) -> ChainSample:
        """Run the denoising chain with this policy's base/fine-tuned split (normalised actions)."""
        return self.mdp.sample(
            self.base,
            cond,
            generator,
            deterministic=deterministic,
            return_chain=return_chain,
            finetuned=self.finetuned,
            finetuned_steps=self.finetuned_steps,
        )

    def sampler(self) -> ChainSampler:
        """`sample` prepared once for many batches, valid until the networks' weights change."""
        return ChainSampler(self.mdp, self.base, self.finetuned, self.finetuned_steps)

    def predict_chunk(
        self, features: np.ndarray | torch.Tensor, generator: torch.Generator | None = None, deterministic: bool = True
    ) -> np.ndarray:
        """Action chunks (B, horizon, action_dim) in the dataset's action units, within [-1, 1]."""
        with torch.inference_mode():
            normalized = self.sample(self.condition(features), generator, deterministic=deterministic).actions
            actions = self.action_normalizer.unnormalize(normalized).clamp(-1.0, 1.0)
        return actions.cpu().numpy()
