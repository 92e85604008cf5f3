"""The demo's YAML is loaded as strictly as the training profiles: each key is required by name."""

from pathlib import Path

import pytest
import yaml

from diwa_bringup.demo import DemoConfig

DEMO_YAML = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"


def test_the_shipped_demo_config_loads() -> None:
    assert DemoConfig.load(DEMO_YAML).eval_episodes > 0


@pytest.mark.parametrize("key", sorted(yaml.safe_load(DEMO_YAML.read_text())))
def test_leaving_out_a_key_names_it(tmp_path: Path, key: str) -> None:
    data = yaml.safe_load(DEMO_YAML.read_text())
    del data[key]
    edited = tmp_path / "demo.yaml"
    edited.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=rf"missing keys \['{key}'\]"):
        DemoConfig.load(edited)


def test_a_count_given_as_a_fraction_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(DEMO_YAML.read_text())
    data["demos"] = 2.5
    edited = tmp_path / "demo.yaml"
    edited.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="demos must be an integer"):
        DemoConfig.load(edited)
