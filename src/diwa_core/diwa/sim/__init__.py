"""CALVIN-compatible PyBullet play table: environment, task oracle, start states, scripted expert, play."""

from diwa.sim.config import SimConfig
from diwa.sim.make import make_env

__all__ = ["SimConfig", "make_env"]
