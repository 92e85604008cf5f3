"""World-model features for real observations: offline over a dataset, online along an episode.

A latent-conditioned policy is trained on features of recorded frames and executed on features
of live observations; both must come from the same filtering. Offline and online therefore use
the same recurrence: the posterior from an episode's first observation, then the previous action
and the new observation at every later step. The latent samples are drawn from one generator
seeded `seed`, so the features of a dataset are reproducible, and `LatentTracker(model, seed)`
stepped along a single-episode dataset reproduces `featurize_dataset(model, dataset, seed)`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from tqdm import tqdm

from diwa.data.dataset import Dataset
from diwa.world_model.config import IMAGE_KEYS
from diwa.world_model.model import ACTION_DIM, ArrayLike, WorldModel
from diwa.world_model.rssm import RSSMState

EPISODES_PER_BATCH = 16
CHUNK_FRAMES = 128
"""Episodes are filtered side by side (padded to equal length) in chunks of this many frames, which
bounds memory for long recordings with images (16 x 128 frames of two 64x64 cameras ~ 200 MB)."""


@torch.no_grad()
def featurize_dataset(model: WorldModel, dataset: Dataset, seed: int = 0, progress: bool = False) -> np.ndarray:
    """(N, feat_dim) float32 features aligned with the dataset's frames (zeros outside episodes)."""
    model.eval()
    arrays = {k: dataset.images.get(k) if k in IMAGE_KEYS else getattr(dataset, k) for k in model.observation_keys}
    missing = [k for k in model.observation_keys if arrays.get(k) is None]
    if missing:
        raise ValueError(f"the dataset lacks {missing}, which this world model reads")
    generator = torch.Generator(device=model.device).manual_seed(seed)
    out = np.zeros((len(dataset), model.feat_dim), dtype=np.float32)
    groups = [dataset.episodes[i : i + EPISODES_PER_BATCH] for i in range(0, len(dataset.episodes), EPISODES_PER_BATCH)]
    with tqdm(total=len(dataset), desc="featurize", unit="frame", disable=not progress) as bar:
        for group in groups:
            starts = np.array([s for s, _ in group])
            ends = np.array([e for _, e in group])
            longest = int((ends - starts).max()) + 1
            state: RSSMState | None = None
            for offset in range(0, longest, CHUNK_FRAMES):
                # Frame index per (episode, step); steps past an episode's end repeat its last frame.
                steps = np.arange(offset, min(offset + CHUNK_FRAMES, longest))
                index = np.minimum(starts[:, None] + steps[None, :], ends[:, None])
                obs = model.to_tensors(
                    {k: np.asarray(v[index.ravel()]).reshape(*index.shape, *v.shape[1:]) for k, v in arrays.items()}
                )
                prev = np.asarray(dataset.rel_actions, dtype=np.float32)[np.maximum(index - 1, 0)]
                prev[:, steps == 0] = 0.0
                posts, _ = model.observe(obs, torch.from_numpy(prev).to(model.device), state, generator)
                feats = posts.features().cpu().numpy()
                valid = starts[:, None] + steps[None, :] <= ends[:, None]
                out[index[valid]] = feats[valid]
                state = posts.index((slice(None), -1))
                bar.update(int(valid.sum()))
    return out


class LatentTracker:
    """Keeps the world model's posterior in step with a live episode, for closed-loop control
    by a latent-conditioned policy in the simulator or on the robot."""

    def __init__(self, model: WorldModel, seed: int = 0) -> None:
        self.model = model.eval()
        self.generator = torch.Generator(device=model.device).manual_seed(seed)
        self.state: RSSMState | None = None

    def reseed(self, seed: int) -> None:
        """Restart the posterior samples' noise (an episode of its own seed)."""
        self.generator = torch.Generator(device=self.model.device).manual_seed(seed)

    @torch.no_grad()
    def _advance(self, action: np.ndarray, obs: Mapping[str, ArrayLike]) -> np.ndarray:
        tensors = {k: v[None, None] for k, v in self.model.to_tensors(obs).items()}
        prev = torch.as_tensor(np.asarray(action, dtype=np.float32), device=self.model.device).reshape(1, 1, -1)
        posts, _ = self.model.observe(tensors, prev, self.state, self.generator)
        self.state = posts.index((slice(None), 0))
        return self.state.features()[0].cpu().numpy()

    def reset(self, obs: Mapping[str, ArrayLike]) -> np.ndarray:
        """Start a new episode at observation `obs`; returns its (feat_dim,) features."""
        self.state = None
        return self._advance(np.zeros(ACTION_DIM, dtype=np.float32), obs)

    def step(self, action: ArrayLike, obs: Mapping[str, ArrayLike]) -> np.ndarray:
        """Account for `action` (7-d relative) having led to `obs`; returns the new features."""
        if self.state is None:
            raise RuntimeError("LatentTracker.step called before reset")
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f"action must have shape ({ACTION_DIM},), got {action.shape}")
        return self._advance(action, obs)
