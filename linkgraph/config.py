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
    pattern rules (repeated digits, ``unknown``, zeroed UUIDs...): a plain
    value applies to every kind, ``"kind:value"`` to one kind
    (``"phone:+79990000000"``).
    ``default_country`` is the phone region (ISO 3166 alpha-2) for accounts
    with no country; ``None``: such numbers are readable only with a ``+``.
    ``pickup_keywords`` mark delivery addresses that are pickup points,
    parcel lockers or forwarders: shared by strangers, never a household link
    (matched as whole words, case and punctuation ignored).
    ``disposable_domains`` are throwaway-mailbox domains on top of the
    built-in list (``normalize.email.DISPOSABLE_DOMAINS``).
    ``email_plus_tag_domains`` / ``email_hyphen_tag_domains``: mail domains
    whose ``user+tag`` / ``user-tag`` reach ``user``, on top of the built-in
    lists (Gmail, Outlook, iCloud, Proton, Yandex... / Yahoo).
    ``min_device_length``: device ids with fewer letters and digits are junk.
    """

    junk_values: tuple[str, ...] = ()
    default_country: str | None = None
    pickup_keywords: tuple[str, ...] = (
        "pickup point", "pick-up point", "parcel locker", "paketstation", "packstation",
        "locker", "postamat", "pvz", "c/o", "forwarder", "freight", "po box", "p.o. box",
        "postfach", "poste restante", "general delivery", "amazon hub", "paczkomat",
        "пункт выдачи", "пвз", "постамат", "до востребования", "а/я",
    )
    disposable_domains: tuple[str, ...] = ()
    email_plus_tag_domains: tuple[str, ...] = ()
    email_hyphen_tag_domains: tuple[str, ...] = ()
    min_device_length: int = 6

    def __post_init__(self) -> None:
        if self.default_country is not None and not (
            len(self.default_country) == 2 and self.default_country.isalpha()
        ):
            raise ConfigError(
                f"config value normalize.default_country = {self.default_country!r} is not an "
                "ISO 3166 alpha-2 code such as 'RU' or 'GB'"
            )
        _check_range("normalize.min_device_length", self.min_device_length, 1, 256)


@dataclass(frozen=True, kw_only=True)
class GraphConfig:
    """Hub detection, link tiers and corroboration.

    A value of kind K shared by n accounts stops linking (a hub) when
    ``n > min(cap[K], max(floor[K], cut[K]))`` where ``cut[K]`` is the
    data-driven outlier bound of K's own sharing counts,
    ``exp(median(log n) + hub_outlier_z * 1.4826 * MAD(log n))`` over K's
    shared values: the data may raise the limit above the floor on a
    marketplace where K is commonly shared, never above the cap.

    ``max_accounts_per_value``: per kind, the hard ceiling (cap) on accounts
    sharing one value that still link; kinds left out keep their default.
    ``plausible_accounts_per_value``: per kind, the floor: sharing counts
    always plausible for one person or family (a farmer's device may tie 40
    accounts; a family home ~6 people with 1-4 accounts each), never a hub by
    count. A home address is judged by the persons sharing it
    (``max_persons_per_household``); its account limits only bound the pairs
    an address can make.
    ``hub_outlier_z``: how many robust deviations above the kind's typical
    sharing the data-driven bound sits.
    ``hub_allow`` / ``hub_deny``: ``"kind:value"`` strings (canonical value)
    that always / never link regardless of counts (an allowed value over its
    cap links by star edges to its first account, never by all pairs).
    ``burst_days``: accounts created this close together count as a burst.
    ``burst_min_accounts``: a burst this large (the account included)
    corroborates a single shared person-level value.
    ``recyclable_kinds``: kinds a provider reassigns to a new owner (phone
    numbers, IPs); for them a time gap between two accounts' use weakens the
    link (halved every ``gap_half_life_days``) and a gap over
    ``recycle_gap_days`` is a recycled value, not a link.
    ``max_persons_per_household``: a household-tier value (a home address)
    shared by the accounts of more distinct persons than this is a hub
    (``shared by N persons``): persons are the components of the
    person-tier pairs, so one person's twenty accounts count once and an
    office of fourteen colleagues counts fourteen.
    ``farm_min_share`` / ``max_accounts_per_farm``: a person-level value
    (device, card, phone) over its hub limit links again as one farmer's
    *farm tie* when at least this share of its accounts are farmed
    (coupon-only or disposable mailbox), they deliver to at most
    ``max_persons_per_household`` places (pickup points included), and at
    most ``max_accounts_per_farm``
    share it (see :mod:`linkgraph.graph.farms`); ``farm_min_share = 1.1``
    turns farm ties off.
    ``business_address_words``: words (matched whole, in the canonical
    address key) that mark an office or company address; such an address is
    shared by colleagues, never a household link (``business_address``).
    ``personal_kinds``: person-level kinds one person holds and a family
    rarely shares (a phone number, a mailbox): one such value in common makes
    two accounts the same person unless their registered names conflict.
    """

    _DEFAULT_CAPS: typing.ClassVar[dict[str, int]] = {
        "email": 20, "phone": 20, "device": 50, "card": 50, "card_digits": 20,
        "address": 50, "ip": 12, "name": 8,
    }
    _DEFAULT_FLOORS: typing.ClassVar[dict[str, int]] = {
        "email": 10, "phone": 10, "device": 40, "card": 30, "card_digits": 10,
        "address": 24, "ip": 6, "name": 4,
    }

    max_accounts_per_value: dict[str, int] = field(
        default_factory=lambda: dict(GraphConfig._DEFAULT_CAPS)
    )
    plausible_accounts_per_value: dict[str, int] = field(
        default_factory=lambda: dict(GraphConfig._DEFAULT_FLOORS)
    )
    hub_outlier_z: float = 4.0
    hub_allow: tuple[str, ...] = ()
    hub_deny: tuple[str, ...] = ()
    burst_days: int = 7
    burst_min_accounts: int = 3
    recyclable_kinds: tuple[str, ...] = ("phone", "ip")
    recycle_gap_days: int = 365
    gap_half_life_days: float = 180.0
    max_persons_per_household: int = 8
    farm_min_share: float = 0.8
    max_accounts_per_farm: int = 1000
    business_address_words: tuple[str, ...] = (
        "gmbh", "llc", "inc", "ltd", "limited", "plc", "corp", "corporation", "ooo", "zao",
        "oao", "pao", "office", "suite", "business centre", "business center", "business park",
        "headquarters", "бизнес центр", "офис",
    )
    personal_kinds: tuple[str, ...] = ("phone", "email")

    def __post_init__(self) -> None:
        from linkgraph.schemas import KINDS

        def check_kind(name: str, kind: str) -> None:
            if kind not in KINDS:
                near = difflib.get_close_matches(kind, KINDS, n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                raise ConfigError(
                    f"config key graph.{name} names unknown identifier kind '{kind}'{hint}; "
                    f"kinds are {', '.join(KINDS)}"
                )

        for name, defaults in (("max_accounts_per_value", self._DEFAULT_CAPS),
                               ("plausible_accounts_per_value", self._DEFAULT_FLOORS)):
            given = getattr(self, name)
            for kind, count in given.items():
                check_kind(name, kind)
                _check_range(f"graph.{name}.{kind}", count, 2, 1_000_000)
            # a TOML file that sets one kind must not drop the other kinds' limits
            object.__setattr__(self, name, {**defaults, **given})
        for name in ("hub_allow", "hub_deny"):
            for entry in getattr(self, name):
                kind, sep, value = entry.partition(":")
                if not sep or not value:
                    raise ConfigError(
                        f"config value graph.{name} entry {entry!r} is not 'kind:value' "
                        "(e.g. 'ip:203.0.113.7')"
                    )
                check_kind(name, kind)
        for kind in self.recyclable_kinds:
            check_kind("recyclable_kinds", kind)
        for kind in self.personal_kinds:
            check_kind("personal_kinds", kind)
        for word in self.business_address_words:
            if not word.strip():
                raise ConfigError("config value graph.business_address_words has an empty word")
        _check_range("graph.max_persons_per_household", self.max_persons_per_household, 1,
                     1_000_000)
        _check_range("graph.hub_outlier_z", self.hub_outlier_z, 0.0, 100.0)
        _check_range("graph.farm_min_share", self.farm_min_share, 0.0, 1.1)
        _check_range("graph.max_accounts_per_farm", self.max_accounts_per_farm, 2, 10_000_000)
        _check_range("graph.burst_days", self.burst_days, 0, 3650)
        _check_range("graph.burst_min_accounts", self.burst_min_accounts, 2, 1_000_000)
        _check_range("graph.recycle_gap_days", self.recycle_gap_days, 0, 36500)
        _check_range("graph.gap_half_life_days", self.gap_half_life_days, 1.0, 36500.0)


@dataclass(frozen=True, kw_only=True)
class ClusterConfig:
    """Cluster sizes that raise an alert (the sign of a missed hub).

    ``alert_size``: a cluster with more accounts than this is alerted.
    ``bridge_min_part``: a single link whose removal splits a cluster into two
    parts of at least this many accounts each is alerted as a bridge.
    ``bridge_max_size``: clusters larger than this are not searched for
    bridges (networkx, one cluster at a time); they are over ``alert_size``
    and alerted anyway.
    """

    alert_size: int = 60
    bridge_min_part: int = 10
    bridge_max_size: int = 100_000

    def __post_init__(self) -> None:
        _check_range("cluster.alert_size", self.alert_size, 2, 10_000_000)
        _check_range("cluster.bridge_min_part", self.bridge_min_part, 1, 10_000_000)
        _check_range("cluster.bridge_max_size", self.bridge_max_size, 2, 100_000_000)


@dataclass(frozen=True, kw_only=True)
class PolicyConfig:
    """Which evidence gives which proposed action (the sanctions stage).

    ``same_person_action``: for accounts joined to a blocked account by a path
    of corroborated person-tier links (the same person on the evidence):
    ``"inherit"`` (ban from banned, suspend from suspended) or a fixed action
    such as ``"restrict"``.
    ``family_action``: for a path that needs household-tier links (a family,
    or a single person-level link corroboration did not confirm): ``review``
    (the platform's discretion), ``watch`` or ``none``; never automatic.
    ``weak_action``: for accounts sharing only weak values (an IP, a name)
    with a blocked account: ``watch`` or ``none``. Hubs and junk give nothing.
    ``warning_action``: for accounts linked (person or household tier) to an
    account that only has a warning, rating revocation or restriction (not
    a block): ``watch`` or ``none``.
    ``cleared_cap``: the most a moderator-cleared account gets on evidence that
    began after the decision (evidence older than it gives nothing).
    ``max_person_hops`` / ``max_family_hops`` / ``max_warning_hops``: how many
    links an action travels from its source account. Each extra person hop
    multiplies the chance that one "same person" link is really a family's
    shared card; on the generator no correct sanction needed a third hop.
    """

    same_person_action: str = "inherit"
    family_action: str = "review"
    weak_action: str = "watch"
    warning_action: str = "watch"
    cleared_cap: str = "review"
    max_person_hops: int = 2
    max_family_hops: int = 2
    max_warning_hops: int = 1

    def __post_init__(self) -> None:
        allowed = {
            "same_person_action": (
                "inherit", "restrict", "suspend", "ban", "review", "watch", "none",
            ),
            "family_action": ("review", "watch", "none"),
            "weak_action": ("watch", "none"),
            "warning_action": ("watch", "none"),
            "cleared_cap": ("review", "watch", "none"),
        }
        why = {
            "family_action": ": a family link is never an automatic sanction",
            "weak_action": ": weak links never sanction",
            "warning_action": ": a warning is not a block",
            "cleared_cap": ": a cleared account is never sanctioned automatically",
        }
        for name, choices in allowed.items():
            value = getattr(self, name)
            if value not in choices:
                raise ConfigError(
                    f"config value policy.{name} = {value!r} is not one of "
                    f"{', '.join(choices)}{why.get(name, '')}"
                )
        _check_range("policy.max_person_hops", self.max_person_hops, 1, 20)
        _check_range("policy.max_family_hops", self.max_family_hops, 1, 20)
        _check_range("policy.max_warning_hops", self.max_warning_hops, 1, 20)


@dataclass(frozen=True, kw_only=True)
class CouponConfig:
    """The coupon-abuse score: points per reason, capped at 100.

    ``weights`` / ``free`` / ``caps``: per reason code (``CouponConfig.REASONS``),
    points per unit, units given free and most points; a partial table
    overrides only the codes it names. A reason earns
    ``min(cap, weight * max(0, units - free))``.
    ``min_redemptions``: a cluster with fewer new-user redemptions scores 0
    (one coupon cannot be farmed) unless it joins a coupon-hub burst.
    ``new_user_types``: ``coupon_type`` values (lower case) that are new-user coupons.
    ``burst_days``: redeemers created this close together form a burst.
    ``silence_days``: a coupon-only account placed its last order at least
    this long before the newest order of the data.
    ``coupon_only_max_orders``: most orders a coupon-only account has.
    ``min_share``: COUPON_ONLY and NEAR_MIN count only when at least this
    share of the cluster's redeemers (new-user orders) show them: among many
    real people some always churn after one order or buy at a minimum.
    ``small_order_amount``: a coupon-only order is at most this amount; when
    ``None``, at most the ``small_order_quantile`` of its currency's orders.
    ``near_min_quantile`` / ``near_min_margin`` / ``near_min_min_orders``: a
    coupon's minimum is the low quantile of its orders' amounts (codes with at
    least ``near_min_min_orders`` orders); an order within ``margin`` (relative)
    above it is "just above the minimum".
    ``hub_kinds``: identifier kinds checked for coupon hubs across clusters.
    ``hub_min_burst``: fewest coupon-only redeemers created within
    ``burst_days`` at one hub value for it to be a coupon hub (the count must
    also stand out from the value's own background rate).
    """

    #: reason code -> (points per unit, units given free, most points), in report order.
    #: A reason earns ``min(cap, weight * max(0, units - free))`` points; see
    #: ``linkgraph.score`` for what each unit counts. Defaults are chosen for real
    #: marketplaces: ``free`` leaves room for what a family does (two adults on one
    #: card, a household of four at one address, one churned new user).
    REASONS: typing.ClassVar[dict[str, tuple[float, float, float]]] = {
        "NEW_USER": (8.0, 0.0, 40.0),  # per redemption beyond one per distinct person
        "SHARED_CARD": (5.0, 2.0, 25.0),  # per redeemer on the cluster's most shared card
        "SHARED_DEVICE": (4.0, 2.0, 20.0),  # per redeemer on the most shared device
        "SHARED_ADDRESS": (3.0, 4.0, 15.0),  # per redeemer at the most shared home address
        "PICKUP": (3.0, 2.0, 15.0),  # per redeemer at the most shared pickup point
        "BURST": (5.0, 2.0, 25.0),  # per redeemer created within burst_days of each other
        "COUPON_ONLY": (5.0, 1.0, 25.0),  # per redeemer with one small coupon order, then silence
        "NEAR_MIN": (3.0, 1.0, 15.0),  # per new-user order just above its coupon's minimum
        "DISPOSABLE_EMAIL": (3.0, 0.0, 15.0),  # per redeemer with a disposable mailbox
        "COUPON_HUB": (5.0, 1.0, 40.0),  # per account of the largest coupon-hub burst joined
        "BLOCKED": (20.0, 0.0, 20.0),  # times the share of the cluster's accounts blocked
    }

    weights: dict[str, float] = field(default_factory=dict)
    free: dict[str, float] = field(default_factory=dict)
    caps: dict[str, float] = field(default_factory=dict)
    min_redemptions: int = 2
    new_user_types: tuple[str, ...] = ("new_user",)
    burst_days: float = 3.0
    silence_days: float = 14.0
    coupon_only_max_orders: int = 1
    min_share: float = 0.5
    small_order_amount: float | None = None
    small_order_quantile: float = 0.75
    near_min_quantile: float = 0.02
    near_min_margin: float = 0.05
    near_min_min_orders: int = 20
    hub_kinds: tuple[str, ...] = ("card", "card_digits", "device", "address", "phone")
    hub_min_burst: int = 5

    def __post_init__(self) -> None:
        for name, column in (("weights", 0), ("free", 1), ("caps", 2)):
            given: dict[str, float] = getattr(self, name)
            for code, value in given.items():
                if code not in CouponConfig.REASONS:
                    near = difflib.get_close_matches(code, list(CouponConfig.REASONS), n=1)
                    hint = f" (did you mean '{near[0]}'?)" if near else ""
                    raise ConfigError(f"unknown reason code coupon.{name}.{code}{hint}")
                _check_range(f"coupon.{name}.{code}", value, 0, 1_000)
            merged = {code: float(given.get(code, spec[column]))
                      for code, spec in CouponConfig.REASONS.items()}
            object.__setattr__(self, name, merged)
        _check_range("coupon.min_redemptions", self.min_redemptions, 1, 1_000)
        _check_range("coupon.burst_days", self.burst_days, 0, 365)
        _check_range("coupon.silence_days", self.silence_days, 0, 3650)
        _check_range("coupon.coupon_only_max_orders", self.coupon_only_max_orders, 1, 100)
        _check_range("coupon.min_share", self.min_share, 0, 1)
        if self.small_order_amount is not None:
            _check_range("coupon.small_order_amount", self.small_order_amount, 0, 1e12)
        _check_range("coupon.small_order_quantile", self.small_order_quantile, 0, 1)
        _check_range("coupon.near_min_quantile", self.near_min_quantile, 0, 0.5)
        _check_range("coupon.near_min_margin", self.near_min_margin, 0, 1)
        _check_range("coupon.near_min_min_orders", self.near_min_min_orders, 2, 10_000_000)
        _check_range("coupon.hub_min_burst", self.hub_min_burst, 2, 10_000_000)


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
        if isinstance(hint_type, type) and dataclasses.is_dataclass(hint_type):
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


def _read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The tables of a TOML file; an unreadable or invalid file is a ConfigError naming it."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{what} {path} is not valid TOML: {e}") from e


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
    values = _read_toml(path, "config file") if path is not None else {}
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
    values = _read_toml(path, "policy file")
    policy: PolicyConfig = _build(PolicyConfig, values.get("policy", values), "policy.")
    return policy
