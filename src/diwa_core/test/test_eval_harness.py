"""The evaluation harness: seeded paired episodes, oracle success, Wilson intervals, CLI reports."""

import json
from pathlib import Path

import numpy as np
import pytest
from diwa.agent import Observation
from diwa.cli import main
from diwa.eval import evaluate, evaluate_skills, wilson_interval
from diwa.eval.agents import load_agent
from diwa.eval.harness import episode_noise_seed, summary
from diwa.eval.latency import DelayedAgent
from diwa.sim import make_env
from diwa.sim.expert import ScriptedExpert
from diwa.skills import UnknownSkillError


class StandStill:
    """A policy that never moves; it records the start states it is given."""

    def __init__(self) -> None:
        self.starts: list[np.ndarray] = []
        self.seeds: list[int | None] = []

    def reset(self, skill: str, obs: Observation, seed: int | None = None) -> None:
        self.seeds.append(seed)
        self.starts.append(np.concatenate([obs["robot_obs"], obs["scene_obs"]]))

    def act(self, obs: Observation) -> np.ndarray:
        return np.array([0, 0, 0, 0, 0, 0, 1], dtype=np.float32)


def test_wilson_interval_known_values() -> None:
    np.testing.assert_allclose(wilson_interval(0, 10), (0.0, 0.2775), atol=1e-4)
    np.testing.assert_allclose(wilson_interval(10, 10), (0.7225, 1.0), atol=1e-4)
    np.testing.assert_allclose(wilson_interval(5, 10), (0.2366, 0.7634), atol=1e-4)
    np.testing.assert_allclose(wilson_interval(48, 50), (0.8654, 0.9890), atol=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_scripted_expert_succeeds_and_a_still_policy_fails() -> None:
    env = make_env()
    expert_report = evaluate(ScriptedExpert(seed=0), "turn_on_led", 3, seed=5, env=env, progress=False)
    still = StandStill()
    still_report = evaluate(still, "turn_on_led", 3, seed=5, max_steps=10, env=env, progress=False)
    assert expert_report.successes == 3 and expert_report.success_rate == 1.0
    assert all(0 < r.steps < 72 for r in expert_report.results)
    assert still_report.successes == 0 and [r.steps for r in still_report.results] == [10, 10, 10]
    again = StandStill()
    evaluate(again, "turn_on_led", 3, seed=5, max_steps=1, env=env, progress=False)
    np.testing.assert_array_equal(np.array(still.starts), np.array(again.starts))  # paired episodes
    # Each episode gets its own noise seed, the same for every policy evaluated on it.
    assert still.seeds == again.seeds == [episode_noise_seed(5, "turn_on_led", i) for i in range(3)]
    assert len(set(still.seeds)) == 3
    other_seed = StandStill()
    evaluate(other_seed, "turn_on_led", 3, seed=6, max_steps=1, env=env, progress=False)
    assert not np.array_equal(np.array(still.starts), np.array(other_seed.starts))
    env.close()


def test_reports_summarise_one_or_several_skills() -> None:
    reports = evaluate_skills(lambda skill: StandStill(), ["open_drawer", "turn_off_led"], 2, 0, 3, progress=False)
    one = summary(reports[:1])
    assert one["skill"] == "open_drawer" and one["episodes"] == 2 and one["successes"] == 0
    assert one["success_rate"] == 0.0 and one["ci95_high"] > 0.5
    several = summary(reports)
    assert [s["skill"] for s in several["skills"]] == ["open_drawer", "turn_off_led"]
    assert several["mean_success_rate"] == 0.0


def test_load_agent() -> None:
    assert isinstance(load_agent("scripted", "open_drawer", 0), ScriptedExpert)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_agent("/nonexistent/policy.safetensors", "open_drawer", 0)
    with pytest.raises(UnknownSkillError):
        load_agent("scripted", "open_fridge", 0)


def test_eval_cli_writes_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval"
    args = ["eval", "--skills", "turn_on_led,turn_off_led", "--episodes", "2", "--seed", "1", "--json"]
    assert main([*args, "--out", str(out), "--video", "1", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["mean_success_rate"] == 1.0 and result["policy"] == "scripted"
    assert [s["successes"] for s in result["skills"]] == [2, 2]
    log = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(log) == 4 and all(entry["success"] for entry in log)
    assert (out / "success_rates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["turn_off_led_ep000.gif", "turn_on_led_ep000.gif"]
    assert json.loads((out / "report.json").read_text())["episodes"] == 4

    assert main(["eval", "--skill", "turn_on_led", "--episodes", "1", "--json", "--quiet"]) == 0
    single = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"skill", "episodes", "successes", "success_rate"} <= set(single)


def test_eval_cli_rejects_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--skill", "open_fridge"]) == 2
    assert "unknown skill" in capsys.readouterr().err
    assert main(["eval", "--skill", "open_drawer", "--policy", "/no/such/file.pt"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["eval", "--skill", "open_drawer", "--video", "2"]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["eval", "--skill", "open_drawer", "--action-delay", "-1"]) == 2
    assert "--action-delay must be non-negative" in capsys.readouterr().err
    assert main(["eval", "--skill", "open_drawer", "--threads", "0"]) == 2
    assert "--threads must be positive" in capsys.readouterr().err


class Counter:
    """Action k of an episode moves x by k (and the gripper closes from the second action on)."""

    def reset(self, skill: str, obs: Observation, seed: int | None = None) -> None:
        self.k = 0

    def act(self, obs: Observation) -> np.ndarray:
        self.k += 1
        return np.array([self.k, 0, 0, 0, 0, 0, 1 if self.k == 1 else -1], dtype=np.float64)


def test_a_delayed_agent_applies_each_action_periods_late_and_holds_before():
    obs = {"robot_obs": np.zeros(15), "scene_obs": np.zeros(24)}
    obs["robot_obs"][14] = -1.0  # the episode starts with the gripper closed
    for periods in (0, 2):
        agent = DelayedAgent(Counter(), periods)
        for _ in range(2):  # a new episode starts from a full hold again
            agent.reset("open_drawer", obs)
            actions = np.array([agent.act(obs) for _ in range(5)])
            expected_x = [0.0] * periods + list(range(1, 6 - periods))
            np.testing.assert_array_equal(actions[:, 0], expected_x)
            assert (actions[:periods, 6] == -1).all(), "held: the gripper keeps its start state"
            assert actions[periods, 6] == 1 and (actions[periods + 1 :, 6] == -1).all()
    with pytest.raises(ValueError, match=">= 0"):
        DelayedAgent(Counter(), -1)


def test_eval_cli_reports_its_action_delay(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["eval", "--skill", "turn_on_led", "--episodes", "2", "--seed", "1", "--json", "--quiet"]
    assert main([*args, "--action-delay", "2"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["action_delay"] == 2 and result["episodes"] == 2


class CameraReader(StandStill):
    """A stand-in for a camera-route agent: it declares what it reads and records the images."""

    observation_keys = ("rgb_gripper", "rgb_static", "robot_obs")

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def act(self, obs: Observation) -> np.ndarray:
        self.shapes.append((obs["rgb_static"].shape, obs["rgb_gripper"].shape))
        return super().act(obs)


def test_an_agent_that_reads_cameras_is_evaluated_in_a_simulator_rendering_both_at_64x64() -> None:
    agent = CameraReader()
    report = evaluate(agent, "open_drawer", episodes=1, seed=0, max_steps=3, progress=False)
    assert len(report.results) == 1
    assert agent.shapes == [((64, 64, 3), (64, 64, 3))] * 3
