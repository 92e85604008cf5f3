"""`diwa bench camera-policy` times the whole control step of a camera policy (images to action) and
`diwa bench camera-world-model` the camera profile's training."""

import json

import numpy as np
import pytest
import rl_tiny
from diwa.cli import main
from diwa.policy.camera_bench import step_latencies_ms
from diwa.policy.closed_loop import ClosedLoopAgent


def test_every_timed_step_runs_the_filter_and_the_policy_on_fresh_frames() -> None:
    model = rl_tiny.camera_world_model()
    agent = ClosedLoopAgent(rl_tiny.policy(model.feat_dim, latent=True), model, seed=0)
    steps = []
    act = agent.act
    agent.act = lambda obs: steps.append(obs) or act(obs)  # type: ignore[method-assign]
    ms = step_latencies_ms(agent, steps=8, warmup=2, size=64, seed=0)
    assert ms.shape == (8,) and (ms > 0).all() and np.isfinite(ms).all()
    assert len(steps) == 10 and not np.array_equal(steps[0]["rgb_static"], steps[1]["rgb_static"])


def test_too_few_steps_or_a_profile_without_cameras_are_refused(capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "camera-policy", "--steps", "50"]) == 2
    assert "at least 200" in capsys.readouterr().err
    assert main(["bench", "camera-policy", "--profile", "quick"]) == 2
    assert "reads no cameras" in capsys.readouterr().err


def test_the_camera_world_model_bench_times_both_training_stages(capsys: pytest.CaptureFixture) -> None:
    args = ["--encoder-steps", "1", "--train-steps", "1", "--threads", "1", "--json"]
    assert main(["bench", "camera-world-model", *args]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["profile"] == "camera" and result["encoder_frames_per_s"] > 0 and result["rssm_samples_per_s"] > 0
    assert result["estimated_training_min"] > 0 and result["target_training_min"] == 90
