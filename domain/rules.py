"""The configurable business numbers, parsed from JSON rule sets (table `business_rules`).

One row per rule-set name holds a JSON object; `parse_rules` turns the rows
into typed, validated, frozen dataclasses and falls back to the shipped
defaults (LIFECYCLE.md) for names without a row. The defaults here are
inserted by migration 0003; a test keeps both copies equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from domain.enums import ApprovalKind, ApprovalLevel, Priority, RequestType, RiskRating, Role, SlaTier

__all__ = [
    "DEFAULT_RULES",
    "DEFAULT_RULES_JSON",
    "ApprovalRules",
    "LifecycleRules",
    "MatrixRow",
    "PriorityThreshold",
    "RateLimitRules",
    "RiskBand",
    "RiskEscalation",
    "RiskRules",
    "RoutingRules",
    "Rules",
    "SlaRules",
    "parse_rules",
]


def _rows(kind: str, bands: list[tuple[str | None, str | None, int]]) -> list[dict[str, Any]]:
    return [{"kind": kind, "max_usd": top, "level": level, "approvals": n} for top, level, n in bands]


_ADJUSTMENT_BANDS: list[tuple[str | None, str | None, int]] = [
    ("1000.00", None, 0),
    ("10000.00", "SUPERVISOR", 1),
    ("50000.00", "FINANCE_MANAGER", 1),
    (None, "CONTROLLER", 2),
]

DEFAULT_RULES_JSON: dict[str, dict[str, Any]] = {
    "approval_matrix": {
        "own_limit_usd": "1000.00",
        "rows": [
            *_rows("INVOICE_ADJUSTMENT", _ADJUSTMENT_BANDS),
            *_rows("PAYMENT_REALLOCATION", _ADJUSTMENT_BANDS),
            *_rows("WRITE_OFF", [("10000.00", "SUPERVISOR", 1), (None, "CONTROLLER", 1)]),
            *_rows("CREDIT_LIMIT_CHANGE", [("50000.00", "FINANCE_MANAGER", 1), (None, "CONTROLLER", 2)]),
            *_rows("ACCOUNT_CHANGE", [(None, "SUPERVISOR", 1)]),
        ],
        "risk_escalation": {
            "kinds": ["CREDIT_LIMIT_CHANGE"],
            "risk_ratings": ["HIGH", "CRITICAL"],
            "dscr_below": "1.25",
            "level": "CONTROLLER",
            "approvals": 2,
        },
    },
    "routing": {
        "priority_thresholds_usd": [
            {"min_usd": "50000.00", "priority": "URGENT"},
            {"min_usd": "10000.00", "priority": "HIGH"},
            {"min_usd": "1000.00", "priority": "MEDIUM"},
        ],
        "default_priority": "LOW",
        "tier_floors": {"ENTERPRISE": "MEDIUM"},
        "type_floors": {
            "CREDIT_LIMIT_CHANGE": "MEDIUM",
            "LETTER_OF_CREDIT": "MEDIUM",
            "DEBT_RESTRUCTURING": "MEDIUM",
        },
        "risk_raise": ["HIGH", "CRITICAL"],
        "team_by_type": {
            "BILLING_DISPUTE": "Billing",
            "INVOICE_CORRECTION": "Billing",
            "PAYMENT_INQUIRY": "Cash Application",
            "PAYMENT_POSTING": "Cash Application",
            "CREDIT_LIMIT_CHANGE": "Credit",
            "LETTER_OF_CREDIT": "Credit",
            "DEBT_RESTRUCTURING": "Credit",
            "ACCOUNT_UPDATE": "Customer Master",
            "CONTRACT_SERVICE": "Customer Service",
            "GENERAL_INQUIRY": "Customer Service",
        },
        "escalation_team": "Finance Escalations",
        "escalation_impact_usd": "50000.00",
        "escalation_risk_ratings": ["CRITICAL"],
    },
    "lifecycle": {"reopen_window_days": 14, "auto_close_days": 7, "default_dispute_window_days": 90},
    "sla": {"at_risk_fraction": "0.8"},
    "risk": {
        "dscr_bands": [
            {"min_dscr": "2.0", "rating": "LOW"},
            {"min_dscr": "1.25", "rating": "MEDIUM"},
            {"min_dscr": "1.0", "rating": "HIGH"},
        ],
        "below": "CRITICAL",
    },
    # Per-role budgets of query-cost points per minute overriding RATE_LIMIT_POINTS (LIMITS.md);
    # inserted by migration 0010.
    "rate_limits": {"points_per_minute_by_role": {}},
}


@dataclass(frozen=True, slots=True)
class MatrixRow:
    """Amounts up to `max_usd` (inclusive; None: any) of `kind` need `approvals` at `level`."""

    kind: ApprovalKind
    max_usd: Decimal | None
    level: ApprovalLevel | None  # None: within any staff member's own limit
    approvals: int


@dataclass(frozen=True, slots=True)
class RiskEscalation:
    """For `kinds`, a risky customer (rating in `risk_ratings` or DSCR below) needs at least this."""

    kinds: frozenset[ApprovalKind]
    risk_ratings: frozenset[RiskRating]
    dscr_below: Decimal
    level: ApprovalLevel
    approvals: int


@dataclass(frozen=True, slots=True)
class ApprovalRules:
    own_limit_usd: Decimal
    rows: tuple[MatrixRow, ...]
    risk_escalation: RiskEscalation


@dataclass(frozen=True, slots=True)
class PriorityThreshold:
    min_usd: Decimal
    priority: Priority


@dataclass(frozen=True, slots=True)
class RoutingRules:
    priority_thresholds: tuple[PriorityThreshold, ...]  # highest first
    default_priority: Priority
    tier_floors: Mapping[SlaTier, Priority]
    type_floors: Mapping[RequestType, Priority]
    risk_raise: frozenset[RiskRating]
    team_by_type: Mapping[RequestType, str]
    escalation_team: str
    escalation_impact_usd: Decimal
    escalation_risk_ratings: frozenset[RiskRating]


@dataclass(frozen=True, slots=True)
class LifecycleRules:
    reopen_window: timedelta
    auto_close_after: timedelta
    default_dispute_window_days: int


@dataclass(frozen=True, slots=True)
class SlaRules:
    at_risk_fraction: Decimal


@dataclass(frozen=True, slots=True)
class RiskBand:
    min_dscr: Decimal
    rating: RiskRating


@dataclass(frozen=True, slots=True)
class RiskRules:
    dscr_bands: tuple[RiskBand, ...]  # highest first
    below: RiskRating


@dataclass(frozen=True, slots=True)
class RateLimitRules:
    points_per_minute_by_role: Mapping[Role, int]

    def points_per_minute(self, roles: frozenset[Role], default: int) -> int:
        """The budget of a caller with these roles: the largest override among them, else `default`."""
        overrides = [self.points_per_minute_by_role[r] for r in roles if r in self.points_per_minute_by_role]
        return max(overrides) if overrides else default


@dataclass(frozen=True, slots=True)
class Rules:
    approval_matrix: ApprovalRules
    routing: RoutingRules
    lifecycle: LifecycleRules
    sla: SlaRules
    risk: RiskRules
    rate_limits: RateLimitRules


class _Reader:
    """Typed access to one JSON object with error messages naming the path."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected an object, got {type(data).__name__}")
        self.data = data
        self.path = path

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise ValueError(f"{self.path}.{key}: missing")
        return self.data[key]

    def decimal(self, key: str, *, optional: bool = False) -> Decimal | None:
        value = self.raw(key)
        if value is None and optional:
            return None
        if isinstance(value, float | bool) or value is None:
            raise ValueError(f"{self.path}.{key}: expected a decimal string, got {value!r}")
        try:
            result = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise ValueError(f"{self.path}.{key}: {value!r} is not a decimal") from None
        if not result.is_finite() or result < 0:
            raise ValueError(f"{self.path}.{key}: must be a non-negative number, got {value!r}")
        return result

    def required_decimal(self, key: str) -> Decimal:
        value = self.decimal(key)
        assert value is not None
        return value

    def integer(self, key: str, *, minimum: int = 0) -> int:
        value = self.raw(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{self.path}.{key}: expected an integer >= {minimum}, got {value!r}")
        return value

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{self.path}.{key}: expected a non-empty string, got {value!r}")
        return value

    def enum(self, key: str, enum: type[_E], *, optional: bool = False) -> _E | None:
        return _enum(self.raw(key), enum, f"{self.path}.{key}", optional=optional)

    def items(self, key: str) -> list[_Reader]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise ValueError(f"{self.path}.{key}: expected a list")
        return [_Reader(item, f"{self.path}.{key}[{index}]") for index, item in enumerate(value)]

    def enum_set(self, key: str, enum: type[_E]) -> frozenset[_E]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise ValueError(f"{self.path}.{key}: expected a list")
        return frozenset(
            _required_enum(item, enum, f"{self.path}.{key}[{i}]") for i, item in enumerate(value)
        )

    def enum_map(self, key: str, keys: type[_E], values: Callable[[object, str], _V]) -> dict[_E, _V]:
        value = self.raw(key)
        if not isinstance(value, Mapping):
            raise ValueError(f"{self.path}.{key}: expected an object")
        path = f"{self.path}.{key}"
        return {_required_enum(k, keys, f"{path} key"): values(v, f"{path}.{k}") for k, v in value.items()}


_E = TypeVar("_E", bound=StrEnum)
_V = TypeVar("_V")


def _enum(value: object, enum: type[_E], path: str, *, optional: bool = False) -> _E | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or value not in enum.__members__:
        names = ", ".join(enum.__members__)
        raise ValueError(f"{path}: {value!r} is not one of {names}")
    return enum(value)


def _required_enum(value: object, enum: type[_E], path: str) -> _E:
    result = _enum(value, enum, path)
    assert result is not None
    return result


def _name(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path}: expected a non-empty string, got {value!r}")
    return value


def _parse_approval_matrix(data: object) -> ApprovalRules:
    reader = _Reader(data, "approval_matrix")
    rows = []
    for row in reader.items("rows"):
        level = row.enum("level", ApprovalLevel, optional=True)
        approvals = row.integer("approvals")
        if (level is None) != (approvals == 0):
            raise ValueError(f"{row.path}: a row needs a level exactly when it needs approvals")
        kind = row.enum("kind", ApprovalKind)
        assert kind is not None
        rows.append(MatrixRow(kind, row.decimal("max_usd", optional=True), level, approvals))
    for kind in ApprovalKind:
        bounds = [row.max_usd for row in rows if row.kind is kind]
        if not bounds or bounds[-1] is not None or None in bounds[:-1]:
            raise ValueError(f"approval_matrix.rows: {kind} needs rows ending with one without max_usd")
        finite = [bound for bound in bounds[:-1] if bound is not None]
        if finite != sorted(set(finite)):
            raise ValueError(f"approval_matrix.rows: {kind} rows must have ascending max_usd")
    escalation = _Reader(reader.raw("risk_escalation"), "approval_matrix.risk_escalation")
    level = escalation.enum("level", ApprovalLevel)
    assert level is not None
    return ApprovalRules(
        own_limit_usd=reader.required_decimal("own_limit_usd"),
        rows=tuple(rows),
        risk_escalation=RiskEscalation(
            kinds=escalation.enum_set("kinds", ApprovalKind),
            risk_ratings=escalation.enum_set("risk_ratings", RiskRating),
            dscr_below=escalation.required_decimal("dscr_below"),
            level=level,
            approvals=escalation.integer("approvals", minimum=1),
        ),
    )


def _priority(value: object, path: str) -> Priority:
    return _required_enum(value, Priority, path)


def _parse_routing(data: object) -> RoutingRules:
    reader = _Reader(data, "routing")
    thresholds = tuple(
        PriorityThreshold(
            item.required_decimal("min_usd"), _priority(item.raw("priority"), f"{item.path}.priority")
        )
        for item in reader.items("priority_thresholds_usd")
    )
    if [t.min_usd for t in thresholds] != sorted({t.min_usd for t in thresholds}, reverse=True):
        raise ValueError("routing.priority_thresholds_usd: must be ordered from the highest min_usd down")
    team_by_type = reader.enum_map("team_by_type", RequestType, _name)
    missing = [t.value for t in RequestType if t not in team_by_type]
    if missing:
        raise ValueError(f"routing.team_by_type: no team for {', '.join(missing)}")
    default = reader.enum("default_priority", Priority)
    assert default is not None
    return RoutingRules(
        priority_thresholds=thresholds,
        default_priority=default,
        tier_floors=reader.enum_map("tier_floors", SlaTier, _priority),
        type_floors=reader.enum_map("type_floors", RequestType, _priority),
        risk_raise=reader.enum_set("risk_raise", RiskRating),
        team_by_type=team_by_type,
        escalation_team=reader.text("escalation_team"),
        escalation_impact_usd=reader.required_decimal("escalation_impact_usd"),
        escalation_risk_ratings=reader.enum_set("escalation_risk_ratings", RiskRating),
    )


def _parse_lifecycle(data: object) -> LifecycleRules:
    reader = _Reader(data, "lifecycle")
    return LifecycleRules(
        reopen_window=timedelta(days=reader.integer("reopen_window_days")),
        auto_close_after=timedelta(days=reader.integer("auto_close_days")),
        default_dispute_window_days=reader.integer("default_dispute_window_days"),
    )


def _parse_sla(data: object) -> SlaRules:
    fraction = _Reader(data, "sla").required_decimal("at_risk_fraction")
    if not 0 < fraction < 1:
        raise ValueError(f"sla.at_risk_fraction: must be between 0 and 1, got {fraction}")
    return SlaRules(at_risk_fraction=fraction)


def _parse_risk(data: object) -> RiskRules:
    reader = _Reader(data, "risk")
    bands = tuple(
        RiskBand(item.required_decimal("min_dscr"), _required_enum(item.raw("rating"), RiskRating, item.path))
        for item in reader.items("dscr_bands")
    )
    if [b.min_dscr for b in bands] != sorted({b.min_dscr for b in bands}, reverse=True):
        raise ValueError("risk.dscr_bands: must be ordered from the highest min_dscr down")
    below = reader.enum("below", RiskRating)
    assert below is not None
    return RiskRules(dscr_bands=bands, below=below)


def _points(value: object, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{path}: expected an integer >= 1, got {value!r}")
    return value


def _parse_rate_limits(data: object) -> RateLimitRules:
    reader = _Reader(data, "rate_limits")
    return RateLimitRules(reader.enum_map("points_per_minute_by_role", Role, _points))


_PARSERS: dict[str, Callable[[object], Any]] = {
    "approval_matrix": _parse_approval_matrix,
    "routing": _parse_routing,
    "lifecycle": _parse_lifecycle,
    "sla": _parse_sla,
    "risk": _parse_risk,
    "rate_limits": _parse_rate_limits,
}


def parse_rules(rows: Mapping[str, Mapping[str, Any]]) -> Rules:
    """Typed rules from the `business_rules` rows (name -> JSON); missing names use the defaults.

    Raises ValueError naming the rule set and field for malformed data or an unknown name.
    """
    unknown = set(rows) - set(_PARSERS)
    if unknown:
        raise ValueError(f"unknown business rule set(s): {', '.join(sorted(unknown))}")
    parsed = {name: parse(rows.get(name, DEFAULT_RULES_JSON[name])) for name, parse in _PARSERS.items()}
    return Rules(**parsed)


DEFAULT_RULES: Rules = parse_rules({})
