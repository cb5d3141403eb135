"""Changes inside noise (sans-IO): a cell's change of *form* in a value that varies
between identical runs.

A value that changes on every run (a timestamp to the microsecond, a session id) is
noise. A change that touched it used to be dropped whole, and with it a change of form
inside the value (``2026-12-06`` written ``2026/12/06`` in a per-run timestamp, its
offset ``+00:00`` written ``+08:00``). Here the value's form (``forms.form``: digits and
ASCII letters masked, a UTC offset kept) is compared instead; its values stay noise:

1. **Windows** (per request and segment path, in the reference's coordinates): every
   noise span, widened to every small change (at most ``GROW`` code points either
   side) of any run that overlaps or *touches* it, until none does. Touching counts
   because the diff may cut one run's change at the edge of the noise where another
   run's is one piece; what is in a window is judged below, not dropped. A larger change
   is in a window only when it overlaps it (one right next to it is judged on its own).
2. Every run's **text of the window**: the reference's text with the run's changes in
   it (checked against the run's own value).
3. **The form must hold between identical runs**: every control run has the reference's
   form (``forms.same_form``), and the runs of each varied cell share one form; else
   the window stays noise for every cell, as it does when a control run has no text of
   it (its segment removed, a larger change across its edge) or it is longer than
   ``MAX_WINDOW``. A cell with the reference's form changed values only: nothing.
4. For each run of a cell whose form differs, its ``forms.tokens`` are lined up with the
   reference's (``forms.token_class``; common ends, then ``difflib`` over at most
   ``MAX_ALIGN`` pairs): a token with the form of the reference's token it lines up with
   is a value and becomes the reference's; a token with no counterpart that differs
   between the cell's runs becomes its form. What remains differs from the reference
   in form, the same in every run of the cell, and is classified as any change
   (``classify`` over the segment with the window replaced; a ``value`` left, from a
   token with no counterpart, is dropped as noise): ``date-format``
   for a date written another way or another offset, ``punctuation``, ``confusable``,
   ``whitespace``, ``invisible``, ``content`` for text added. Its key is the same in
   every run that changes the form the same way, so attribution (``analysis.attribute``)
   takes it as any change: a finding when every replicate of a cell has it and no
   control run does.

The Change reported is the run's own text (``observed``, ``b_span``) over the change's
region and the window, with a ``detail`` that gives both forms; its ``code_points`` are
those that differ once the values are set aside.

Cost per window: a text and a form per run; for a cell whose form differs, one
alignment and one classification per distinct remaining text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from promptwitness.analysis.changes import Change
from promptwitness.analysis.diff import SegmentDiff, diff_segments
from promptwitness.analysis.forms import Fields, fields, same_fields
from promptwitness.model import Segment

__all__ = ["GROW", "MAX_ALIGN", "MAX_WINDOW", "RunAt", "Window", "judge", "in_window"]

Span = tuple[int, int]
Key = tuple[str, str, str | None, str | None, Span | None]  # Change.key
Run = tuple[str, int]  # (cell, replicate)
Classifier = Callable[[SegmentDiff], Sequence[Change]]

GROW = 1024  # a change this small (either side) widens a window
MAX_WINDOW = 4096  # a longer window (or a run's text of it) stays noise
MAX_ALIGN = 65_536  # token pairs compared when aligning a cell's form to the reference's
_CONTEXT = 20


@dataclass(frozen=True)
class RunAt:
    """One successful run at one request and segment path."""

    run: Run
    control: bool  # a run of a cell that varies no factor
    value: str | None  # the run's value of the segment (None: absent)
    changes: tuple[Change, ...]  # its changes at the path against the reference


@dataclass(frozen=True)
class Window:
    """A region around noise, in the reference's coordinates. ``open``: its changes were
    judged by form (``judge``); else it stays noise and every change in it is dropped."""

    span: Span
    open: bool


def _small(c: Change) -> bool:
    return (
        c.a_span is not None
        and c.a_span[1] - c.a_span[0] <= GROW
        and c.observed is not None
        and len(c.observed) <= GROW
    )


def in_window(c: Change, span: Span) -> bool:
    """Whether ``c`` belongs to the window ``span``: a small change when it overlaps or
    touches it, a larger one when it overlaps it (an empty span strictly inside counts)."""
    if c.a_span is None:
        return True
    (a0, a1), (w0, w1) = c.a_span, span
    if _small(c):
        return a0 <= w1 and w0 <= a1
    return not (a1 <= w0 or a0 >= w1)


def _windows(noise: Sequence[Span], runs: Sequence[RunAt]) -> list[Span]:
    seeds = sorted(set(noise))
    spans = sorted(
        {c.a_span for r in runs for c in r.changes if c.a_span is not None and _small(c)}
        | set(seeds)
    )
    merged: list[list[int]] = []
    for a0, a1 in spans:
        if merged and a0 <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], a1)
        else:
            merged.append([a0, a1])
    out: list[Span] = []
    k = 0
    for w0, w1 in merged:  # keep those that hold a seed (both lists are sorted)
        while k < len(seeds) and seeds[k][1] < w0:
            k += 1
        if k < len(seeds) and w0 <= seeds[k][0] and seeds[k][1] <= w1:
            out.append((w0, w1))
    return out


def _valid(ref: str, r: RunAt) -> bool:
    """The run's changes tile the reference (sorted, disjoint, exact texts)."""
    end = 0
    for c in r.changes:
        if c.a_span is None or c.observed is None:
            return False
        a0, a1 = c.a_span
        if a0 < end or c.control != ref[a0:a1]:
            return False
        end = a1
    return r.value is not None


def _text(ref: str, r: RunAt, w0: int, w1: int) -> tuple[str, int] | None:
    """The run's text of ``ref[w0:w1]`` and where it starts in the run's value; None
    when a change of the run crosses the edge of the region (or the run has no value)."""
    pieces: list[str] = []
    shift, at = 0, w0
    for c in r.changes:
        assert c.a_span is not None and c.observed is not None  # _valid
        a0, a1 = c.a_span
        if _small(c) and w0 <= a0 and a1 <= w1:
            pass
        elif a1 <= w0:
            shift += len(c.observed) - (a1 - a0)
            continue
        elif a0 >= w1:
            break
        elif not (w0 <= a0 and a1 <= w1):
            return None
        pieces.append(ref[at:a0])
        pieces.append(c.observed)
        at = a1
    pieces.append(ref[at:w1])
    text, b0 = "".join(pieces), w0 + shift
    if r.value is None or r.value[b0 : b0 + len(text)] != text:
        return None
    return text, b0


def _align(ref: Sequence[str], other: Sequence[str]) -> dict[int, int] | None:
    """Token index in ``other`` -> the token of ``ref`` it stands for (same class), or
    None when the middle left after the common ends is too large to align."""
    if len(ref) == len(other) and ref == other:
        return {j: j for j in range(len(other))}
    head = 0
    while head < min(len(ref), len(other)) and ref[head] == other[head]:
        head += 1
    tail = 0
    while tail < min(len(ref), len(other)) - head and ref[-1 - tail] == other[-1 - tail]:
        tail += 1
    out = {j: j for j in range(head)}
    for k in range(1, tail + 1):
        out[len(other) - k] = len(ref) - k
    mid_a, mid_b = ref[head : len(ref) - tail], other[head : len(other) - tail]
    if mid_a and mid_b:
        if len(mid_a) * len(mid_b) > MAX_ALIGN:
            return None
        matcher = SequenceMatcher(None, mid_a, mid_b, autojunk=False)
        for i, j, n in matcher.get_matching_blocks():
            for k in range(n):
                out[head + j + k] = head + i + k
    return out


def _short(text: str, limit: int = 48) -> str:
    shown = repr(text)
    if len(shown) > limit:
        half = (limit - 3) // 2
        shown = shown[:half] + "..." + shown[-half:]
    return shown


def judge(
    ref: Segment,
    noise: Sequence[Span],
    runs: Sequence[RunAt],
    classify: Classifier,
) -> tuple[tuple[Window, ...], dict[Run, dict[Key, Change]]]:
    """The windows around ``noise`` at ``ref``'s path and, per run of a varied cell, the
    changes of form found in the open ones (keyed as ``Change.key`` of the change with
    the values set aside; see the module's docstring). ``runs``: every successful run,
    the reference's included."""
    valid = [_valid(ref.value, r) for r in runs]
    good = [r for r, ok in zip(runs, valid, strict=True) if ok]
    bad_controls = any(r.control and not ok for r, ok in zip(runs, valid, strict=True))
    windows: list[Window] = []
    found: dict[Run, dict[Key, Change]] = {}
    for w0, w1 in _windows(noise, runs):
        ok = not bad_controls and w1 - w0 <= MAX_WINDOW
        if ok:
            ok = _judge_window(ref, (w0, w1), good, runs, classify, found)
        windows.append(Window((w0, w1), ok))
    return tuple(windows), found


@dataclass
class _Cell:
    runs: list[tuple[RunAt, tuple[str, int], Fields]]  # run, (text, b0), its fields
    align: dict[int, int]  # token of the cell's form -> token of the reference's
    varying: set[int]  # tokens that differ between the cell's runs


def _judge_window(
    ref: Segment,
    span: Span,
    good: Sequence[RunAt],
    runs: Sequence[RunAt],
    classify: Classifier,
    found: dict[Run, dict[Key, Change]],
) -> bool:
    """Judge one window (adds to ``found``); False when it stays noise."""
    value = ref.value
    w0, w1 = span
    base = value[w0:w1]
    base_f = fields(base)
    good_ids = {r.run for r in good}
    by_cell: dict[str, list[tuple[RunAt, tuple[str, int] | None]]] = {}
    for r in runs:
        got = _text(value, r, w0, w1) if r.run in good_ids else None
        if got is not None and len(got[0]) > MAX_WINDOW:
            return False
        if r.control:
            if got is None or not (
                _digits_only(got[0], base) or same_fields(fields(got[0]), base_f)
            ):
                return False  # the control's form varies (or is not known): noise
        else:
            by_cell.setdefault(r.run[0], []).append((r, got))
    cells: list[_Cell] = []
    for cell_id in sorted(by_cell):
        members = sorted(by_cell[cell_id], key=lambda m: m[0].run)
        present = [(r, got) for r, got in members if got is not None]
        if not present:
            continue  # opaque: nothing of it in this window is judged
        if len(present) < len(members):
            return False  # some of the cell's runs have a text of it, some not: noise
        if all(_digits_only(got[0], base) for _, got in present):
            continue  # values only: noise
        fs = [fields(got[0]) for _, got in present]
        if any(not same_fields(f, fs[0]) for f in fs[1:]):
            return False  # the cell's runs disagree on the form: noise
        if same_fields(fs[0], base_f):
            continue  # values only: noise
        varying = {
            j for f in fs[1:] for j, (x, y) in enumerate(zip(f, fs[0], strict=True)) if x[2] != y[2]
        }
        align = _align([_cls(f) for f in base_f], [_cls(f) for f in fs[0]])
        if align is None:
            continue  # too far from the reference's form to line up: not judged
        cells.append(
            _Cell([(r, g, f) for (r, g), f in zip(present, fs, strict=True)], align, varying)
        )
    cache: dict[str, list[Change]] = {}
    base_form = "".join(m for _, m, _ in base_f)
    for cell in cells:
        for r, (text, b0), rf in cell.runs:
            out: list[str] = []
            for j, (kind, mask, tok) in enumerate(rf):
                i = cell.align.get(j)
                if i is not None and same_fields(((kind, mask, tok),), (base_f[i],)):
                    out.append(base_f[i][2])  # a value: the reference's
                elif j in cell.varying:
                    out.append(mask)  # a value with no counterpart: its form
                else:
                    out.append(tok)
            rest = "".join(out)
            if rest == base:
                continue
            if rest not in cache:
                b = value[:w0] + rest + value[w1:]
                cache[rest] = [
                    c
                    for d in diff_segments((ref,), (Segment(ref.path, b, ref.channel),))
                    for c in classify(d)
                ]
            run_form = "".join(m for _, m, _ in rf)
            for s in cache[rest]:
                if s.a_span is None or s.kind == "value":
                    continue  # a value inside noise is noise
                change = _reported(r, value, s, span, (text, b0), base_form, run_form)
                found.setdefault(r.run, {}).setdefault(s.key, change)
    return True


def _digits_only(text: str, base: str) -> bool:
    """A quick ``same_form``: ``text`` differs from ``base`` only in ASCII digits, so
    every token has the same mask."""
    if len(text) != len(base):
        return False
    pairs = zip(text, base, strict=True)
    return all(x == y or ("0" <= x <= "9" and "0" <= y <= "9") for x, y in pairs)


def _cls(f: tuple[str, str, str]) -> str:
    """What two tokens must share to line up (``forms.token_class``)."""
    kind, mask, _ = f
    return "9" + mask[0] if kind == "num" else kind[0] + mask


def _reported(
    r: RunAt,
    value: str,
    s: Change,
    window: Span,
    window_text: tuple[str, int],
    base_form: str,
    run_form: str,
) -> Change:
    """The change ``s`` (found with the noise set aside) as the run has it."""
    assert s.a_span is not None and r.value is not None
    lo, hi = min(s.a_span[0], window[0]), max(s.a_span[1], window[1])
    got = _text(value, r, lo, hi)
    if got is None:
        (lo, hi), got = window, window_text
    observed, b0 = got
    b1 = b0 + len(observed)
    control = value[lo:hi]
    middle = observed
    if len(middle) > 2 * _CONTEXT:
        middle = middle[:_CONTEXT] + " ... " + middle[-_CONTEXT:]
    context = r.value[max(0, b0 - _CONTEXT) : b0] + middle + r.value[b1 : b1 + _CONTEXT]
    detail = (
        f"{_short(control)} → {_short(observed)} ({s.kind} in a value that varies between"
        f" identical runs: form {_short(base_form)} → {_short(run_form)})"
    )
    return replace(
        s,
        control=control,
        observed=observed,
        a_span=(lo, hi),
        b_span=(b0, b1),
        detail=detail,
        context=context,
    )
