"""The node's gate: diwa.promotion's decision refused, or warned about under allow_unpromoted."""

import hashlib
import json

import pytest

from diwa_policy_node.promotion import PromotionRefusedError, check_promotion


def checkpoint(tmp_path, success_rate, base_success_rate=0.6):
    """A fine-tuned checkpoint as the gate reads it: policy.json, its weights and a bound evaluation."""
    weights = b"weights of a fine-tuned policy"
    sha = hashlib.sha256(weights).hexdigest()
    (tmp_path / "policy.safetensors").write_bytes(weights)
    meta = {"skill": "open_drawer", "finetuned_steps": 10, "weights": {"file": "policy.safetensors", "sha256": sha}}
    (tmp_path / "policy.json").write_text(json.dumps(meta))
    evaluation = {
        "skill": "open_drawer",
        "policy_sha256": sha,
        "success_rate": success_rate,
        "base_success_rate": base_success_rate,
        "episodes": 100,
    }
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    return tmp_path


def test_improved_checkpoint_passes(tmp_path):
    warnings: list[str] = []
    check_promotion(checkpoint(tmp_path, 0.8), False, warnings.append)
    assert warnings == []


def test_worse_checkpoint_is_refused(tmp_path):
    with pytest.raises(PromotionRefusedError, match="below its base"):
        check_promotion(checkpoint(tmp_path, 0.5), False, print)


def test_override_deploys_with_a_warning(tmp_path):
    warnings: list[str] = []
    check_promotion(checkpoint(tmp_path, 0.5), True, warnings.append)
    assert len(warnings) == 1 and "allow_unpromoted" in warnings[0]


def test_unjudged_or_unreadable_checkpoint_is_refused(tmp_path):
    with pytest.raises(PromotionRefusedError, match="holds no policy checkpoint"):
        check_promotion(tmp_path, False, print)
    checkpoint(tmp_path, 0.8)
    (tmp_path / "evaluation.json").unlink()
    with pytest.raises(PromotionRefusedError, match="never judged"):
        check_promotion(tmp_path, False, print)
    (tmp_path / "evaluation.json").write_text("{not json")
    with pytest.raises(PromotionRefusedError, match="not valid JSON"):
        check_promotion(tmp_path, False, print)


def test_the_configured_minimum_of_episodes_applies(tmp_path):
    with pytest.raises(PromotionRefusedError, match="fewer than the 500 required"):
        check_promotion(checkpoint(tmp_path, 0.8), False, print, min_episodes=500)


def test_the_policy_nodes_runner_applies_its_configured_minimum(tmp_path):
    from diwa_policy_node.skill_runner import SkillRunner

    class Log:
        def warn(self, message: str) -> None:
            raise AssertionError(message)

    ckpt = checkpoint(tmp_path, 0.8)
    runner = SkillRunner({}, seed=0, allow_unpromoted=False, real_arm=True, log=Log(), min_episodes=500)
    with pytest.raises(PromotionRefusedError, match="fewer than the 500 required"):
        runner.start("open_drawer", str(ckpt), lambda keys: {})
    with pytest.raises(ValueError, match="at least 1"):
        SkillRunner({}, seed=0, allow_unpromoted=False, real_arm=True, log=Log(), min_episodes=0)
