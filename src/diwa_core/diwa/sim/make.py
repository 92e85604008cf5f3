"""make_env: one entry point for every simulator backend, configured by SimConfig fields."""

from __future__ import annotations

from typing import Any

import gymnasium

from diwa.sim.config import SimConfig


def make_env(config: SimConfig | None = None, **overrides: Any) -> gymnasium.Env:
    """Build a simulator: `make_env(cameras=("static",), seed=0)` or `make_env(SimConfig(...))`.

    backend "pybullet" (default) is our CALVIN look-alike; backend "calvin" drives the real
    calvin_env package through the same interface when it is installed.
    """
    if config is None:
        config = SimConfig.from_dict(overrides)
    elif overrides:
        raise ValueError("pass either a SimConfig or keyword options to make_env, not both")
    if config.backend == "calvin":
        from diwa.sim.calvin_adapter import CalvinEnvAdapter

        return CalvinEnvAdapter(config)
    from diwa.sim.env import PlayTableEnv

    return PlayTableEnv(config)
