"""Checkpoints round-trip exactly and refuse missing, corrupt and mismatched files clearly."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rl_tiny
import torch
from diwa.policy.agent import DiffusionAgent
from diwa.policy.checkpoint import META_FILE, load_policy, save_policy, weights_path
from diwa.policy.config import NetworkConfig, load_policy_config
from diwa.policy.encoder import FeatureEncoder, StateEncoder
from diwa.policy.normalizer import ActionNormalizer, FeatureNormalizer
from diwa.policy.policy import DiffusionPolicy, build_network
from diwa.skills import UnknownSkillError


def tiny_policy(skill: str = "open_drawer", feature_dim: int = 39, seed: int = 0) -> DiffusionPolicy:
    config = load_policy_config("quick")
    config = dataclasses.replace(config, network=NetworkConfig(widths=(32, 32, 32), critic_widths=(32, 32, 32)))
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    encoder = StateEncoder() if feature_dim == 39 else FeatureEncoder(feature_dim)
    return DiffusionPolicy(
        config,
        skill,
        encoder.spec(),
        FeatureNormalizer.fit(rng.normal(size=(50, feature_dim))),
        ActionNormalizer.fit(rng.uniform(-0.8, 0.8, size=(50, 7))),
        build_network(config, feature_dim),
        provenance={"dataset_hash": "abc", "seed": seed},
    )


def observation(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"robot_obs": rng.normal(size=15).astype(np.float32), "scene_obs": rng.normal(size=24).astype(np.float32)}


def rollout(agent: DiffusionAgent, steps: int = 8) -> np.ndarray:
    agent.reset("open_drawer", observation(0))
    return np.stack([agent.act(observation(i)) for i in range(steps)])


def test_saved_policy_reloads_to_identical_actions(tmp_path):
    policy = tiny_policy()
    meta_path = save_policy(policy, tmp_path / "ckpt", training={"epochs": 3})
    assert meta_path == tmp_path / "ckpt" / META_FILE
    meta = json.loads(meta_path.read_text())
    assert meta["skill"] == "open_drawer"
    assert meta["provenance"]["dataset_hash"] == "abc" and meta["provenance"]["seed"] == 0
    assert set(meta["provenance"]["versions"]) >= {"diwa", "torch", "torch_cpu_capability", "numpy", "python"}
    assert not list((tmp_path / "ckpt").glob(".*")), "no temporary files left behind"
    original = rollout(DiffusionAgent(policy, seed=3))
    reloaded = rollout(DiffusionAgent.from_checkpoint(tmp_path / "ckpt", skill="open_drawer", seed=3))
    np.testing.assert_array_equal(original, reloaded)
    other_seed = rollout(DiffusionAgent.from_checkpoint(tmp_path / "ckpt", seed=4))
    assert not np.array_equal(original, other_seed)


def test_finetuned_split_survives_a_round_trip(tmp_path):
    policy = tiny_policy().with_finetuned_copy(10)
    with torch.no_grad():
        policy.finetuned.body.head.bias.add_(0.3)
    save_policy(policy, tmp_path)
    reloaded = load_policy(tmp_path / META_FILE)
    assert reloaded.finetuned_steps == 10
    assert not reloaded.base.body.head.bias.requires_grad
    np.testing.assert_array_equal(rollout(DiffusionAgent(policy, seed=1)), rollout(DiffusionAgent(reloaded, seed=1)))
    base_only = DiffusionAgent(tiny_policy(), seed=1)
    assert not np.array_equal(rollout(base_only), rollout(DiffusionAgent(reloaded, seed=1)))


def test_missing_checkpoint_files_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no policy checkpoint"):
        load_policy(tmp_path / "nothing")
    save_policy(tiny_policy(), tmp_path)
    weights_path(tmp_path).unlink()
    with pytest.raises(FileNotFoundError, match="missing its weights"):
        load_policy(tmp_path)


def test_corrupt_files_raise_value_error(tmp_path):
    save_policy(tiny_policy(), tmp_path)
    weights = weights_path(tmp_path)
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt or belongs to another checkpoint"):
        load_policy(tmp_path)
    meta = tmp_path / META_FILE
    meta.write_text(meta.read_text()[:100])
    with pytest.raises(ValueError, match="not valid JSON"):
        load_policy(tmp_path)


def test_weights_from_another_checkpoint_are_refused(tmp_path):
    save_policy(tiny_policy(seed=0), tmp_path / "a")
    save_policy(tiny_policy(seed=1), tmp_path / "b")
    weights_path(tmp_path / "a").write_bytes(weights_path(tmp_path / "b").read_bytes())
    with pytest.raises(ValueError, match="belongs to another checkpoint"):
        load_policy(tmp_path / "a")


def edit_meta(path, change) -> None:
    meta_path = path / META_FILE
    meta = json.loads(meta_path.read_text())
    change(meta)
    meta_path.write_text(json.dumps(meta))


def test_config_that_does_not_fit_the_weights_is_refused(tmp_path):
    save_policy(tiny_policy(), tmp_path)
    edit_meta(tmp_path, lambda m: m["config"]["network"].update(widths=[64, 64, 64]))
    with pytest.raises(ValueError, match="do not fit the network"):
        load_policy(tmp_path)


def test_checkpoint_for_another_observation_size_is_refused(tmp_path):
    save_policy(tiny_policy(feature_dim=12), tmp_path)
    edit_meta(tmp_path, lambda m: m["encoder"].update(feature_dim=16))
    with pytest.raises(ValueError, match="inconsistent feature sizes|do not fit"):
        load_policy(tmp_path)
    save_policy(tiny_policy(feature_dim=12), tmp_path)
    agent = DiffusionAgent.from_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="no 'features' entry"):
        agent.reset("open_drawer", observation())
    with pytest.raises(ValueError, match="shape"):
        agent.act({"features": np.zeros(39, np.float32)})
    assert agent.act({"features": np.zeros(12, np.float32)}).shape == (7,)


def test_unknown_config_keys_and_incomplete_metadata_are_refused(tmp_path):
    save_policy(tiny_policy(), tmp_path)
    edit_meta(tmp_path, lambda m: m["config"]["train"].update(epochz=3))
    with pytest.raises(ValueError, match="unknown keys"):
        load_policy(tmp_path)
    save_policy(tiny_policy(), tmp_path)
    edit_meta(tmp_path, lambda m: m.pop("normalization"))
    with pytest.raises(ValueError, match="incomplete"):
        load_policy(tmp_path)


def test_checkpoint_for_another_skill_is_refused(tmp_path):
    save_policy(tiny_policy("turn_on_led"), tmp_path)
    with pytest.raises(ValueError, match="policy for 'turn_on_led', not 'open_drawer'"):
        DiffusionAgent.from_checkpoint(tmp_path, skill="open_drawer")
    with pytest.raises(UnknownSkillError):
        DiffusionAgent.from_checkpoint(tmp_path, skill="open_the_pod_bay_doors")
    agent = DiffusionAgent.from_checkpoint(tmp_path, skill="turn_on_led")
    with pytest.raises(ValueError, match="not 'open_drawer'"):
        agent.reset("open_drawer", observation())
    edit_meta(tmp_path, lambda m: m.update(skill="fly"))
    with pytest.raises(UnknownSkillError):
        load_policy(tmp_path)


KILL_BETWEEN_WRITES = """
import os, signal, sys
from pathlib import Path
import rl_tiny
from diwa.policy.checkpoint import save_policy

replace = os.replace
def replace_then_die(src, dst):
    if Path(dst).name == "policy.json":  # the weights are written; die before policy.json is
        os.kill(os.getpid(), signal.SIGKILL)
    replace(src, dst)
os.replace = replace_then_die
save_policy(rl_tiny.policy(8, seed=1), sys.argv[1])
"""


def test_kill_9_between_the_weights_and_policy_json_leaves_the_old_checkpoint(tmp_path):
    """A real SIGKILL after the new weights are written and before policy.json is replaced: the old
    checkpoint still loads, and the next save removes everything the killed one left behind."""
    old = rl_tiny.policy(8, seed=0)
    save_policy(old, tmp_path)
    before = json.loads((tmp_path / META_FILE).read_text())["weights"]["sha256"]
    here = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    killed = subprocess.run([sys.executable, "-c", KILL_BETWEEN_WRITES, str(tmp_path)], check=False, env=env)
    assert killed.returncode == -9
    assert len(list(tmp_path.glob("weights*.safetensors"))) == 2  # the new weights are there, unnamed
    loaded = load_policy(tmp_path)
    assert json.loads((tmp_path / META_FILE).read_text())["weights"]["sha256"] == before
    for name, tensor in old.base.state_dict().items():
        assert torch.equal(loaded.base.state_dict()[name], tensor)
    save_policy(rl_tiny.policy(8, seed=2), tmp_path)
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == [META_FILE, weights_path(tmp_path).name], leftovers


def test_non_finite_weights_are_refused_at_load(tmp_path):
    policy = tiny_policy()
    with torch.no_grad():
        next(policy.base.parameters()).view(-1)[0] = float("inf")
    save_policy(policy, tmp_path)
    with pytest.raises(ValueError, match="holds NaN or infinite values"):
        load_policy(tmp_path)


@pytest.mark.parametrize(
    ("section", "key", "value", "says"),
    [
        ("diffusion", "steps", 10**9, "beyond the bounds"),
        ("network", "widths", [10**9] * 3, "exceeds 33 layers of at most 8192 units"),
        ("network", "widths", [16] * 1001, "exceeds 33 layers"),
        ("network", "time_dim", 10**9, "time_dim"),
    ],
)
def test_unbounded_config_values_are_refused_before_allocation(tmp_path, section, key, value, says):
    save_policy(tiny_policy(), tmp_path)
    edit_meta(tmp_path, lambda meta: meta["config"][section].__setitem__(key, value))
    with pytest.raises(ValueError, match=says):
        load_policy(tmp_path)
