"""Settings: one frozen dataclass tree with documented defaults, read from TOML.

A config file mirrors the tree, one table per section::

    max_reject_rate = 0.05

    [graph]
    max_accounts_per_value = { device = 40 }

    [policy]
    family_action = "review"

Unknown keys are an error that names the nearest valid key (a misspelt
threshold must not be silently ignored by a nightly job); values are
range-checked in ``__post_init__``. CLI flags override fields with
``dataclasses.replace``. Each stage receives only its own section.

>>> cfg = config_from_dict({"graph": {"burst_days": 3}})
>>> cfg.graph.burst_days
3
>>> config_from_dict({"grpah": {}})
Traceback (most recent call last):
...
linkgraph.errors.ConfigError: unknown config key 'grpah' (did you mean 'graph'?)
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linkgraph.errors import ConfigError


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"config value {name} = {value!r} is out of range [{low}, {high}]")


@dataclass(frozen=True, kw_only=True)
class NormalizeConfig:
    """How identifiers are canonicalised and which values are junk.

    ``junk_values`` are extra placeholder values (compared after
    normalisation, case-insensitive) that never link, on top of the built-in
    pattern rules (repeated digits, ``unknown``, zeroed UUIDs...).
    ``default_country`` is the phone region for accounts with no country.
    ``pickup_keywords`` mark delivery addresses that are pickup points,
    parcel lockers or forwarders: shared by strangers, never a household link.
    """

    junk_values: tuple[str, ...] = ()
    default_country: str | None = None
    pickup_keywords: tuple[str, ...] = (
        "pickup point", "pick-up point", "parcel locker", "paketstation", "locker",
        "postamat", "pvz", "c/o", "forwarder", "freight", "po box", "p.o. box",
    )
    disposable_domains: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class GraphConfig:
    """Hub detection, link tiers and corroboration.

    ``max_accounts_per_value``: per kind, the most accounts one value may be
    shared by and still link (a hard cap on top of the data-driven hub rule).
    ``hub_allow`` / ``hub_deny``: ``"kind:value"`` strings (canonical value)
    that always / never link regardless of counts.
    ``burst_days``: accounts created this close together count as a burst.
    """

    max_accounts_per_value: dict[str, int] = field(
        default_factory=lambda: {
            "email": 20, "phone": 20, "device": 50, "card": 50, "card_digits": 20,
            "address": 12, "ip": 12, "name": 8,
        }
    )
    hub_allow: tuple[str, ...] = ()
    hub_deny: tuple[str, ...] = ()
    burst_days: int = 7

    def __post_init__(self) -> None:
        for kind, cap in self.max_accounts_per_value.items():
            _check_range(f"graph.max_accounts_per_value.{kind}", cap, 2, 1_000_000)
        _check_range("graph.burst_days", self.burst_days, 0, 3650)


@dataclass(frozen=True, kw_only=True)
class ClusterConfig:
    """Cluster sizes that raise an alert (the sign of a missed hub)."""

    alert_size: int = 60
    bridge_min_part: int = 10

    def __post_init__(self) -> None:
        _check_range("cluster.alert_size", self.alert_size, 2, 10_000_000)
        _check_range("cluster.bridge_min_part", self.bridge_min_part, 1, 10_000_000)


@dataclass(frozen=True, kw_only=True)
class PolicyConfig:
    """Which evidence gives which proposed action.

    ``same_person_action``: ``"inherit"`` (ban from banned, suspend from
    suspended) or a fixed action such as ``"restrict"``.
    ``family_action``: for household links or an uncorroborated person link.
    ``weak_action``: for weak or suppressed links only (``watch`` or ``none``).
    ``max_person_hops`` / ``max_family_hops``: how far along links an action
    travels from the blocked account.
    """

    same_person_action: str = "inherit"
    family_action: str = "review"
    weak_action: str = "watch"
    warning_action: str = "watch"
    max_person_hops: int = 3
    max_family_hops: int = 2

    def __post_init__(self) -> None:
        allowed = ("inherit", "restrict", "suspend", "ban", "review", "watch", "none")
        for name in ("same_person_action", "family_action", "weak_action", "warning_action"):
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(
                    f"config value policy.{name} = {value!r} is not one of {', '.join(allowed)}"
                )
        if self.weak_action not in ("watch", "none"):
            raise ConfigError("policy.weak_action must be 'watch' or 'none': weak links never sanction")
        _check_range("policy.max_person_hops", self.max_person_hops, 1, 100)
        _check_range("policy.max_family_hops", self.max_family_hops, 1, 100)


@dataclass(frozen=True, kw_only=True)
class CouponConfig:
    """Weights of the coupon-abuse score (points per reason, capped at 100)."""

    weights: dict[str, float] = field(default_factory=dict)
    small_order_amount: float | None = None


@dataclass(frozen=True, kw_only=True)
class ReportConfig:
    """How moderator files are written.

    ``mask_key``: HMAC key for pseudonyms; never written to the run directory.
    ``keep_raw``: keep raw identifier values in the analyst Parquet files.
    ``excel_bom``: write CSVs as UTF-8 with BOM for Excel.
    """

    mask_key: str | None = field(default=None, repr=False)
    keep_raw: bool = False
    excel_bom: bool = False


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration of a run."""

    max_reject_rate: float = 0.05
    engine: str = "local"
    spark_master: str | None = None
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    coupon: CouponConfig = field(default_factory=CouponConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    def __post_init__(self) -> None:
        _check_range("max_reject_rate", self.max_reject_rate, 0.0, 1.0)
        if self.engine not in ("local", "spark"):
            raise ConfigError(f"config value engine = {self.engine!r} is not one of local, spark")


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, rejecting unknown keys."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            near = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean '{prefix}{near[0]}'?)" if near else ""
            raise ConfigError(f"unknown config key '{prefix}{key}'{hint}")
        hint_type = hints[key]
        if dataclasses.is_dataclass(hint_type):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{prefix}{key}' must be a table")
            kwargs[key] = _build(hint_type, value, f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, hint_type, f"{prefix}{key}")
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"invalid config section '{prefix or 'top level'}': {e}") from e


def _coerce(value: Any, hint: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is not type(None):
                return _coerce(value, arg, name)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"config key '{name}' must be a list")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{name}' must be a table")
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(
            f"config key '{name}' must be {hint.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def config_from_dict(values: dict[str, Any]) -> Config:
    """Build a :class:`Config` from nested dicts (the shape of a TOML file).

    Raises:
        ConfigError: an unknown key (naming the nearest valid one), a bad type
            or a value out of range.
    """
    result: Config = _build(Config, values, "")
    return result


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Read a TOML config file (or the defaults) and apply top-level overrides.

    >>> load_config(max_reject_rate=0.1).max_reject_rate
    0.1

    Raises:
        ConfigError: the file cannot be read or parsed, or holds a bad value.
    """
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                values = tomllib.load(fh)
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
    config = config_from_dict(values)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return dataclasses.replace(config, **overrides) if overrides else config


def config_to_dict(config: Config) -> dict[str, Any]:
    """The effective config as plain data for the manifest (secrets removed)."""
    values = dataclasses.asdict(config)
    values["report"].pop("mask_key", None)
    return values


def load_policy(path: str | Path) -> PolicyConfig:
    """Read a sanction policy from TOML: the keys of ``[policy]``, at top level or under it.

    Raises:
        ConfigError: the file cannot be read, or holds an unknown key or a bad value.
    """
    try:
        with open(path, "rb") as fh:
            values = tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"cannot read policy file {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"policy file {path} is not valid TOML: {e}") from e
    policy: PolicyConfig = _build(PolicyConfig, values.get("policy", values), "policy.")
    return policy
