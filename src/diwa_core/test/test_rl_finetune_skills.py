"""`diwa finetune-skills`: skills fine-tuned side by side in child processes give the weights
`diwa finetune` gives each alone; a failing skill does not stop the others; bad input is refused
before any process starts."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import rl_tiny
import yaml
from diwa.cli import main
from diwa.policy.checkpoint import load_policy, save_policy
from diwa.world_model.reward import save_reward_classifier

SKILLS = (rl_tiny.SKILL, "close_drawer")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict[str, Path]:
    """The tiny pipeline with BC policies and reward classifiers for two skills, in the layout
    `diwa finetune-skills` reads (policies/<skill>, rewards/reward_<skill>.json)."""
    root = tmp_path_factory.mktemp("skills")
    paths = rl_tiny.save_pipeline(root)
    first = load_policy(paths["policy"])
    policies = root / "policies"
    shutil.copytree(paths["policy"], policies / rl_tiny.SKILL)
    second = rl_tiny.policy(first.feature_dim, latent=True, seed=1, skill="close_drawer")
    second.provenance = dict(first.provenance)
    save_policy(second, policies / "close_drawer")
    reward_meta = json.loads((paths["reward"] / f"reward_{rl_tiny.SKILL}.json").read_text())
    save_reward_classifier(
        rl_tiny.random_reward(first.feature_dim, seed=1),
        paths["reward"],
        "close_drawer",
        {
            "config": dataclasses.asdict(rl_tiny.REWARD_CONFIG),
            "feat_dim": first.feature_dim,
            "world_model": reward_meta["world_model"],
        },
    )
    profile = root / "tiny.yaml"
    profile.write_text(yaml.safe_dump(rl_tiny.config(iterations=2).to_dict()))
    return {**paths, "policies": policies, "profile": profile}


def common(pipeline: dict[str, Path], *extra: str) -> list[str]:
    return [
        "--wm", str(pipeline["wm"]), "--reward", str(pipeline["reward"]), "--profile", str(pipeline["profile"]),
        "--seed", "5", "--eval-seed", "9", *extra,
    ]  # fmt: skip


def weights_sha(run: Path) -> str:
    return json.loads((run / "policy.json").read_text())["weights"]["sha256"]


def test_skills_side_by_side_match_each_skill_fine_tuned_alone(pipeline, tmp_path, capsys):
    out = tmp_path / "side_by_side"
    argv = ["finetune-skills", "--skills", ",".join(SKILLS), "--policies", str(pipeline["policies"])]
    argv += ["--out", str(out), "--workers", "2", "--no-progress", "--json"]
    assert main(argv + common(pipeline, "--eval-episodes", "2")) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["workers"] == 2 and set(summary["skills"]) == set(SKILLS)
    for skill in SKILLS:
        row = summary["skills"][skill]
        assert row["ok"] and row["exit_code"] == 0 and 0.0 <= row["final_success"] <= 1.0
        assert (out / "logs" / f"{skill}.log").read_text().strip(), "each skill keeps its own log"
        alone = tmp_path / f"alone_{skill}"
        one = ["finetune", "--skill", skill, "--policy", str(pipeline["policies"] / skill), "--out", str(alone)]
        assert main(one + common(pipeline, "--eval-episodes", "2", "--no-progress")) == 0
        assert weights_sha(out / skill) == weights_sha(alone)
        ran_here = json.loads((out / skill / "evaluation.json").read_text())
        assert ran_here["outcomes"] == json.loads((alone / "evaluation.json").read_text())["outcomes"]
    report = json.loads((out / "report.json").read_text())
    assert sorted(row["skill"] for row in report["skills"]) == sorted(SKILLS)
    assert (out / "report.md").is_file() and (out / "report.png").stat().st_size > 0
    # A rerun finds every skill finished and evaluated: nothing is trained again.
    capsys.readouterr()
    assert main(argv + common(pipeline, "--eval-episodes", "2")) == 0
    assert capsys.readouterr().out.count("skipped") == len(SKILLS)


def test_a_failing_skill_is_reported_and_does_not_stop_the_others(pipeline, tmp_path, capsys):
    policies = tmp_path / "policies"
    shutil.copytree(pipeline["policies"], policies)
    (policies / "close_drawer" / "policy.json").write_text('{"format": "diwa-polic')  # truncated
    out = tmp_path / "out"
    argv = ["finetune-skills", "--skills", ",".join(SKILLS), "--policies", str(policies), "--out", str(out)]
    code = main([*argv, "--workers", "1", "--no-progress", "--json", *common(pipeline, "--eval-episodes", "0")])
    assert code == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert not summary["skills"]["close_drawer"]["ok"] and summary["skills"]["close_drawer"]["exit_code"] != 0
    assert summary["skills"][rl_tiny.SKILL]["ok"]
    assert load_policy(out / rl_tiny.SKILL).finetuned is not None  # the other skill ran to the end
    assert "close_drawer FAILED" in captured.err and "policy.json" in captured.err
    assert not (out / "report.json").exists(), "no report without a simulator evaluation"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"--skills": "open_drawer,make_coffee"}, "make_coffee"),
        ({"--skills": "open_drawer,open_drawer"}, "name each skill once"),
        ({"--skills": "all"}, "missing before any skill started"),
        ({"--workers": "0"}, "must be positive"),
        ({"--profile": "no_such_profile"}, "no_such_profile"),
        ({"--devices": "cpu,warp9"}, "not a torch device"),
        ({"--devices": ","}, "name at least one device"),
    ],
)
def test_bad_input_is_refused_before_any_process_starts(pipeline, tmp_path, capsys, change, says):
    options = {
        "--skills": ",".join(SKILLS),
        "--policies": str(pipeline["policies"]),
        "--out": str(tmp_path / "out"),
        "--wm": str(pipeline["wm"]),
        "--reward": str(pipeline["reward"]),
        "--profile": str(pipeline["profile"]),
        **change,
    }
    assert main(["finetune-skills", *(part for pair in options.items() for part in pair)]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_out_holding_other_data_is_refused(pipeline, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    argv = ["finetune-skills", "--skills", rl_tiny.SKILL, "--policies", str(pipeline["policies"]), "--out", str(out)]
    assert main(argv + common(pipeline)) == 2
    assert "thesis.tex" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_skills_take_the_devices_in_turn(tmp_path):
    from diwa.rl.finetune_skills_cli import finetune_argv

    args = argparse.Namespace(
        out=tmp_path, profile="quick", seed=0, eval_seed=0, threads=1, iterations=None, base_kl=None,
        eval_every=None, eval_episodes=None, guard=False, action_delay=None,
    )  # fmt: skip
    devices = ["cuda:0", "cuda:1"]
    lines = [
        finetune_argv(args, s, tmp_path, tmp_path, tmp_path, devices[i % 2])
        for i, s in enumerate(("open_drawer", "close_drawer", "turn_on_led"))
    ]
    assert [line[line.index("--device") + 1] for line in lines] == ["cuda:0", "cuda:1", "cuda:0"]
    assert "--action-delay" not in lines[0], "the profile's delay unless one is named"
    args.action_delay = 1
    line = finetune_argv(args, "open_drawer", tmp_path, tmp_path, tmp_path)
    assert line[line.index("--action-delay") + 1] == "1"
