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
from diwa.rl.imagination import PolicyReader, StartStates
from diwa.skills import check_skill
from diwa.world_model.config import IMAGE_KEYS
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


class FilteredReader:
    """A latent-conditioned policy's features in another (judge) world model: the policy's own world
    model filters what the judge imagines, one primitive step at a time, as it filters the robot's
    camera frames and joint states. Episodes start from the posterior of the real start frames.

    Call `begin` with the start frames' index and a seed for the filter's noise when the judge
    starts its episodes, `observe` after each judge step with the action it took, and the reader
    itself for the policy's features."""

    def __init__(self, own: WorldModel, own_starts: StartStates, judge: WorldModel) -> None:
        decoded = judge.config.observation.state_keys + (IMAGE_KEYS if judge.uses_images else ())
        missing = [k for k in own.observation_keys if k not in decoded]
        if missing:
            raise ValueError(
                f"the judge world model imagines no {missing}, which the policy's world model reads: judge a camera "
                "policy with a camera world model"
            )
        self.own, self.judge, self.starts = own.eval(), judge.eval(), own_starts
        self.generator = torch.Generator(device=own.device)
        self.state: RSSMState | None = None

    @torch.no_grad()
    def begin(self, index: torch.Tensor, seed: int) -> None:
        self.generator.manual_seed(seed)
        self.state = self.starts.encode(self.own, index, self.generator)

    @torch.no_grad()
    def observe(self, judged: RSSMState, action: torch.Tensor) -> None:
        """Filter the observation the judge imagines in `judged` (B), reached by `action` (B, 7)."""
        if self.state is None:
            raise RuntimeError("FilteredReader.observe called before begin")
        decoded = self.judge.decode(judged.features())
        obs = {}
        for key in self.own.observation_keys:
            value = decoded[key]
            if key in IMAGE_KEYS:  # decoded frames are floats in [0, 1]; cameras deliver uint8
                value = (value * 255.0).round().to(torch.uint8)
            obs[key] = value.unsqueeze(1)
        posts, _ = self.own.observe(obs, action.unsqueeze(1), self.state, self.generator)
        self.state = posts.index((slice(None), 0))

    def __call__(self, judged: RSSMState) -> torch.Tensor:
        if self.state is None:
            raise RuntimeError("FilteredReader called before begin")
        return self.state.features()


def judge_reader(
    policy: DiffusionPolicy,
    skill: str,
    judge: WorldModel,
    judge_info: WorldModelInfo,
    own: WorldModel,
    own_starts: StartStates,
) -> PolicyReader | FilteredReader:
    """What `policy`, checked for `own` (check_policy), reads while the judge world model imagines
    its episodes: the judge's decoded state for a state policy, its own model's filter of the judge's
    imagined observations for a latent-conditioned one (FilteredReader)."""
    if policy.encoder_spec.get("kind") == FeatureEncoder.kind:
        return FilteredReader(own, own_starts, judge)
    check_policy(policy, skill, judge, judge_info)
    return imagined_reader(policy, judge)
