"""Imagination fidelity: chunk-end verdicts in imagination against the oracle in the simulator."""

import json

import numpy as np
import rl_tiny
import torch
from diwa.cli import main
from diwa.skills import CHUNK_STEPS
from diwa.world_model.fidelity import filtered_verdict, imagine_verdicts, replay_in_simulator


class ChunkVerdicts:
    """A classifier stand-in: sample s is judged done from chunk first_done[s] on (never if None)."""

    def __init__(self, first_done: list[int | None]) -> None:
        self.first_done = first_done
        self.seen_shape: tuple[int, ...] = ()

    def reward(self, features: torch.Tensor) -> torch.Tensor:
        self.seen_shape = tuple(features.shape)
        chunks = torch.arange(features.shape[1])
        rows = [chunks >= k if k is not None else torch.zeros_like(chunks, dtype=torch.bool) for k in self.first_done]
        return torch.stack(rows).float()


def test_verdict_is_the_first_chunk_end_judged_done_and_actions_are_padded_to_whole_chunks():
    model = rl_tiny.world_model()
    first = {"robot_obs": np.zeros(15, np.float32), "scene_obs": np.zeros(24, np.float32)}
    classifier = ChunkVerdicts([2, None, 0])
    steps = imagine_verdicts(model, classifier, first, np.zeros((70, 7), np.float32), 3, torch.Generator())
    assert classifier.seen_shape == (3, 18, model.feat_dim), "70 actions make 18 chunks; one latent per chunk end"
    assert steps == [3 * CHUNK_STEPS, None, CHUNK_STEPS]


def test_the_filtered_verdict_judges_the_posterior_after_each_whole_chunk():
    model = rl_tiny.world_model()
    observations = {"robot_obs": np.zeros((9, 15), np.float32), "scene_obs": np.zeros((9, 24), np.float32)}
    classifier = ChunkVerdicts([1])
    step = filtered_verdict(model, classifier, observations, np.zeros((8, 7), np.float32), torch.Generator())
    assert classifier.seen_shape == (1, 8 // CHUNK_STEPS, model.feat_dim), "one posterior per chunk end, not the start"
    assert step == 2 * CHUNK_STEPS
    assert (
        filtered_verdict(model, ChunkVerdicts([None]), observations, np.zeros((8, 7), np.float32), torch.Generator())
        is None
    )


def test_eval_fidelity_command_counts_every_imagined_sample(tmp_path, capsys):
    paths = rl_tiny.save_pipeline(tmp_path)
    out = tmp_path / "fidelity"
    # Classifiers laid out one directory per skill (DIR/<skill>), as in the README.
    rewards = tmp_path / "rewards"
    rewards.mkdir()
    paths["reward"].rename(rewards / rl_tiny.SKILL)
    argv = ["eval-fidelity", "--wm", str(paths["wm"]), "--reward", str(rewards), "--skill", rl_tiny.SKILL]
    assert main([*argv, "--episodes", "2", "--samples", "3", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    document = json.loads((out / "fidelity.json").read_text())
    row = document["skills"][0]
    assert printed["skills"] == document["skills"]
    assert (out / "fidelity.png").stat().st_size > 0
    # The scripted expert opens the drawer from every harness start state.
    assert row["real_success_rate"] == 1.0
    table = np.array(row["table_real_x_imagined"])
    assert table.sum() == 2 * 3 and table[0].sum() == 0
    assert row["agreement"] == table[1, 1] / 6 == row["imagined_success_rate"]
    assert 0 <= row["filtered_success_rate"] <= 1 and row["filtered_agreement"] == row["filtered_success_rate"]
    assert row["false_filtered_success"] == 0  # every real episode succeeded
    episodes = document["episodes"][rl_tiny.SKILL]
    assert [len(e["imagined_success"]) for e in episodes] == [3, 3]
    assert all(e["real_step"] is not None and e["real_step"] <= 72 for e in episodes)


def test_imagination_samples_the_prior_at_the_temperature_asked_for(monkeypatch):
    model = rl_tiny.world_model()
    used = []
    imagine = model.imagine
    monkeypatch.setattr(model, "imagine", lambda *args: used.append(args[-1]) or imagine(*args))
    first = {"robot_obs": np.zeros(15, np.float32), "scene_obs": np.zeros(24, np.float32)}
    actions = np.zeros((8, 7), np.float32)
    imagine_verdicts(model, ChunkVerdicts([None] * 2), first, actions, 2, torch.Generator(), 0.25)
    imagine_verdicts(model, ChunkVerdicts([None] * 2), first, actions, 2, torch.Generator())
    assert used == [0.25, 1.0]


def test_eval_fidelity_refuses_a_temperature_that_is_not_positive(tmp_path, capsys):
    argv = ["eval-fidelity", "--wm", str(tmp_path), "--reward", str(tmp_path), "--skill", "open_drawer"]
    assert main([*argv, "--temperature", "0"]) == 2
    assert "--temperature must be positive" in capsys.readouterr().err


def test_noise_free_simulator_replay_agrees_with_the_closed_loop_episode(tmp_path, capsys):
    """The simulator is deterministic: replaying an episode's actions open-loop without noise must
    reproduce its verdict, so the replay ceiling at noise 0 is exactly 1."""
    paths = rl_tiny.save_pipeline(tmp_path)
    out = tmp_path / "fidelity"
    argv = ["eval-fidelity", "--wm", str(paths["wm"]), "--reward", str(paths["reward"]), "--skill", rl_tiny.SKILL]
    assert main([*argv, "--episodes", "2", "--samples", "2", "--replay-noise", "0", "0.05", "--out", str(out)]) == 0
    assert "sim 0.05" in capsys.readouterr().out
    document = json.loads((out / "fidelity.json").read_text())
    assert document["replay_noise"] == [0.0, 0.05]
    agreement = document["skills"][0]["simulator_replay_agreement"]
    assert set(agreement) == {"0.0", "0.05"} and agreement["0.0"] == 1.0
    episodes = document["episodes"][rl_tiny.SKILL]
    assert [e["replayed_success"]["0.0"] for e in episodes] == [[True, True]] * 2
    assert [len(e["replayed_success"]["0.05"]) for e in episodes] == [2, 2]


def test_noisy_replay_changes_the_replayed_actions_but_not_the_gripper():
    class RecordingEnv:
        def __init__(self) -> None:
            self.actions: list[np.ndarray] = []

        def reset(self, options):
            self.actions.clear()

        def step(self, action):
            self.actions.append(action)
            return None, 0.0, False, False, {"completed_tasks": set()}

    env = RecordingEnv()
    actions = np.zeros((5, 7), np.float32)
    actions[:, 6] = -1.0
    assert not replay_in_simulator(env, "open_drawer", None, None, actions, 0.05, np.random.default_rng(0))
    replayed = np.stack(env.actions)
    assert replayed.shape == (5, 7)
    assert np.all(replayed[:, 6] == -1.0)
    assert 0.01 < replayed[:, :6].std() < 0.1


def test_eval_fidelity_refuses_a_negative_replay_noise(tmp_path, capsys):
    argv = ["eval-fidelity", "--wm", str(tmp_path), "--reward", str(tmp_path), "--skill", "open_drawer"]
    assert main([*argv, "--replay-noise", "-0.1"]) == 2
    assert "--replay-noise takes non-negative numbers" in capsys.readouterr().err
