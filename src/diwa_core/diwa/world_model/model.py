"""The world model: observation encoders and decoders around an RSSM.

This is the one object the rest of DiWA talks to: filter observed sequences into posterior
states, imagine forward with the prior, read features for the policy, critic and reward
classifier, and decode features back into observations to check the model against reality.
Observations are the raw CALVIN arrays (`robot_obs`, `scene_obs`, uint8 camera images); all
normalisation happens inside, with statistics stored in the model's buffers.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from diwa.world_model.config import IMAGE_KEYS, IMAGE_KINDS, WorldModelConfig
from diwa.world_model.image_codes import ImageAutoencoder, code_key
from diwa.world_model.mixed_precision import image_precision
from diwa.world_model.networks import ConvDecoder, ConvEncoder, mlp
from diwa.world_model.observation import StateCodec, prepare_image
from diwa.world_model.rssm import RSSM, RSSMState, balanced_kl, categorical_kl

ACTION_DIM = 7
MIN_CODE_STD = 1e-3
"""Floor of a code dimension's standardising scale (a dimension the encoder left unused)."""
ArrayLike = np.ndarray | Tensor


def check_actions(name: str, actions: Tensor) -> None:
    if actions.shape[-1:] != (ACTION_DIM,):
        raise ValueError(f"{name} must have last dimension {ACTION_DIM}, got shape {tuple(actions.shape)}")
    if not torch.isfinite(actions).all():
        raise ValueError(f"{name} contains NaN or infinite values")


class WorldModel(nn.Module):
    def __init__(self, config: WorldModelConfig) -> None:
        super().__init__()
        self.config = config
        obs = config.observation
        feat_dim = config.rssm.feat_dim
        self.codec = StateCodec(obs.state_keys)
        if obs.kind == "state":
            self.state_encoder = mlp(self.codec.rep_dim, obs.mlp_units, obs.mlp_layers, obs.mlp_units)
            embed_dim = obs.mlp_units
        elif obs.kind == "frozen_image":
            # Trained before the RSSM (WorldModelTrainer) and never by the world model's optimiser.
            self.autoencoder = ImageAutoencoder(obs).requires_grad_(False)
            codes = len(IMAGE_KEYS) * obs.image_code
            # Standardising statistics of the codes over the training frames, set with the codec's.
            self.register_buffer("code_mean", torch.zeros(codes))
            self.register_buffer("code_std", torch.ones(codes))
            self.code_decoder = mlp(feat_dim, obs.mlp_units, obs.mlp_layers, codes)
            embed_dim = codes + self.codec.rep_dim
        else:
            self.image_encoders = nn.ModuleDict(
                {k: ConvEncoder(obs.cnn_depth, obs.encoder_kernels) for k in IMAGE_KEYS}
            )
            self.image_decoders = nn.ModuleDict(
                {k: ConvDecoder(feat_dim, obs.cnn_depth, obs.decoder_kernels) for k in IMAGE_KEYS}
            )
            # DiWA concatenates the (normalised) proprioception to the image embeddings.
            embed_dim = sum(e.out_dim for e in self.image_encoders.values()) + self.codec.rep_dim
        self.state_decoder = mlp(feat_dim, obs.mlp_units, obs.mlp_layers, self.codec.rep_dim)
        self.change_decoder = (
            # No output bias: the head is read as a difference of two of its outputs (see _change).
            mlp(2 * feat_dim, obs.mlp_units, obs.mlp_layers, self.codec.rep_dim, output_bias=False)
            if obs.change_head
            else None
        )
        self.rssm = RSSM(config.rssm, embed_dim, ACTION_DIM)
        self.mixed_precision = False
        """Run the CNN encoders and decoders in bfloat16 while training (train-wm --amp; mixed_precision.py)."""

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def feat_dim(self) -> int:
        return self.config.rssm.feat_dim

    @property
    def uses_images(self) -> bool:
        return self.config.observation.kind in IMAGE_KINDS

    @property
    def frozen_encoder(self) -> bool:
        return self.config.observation.kind == "frozen_image"

    @property
    def training_keys(self) -> tuple[str, ...]:
        """The entries a training batch holds: the observation keys, except that a frozen image
        encoder's codes, computed once for the dataset, stand in for the images."""
        if not self.frozen_encoder:
            return self.observation_keys
        return self.config.observation.state_keys + tuple(code_key(k) for k in IMAGE_KEYS)

    @torch.no_grad()
    def fit_code_statistics(self, codes: Mapping[str, np.ndarray]) -> None:
        """Standardise the frozen encoder's codes with the statistics of the training frames' codes."""
        stacked = torch.from_numpy(np.concatenate([codes[code_key(k)] for k in IMAGE_KEYS], axis=1))
        self.code_mean.copy_(stacked.mean(dim=0))
        self.code_std.copy_(stacked.std(dim=0, unbiased=False).clamp_min(MIN_CODE_STD))

    def _codes(self, obs: Mapping[str, Tensor]) -> Tensor:
        """Standardised codes of both cameras: precomputed entries when the batch has them, the
        frozen encoder's output for raw images otherwise."""
        parts = []
        for key in IMAGE_KEYS:
            if code_key(key) in obs:
                parts.append(obs[code_key(key)].float())
            else:
                with torch.no_grad():
                    parts.append(self.autoencoder.encode(key, obs[key]))
        return (torch.cat(parts, dim=-1) - self.code_mean) / self.code_std

    @property
    def observation_keys(self) -> tuple[str, ...]:
        """The observation entries the model reads (and a dataset must provide)."""
        return self.config.observation.state_keys + (IMAGE_KEYS if self.uses_images else ())

    def to_tensors(self, obs: Mapping[str, ArrayLike]) -> dict[str, Tensor]:
        """The entries the model reads, as tensors on its device (images stay uint8)."""
        missing = [k for k in self.observation_keys if k not in obs]
        if missing:
            raise ValueError(f"observation lacks {missing}; this world model reads {list(self.observation_keys)}")
        out = {}
        for key in self.observation_keys:
            value = obs[key]
            # np.array copies, so read-only memory maps of a dataset are fine to pass in.
            out[key] = (value if isinstance(value, Tensor) else torch.from_numpy(np.array(value))).to(self.device)
        return out

    def embed(self, obs: Mapping[str, Tensor]) -> Tensor:
        """(..., E) embedding of raw observations with any leading dimensions."""
        state = self.codec.encode(self.codec.concat(dict(obs)))
        if not self.uses_images:
            return self.state_encoder(state)
        if self.frozen_encoder:
            return torch.cat([self._codes(obs), state], dim=-1)
        size = self.config.observation.image_size
        with image_precision(self.device, self.mixed_precision):
            parts = [enc(prepare_image(k, obs[k], size)).float() for k, enc in self.image_encoders.items()]
        return torch.cat([*parts, state], dim=-1)

    def observe(
        self,
        obs: Mapping[str, Tensor],
        prev_actions: Tensor,
        state: RSSMState | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[RSSMState, RSSMState]:
        """Filter a (B, T) sequence of observations into posterior states (and the matching priors).

        prev_actions[:, t] is the relative action that led into observation t: zeros at the start
        of an episode, dataset rel_actions[t - 1] otherwise. Without `state` the sequence starts
        an episode (see RSSM.start_prior).
        """
        check_actions("prev_actions", prev_actions)
        embeds = self.embed(obs)
        if embeds.ndim != 3 or prev_actions.shape[:2] != embeds.shape[:2]:
            raise ValueError(
                f"observe needs (B, T, ...) observations and (B, T, 7) actions, got embeddings "
                f"{tuple(embeds.shape)} and actions {tuple(prev_actions.shape)}"
            )
        return self.rssm.observe(embeds, prev_actions.float(), state, generator)

    def encode_start(self, obs: Mapping[str, ArrayLike], generator: torch.Generator | None = None) -> RSSMState:
        """Posterior states (B) for a batch of single observations (B, ...), as arrays or tensors: a
        sequence of length 1 starting an episode, as every training window begins. Imagination
        starts here."""
        seq = {k: v.unsqueeze(1) for k, v in self.to_tensors(obs).items()}
        batch = next(iter(seq.values())).shape[0]
        zeros = torch.zeros(batch, 1, ACTION_DIM, device=self.device)
        posts, _ = self.observe(seq, zeros, None, generator)
        return posts.index((slice(None), 0))

    def step(
        self,
        state: RSSMState,
        action: Tensor,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> RSSMState:
        """One batched prior step (B) -> (B): the imagination environment's transition."""
        check_actions("action", action)
        return self.rssm.img_step(state, action.float(), generator, temperature)

    def imagine(
        self,
        start: RSSMState,
        actions: Tensor,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> RSSMState:
        """Prior states (B, T) after each of the (B, T, 7) actions from start states (B)."""
        check_actions("actions", actions)
        if actions.ndim != 3 or actions.shape[0] != start.deter.shape[0]:
            raise ValueError(
                f"imagine needs (B, T, 7) actions for {start.deter.shape[0]} states, got {tuple(actions.shape)}"
            )
        return self.rssm.imagine(start, actions.float(), generator, temperature)

    @staticmethod
    def features(state: RSSMState) -> Tensor:
        return state.features()

    def decode(self, features: Tensor) -> dict[str, Tensor]:
        """Predicted observations: raw CALVIN vectors for each state key and, for image models,
        (..., 64, 64, 3) float images in [0, 1]."""
        if features.shape[-1:] != (self.feat_dim,):
            raise ValueError(f"features must have last dimension {self.feat_dim}, got {tuple(features.shape)}")
        out = self.codec.split(self.codec.decode(self.state_decoder(features)))
        if self.frozen_encoder:
            codes = self.code_decoder(features) * self.code_std + self.code_mean
            for key, code in zip(IMAGE_KEYS, codes.split(self.config.observation.image_code, dim=-1), strict=True):
                out[key] = (self.autoencoder.decode(key, code) + 0.5).clamp(0.0, 1.0).movedim(-3, -1)
        elif self.uses_images:
            for key, dec in self.image_decoders.items():
                out[key] = (dec(features) + 0.5).clamp(0.0, 1.0).movedim(-3, -1)
        return out

    def predict_from_start(
        self, start_obs: Mapping[str, Tensor], start: RSSMState, features: Tensor
    ) -> dict[str, Tensor]:
        """Raw state vectors at imagined `features` (B, ..., F) rolled out from the observed
        `start_obs` (B) whose posterior is `start` (B): the start plus the change head's estimate of
        what changed since (see ObservationConfig.change_head)."""
        if self.change_decoder is None:
            raise ValueError("this world model has no change head (observation.change_head is false)")
        lead = (features.shape[0],) + (1,) * (features.ndim - 2)
        start_rep = self.codec.encode(self.codec.concat(dict(start_obs))).reshape(*lead, -1)
        change = self._change(features, start.features().reshape(*lead, -1))
        return self.codec.split(self.codec.decode(start_rep + change))

    def _change(self, features: Tensor, start_features: Tensor) -> Tensor:
        """The change head's standardised state change from `start_features` (B, 1.., F) to
        `features` (B, ..., F): head(f, f0) - head(f0, f0), zero by construction where nothing moved.
        The subtraction cancels the head's own offset, which otherwise shows as a millimetre-scale
        drift of every block pose."""
        assert self.change_decoder is not None
        at_start = self.change_decoder(torch.cat([start_features, start_features], dim=-1))
        start_features = start_features.expand(*features.shape[:-1], -1)
        return self.change_decoder(torch.cat([features, start_features], dim=-1)) - at_start

    def open_loop(self, posts: RSSMState, prev_actions: Tensor, generator: torch.Generator | None = None) -> RSSMState:
        """Prior states (B, T - 1) rolled out from each window's (detached) first posterior through
        the window's actions: exactly how imagination starts and runs."""
        start = RSSMState(*(x[:, 0].detach() for x in posts))
        return self.rssm.imagine(start, prev_actions[:, 1:].float(), generator)

    def change_loss(self, target: Tensor, posts: RSSMState, rollout: RSSMState) -> Tensor:
        """(B, T - 1) absolute error of the change head along the open-loop `rollout` from each
        window's first posterior in `posts`. `target` is the standardised state (B, T, D). Nothing
        here reaches the latent: the rollout is detached. Absolute rather than squared error because
        changes are sparse (most of the scene stands still most of the time): where the model cannot
        tell, an L1 fit predicts the median change, zero, as the no-change baseline does."""
        if self.change_decoder is None:
            raise ValueError("this world model has no change head (observation.change_head is false)")
        start_features = posts.features()[:, :1].detach()
        change = target[:, 1:] - target[:, :1]
        return (self._change(rollout.features().detach(), start_features) - change).abs().sum(-1)

    def loss(
        self,
        obs: Mapping[str, Tensor],
        prev_actions: Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """DreamerV2 objective on a (B, T) batch: reconstruction + kl_weight x balanced KL (plus the
        change head's error, which trains that head only)."""
        cfg = self.config.loss
        posts, priors = self.observe(obs, prev_actions, None, generator)
        feats = posts.features()
        target = self.codec.encode(self.codec.concat(dict(obs)))
        state_recon = 0.5 * (self.state_decoder(feats) - target).square().sum(-1)
        kl_loss, kl_value = balanced_kl(posts.logits, priors.logits, cfg.kl_balance)
        total = cfg.state_weight * state_recon + cfg.kl_weight * kl_loss
        metrics = {"state_recon": state_recon.mean(), "kl": kl_value.mean()}
        if self.frozen_encoder:
            code_recon = 0.5 * (self.code_decoder(feats) - self._codes(obs)).square().sum(-1)
            total = total + cfg.image_weight * code_recon
            metrics["code_recon"] = code_recon.mean()
        elif self.uses_images:
            size = self.config.observation.image_size
            with image_precision(self.device, self.mixed_precision):
                decoded = {k: dec(feats).float() for k, dec in self.image_decoders.items()}
            image_recon = sum(
                0.5 * (decoded[k] - prepare_image(k, obs[k], size)).square().sum((-3, -2, -1)) for k in decoded
            )
            total = total + cfg.image_weight * image_recon
            metrics["image_recon"] = image_recon.mean()
        total = total.mean()
        if self.change_decoder is not None or cfg.open_loop_kl_weight > 0:
            # The rollout carries gradient only when the open-loop KL trains the prior through it.
            with torch.set_grad_enabled(torch.is_grad_enabled() and cfg.open_loop_kl_weight > 0):
                rollout = self.open_loop(posts, prev_actions, generator)
        if cfg.open_loop_kl_weight > 0:
            open_loop_kl = categorical_kl(posts.logits[:, 1:].detach(), rollout.logits).mean()
            total = total + cfg.open_loop_kl_weight * open_loop_kl
            metrics["open_loop_kl"] = open_loop_kl
        if self.change_decoder is not None:
            change_error = self.change_loss(target, posts, rollout)
            total = total + change_error.mean()
            metrics["change_l1"] = change_error.mean()
        metrics["loss"] = total
        metrics["prior_entropy"] = _entropy(priors.logits).mean()
        metrics["post_entropy"] = _entropy(posts.logits).mean()
        return total, {k: v.detach() for k, v in metrics.items()}


def _entropy(logits: Tensor) -> Tensor:
    log_probs = torch.log_softmax(logits, dim=-1)
    return -(log_probs.exp() * log_probs).sum((-2, -1))
