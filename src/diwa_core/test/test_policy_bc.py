"""Behaviour cloning: training pairs, episode selection, loss reduction and the train-policy command."""

import json

import numpy as np
import pytest
import torch
import yaml
from bc_tiny import synthetic_demos, tiny_config
from diwa.cli import main
from diwa.data.dataset import save_dataset
from diwa.policy.agent import DiffusionAgent
from diwa.policy.bc import chunk_pairs, skill_episodes, split_episodes, train_bc
from diwa.policy.checkpoint import META_FILE
from diwa.policy.encoder import StateEncoder


def test_chunk_pairs_pad_past_the_episode_end_with_the_last_action():
    actions = np.arange(10, dtype=np.float32)[:, None].repeat(7, axis=1)
    features = np.arange(10, dtype=np.float32)[:, None]
    pairs = chunk_pairs(features, actions, [(0, 3), (5, 9)], horizon=4)
    assert pairs.features[:, 0].tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert pairs.chunks[:, :, 0].tolist() == [
        [0, 1, 2, 3],
        [1, 2, 3, 3],
        [2, 3, 3, 3],
        [3, 3, 3, 3],
        [5, 6, 7, 8],
        [6, 7, 8, 9],
        [7, 8, 9, 9],
        [8, 9, 9, 9],
        [9, 9, 9, 9],
    ]


def test_skill_episodes_are_those_annotated_with_the_skill():
    demos = synthetic_demos(episodes_per_skill=3, length=5)
    assert skill_episodes(demos, "open_drawer") == [(0, 4), (5, 9), (10, 14)]
    assert skill_episodes(demos, "turn_on_led") == [(15, 19), (20, 24)]
    assert skill_episodes(demos, "close_drawer") == []


def test_validation_holds_out_whole_episodes_reproducibly():
    episodes = [(i * 10, i * 10 + 9) for i in range(20)]
    train, val = split_episodes(episodes, 0.1, seed=3)
    assert len(val) == 2 and sorted(train + val) == episodes
    assert split_episodes(episodes, 0.1, seed=3) == (train, val)
    assert split_episodes(episodes[:1], 0.1, seed=3) == (episodes[:1], [])


def test_behaviour_cloning_reduces_the_denoising_loss():
    demos = synthetic_demos()
    features = StateEncoder().dataset_features(demos)
    result = train_bc(
        tiny_config(epochs=60),
        "open_drawer",
        features,
        demos.rel_actions,
        skill_episodes(demos, "open_drawer"),
        encoder_spec=StateEncoder().spec(),
        seed=0,
        progress=False,
    )
    losses = [r["train_loss"] for r in result.history]
    assert np.mean(losses[-3:]) < 0.75 * np.mean(losses[:3])
    val_losses = [r["val_loss"] for r in result.history if "val_loss" in r]
    assert len(val_losses) == 12 and val_losses[-1] < 0.8 * val_losses[0]
    assert result.summary["train_episodes"] == 5 and result.summary["val_episodes"] == 1
    assert result.policy.provenance["seed"] == 0


def test_behaviour_cloning_is_reproducible_from_its_seed():
    demos = synthetic_demos(episodes_per_skill=3)
    args = (tiny_config(epochs=2), "open_drawer", StateEncoder().dataset_features(demos), demos.rel_actions)
    kwargs = {"encoder_spec": StateEncoder().spec(), "progress": False}
    episodes = skill_episodes(demos, "open_drawer")
    first = train_bc(*args, episodes, seed=5, **kwargs).history
    second = train_bc(*args, episodes, seed=5, **kwargs).history
    third = train_bc(*args, episodes, seed=6, **kwargs).history
    assert first == second and first != third


def test_train_bc_rejects_features_of_the_wrong_size():
    demos = synthetic_demos(episodes_per_skill=2)
    with pytest.raises(ValueError, match="encoder produces 39"):
        train_bc(
            tiny_config(1),
            "open_drawer",
            np.zeros((len(demos), 12), np.float32),
            demos.rel_actions,
            skill_episodes(demos, "open_drawer"),
            encoder_spec=StateEncoder().spec(),
            seed=0,
            progress=False,
        )


@pytest.fixture
def demos_dir(tmp_path):
    demos = synthetic_demos()
    save_dataset(demos, tmp_path / "demos")
    profile = tmp_path / "tiny.yaml"
    config = tiny_config(epochs=3).to_dict()
    profile.write_text(yaml.safe_dump(config))
    return tmp_path, demos, profile


def test_train_policy_command_writes_a_loadable_checkpoint(demos_dir, capsys):
    root, demos, profile = demos_dir
    out = root / "bc"
    args = ["train-policy", "--skill", "open_drawer", "--demos", str(root / "demos"), "--out", str(out)]
    code = main([*args, "--profile", str(profile), "--max-demos", "4", "--seed", "2", "--no-progress"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 3 and summary["train_episodes"] + summary["val_episodes"] == 4
    meta = json.loads((out / META_FILE).read_text())
    assert meta["provenance"]["dataset_hash"] == demos.content_hash()
    assert meta["provenance"]["seed"] == 2 and meta["provenance"]["demos"] == 4
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    agent = DiffusionAgent.from_checkpoint(out, skill="open_drawer", seed=0)
    agent.reset("open_drawer", {"robot_obs": demos.robot_obs[0], "scene_obs": demos.scene_obs[0]})
    assert agent.act({"robot_obs": demos.robot_obs[0], "scene_obs": demos.scene_obs[0]}).shape == (7,)


def test_train_policy_command_reports_bad_input_in_one_line(demos_dir, capsys):
    root, _, profile = demos_dir
    args = ["train-policy", "--demos", str(root / "demos"), "--out", str(root / "bc"), "--profile", str(profile)]
    assert main([*args, "--skill", "close_drawer"]) == 2
    assert "no episode annotated with 'close_drawer'" in capsys.readouterr().err
    assert main([*args, "--skill", "close_door"]) == 2
    assert "unknown skill 'close_door'" in capsys.readouterr().err
    assert main([*args, "--skill", "open_drawer", "--demos", str(root / "missing")]) == 2
    assert "no meta.json" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*args, "--skill", "open_drawer", "--device", "cuda"]) == 2
        assert "this machine has no CUDA GPU" in capsys.readouterr().err
    assert main([*args, "--skill", "open_drawer", "--device", "gpu7"]) == 2
    assert "is not a torch device" in capsys.readouterr().err
