"""What a policy is conditioned on in imagination, and which policies may be fine-tuned in which
world model.

DiWA's policy reads the world model's latent concat(h, z): in imagination that is the imagined
state's features. A policy cloned on the simulator state (the "state" encoder: robot_obs +
scene_obs) can be fine-tuned as well; in imagination it reads the state the world model decodes
from its latent. The checks here refuse pairings that would silently produce garbage. The agent
that runs policies on real observations is diwa/policy/closed_loop.py's.
"""

from __future__ import annotations

import warnings

import torch

from diwa.policy.closed_loop import recorded_world_model
from diwa.policy.encoder import FeatureEncoder, StateEncoder
from diwa.policy.policy import DiffusionPolicy
from diwa.rl.imagination import PolicyReader
from diwa.skills import check_skill
from diwa.world_model.model import WorldModel
from diwa.world_model.rssm import RSSMState
from diwa.world_model.store import WorldModelInfo

STATE_KEYS = ("robot_obs", "scene_obs")


def check_policy(policy: DiffusionPolicy, skill: str, model: WorldModel, info: WorldModelInfo) -> None:
    """Raise ValueError if `policy` cannot be fine-tuned for `skill` in this world model."""
    check_skill(skill)
    if policy.skill != skill:
        raise ValueError(f"the policy was trained for {policy.skill!r}, not {skill!r}")
    kind = policy.encoder_spec.get("kind")
    if kind == FeatureEncoder.kind:
        if policy.feature_dim != model.feat_dim:
            raise ValueError(
                f"the policy is conditioned on {policy.feature_dim}-d features but this world model produces "
                f"{model.feat_dim}-d latents: it was trained on another world model's features"
            )
        recorded = recorded_world_model(policy)
        trained_on = None if recorded is None else recorded["weights_sha256"]
        if trained_on is None:
            warnings.warn(
                "the policy does not record which world model its features came from; only the feature size "
                "could be checked",
                stacklevel=2,
            )
        elif trained_on != info.weights_sha256:
            raise ValueError(
                f"the policy was trained on the features of world model {trained_on[:12]}, not of {info.path} "
                f"({info.weights_sha256[:12]})"
            )
    elif kind == StateEncoder.kind:
        missing = [k for k in STATE_KEYS if k not in model.codec.keys]
        if missing:
            raise ValueError(
                f"the policy reads the simulator state but this world model does not reconstruct {missing}; "
                "fine-tune a policy trained on its features instead"
            )
    else:
        raise ValueError(f"cannot fine-tune a policy with encoder {kind!r} in imagination")


def imagined_reader(policy: DiffusionPolicy, model: WorldModel) -> PolicyReader:
    """The policy's conditioning features from imagined states."""
    if policy.encoder_spec.get("kind") == FeatureEncoder.kind:
        return RSSMState.features

    def decoded_state(state: RSSMState) -> torch.Tensor:
        decoded = model.decode(state.features())
        return torch.cat([decoded[k] for k in STATE_KEYS], dim=-1)

    return decoded_state
