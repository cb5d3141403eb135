"""The values of a drift report (frozen, JSON-able): ``promptwitness/drift-report/v1``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from promptwitness import __version__
from promptwitness.analysis.changes import Change
from promptwitness.drift.grouping import GroupKey
from promptwitness.model import iso_time

__all__ = [
    "SCHEMA",
    "DriftReport",
    "FormSide",
    "GroupSummary",
    "Options",
    "Separator",
    "Status",
    "Variant",
    "Verdict",
]

SCHEMA = "promptwitness/drift-report/v1"

Status = Literal["finding", "one-sender", "expected"]
Verdict = Literal["explains", "per-sender", "partial"]


@dataclass(frozen=True)
class Options:
    """The thresholds of an analysis (stated in every report)."""

    template_share: float = 0.5  # a unit is template when this share of its group has it
    min_senders: int = 2  # a variant is a finding when this many distinct senders sent it
    max_units: int = 4096  # units remembered per group (the most frequent ones)
    max_forms: int = 8  # forms remembered per unit
    evidence: int = 50  # exchange ids kept per side as evidence

    def to_json(self) -> dict[str, Any]:
        return {
            "template_share": self.template_share,
            "min_senders": self.min_senders,
            "max_units": self.max_units,
            "max_forms": self.max_forms,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Separator:
    """``dimension`` in ``values`` holds for ``variant_hits`` of the ``variant_total``
    exchanges with the variant and for ``other_hits`` of the ``other_total`` others.

    ``explains``: every exchange with the variant has one of ``values`` and no other
    exchange has any (fewer values than senders: a group, not the senders one by one);
    ``per-sender``: the same, but each sender has its own value (it separates the
    senders, it names no group); ``partial``: the best single value when nothing
    explains the variant."""

    dimension: str
    values: tuple[str, ...]
    variant_hits: int
    variant_total: int
    other_hits: int
    other_total: int
    verdict: Verdict

    def sentence(self) -> str:
        vals = (
            self.values[0]
            if len(self.values) == 1
            else "one of " + ", ".join(self.values[:6]) + (" …" if len(self.values) > 6 else "")
        )
        return (
            f"{self.dimension}={vals}: {self.variant_hits} of {self.variant_total} with the "
            f"variant, {self.other_hits} of {self.other_total} others"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "values": list(self.values),
            "variant": [self.variant_hits, self.variant_total],
            "others": [self.other_hits, self.other_total],
            "verdict": self.verdict,
            "text": self.sentence(),
        }


@dataclass(frozen=True)
class FormSide:
    """One form of a template unit: how many exchanges and senders sent it, an example."""

    count: int
    senders: int
    text: str
    path: str
    exchanges: tuple[int, ...]  # evidence (the first ``Options.evidence`` ids)

    def to_json(self) -> dict[str, Any]:
        return {
            "exchanges": self.count,
            "senders": self.senders,
            "path": self.path,
            "text": self.text,
            "evidence": list(self.exchanges),
        }


@dataclass(frozen=True)
class Variant:
    """A minority form of a template unit of one group."""

    id: str
    group: GroupKey
    status: Status
    template: FormSide
    variant: FormSide
    changes: tuple[Change, ...]  # covert ones (``expected``: the value changes)
    separators: tuple[Separator, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.kind for c in self.changes))

    @property
    def explained_by(self) -> tuple[Separator, ...]:
        return tuple(s for s in self.separators if s.verdict == "explains")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "group": self.group.to_json(),
            "kinds": list(self.kinds),
            "severity": "covert" if self.status != "expected" else "expected",
            "path": self.variant.path,
            "template": self.template.to_json(),
            "variant": self.variant.to_json(),
            "changes": [c.to_json() for c in self.changes],
            "separators": [s.to_json() for s in self.separators],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class GroupSummary:
    key: GroupKey
    exchanges: int
    senders: int
    senders_capped: bool
    template_units: int
    first: float
    last: float

    def to_json(self) -> dict[str, Any]:
        return {
            **self.key.to_json(),
            "exchanges": self.exchanges,
            "senders": self.senders,
            "senders_at_least": self.senders_capped,
            "template_units": self.template_units,
            "first": iso_time(self.first),
            "last": iso_time(self.last),
        }


@dataclass(frozen=True)
class DriftReport:
    store: str
    since: float | None
    until: float | None
    agent: str | None
    options: Options
    read: int  # exchanges in the window
    model_calls: int  # of those: parsed model calls of the selected agents
    not_model_calls: int
    unparsable: int
    other_agents: int  # left out by --agent
    groups: tuple[GroupSummary, ...]
    findings: tuple[Variant, ...]
    set_apart: tuple[Variant, ...]
    passes: int = 1
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> str:
        return "drift" if self.findings else "uniform"

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "tool": {"name": "promptwitness", "version": __version__},
            "store": self.store,
            "window": {
                "since": None if self.since is None else iso_time(self.since),
                "until": None if self.until is None else iso_time(self.until),
                "agent": self.agent,
            },
            "options": self.options.to_json(),
            "summary": {
                "verdict": self.verdict,
                "exit_code": self.exit_code,
                "exchanges_read": self.read,
                "model_calls": self.model_calls,
                "not_model_calls": self.not_model_calls,
                "unparsable": self.unparsable,
                "other_agents": self.other_agents,
                "groups": len(self.groups),
                "findings": len(self.findings),
                "set_apart": len(self.set_apart),
                "passes": self.passes,
            },
            "groups": [g.to_json() for g in self.groups],
            "findings": [v.to_json() for v in self.findings],
            "set_apart": [v.to_json() for v in self.set_apart],
            "notes": list(self.notes),
        }
