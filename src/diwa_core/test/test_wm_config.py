"""World-model configs: shipped profiles load, and mistakes in YAML fail loudly."""

from pathlib import Path

import pytest
import yaml
from diwa.world_model.config import WorldModelConfig, load_world_model_config


def test_profiles_have_the_documented_sizes() -> None:
    paper = load_world_model_config("paper")
    assert (paper.rssm.deter, paper.rssm.stoch_vars, paper.rssm.stoch_classes, paper.rssm.hidden) == (
        1024,
        32,
        32,
        1000,
    )
    assert paper.rssm.feat_dim == 2048
    assert (paper.train.batch_size, paper.train.seq_len, paper.train.lr, paper.train.weight_decay) == (
        50,
        50,
        3e-4,
        0.05,
    )
    assert (paper.loss.kl_balance, paper.loss.kl_weight, paper.train.grad_clip) == (0.8, 0.3, 100.0)
    assert paper.observation.kind == "image" and paper.observation.decoder_kernels == (5, 5, 6, 6)
    quick = load_world_model_config("quick")
    assert quick.observation.kind == "state" and quick.observation.state_keys == ("robot_obs", "scene_obs")
    assert quick.observation.change_head and not paper.observation.change_head
    assert quick.loss.open_loop_kl_weight == 0.3 and paper.loss.open_loop_kl_weight == 0.0
    assert WorldModelConfig.from_dict(quick.to_dict()) == quick


def test_configs_stored_before_the_change_head_load_without_one() -> None:
    data = load_world_model_config("quick").to_dict()
    del data["observation"]["change_head"]
    assert not WorldModelConfig.from_dict(data).observation.change_head


def edited(tmp_path: Path, section: str, key: str, value: object) -> Path:
    data = load_world_model_config("quick").to_dict()
    data[section][key] = value
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("rssm", "detr", 3, "unknown keys"),
        ("rssm", "deter", 2.5, "integer"),
        ("rssm", "unimix", 1.5, "unimix"),
        ("rssm", "learned_start", "yes", "true or false"),
        ("observation", "kind", "lidar", "observation.kind"),
        ("observation", "state_keys", ["joint_obs"], "state_keys"),
        ("loss", "kl_balance", 1.2, "kl_balance"),
        ("train", "seq_len", 1, "seq_len"),
        ("train", "lr", "fast", "number"),
        ("observation", "image_code", 0, "image_code"),
        ("observation", "encoder_steps", -1, "encoder_steps"),
        ("observation", "encoder_lr", 0.0, "encoder_lr"),
    ],
)
def test_bad_values_are_rejected(tmp_path: Path, section: str, key: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_world_model_config(edited(tmp_path, section, key, value))


def test_missing_keys_and_files_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "partial.yaml"
    path.write_text("profile: quick\nrssm: {deter: 8}\n")
    with pytest.raises(ValueError, match=r"partial.yaml: missing keys"):
        load_world_model_config(path)
    with pytest.raises(FileNotFoundError):
        load_world_model_config(tmp_path / "absent.yaml")
    (tmp_path / "broken.yaml").write_text("rssm: [unclosed")
    with pytest.raises(ValueError, match="invalid YAML"):
        load_world_model_config(tmp_path / "broken.yaml")
