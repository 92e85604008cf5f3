"""The tests' tiny world model sized to learn the point-mass play (diwa.world_model.synthetic) in a
few hundred steps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from diwa.world_model.config import WorldModelConfig, load_world_model_config

TINY = Path(__file__).with_name("wm_tiny.yaml")


def point_mass_config(steps: int, seq_len: int, *, change_head: bool = False) -> WorldModelConfig:
    """wm_tiny.yaml with 8 x 8 latents and batches of 64 short windows at a high learning rate: the
    cost of a step grows with the window length, not the batch."""
    base = load_world_model_config(TINY)
    return dataclasses.replace(
        base,
        rssm=dataclasses.replace(base.rssm, stoch_vars=8, stoch_classes=8),
        observation=dataclasses.replace(base.observation, change_head=change_head),
        train=dataclasses.replace(
            base.train, steps=steps, batch_size=64, seq_len=seq_len, lr=3e-3, eval_every=steps, checkpoint_every=steps
        ),
    )
