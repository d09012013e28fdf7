"""The contract's figures of a student, from a few aggregates: rates, consecutive absences,
trend, and a risk level that says which threshold put the student there.

Pure functions and settings, no queries: ``reporting.analytics`` computes the aggregates in
SQL and hands them here; alerts and the dashboard classify with the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from flask import current_app

from attendance_app.services.reporting.statistics import rate, rate_text

TREND_IMPROVING = "improving"
TREND_DECLINING = "declining"
TREND_STABLE = "stable"

RISK_HIGH = "high"
RISK_MEDIUM = "medium"
RISK_LOW = "low"
#: Sort key of each risk level: the riskiest first.
RISK_ORDER = {RISK_HIGH: 0, RISK_MEDIUM: 1, RISK_LOW: 2}


#: Thresholds attribute → app config key (read with the contract's defaults, so a
#: deployment sets only what it changes).
SETTINGS = {
    "high_risk_rate": "ANALYTICS_HIGH_RISK_RATE",
    "high_risk_absences": "ANALYTICS_HIGH_RISK_ABSENCES",
    "medium_risk_rate": "ANALYTICS_MEDIUM_RISK_RATE",
    "medium_risk_absences": "ANALYTICS_MEDIUM_RISK_ABSENCES",
    "medium_risk_late_rate": "ANALYTICS_MEDIUM_RISK_LATE_RATE",
    "trend_window": "ANALYTICS_TREND_WINDOW",
    "trend_points": "ANALYTICS_TREND_POINTS",
}


@dataclass(frozen=True)
class Thresholds:
    """The risk and trend settings (app config, with the contract's defaults)."""

    high_risk_rate: float = 70
    high_risk_absences: int = 3
    medium_risk_rate: float = 85
    medium_risk_absences: int = 2
    medium_risk_late_rate: float = 20
    trend_window: int = 5
    trend_points: float = 10

    @classmethod
    def from_config(cls) -> Thresholds:
        """The current app's settings; a missing one takes the contract's default."""
        defaults = cls()
        values = {
            attr: current_app.config.get(key, getattr(defaults, attr))
            for attr, key in SETTINGS.items()
        }
        # A window of 0 would make every trend a division by zero; 1 is the smallest sense.
        values["trend_window"] = max(1, int(values["trend_window"]))
        return cls(**values)


@dataclass(frozen=True)
class Figures:
    """A student's figures over a set of records, as the contract defines them."""

    total_sessions: int = 0
    present: int = 0
    absent: int = 0
    late: int = 0
    #: Records excused (absences and late arrivals); rates count them as they are.
    excused: int = 0
    attendance_rate: float = 0.0
    late_rate: float = 0.0
    consecutive_absences: int = 0
    trend: str = TREND_STABLE
    risk_level: str = RISK_LOW
    #: Which thresholds put the student at ``risk_level`` ("" when low), for pages.
    risk_reason: str = ""
    #: The same thresholds, one by one, for pages that word them for their readers.
    crossed: tuple[Crossed, ...] = ()
    #: PRESENT + LATE among the last W records and the W before them (the trend's basis).
    recent_attended: int = 0
    earlier_attended: int = 0

    @property
    def attended(self) -> int:
        return self.present + self.late

    def as_dict(self) -> dict[str, Any]:
        """The contract's keys, in its order (``risk_reason`` is not part of the API body)."""
        return {
            "total_sessions": self.total_sessions,
            "present": self.present,
            "absent": self.absent,
            "late": self.late,
            "excused": self.excused,
            "attendance_rate": self.attendance_rate,
            "late_rate": self.late_rate,
            "consecutive_absences": self.consecutive_absences,
            "trend": self.trend,
            "risk_level": self.risk_level,
        }


@dataclass(frozen=True)
class Counts:
    """The aggregates of one student's ranked records (one row of the figures query)."""

    total: int = 0
    present: int = 0
    absent: int = 0
    late: int = 0
    #: Rank (1 = most recent) of the most recent record that is not ABSENT, counting only
    #: the records that are not excused absences; None if none.
    first_attended_rank: int | None = None
    #: PRESENT + LATE among the last W records, and among the W before them.
    recent_attended: int = 0
    earlier_attended: int = 0
    #: Excused records (ABSENT or LATE), and the excused ABSENT ones among them.
    excused: int = 0
    excused_absent: int = 0


# --- classification (pure: aggregates in, figures out) ---------------------------------------


def trend(counts: Counts, thresholds: Thresholds) -> str:
    """The last W records' rate against the W before them; stable with fewer than 2 × W."""
    window = thresholds.trend_window
    if counts.total < 2 * window:
        return TREND_STABLE
    # Exact arithmetic: a change of exactly the threshold must not fall to float error.
    change = Fraction(counts.recent_attended - counts.earlier_attended, window) * 100
    if change >= thresholds.trend_points:
        return TREND_IMPROVING
    if change <= -thresholds.trend_points:
        return TREND_DECLINING
    return TREND_STABLE


@dataclass(frozen=True)
class Crossed:
    """One threshold a student's figures cross: which (CROSSED_RATE, CROSSED_STREAK or
    CROSSED_LATE), the figure and the threshold. Pages word it for their readers; the
    reason text (``risk_reason``) is built from the same list."""

    kind: str
    value: float
    threshold: float
    #: Excused absences the rate counts (a low rate made partly of excused absences says so).
    excused_absent: int = 0

    @property
    def reason(self) -> str:
        if self.kind == CROSSED_RATE:
            text = f"attendance rate {rate_text(self.value)}% is below {_num(self.threshold)}%"
            if self.excused_absent:
                n = self.excused_absent
                text += f" (including {n} excused absence{'s' if n != 1 else ''})"
            return text
        if self.kind == CROSSED_STREAK:
            return f"{self.value:g} absences in a row (at least {_num(self.threshold)})"
        return f"late rate {rate_text(self.value)}% is above {_num(self.threshold)}%"


CROSSED_RATE = "rate"
CROSSED_STREAK = "streak"
CROSSED_LATE = "late"


def crossed(
    attendance_rate: float,
    late_rate: float,
    consecutive_absences: int,
    thresholds: Thresholds,
    *,
    excused_absent: int = 0,
) -> tuple[str, tuple[Crossed, ...]]:
    """(risk level, the thresholds of that level the figures cross).

    The rates compared are the published ones (rounded to 2 decimals), so the level always
    agrees with the figures a client sees beside it. Excused absences lower the rate like any
    absence (the contract's rates are unchanged), and a rate's reason says how many there are;
    they are already left out of ``consecutive_absences``.
    """
    t = thresholds
    high = []
    if attendance_rate < t.high_risk_rate:
        high.append(Crossed(CROSSED_RATE, attendance_rate, t.high_risk_rate, excused_absent))
    if consecutive_absences >= t.high_risk_absences:
        high.append(Crossed(CROSSED_STREAK, consecutive_absences, t.high_risk_absences))
    if high:
        return RISK_HIGH, tuple(high)
    medium = []
    if attendance_rate < t.medium_risk_rate:
        medium.append(Crossed(CROSSED_RATE, attendance_rate, t.medium_risk_rate, excused_absent))
    if consecutive_absences >= t.medium_risk_absences:
        medium.append(Crossed(CROSSED_STREAK, consecutive_absences, t.medium_risk_absences))
    if late_rate > t.medium_risk_late_rate:
        medium.append(Crossed(CROSSED_LATE, late_rate, t.medium_risk_late_rate))
    if medium:
        return RISK_MEDIUM, tuple(medium)
    return RISK_LOW, ()


def classify_risk(
    attendance_rate: float, late_rate: float, consecutive_absences: int, thresholds: Thresholds
) -> tuple[str, str]:
    """(risk level, why): the level and every threshold of that level the figures cross."""
    level, found = crossed(attendance_rate, late_rate, consecutive_absences, thresholds)
    return level, "; ".join(c.reason for c in found)


def _num(value: float) -> str:
    """70 → "70", 69.5 → "69.5" (thresholds as people write them)."""
    return f"{value:g}"


def figures(counts: Counts, thresholds: Thresholds) -> Figures:
    """The contract's figures from one student's aggregates."""
    if counts.total == 0:
        # No records: nothing to worry about yet (the contract's "low, also with no records").
        return Figures()
    attendance_rate = rate(counts.present + counts.late, counts.total)
    late_rate = rate(counts.late, counts.total)
    # Excused absences are skipped: they neither count towards a run nor end it.
    counted = counts.total - counts.excused_absent
    consecutive = counted if counts.first_attended_rank is None else counts.first_attended_rank - 1
    level, found = crossed(
        attendance_rate, late_rate, consecutive, thresholds, excused_absent=counts.excused_absent
    )
    return Figures(
        total_sessions=counts.total,
        present=counts.present,
        absent=counts.absent,
        late=counts.late,
        excused=counts.excused,
        attendance_rate=attendance_rate,
        late_rate=late_rate,
        consecutive_absences=consecutive,
        trend=trend(counts, thresholds),
        risk_level=level,
        risk_reason="; ".join(c.reason for c in found),
        crossed=found,
        recent_attended=counts.recent_attended,
        earlier_attended=counts.earlier_attended,
    )
