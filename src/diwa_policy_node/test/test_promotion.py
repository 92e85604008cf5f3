import json

import pytest

from diwa_policy_node.promotion import EVALUATION_FILE, PromotionRefusedError, check_promotion


def checkpoint(tmp_path, **evaluation):
    (tmp_path / EVALUATION_FILE).write_text(json.dumps(evaluation))
    return tmp_path


def test_improved_checkpoint_passes(tmp_path):
    warnings: list[str] = []
    check_promotion(checkpoint(tmp_path, success_rate=0.8, base_success_rate=0.6), False, warnings.append)
    assert warnings == []


def test_worse_checkpoint_is_refused(tmp_path):
    with pytest.raises(PromotionRefusedError, match="below its base"):
        check_promotion(checkpoint(tmp_path, success_rate=0.5, base_success_rate=0.6), False, print)


def test_override_deploys_with_a_warning(tmp_path):
    warnings: list[str] = []
    check_promotion(checkpoint(tmp_path, success_rate=0.5, base_success_rate=0.6), True, warnings.append)
    assert len(warnings) == 1 and "allow_unpromoted" in warnings[0]


def test_unevaluated_or_unreadable_checkpoint_is_refused(tmp_path):
    with pytest.raises(PromotionRefusedError, match="no simulator evaluation"):
        check_promotion(tmp_path, False, print)
    (tmp_path / EVALUATION_FILE).write_text("{not json")
    with pytest.raises(PromotionRefusedError, match="unreadable"):
        check_promotion(tmp_path, False, print)
