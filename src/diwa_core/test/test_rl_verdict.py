"""The pre-deployment verdict: trusted imagined success, paired between the base and the fine-tuned
policy, and `diwa verdict` end to end on a tiny pipeline."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rl_tiny
import torch
import yaml
from diwa import released
from diwa.cli import main
from diwa.rl.conditioning import imagined_reader
from diwa.rl.guard import fit_guard, save_guard
from diwa.rl.verdict import INDEPENDENT_MARGIN, ImaginedOutcomes, imagine_episodes, judge, read_verdict
from diwa.world_model.store import load_world_model
from diwa.world_model.synthetic import point_mass_dataset


def outcomes(success: list[int], distrusted: list[int]) -> ImaginedOutcomes:
    return ImaginedOutcomes(np.array(success, bool), np.array(distrusted, bool), np.zeros(len(success)))


def test_a_trusted_gain_confirmed_by_an_independent_model_is_an_improvement() -> None:
    base = outcomes([0] * 60 + [1] * 40, [0] * 100)
    tuned = outcomes([1] * 100, [0] * 100)
    independent = (outcomes([0] * 50 + [1] * 50, [0] * 100), outcomes([0] * 30 + [1] * 70, [0] * 100))
    verdict = judge(base, tuned, independent)
    assert verdict["verdict"] == "improved" and verdict["trusted_gain"] == pytest.approx(0.6)
    assert verdict["finetuned"]["imagined_success"] == 1.0
    assert verdict["independent"]["gain"] == pytest.approx(0.2)
    assert verdict["independent"]["margin"] == INDEPENDENT_MARGIN


def test_the_training_model_alone_never_says_improved() -> None:
    """It called every regression measured on two seed sets "improved" (docs/results/verdict_cross_model)."""
    base = outcomes([0] * 60 + [1] * 40, [0] * 100)
    verdict = judge(base, outcomes([1] * 100, [0] * 100))
    assert verdict["verdict"] == "uncertain" and verdict["independent"] is None


def test_an_independent_gain_within_the_margin_is_uncertain_and_a_loss_is_worse() -> None:
    """The lamp case of seed set 53: both models see a small gain; the robot got worse."""
    base = outcomes([0] * 60 + [1] * 40, [0] * 100)
    tuned = outcomes([1] * 100, [0] * 100)
    small = (outcomes([0] * 50 + [1] * 50, [0] * 100), outcomes([0] * 47 + [1] * 53, [0] * 100))
    assert judge(base, tuned, small)["verdict"] == "uncertain"
    loss = (outcomes([0] * 30 + [1] * 70, [0] * 100), outcomes([0] * 60 + [1] * 40, [0] * 100))
    assert judge(base, tuned, loss)["verdict"] == "worse"


def test_successes_the_guard_distrusts_make_a_perfect_imagined_skill_worse() -> None:
    """The drawer case: imagination calls every fine-tuned episode a success, but in most of them
    the model was extrapolating."""
    base = outcomes([1] * 60 + [0] * 40, [0] * 100)
    tuned = outcomes([1] * 100, [1] * 70 + [0] * 30)
    verdict = judge(base, tuned)
    assert verdict["verdict"] == "worse"
    assert verdict["finetuned"]["imagined_success"] == 1.0 and verdict["finetuned"]["trusted_success"] == 0.3


def test_no_clear_difference_is_uncertain() -> None:
    base = outcomes([1, 0] * 50, [0] * 100)
    tuned = outcomes([0, 1] * 50, [0] * 100)
    assert judge(base, tuned)["verdict"] == "uncertain"


@pytest.fixture(scope="module")
def tiny() -> dict:
    model = rl_tiny.world_model()
    dataset = point_mass_dataset(frames=600, episode_frames=300, seed=0)
    model.codec.fit({"robot_obs": dataset.robot_obs, "scene_obs": dataset.scene_obs})
    guard_config = rl_tiny.config().guard.__class__(enabled=True, members=3, hidden=16, epochs=2)
    guard, _ = fit_guard(model, dataset, guard_config, seed=0)
    return {"model": model, "guard": guard, "guard_config": guard_config, "dataset": dataset}


def imagine(tiny: dict, policy, reward, seed: int = 0, episodes: int = 8) -> ImaginedOutcomes:
    model = tiny["model"]
    reader = imagined_reader(policy, model)
    return imagine_episodes(model, reward, rl_tiny.starts(), policy, reader, tiny["guard"], episodes, seed, 12)


def test_imagined_episodes_are_reproducible_and_the_guard_decides_trust(tiny: dict) -> None:
    model = tiny["model"]
    policy = rl_tiny.policy(model.feat_dim)
    reward = rl_tiny.random_reward(model.feat_dim)
    first, again = imagine(tiny, policy, reward), imagine(tiny, policy, reward)
    for a, b in zip((first.success, first.distrusted), (again.success, again.distrusted), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(first.disagreement, again.disagreement)
    assert first.disagreement.shape == (8,) and (first.disagreement > 0).all()

    threshold = tiny["guard"].threshold
    try:
        tiny["guard"].threshold = 0.0  # every transition is an extrapolation
        distrusting = imagine(tiny, policy, reward)
        tiny["guard"].threshold = float("inf")
        trusting = imagine(tiny, policy, reward)
    finally:
        tiny["guard"].threshold = threshold
    assert distrusting.distrusted.all() and not distrusting.trusted_success.any()
    assert not trusting.distrusted.any()
    np.testing.assert_array_equal(trusting.trusted_success, trusting.success)
    # Without a guard (the independent model's run) nothing is distrusted and the episodes are the same.
    reader = imagined_reader(policy, model)
    unguarded = imagine_episodes(model, reward, rl_tiny.starts(), policy, reader, None, 8, 0, 12)
    assert not unguarded.distrusted.any()
    np.testing.assert_array_equal(unguarded.success, first.success)


def test_success_ends_an_episode_and_counts_once(tiny: dict) -> None:
    model = tiny["model"]
    always = rl_tiny.ScriptedReward(model.feat_dim, lambda call, batch: torch.ones(batch))
    always.calls = 1  # no start-frame filter here: every chunk's verdict is "done"
    result = imagine(tiny, rl_tiny.policy(model.feat_dim), always)
    assert result.success.all()
    assert always.calls == 2  # one chunk, then every episode had ended


def test_too_few_episodes_are_refused(tiny: dict) -> None:
    model = tiny["model"]
    with pytest.raises(ValueError, match="at least 2 imagined episodes"):
        imagine(tiny, rl_tiny.policy(model.feat_dim), rl_tiny.random_reward(model.feat_dim), episodes=1)


def fine_tuned_run(tiny: dict, root: Path, latent: bool) -> tuple[dict[str, Path], list[str], float]:
    """A tiny pipeline fine-tuned for one iteration with one period of action delay, a guard fitted
    for it, and the `diwa verdict` arguments that judge it; returns (checkpoint paths, arguments,
    the guard's threshold)."""
    paths = rl_tiny.save_pipeline(root, latent=latent)
    profile = root / "tiny.yaml"
    profile.write_text(yaml.safe_dump(rl_tiny.config(iterations=1).to_dict()))
    paths["run"] = root / "run"
    finetune = ["finetune", "--skill", rl_tiny.SKILL, "--wm", str(paths["wm"]), "--policy", str(paths["policy"])]
    finetune += ["--reward", str(paths["reward"]), "--out", str(paths["run"]), "--profile", str(profile)]
    assert main([*finetune, "--eval-episodes", "0", "--action-delay", "1", "--no-progress"]) == 0
    # The tiny pipeline's 120 demonstration frames are too few to fit a guard: fit one on more play
    # with the saved world model, as `diwa verdict --guard` would, and save it where it looks.
    model, info = load_world_model(paths["wm"])
    guard, metrics = fit_guard(model, tiny["dataset"], tiny["guard_config"], seed=0)
    meta = {"world_model": {"weights_sha256": info.weights_sha256}, "metrics": metrics}
    save_guard(guard, root / "guard", tiny["guard_config"], meta)
    verdict = ["verdict", "--skill", rl_tiny.SKILL, "--run", str(paths["run"]), "--wm", str(paths["wm"])]
    verdict += ["--reward", str(paths["reward"]), "--guard", str(root / "guard"), "--episodes", "16"]
    return paths, [*verdict, "--profile", str(profile)], guard.threshold


def last_json(capsys: pytest.CaptureFixture) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_verdict_command_judges_a_fine_tuned_run(tiny: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    paths, verdict, threshold = fine_tuned_run(tiny, tmp_path, latent=True)
    capsys.readouterr()
    assert main([*verdict, "--json"]) == 0
    stored = read_verdict(paths["run"])
    assert stored == last_json(capsys)
    assert stored["verdict"] in ("worse", "uncertain") and stored["episodes"] == 16  # no independent model
    assert stored["guard_threshold"] == pytest.approx(threshold)
    assert stored["base_policy_sha256"] != stored["policy_sha256"]
    assert stored["action_delay"] == 1, "judged in the loop the run was fine-tuned for"

    # Another skill's reward, or a run that is not fine-tuned, is refused with a one-line error.
    assert main([*verdict[:2], "close_drawer", *verdict[3:]]) == 2
    assert "close_drawer" in capsys.readouterr().err
    assert main([*verdict[:3], "--run", str(paths["policy"]), *verdict[5:]]) == 2
    assert "holds no fine-tuned policy" in capsys.readouterr().err
    # In an independent model a latent policy reads its own model's filter of what that model imagines.
    other = rl_tiny.save_pipeline(tmp_path / "other", seed=1)
    assert main([*verdict, "--judge-wm", str(other["wm"]), "--judge-reward", str(other["reward"]), "--json"]) == 0
    judged = last_json(capsys)
    assert judged["judge_policy_view"] == "own_filter" and judged["independent"] is not None
    assert judged["trusted_gain"] == stored["trusted_gain"], "the training model's half is unchanged"


def test_verdict_command_with_an_independent_world_model(tiny: dict, tmp_path: Path, capsys) -> None:
    """A state policy fine-tuned in one tiny world model, judged again in another (other weights, its
    own reward classifier); the training model itself is not independent."""
    paths, verdict, _ = fine_tuned_run(tiny, tmp_path, latent=False)
    other = rl_tiny.save_pipeline(tmp_path / "other", seed=1)
    capsys.readouterr()
    assert main([*verdict, "--judge-wm", str(other["wm"]), "--judge-reward", str(other["reward"]), "--json"]) == 0
    stored = read_verdict(paths["run"])
    assert stored == last_json(capsys)
    _, other_info = load_world_model(other["wm"])
    assert stored["judge_world_model_sha256"] == other_info.weights_sha256 != stored["world_model_sha256"]
    assert stored["judge_policy_view"] == "judge_decoded_state"
    low, high = stored["independent"]["gain_ci95"]
    assert -1 <= low <= stored["independent"]["gain"] <= high <= 1

    assert main([*verdict, "--judge-wm", str(paths["wm"]), "--judge-reward", str(paths["reward"])]) == 2
    assert "not another one" in capsys.readouterr().err
    assert main([*verdict, "--judge-wm", str(other["wm"])]) == 2
    assert "go together" in capsys.readouterr().err


def test_a_released_world_model_brings_its_guard_and_judge(tiny: dict, tmp_path: Path, monkeypatch, capsys) -> None:
    """A run fine-tuned in a released world model is judged without --guard or --judge-wm: the
    release ships both (its play is not shipped, so the guard could not be fitted again)."""
    paths, verdict, threshold = fine_tuned_run(tiny, tmp_path, latent=False)
    other = rl_tiny.save_pipeline(tmp_path / "other", seed=1)
    release = tmp_path / "models" / "state"
    for source, name in [
        (paths["wm"], "world_model"), (tmp_path / "guard", "guard"),
        (other["wm"], "judge/world_model"), (other["reward"], "judge/reward"),
    ]:  # fmt: skip
        shutil.copytree(source, release / name)
    (release / "release.json").write_text("{}")
    monkeypatch.setattr(released, "models_root", lambda: tmp_path / "models")
    assert released.verdict_models(release / "world_model") == (
        "released:state/guard",
        ("released:state/judge/world_model", "released:state/judge/reward"),
    )
    assert released.verdict_models(paths["wm"]) == (None, None)

    at_release = [*verdict[:6], "released:state/world_model", *verdict[7:]]
    guard_at = at_release.index("--guard")
    capsys.readouterr()
    assert main([*at_release[:guard_at], *at_release[guard_at + 2 :], "--json"]) == 0
    stored = last_json(capsys)
    _, other_info = load_world_model(other["wm"])
    assert stored["guard_threshold"] == pytest.approx(threshold)
    assert stored["judge_world_model_sha256"] == other_info.weights_sha256

    # Any other world model needs its guard named: there is no play data to guess from.
    assert main([*verdict[:guard_at], *verdict[guard_at + 2 :]]) == 2
    assert "name the guard's directory with --guard" in capsys.readouterr().err
