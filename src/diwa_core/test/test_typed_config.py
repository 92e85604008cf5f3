"""The shipped YAML profiles are the single source of config values: leaving out any key fails
with the key's name, except a field declared optional (with its reason)."""

from __future__ import annotations

import copy
import dataclasses
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from diwa.policy.config import PolicyConfig
from diwa.rl.config import FinetuneConfig
from diwa.typed_config import build_dataclass, packaged_yaml
from diwa.world_model.config import WorldModelConfig
from diwa.world_model.reward import RewardConfig

PROFILES = [
    (PolicyConfig, "policy_quick.yaml", None),
    (PolicyConfig, "policy_paper.yaml", None),
    (WorldModelConfig, "world_model_quick.yaml", None),
    (WorldModelConfig, "world_model_camera.yaml", None),
    (WorldModelConfig, "world_model_paper.yaml", None),
    (FinetuneConfig, "finetune_quick.yaml", None),
    (FinetuneConfig, "finetune_paper.yaml", None),
    (RewardConfig, "reward.yaml", "quick"),
    (RewardConfig, "reward.yaml", "camera"),
    (RewardConfig, "reward.yaml", "paper"),
]


def keys(cls: type, data: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], bool]]:
    """(path of every key in `data`, whether its field is optional)."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        yield (*path, field.name), "optional" in field.metadata
        if dataclasses.is_dataclass(hints[field.name]):
            yield from keys(hints[field.name], data[field.name], (*path, field.name))


@pytest.mark.parametrize(("cls", "filename", "section"), PROFILES)
def test_every_key_of_a_shipped_profile_is_required_unless_declared_optional(cls, filename, section) -> None:
    data = packaged_yaml(filename)
    data = data[section] if section else data
    build_dataclass(cls, data, filename)  # the profile itself loads
    checked = 0
    for path, is_optional in keys(cls, data):
        edited = copy.deepcopy(data)
        parent = edited
        for name in path[:-1]:
            parent = parent[name]
        del parent[path[-1]]
        if is_optional:
            build_dataclass(cls, edited, filename)
            continue
        with pytest.raises(ValueError, match=rf"{filename}.*missing keys \['{path[-1]}'\]"):
            build_dataclass(cls, edited, filename)
        checked += 1
    assert checked > 5


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_the_policy_profiles_predict_diwas_chunk(profile: str) -> None:
    from diwa.policy.config import load_policy_config
    from diwa.skills import CHUNK_STEPS

    assert load_policy_config(profile).diffusion.horizon == CHUNK_STEPS
