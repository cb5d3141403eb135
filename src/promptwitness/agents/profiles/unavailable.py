"""Agents people install that promptwitness cannot run here, and why (``agents`` shows
them beside the profiles, so a security team sees the gap, not a silence).

Each entry says what was tried and what a run would need. An entry moves to a profile
when the blocker goes away.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UNAVAILABLE", "Unavailable"]


@dataclass(frozen=True)
class Unavailable:
    name: str
    title: str
    package: str  # where it comes from (registry package, or the vendor's installer)
    why: str  # what was tried and why it does not run here
    needs: str  # what a run would need


UNAVAILABLE: tuple[Unavailable, ...] = ()
