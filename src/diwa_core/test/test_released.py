"""Released models: a seed-set run becomes a release, whose checkpoints load by name (a fine-tuned
policy finds its base), `diwa models` lists their measurements, and unknown names are refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import rl_tiny
from diwa import released
from diwa.cli import main
from diwa.data.dataset import load_dataset, save_dataset
from diwa.policy.checkpoint import load_policy, save_policy
from diwa.promotion import judge_checkpoint
from diwa.rl.guard import EnsembleMLP, ModelErrorGuard, load_guard, save_guard
from diwa.skills import SKILLS
from diwa.world_model.model import ACTION_DIM
from diwa.world_model.reward import load_reward_classifier, save_reward_classifier
from diwa.world_model.store import load_world_model, save_world_model
from diwa.world_model.synthetic import point_mass_dataset


def seed_set_run(root: Path, seed: int = 0) -> Path:
    """A run laid out as scripts/seed_set.sh writes it, with tiny checkpoints for all 8 skills (a
    world model initialised with `seed`)."""
    model = rl_tiny.world_model(seed)
    save_world_model(model, root / "wm", step=3, seed=0, provenance={}, train_state={"step": 3})
    wm_sha = json.loads((root / "wm" / "world_model.json").read_text())["files"]["weights"]["sha256"]
    for i, skill in enumerate(SKILLS):
        meta = {"config": dataclasses.asdict(rl_tiny.REWARD_CONFIG), "feat_dim": model.feat_dim}
        meta["world_model"] = {"weights_sha256": wm_sha}
        save_reward_classifier(rl_tiny.random_reward(model.feat_dim, seed=i), root / "rewards", skill, meta)
        base = rl_tiny.policy(model.feat_dim, latent=False, seed=i, skill=skill)
        demos = root / "bc" / "demos" / skill
        save_dataset(point_mass_dataset(frames=60, episode_frames=30, seed=i), demos)
        base.provenance = {"dataset": str(demos), "dataset_hash": load_dataset(demos).content_hash()}
        save_policy(base, root / "bc" / "policies" / skill)
        tuned = base.with_finetuned_copy(2)
        tuned.provenance = {"base_checkpoint": str(root / "bc" / "policies" / skill)}
        run = root / "diwa_plain" / skill
        save_policy(tuned, run)
        weights = json.loads((run / "policy.json").read_text())["weights"]["sha256"]
        base_weights = json.loads((root / "bc" / "policies" / skill / "policy.json").read_text())["weights"]["sha256"]
        evaluation = {
            "skill": skill, "policy_sha256": weights, "base_policy_sha256": base_weights, "episodes": 100,
            "success_rate": 0.7, "base_success_rate": 0.5, "gain": 0.2, "gain_ci95": [0.1, 0.3], "seed": 7,
            "base_checkpoint": str(root / "bc" / "policies" / skill),
        }  # fmt: skip
        (run / "evaluation.json").write_text(json.dumps(evaluation))
    (root / "seeds.txt").write_text("play 1 demos 100+i bc 1 wm 1 reward 1 finetune 1 eval 1001\n")
    return root


def test_a_release_loads_by_name_and_lists_its_measurements(tmp_path, monkeypatch, capsys) -> None:
    run = seed_set_run(tmp_path / "run")
    # One skill's latency check shows a loss with two periods of command delay: released with it.
    evaluation = json.loads((run / "diwa_plain" / "turn_on_lightbulb" / "evaluation.json").read_text())
    loss = {"success_rate": 0.49, "base_success_rate": 0.61}
    latency = {k: evaluation[k] for k in ("skill", "policy_sha256", "base_policy_sha256", "episodes", "seed")}
    (run / "diwa_plain" / "turn_on_lightbulb" / "latency.json").write_text(
        json.dumps({**latency, "delays": {"2": loss}})
    )
    # The verdict's guard and its independent judge (scripts/seed_set.sh with JUDGE_SEED) go along.
    model, info = load_world_model(run / "wm")
    ensemble = EnsembleMLP(2, model.feat_dim + ACTION_DIM, 4, 3)
    meta = {"world_model": {"path": str(run / "wm"), "weights_sha256": info.weights_sha256}}
    save_guard(ModelErrorGuard(ensemble, 0.5, -1.0), run / "verdict_guard", rl_tiny.config().guard, meta)
    judge = seed_set_run(tmp_path / "judge_run", seed=1)
    (run / "judge").mkdir()
    for source, name in [(judge / "wm", "wm"), (judge / "rewards", "rewards")]:
        source.rename(run / "judge" / name)
    monkeypatch.setattr(released, "models_root", lambda: tmp_path / "models")
    destination = tmp_path / "models" / "state"
    argv = ["release", "--run", str(run), "--variant", "plain", "--route", "state", "--out", str(destination)]
    assert main(argv) == 0
    guard, judged = released.verdict_models("released:state/world_model")
    assert guard == "released:state/guard" and judged is not None
    load_guard(released.resolve(guard), info.weights_sha256, model.feat_dim, -1.0)  # fitted on the released model
    assert json.loads((destination / "guard" / "guard.json").read_text())["world_model"]["path"] == (
        "released:state/world_model"
    )
    load_world_model(judged[0])
    assert {"released:state/guard", "released:state/judge/reward"} <= set(released.released_names("state"))
    assert not (destination / "world_model" / "world_model-step00000003.state.pt").exists()  # no training state

    model, info = load_world_model("released:state/world_model")
    load_reward_classifier("released:state/reward", "open_drawer", world_model_sha256=info.weights_sha256)
    tuned = load_policy("released:state/turn_on_led")
    assert tuned.skill == "turn_on_led" and tuned.finetuned is not None
    assert tuned.provenance["base_checkpoint"] == "released:state/bc/turn_on_led"
    bc = load_policy(tuned.provenance["base_checkpoint"])
    assert bc.finetuned is None and bc.provenance["dataset"] == "released:state/demos/turn_on_led"
    # Fine-tuning from the release finds its start states in it (the run's folder may be gone).
    assert load_dataset(released.resolve(bc.provenance["dataset"])).content_hash() == bc.provenance["dataset_hash"]
    # The evaluation still binds to the released weights: the gate passes it.
    assert judge_checkpoint("released:state/turn_on_led").allowed

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "released:state" in out and "turn_on_led" in out and "70%" in out
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.strip().startswith("turn_")}
    assert rows["turn_on_led"] == "yes" and rows["turn_on_lightbulb"] == "no"
    assert "turn_on_lightbulb: with 2 control periods of command delay" in out

    with pytest.raises(ValueError, match="not a released model"):
        released.resolve("released:state/juggle")
    with pytest.raises(ValueError, match="no released route 'camera'"):
        released.resolve("released:camera/open_drawer")
    assert released.resolve("plain/path") == Path("plain/path")
    assert (released.resolve("released:state") / "turn_on_led" / "policy.json").is_file()  # eval --policy DIR

    # A new release of the route replaces the old one whole, leaving nothing beside it.
    released.make_release(run, "plain", "state", destination, "again")
    assert json.loads((destination / "release.json").read_text())["command"] == "again"
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["state"]


def test_a_release_needs_every_skill_evaluated(tmp_path) -> None:
    run = seed_set_run(tmp_path / "run")
    (run / "diwa_plain" / "close_drawer" / "evaluation.json").unlink()
    with pytest.raises(ValueError, match="close_drawer"):
        released.make_release(run, "plain", "state", tmp_path / "models" / "state", "test")
    assert not (tmp_path / "models").exists()  # refused before anything was written


def test_verdict_models_join_a_release_whose_run_is_gone(tmp_path, monkeypatch) -> None:
    run = seed_set_run(tmp_path / "run")
    monkeypatch.setattr(released, "models_root", lambda: tmp_path / "models")
    released.make_release(run, "plain", "state", tmp_path / "models" / "state", "test")
    assert released.verdict_models("released:state/world_model") == (None, None)
    model, info = load_world_model("released:state/world_model")
    guard = ModelErrorGuard(EnsembleMLP(2, model.feat_dim + ACTION_DIM, 4, 3), 0.5, -1.0)
    judge = seed_set_run(tmp_path / "judge_run", seed=1)
    save_guard(guard, tmp_path / "stranger", rl_tiny.config().guard, {"world_model": {"weights_sha256": "0" * 64}})
    before = sorted(p.name for p in (tmp_path / "models" / "state").iterdir())
    with pytest.raises(ValueError, match="another world model"):
        released.add_verdict_models("state", tmp_path / "stranger", (judge / "wm", judge / "rewards"), {})
    with pytest.raises(ValueError, match="not an independent judge"):
        save_guard(
            guard, tmp_path / "guard", rl_tiny.config().guard, {"world_model": {"weights_sha256": info.weights_sha256}}
        )
        released.add_verdict_models("state", tmp_path / "guard", (run / "wm", run / "rewards"), {})
    assert sorted(p.name for p in (tmp_path / "models" / "state").iterdir()) == before  # refused: untouched

    released.add_verdict_models("state", tmp_path / "guard", (judge / "wm", judge / "rewards"), {"judge": "53"})
    assert released.verdict_models("released:state/world_model")[0] == "released:state/guard"
    release = json.loads((tmp_path / "models" / "state" / "release.json").read_text())
    assert release["seeds"]["judge"] == "53" and release["seeds"]["wm"] == "1"
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["state"]

    # A renewed verdict reaches release.json.
    verdict = {"verdict": "improved", "trusted_gain": 0.1, "trusted_gain_ci95": [0.05, 0.15]}
    (tmp_path / "models" / "state" / "open_drawer" / "verdict.json").write_text(json.dumps(verdict))
    released.refresh_measurements("state")
    release = json.loads((tmp_path / "models" / "state" / "release.json").read_text())
    assert release["skills"]["open_drawer"]["verdict"] == "improved"
    assert (
        release["skills"]["close_drawer"]["verdict"] is None and release["skills"]["open_drawer"]["bc_success"] == 0.5
    )
