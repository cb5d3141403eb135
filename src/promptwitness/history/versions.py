"""Which releases a history covers (sans-IO): RANGE parsing, ordering, even sampling.

    version_key("2.1.91") -> sortable key (numbers numerically, pre-releases first)
    select(releases, "2.1.0..2.1.91", order="version") -> [Release]
    select(releases, "2.1.0,2.1.50,2.1.91") -> [Release]   (that order)
    sample(items, every=N, most=M) -> items, both ends always kept

A range ``A..B`` is every published version ``v`` with ``A <= v <= B`` by version
number (pre-releases only when an end is one), listed by ``order``: ``version``
(the default: the line of development) or ``published`` (the registry's publication
times). The two differ when a registry republishes old versions or publishes a
maintenance release late; the npm registry of Claude Code does both (2.1.30 was
published after 2.1.80), so a changelog read "by version" is the one that follows
the code. Either end may be left out (``..2.1.91``, ``2.1.300..``). A comma list is
taken as given (each version must be published), in the order written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, TypeVar

from promptwitness.errors import UsageError
from promptwitness.model import Release

__all__ = ["Order", "sample", "select", "version_key"]

Order = Literal["version", "published"]
T = TypeVar("T")

_PART = re.compile(r"\d+|[A-Za-z]+")


def version_key(version: str) -> tuple[tuple[int, ...], int, tuple[tuple[int, int | str], ...]]:
    """A sort key: the dotted release numbers compared numerically, a pre-release
    (``-beta.1``) before its release, build metadata (``+…``) ignored."""
    core, _, _build = version.partition("+")
    main, dash, pre = core.partition("-")
    nums = tuple(int(p) if p.isdigit() else -1 for p in main.split("."))
    pre_key = tuple((0, int(p)) if p.isdigit() else (1, p) for p in _PART.findall(pre))
    return nums, (0 if dash else 1), pre_key


def _is_pre(version: str) -> bool:
    return "-" in version.partition("+")[0]


def _ordered(releases: Sequence[Release], order: Order) -> list[Release]:
    if order == "published":
        return sorted(releases, key=lambda r: (r.published or "", version_key(r.version)))
    return sorted(releases, key=lambda r: version_key(r.version))


def select(releases: Sequence[Release], spec: str, order: Order = "version") -> list[Release]:
    """The releases ``spec`` names (see the module docstring); raises ``UsageError``
    for an unknown version or an empty range."""
    spec = spec.strip()
    if not spec:
        raise UsageError("empty RANGE: give A..B or a comma list of versions")
    by_version = {r.version: r for r in releases}
    if ".." in spec:
        lo, _, hi = spec.partition("..")
        lo, hi = lo.strip(), hi.strip()
        for end in (lo, hi):
            if end and end not in by_version:
                raise UsageError(f"version {end} is not published (see `npm view PACKAGE time`)")
        pre = _is_pre(lo) or _is_pre(hi)
        klo = version_key(lo) if lo else None
        khi = version_key(hi) if hi else None
        if klo is not None and khi is not None and klo > khi:
            raise UsageError(f"empty range {spec}: {lo} comes after {hi}")
        chosen = [
            r
            for r in releases
            if (pre or not _is_pre(r.version))
            and (klo is None or version_key(r.version) >= klo)
            and (khi is None or version_key(r.version) <= khi)
        ]
        if not chosen:
            raise UsageError(f"no published version in {spec}")
        return _ordered(chosen, order)
    out: list[Release] = []
    for item in spec.split(","):
        v = item.strip()
        if not v:
            raise UsageError(f"empty version in {spec!r}")
        if v not in by_version:
            raise UsageError(f"version {v} is not published (see `npm view PACKAGE time`)")
        if all(r.version != v for r in out):
            out.append(by_version[v])
    return out


def sample(items: Sequence[T], every: int | None = None, most: int | None = None) -> list[T]:
    """Thin ``items`` out evenly, always keeping the first and the last.

    ``every=N``: every N-th item from the first (then the last); ``most=M``: at most M
    items at evenly spaced positions (``round(k * (n - 1) / (M - 1))``). Both: ``every``
    first, then ``most`` over what is left."""
    if every is not None and every < 1:
        raise UsageError("--every must be at least 1")
    if most is not None and most < 2:
        raise UsageError("--max must be at least 2 (the two ends)")
    out = list(items)
    if every is not None and len(out) > 2:
        out = out[::every] + ([out[-1]] if (len(out) - 1) % every else [])
    if most is not None and len(out) > most:
        n = len(out)
        idx = sorted({round(k * (n - 1) / (most - 1)) for k in range(most)})
        out = [out[i] for i in idx]
    return out
