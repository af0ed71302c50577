from __future__ import annotations

from pathlib import Path

import pytest

from linkgraph.config import Config, config_from_dict, config_to_dict, load_config, load_policy
from linkgraph.errors import ConfigError


def test_defaults_need_no_file() -> None:
    assert load_config() == Config()


def test_misspelt_top_level_key_names_the_nearest_valid_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'max_reject_rat' \(did you mean 'max_reject_rate'\?\)"):
        config_from_dict({"max_reject_rat": 0.1})


def test_misspelt_nested_key_names_its_section() -> None:
    with pytest.raises(ConfigError, match=r"'policy.family_actoin' \(did you mean 'policy.family_action'\?\)"):
        config_from_dict({"policy": {"family_actoin": "review"}})


def test_out_of_range_value_is_an_error() -> None:
    with pytest.raises(ConfigError, match="max_reject_rate"):
        config_from_dict({"max_reject_rate": 1.5})


def test_wrong_type_is_an_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="'graph.burst_days' must be int"):
        config_from_dict({"graph": {"burst_days": "seven"}})


def test_weak_links_can_never_sanction() -> None:
    with pytest.raises(ConfigError, match="weak_action"):
        config_from_dict({"policy": {"weak_action": "ban"}})


def test_toml_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "linkgraph.toml"
    path.write_text('max_reject_rate = 0.2\n[policy]\nfamily_action = "watch"\n')
    config = load_config(path)
    assert config.max_reject_rate == 0.2
    assert config.policy.family_action == "watch"


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("max_reject_rate = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_policy_file_accepts_keys_at_top_level_or_under_policy(tmp_path: Path) -> None:
    top = tmp_path / "top.toml"
    top.write_text('family_action = "watch"\n')
    nested = tmp_path / "nested.toml"
    nested.write_text('[policy]\nfamily_action = "watch"\n')
    assert load_policy(top) == load_policy(nested)
    assert load_policy(top).family_action == "watch"


def test_mask_key_never_reaches_the_manifest() -> None:
    config = config_from_dict({"report": {"mask_key": "s3cret"}})
    assert "s3cret" not in repr(config)
    assert "mask_key" not in config_to_dict(config)["report"]
