"""The promotion gate binds its evidence to the exact weights, skill and base policy, and refuses
anything malformed; `diwa promote` prints the same decision the policy node applies."""

import json
import math
from pathlib import Path

import pytest
import rl_tiny
from diwa.cli import main
from diwa.policy.checkpoint import save_policy
from diwa.promotion import judge_checkpoint

BASE_SHA = "b" * 64


def fine_tuned(root: Path, seed: int = 0) -> tuple[Path, str]:
    policy = rl_tiny.policy(8, seed=seed).with_finetuned_copy(3)
    policy.provenance = {"base_weights_sha256": BASE_SHA}
    save_policy(policy, root)
    return root, json.loads((root / "policy.json").read_text())["weights"]["sha256"]


def evaluation(weights_sha: str, **changes) -> dict:
    document = {
        "skill": rl_tiny.SKILL,
        "policy_sha256": weights_sha,
        "base_policy_sha256": BASE_SHA,
        "success_rate": 0.8,
        "base_success_rate": 0.6,
        "episodes": 100,
        "seed": 8080,
        "outcomes": [1] * 80 + [0] * 20,
        "base_outcomes": [1] * 60 + [0] * 40,
    }
    document.update(changes)
    return document


def write(root: Path, name: str, document: dict) -> None:
    (root / name).write_text(json.dumps(document))


def test_a_bound_evaluation_that_shows_no_loss_promotes(tmp_path: Path) -> None:
    root, sha = fine_tuned(tmp_path / "ckpt")
    write(root, "evaluation.json", evaluation(sha))
    decision = judge_checkpoint(root)
    assert decision.allowed and decision.evidence == "simulator" and "80.0%" in decision.reason


def test_weights_changed_after_the_evaluation_are_refused(tmp_path: Path) -> None:
    """Overwritten by another training (policy.json rewritten too), or tampered with in place."""
    root, sha = fine_tuned(tmp_path / "ckpt")
    write(root, "evaluation.json", evaluation(sha))
    fine_tuned(root, seed=1)  # retrained into the same directory: a consistent checkpoint, other weights
    assert "judged other weights" in judge_checkpoint(root).reason
    root, sha = fine_tuned(tmp_path / "again")
    write(root, "evaluation.json", evaluation(sha))
    weights = root / json.loads((root / "policy.json").read_text())["weights"]["file"]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    decision = judge_checkpoint(root)
    assert not decision.allowed and "do not match the sha256" in decision.reason


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"success_rate": math.nan}, "not a success rate"),
        ({"success_rate": "nan"}, "not a success rate"),
        ({"success_rate": 1e9}, "not a success rate"),
        ({"success_rate": True}, "not a success rate"),
        ({"base_success_rate": None}, "not a success rate"),
        ({"episodes": 0, "outcomes": [], "base_outcomes": []}, "fewer than the 100 required"),
        ({"episodes": 20, "outcomes": [1] * 16 + [0] * 4, "base_outcomes": [1] * 12 + [0] * 8}, "fewer than the 100"),
        ({"episodes": True}, "not a count"),
        ({"skill": "close_drawer"}, "judged skill 'close_drawer'"),
        ({"base_policy_sha256": "c" * 64}, "another base policy"),
        ({"policy_sha256": None}, "does not name the weights"),
        ({"outcomes": [1] * 100}, "do not add up"),
        ({"success_rate": 0.5, "outcomes": [1] * 50 + [0] * 50}, "below its base policy's 60.0%"),
    ],
)
def test_malformed_unbound_or_worse_evaluations_are_refused(tmp_path: Path, changes: dict, says: str) -> None:
    root, sha = fine_tuned(tmp_path / "ckpt")
    document = evaluation(sha, **changes)
    (root / "evaluation.json").write_text(json.dumps(document).replace('"NaN"', '"nan"'))
    decision = judge_checkpoint(root)
    assert not decision.allowed and says in decision.reason


def latency(weights_sha: str, **delays: dict) -> dict:
    """latency.json with the given results per delay (d1=..., d2=...), bound like evaluation()."""
    document = evaluation(weights_sha)
    for key in ("success_rate", "base_success_rate", "outcomes", "base_outcomes", "seed"):
        del document[key]
    document["delays"] = {name.removeprefix("d"): result for name, result in delays.items()}
    return document


def paired(success: int, base: int) -> dict:
    return {
        "success_rate": success / 100,
        "base_success_rate": base / 100,
        "outcomes": [1] * success + [0] * (100 - success),
        "base_outcomes": [1] * base + [0] * (100 - base),
    }


def test_a_policy_below_its_base_with_command_delay_is_refused(tmp_path: Path) -> None:
    """The evaluation without delay passes; latency.json decides at every delay it holds."""
    root, sha = fine_tuned(tmp_path / "ckpt")
    write(root, "evaluation.json", evaluation(sha))
    write(root, "latency.json", latency(sha, d1=paired(63, 62), d2=paired(49, 61)))
    decision = judge_checkpoint(root)
    assert not decision.allowed and "with 2 control periods of command delay" in decision.reason
    assert "49.0% is below its base policy's 61.0%" in decision.reason
    write(root, "latency.json", latency(sha, d1=paired(96, 63), d2=paired(99, 73)))
    decision = judge_checkpoint(root)
    assert decision.allowed and "with command delay (1: 96% against 63%; 2: 99% against 73%)" in decision.reason


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (lambda sha: latency("c" * 64, d1=paired(90, 60)), "judged other weights"),
        (lambda sha: latency(sha), "names no delays"),
        (lambda sha: latency(sha, d1=paired(90, 60), dx=paired(90, 60)), "names no delays"),
        (lambda sha: latency(sha, d1={**paired(90, 60), "success_rate": 0.2}), "do not add up"),
        (lambda sha: latency(sha, d1=[0.9, 0.6]), "no result for 1 periods"),
        (lambda sha: {**latency(sha, d1=paired(90, 60)), "episodes": 20}, "fewer than the 100 required"),
    ],
)
def test_malformed_or_unbound_latency_checks_are_refused(tmp_path: Path, document, says: str) -> None:
    root, sha = fine_tuned(tmp_path / "ckpt")
    write(root, "evaluation.json", evaluation(sha))
    write(root, "latency.json", document(sha))
    decision = judge_checkpoint(root)
    assert not decision.allowed and says in decision.reason


def test_unjudged_unreadable_and_behaviour_cloned_checkpoints_are_refused(tmp_path: Path) -> None:
    root, _ = fine_tuned(tmp_path / "ckpt")
    assert "never judged" in judge_checkpoint(root).reason
    (root / "evaluation.json").write_text("{not json")
    assert "not valid JSON" in judge_checkpoint(root).reason
    bc = tmp_path / "bc"
    save_policy(rl_tiny.policy(8), bc)
    assert "not a fine-tuned checkpoint" in judge_checkpoint(bc).reason
    assert "holds no policy checkpoint" in judge_checkpoint(tmp_path / "nothing").reason


def test_without_an_evaluation_only_an_improved_verdict_promotes(tmp_path: Path) -> None:
    root, sha = fine_tuned(tmp_path / "ckpt")
    verdict = {
        "skill": rl_tiny.SKILL,
        "policy_sha256": sha,
        "base_policy_sha256": BASE_SHA,
        "verdict": "uncertain",
        "trusted_gain_ci95": [-0.02, 0.1],
    }
    write(root, "verdict.json", verdict)
    decision = judge_checkpoint(root)
    assert not decision.allowed and decision.evidence == "world_model" and "'uncertain'" in decision.reason
    # "improved" from the training model alone (verdicts written before the independent check) is not enough.
    write(root, "verdict.json", {**verdict, "verdict": "improved", "trusted_gain_ci95": [0.05, 0.2]})
    decision = judge_checkpoint(root)
    assert not decision.allowed and "--judge-wm" in decision.reason
    confirmed = {"gain": 0.12, "gain_ci95": [0.08, 0.16], "margin": 0.05}
    improved = {**verdict, "verdict": "improved", "trusted_gain_ci95": [0.05, 0.2], "independent": confirmed}
    write(root, "verdict.json", improved)
    assert judge_checkpoint(root).allowed
    for bad in ({**confirmed, "gain_ci95": [0.01, 0.16]}, {**confirmed, "margin": "nan"}, {"gain_ci95": 1}):
        write(root, "verdict.json", {**improved, "independent": bad})
        assert "without an independent gain above its margin" in judge_checkpoint(root).reason
    write(root, "verdict.json", {**improved, "trusted_gain_ci95": [math.nan, 0.2]})
    assert "malformed" in judge_checkpoint(root).reason
    # A simulator evaluation, when there is one, decides.
    write(root, "verdict.json", improved)
    write(root, "evaluation.json", evaluation(sha, success_rate=0.5, outcomes=[1] * 50 + [0] * 50))
    assert not judge_checkpoint(root).allowed


def test_promote_command_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root, sha = fine_tuned(tmp_path / "ckpt")
    write(root, "evaluation.json", evaluation(sha))
    assert main(["promote", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["allowed"] is True
    assert main(["promote", str(root), "--min-episodes", "200"]) == 1
    assert "may NOT drive a real arm" in capsys.readouterr().out
