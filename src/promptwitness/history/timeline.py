"""The prompt's changelog across releases (sans-IO): what each version sends, and what
changed from one version to the next.

Input: one :class:`VersionCapture` per version, in timeline order, each with the
requests of two (or more) identical runs (``probe.observe.request_map`` shape) and
the body size of each request. Output: a :class:`Timeline`.

Rules:
- The **main request** of a run is its largest model call (a request whose segments
  include ``messages[0].role``), by body bytes. Versions are compared main request
  to main request, whatever their keys (the model name is part of a key and may
  change between versions).
- **Noise** is what differs between the runs of one version (session ids, a per-run
  hash): in the main request, every region where another run differs from the first
  run, widened to the whole token around it (ASCII letters, digits and ``-``), and
  every segment present in some runs only; among the other requests, any request key
  present in some runs only. A version's segments are compared with the noise
  regions replaced by :data:`NOISE` (the form around them is still compared), so an
  id never shows up as a change, and the noise is listed per version.
- Changes are found by ``diff_segments`` over the masked segments of the main
  request (code-point exact; nothing is normalised) and sorted into categories:
  ``tools`` (added and removed tools by name; a kept tool's description, schema or
  other fields; the tool order when the kept tools are reordered), ``system``
  (``system[i].*``), ``messages`` (``messages[i].*``: the first user message holds
  context blocks), ``params`` (``model``, ``stream``, ``params.*``, ``metadata.*``,
  ``target``) and ``headers``. The segments of an added or removed tool are not
  listed one by one: the tool is.
- The ops of a listed change are **readable** (``readable_ops``): lines, then words,
  then code points only inside a short replaced word, so that a reworded sentence
  reads as words replaced, not as letters shuffled; still exact (they tile both
  texts, and every ``equal`` range is equal code point for code point).
- The main request's **form segments** (channel ``serialisation``:
  ``analysis.serialisation``, how its JSON body is written) are kept out of the noise
  masking and the segment diff: a form path whose comparison gives changes between the
  runs of one version is noise (listed with the changes' observed spellings as
  examples); the others are compared release to release with
  ``analysis.serialisation.compare_forms`` and each change is listed (category
  ``serialisation``, ``before``/``after`` the two spellings, covert like the probe's
  ``serialisation`` kind).
- A change is **version-only** when the two values are equal once every dotted
  version number (``\\d+.\\d+.\\d+`` and any ``-pre``, ``.build`` or ``+meta`` parts
  after it) is blanked in both: a user-agent ``claude-cli/2.1.0`` →
  ``claude-cli/2.1.34`` or a build tag ``cc_version=2.1.73.939`` →
  ``cc_version=2.1.111.80e`` is expected, not news.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from promptwitness.analysis.diff import Op, SegmentDiff, diff_segments, diff_text
from promptwitness.analysis.segments import unescape_name
from promptwitness.analysis.serialisation import CHANNEL as FORM_CHANNEL
from promptwitness.analysis.serialisation import compare_forms
from promptwitness.model import Segment

__all__ = [
    "NOISE",
    "Audit",
    "AuditFinding",
    "NoiseItem",
    "RunCapture",
    "SegmentChange",
    "Sizes",
    "Step",
    "Timeline",
    "VersionCapture",
    "VersionEntry",
    "build_timeline",
    "categorize",
    "is_version_only",
    "main_request",
    "noise_regions",
    "readable_ops",
    "tool_of",
]

NOISE = "<pw:noise>"  # ASCII on purpose: a marker must never look like a code point change
Requests = Mapping[str, tuple[Segment, ...]]
Span = tuple[int, int]

_TOKEN = re.compile(r"[A-Za-z0-9\-]")  # not "_": it joins ids to their labels
# a dotted version with an optional pre-release or build suffix: 2.1.91, 2.1.3-beta.1,
# 2.1.91.b97 (Claude Code's billing header appends a per-build hash)
_VERSION = re.compile(r"(?<![\d.])\d+\.\d+\.\d+(?:[-.+][0-9A-Za-z]+)*(?![\w])")
_TOOL = re.compile(r"^tools\[((?:\\.|[^\]\\])*)\](?:\.(.*))?$", re.DOTALL)


# ------------------------------------------------------------------------------ input


@dataclass(frozen=True)
class RunCapture:
    """One run of one version: its requests (key -> segments) and their body sizes."""

    requests: Requests
    body_bytes: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditFinding:
    """One finding of a version's audit, as the timeline shows it."""

    factors: Mapping[str, str]
    request: str
    path: str
    kind: str
    severity: str
    control: str | None
    observed: str | None
    code_points: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class Audit:
    verdict: str  # clean | conditioned | inconclusive
    findings: tuple[AuditFinding, ...] = ()
    runs: int = 0
    failed_runs: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class VersionCapture:
    version: str
    published: str | None
    runs: tuple[RunCapture, ...]  # the successful identical runs (two or more)
    error: str | None = None  # why the version could not be captured (runs then empty)
    audit: Audit | None = None
    seconds: float = 0.0  # install + runs


# ----------------------------------------------------------------------------- output


@dataclass(frozen=True)
class Sizes:
    request_bytes: int  # the main request's body
    system_bytes: int  # UTF-8 bytes of every system block's text
    tools_bytes: int  # UTF-8 bytes of every tool segment (descriptions, schemas, fields)
    messages_bytes: int  # UTF-8 bytes of every message segment
    tool_count: int


@dataclass(frozen=True)
class NoiseItem:
    request: str  # "" for the main request, else the request key
    path: str  # "" for a whole request present in some runs only
    examples: tuple[str, ...]  # up to three of the differing values (the regions only)


@dataclass(frozen=True)
class VersionEntry:
    version: str
    published: str | None
    error: str | None
    main_request: str | None  # its key in the first run
    requests: tuple[str, ...]  # the request keys every run sent, in arrival order
    sizes: Sizes | None
    tools: tuple[str, ...]
    noise: tuple[NoiseItem, ...]
    runs: int
    audit: Audit | None = None
    seconds: float = 0.0
    segments: tuple[Segment, ...] = field(default=(), repr=False)  # main request, masked
    forms: tuple[Segment, ...] = field(default=(), repr=False)  # its form segments, not noisy


@dataclass(frozen=True)
class SegmentChange:
    category: str  # tools | system | messages | params | headers | serialisation | other
    diff: SegmentDiff  # over the masked values
    version_only: bool

    @property
    def path(self) -> str:
        return self.diff.path


@dataclass(frozen=True)
class Step:
    """What changed from ``before`` to ``after`` (two successive captured versions)."""

    before: str
    after: str
    tools_added: tuple[str, ...]
    tools_removed: tuple[str, ...]
    changes: tuple[SegmentChange, ...]
    requests_added: tuple[str, ...]
    requests_removed: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (
            self.tools_added
            or self.tools_removed
            or self.changes
            or self.requests_added
            or self.requests_removed
        )

    def notable(self) -> tuple[SegmentChange, ...]:
        return tuple(c for c in self.changes if not c.version_only)


@dataclass(frozen=True)
class Timeline:
    agent: str
    entries: tuple[VersionEntry, ...]
    steps: tuple[Step, ...]


# ------------------------------------------------------------------------------ pieces


def _is_model_call(segs: Sequence[Segment]) -> bool:
    return any(s.path == "messages[0].role" for s in segs)


def main_request(run: RunCapture) -> str | None:
    """The key of the run's largest model call (body bytes; ties: the first), if any."""
    best: str | None = None
    best_size = -1
    for key, segs in run.requests.items():
        if not _is_model_call(segs):
            continue
        size = run.body_bytes.get(key, sum(len(s.value.encode("utf-8")) for s in segs))
        if size > best_size:
            best, best_size = key, size
    return best


def _widen(text: str, start: int, end: int) -> Span:
    while start > 0 and _TOKEN.match(text[start - 1]):
        start -= 1
    while end < len(text) and _TOKEN.match(text[end]):
        end += 1
    return start, end


def _merge(spans: Sequence[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def noise_regions(
    first: Sequence[Segment], others: Sequence[Sequence[Segment]]
) -> dict[str, list[Span] | None]:
    """Path -> noisy regions of ``first``'s value (merged, token-widened), or ``None``
    when the whole segment is noisy (present in some runs only)."""
    out: dict[str, list[Span] | None] = {}
    for other in others:
        for d in diff_segments(first, other):
            if d.status != "changed" or d.a is None:
                out[d.path] = None
                continue
            if d.path in out and out[d.path] is None:
                continue
            spans = list(out.get(d.path) or [])
            for op in d.ops:
                if op.tag != "equal":
                    spans.append(_widen(d.a, op.a_start, op.a_end))
            out[d.path] = _merge(spans)
    return out


def _mask(segs: Sequence[Segment], regions: Mapping[str, list[Span] | None]) -> tuple[Segment, ...]:
    out: list[Segment] = []
    for s in segs:
        if s.path not in regions:
            out.append(s)
            continue
        spans = regions[s.path]
        if spans is None:
            out.append(Segment(s.path, NOISE, s.channel))
            continue
        pieces: list[str] = []
        at = 0
        for a, b in spans:
            pieces.append(s.value[at:a])
            pieces.append(NOISE)
            at = b
        pieces.append(s.value[at:])
        out.append(Segment(s.path, "".join(pieces), s.channel))
    return tuple(out)


def tool_of(path: str) -> tuple[str, str] | None:
    """``tools[Bash].description`` -> (``Bash``, ``description``); None for other paths
    (``tools.order`` included). A ``#2`` suffix of a repeated name is kept."""
    m = _TOOL.match(path)
    if m is None:
        return None
    return unescape_name(m.group(1)), m.group(2) or ""


def categorize(path: str) -> str:
    if path.startswith("tools"):
        return "tools"
    if path.startswith("system"):
        return "system"
    if path.startswith("messages"):
        return "messages"
    if path.startswith("headers."):
        return "headers"
    if path in ("model", "stream", "target") or path.startswith(("params.", "metadata.")):
        return "params"
    return "other"


def is_version_only(a: str | None, b: str | None) -> bool:
    """Equal once every dotted version number is blanked in both (and not equal as is)."""
    if a is None or b is None or a == b:
        return False
    blank_a, na = _VERSION.subn("\0", a)
    blank_b, nb = _VERSION.subn("\0", b)
    return na > 0 and blank_a == blank_b


def _split(segs: Sequence[Segment]) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """(the value segments, the form segments) of a request."""
    return (
        tuple(s for s in segs if s.channel != FORM_CHANNEL),
        tuple(s for s in segs if s.channel == FORM_CHANNEL),
    )


def _tools(segs: Sequence[Segment]) -> tuple[str, ...]:
    for s in segs:
        if s.path == "tools.order":
            return tuple(s.value.split("\n")) if s.value else ()
    return ()


def _sizes(segs: Sequence[Segment], body: int) -> Sizes:
    def total(prefix: str) -> int:
        return sum(len(s.value.encode("utf-8")) for s in segs if s.path.startswith(prefix))

    return Sizes(
        request_bytes=body,
        system_bytes=sum(
            len(s.value.encode("utf-8"))
            for s in segs
            if s.path.startswith("system[") and s.path.endswith("].text")
        ),
        tools_bytes=total("tools["),
        messages_bytes=total("messages["),
        tool_count=len(_tools(segs)),
    )


def _examples(
    first: Sequence[Segment],
    others: Sequence[Sequence[Segment]],
    path: str,
    spans: list[Span] | None,
) -> tuple[str, ...]:
    """Up to three distinct noisy values: the regions' text in each run (whole values
    when the whole segment is noisy; ``(absent)`` where a run lacks the segment)."""
    base = next((s for s in first if s.path == path), None)
    values: list[str] = []
    for run in (first, *others):
        seg = next((s for s in run if s.path == path), None)
        if seg is None:
            text = "(absent)"
        elif spans is None or base is None:
            text = seg.value
        elif run is first:
            text = " ".join(seg.value[a:b] for a, b in spans)
        else:
            parts: list[str] = []
            for d in diff_segments([base], [seg]):
                parts += [
                    seg.value[slice(*_widen(seg.value, o.b_start, o.b_end))]
                    for o in d.ops
                    if o.tag != "equal"
                ]
            text = " ".join(dict.fromkeys(parts))
        if text and text not in values:
            values.append(text)
    return tuple(values[:3])


_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_WORD = re.compile(r"\s+|\w+|[^\w\s]")
REFINE = 24  # a replaced word pair this short (each side) is refined to code points
ABSORB = 6  # an unchanged run this short across a word boundary, between two edits, joins them


def _tokens(pattern: re.Pattern[str], text: str, base: int) -> list[tuple[str, int, int]]:
    return [(m.group(), base + m.start(), base + m.end()) for m in pattern.finditer(text)]


def _match(a: str, b: str, ao: int, bo: int, level: int, raw: list[Op]) -> None:
    """Append ops for a[ao:..] vs b[bo:..] (texts are the slices), lines then words."""
    pattern = _LINE if level == 0 else _WORD
    ta, tb = _tokens(pattern, a, ao), _tokens(pattern, b, bo)
    sm = SequenceMatcher(None, [t[0] for t in ta], [t[0] for t in tb], autojunk=False)
    for tag, i0, i1, j0, j1 in sm.get_opcodes():
        a0 = ta[i0][1] if i0 < len(ta) else ao + len(a)
        a1 = ta[i1 - 1][2] if i1 > i0 else a0
        b0 = tb[j0][1] if j0 < len(tb) else bo + len(b)
        b1 = tb[j1 - 1][2] if j1 > j0 else b0
        if tag == "equal":
            raw.append(Op("equal", a0, a1, b0, b1))
        elif tag == "replace" and level == 0:
            _match(a[a0 - ao : a1 - ao], b[b0 - bo : b1 - bo], a0, b0, 1, raw)
        elif tag == "replace" and a1 - a0 <= REFINE and b1 - b0 <= REFINE:
            fine = diff_text(a[a0 - ao : a1 - ao], b[b0 - bo : b1 - bo])
            changed = max(
                sum(o.a_end - o.a_start for o in fine if o.tag != "equal"),
                sum(o.b_end - o.b_start for o in fine if o.tag != "equal"),
            )
            if changed <= max(2, max(a1 - a0, b1 - b0) // 4):  # a small edit of a word
                raw.extend(
                    Op(o.tag, a0 + o.a_start, a0 + o.a_end, b0 + o.b_start, b0 + o.b_end)
                    for o in fine
                )
            else:
                raw.append(Op("replace", a0, a1, b0, b1))
        else:
            raw.append(Op("replace", a0, a1, b0, b1))


def _tag(a0: int, a1: int, b0: int, b1: int) -> Op:
    if a0 == a1:
        return Op("insert", a0, a1, b0, b1)
    if b0 == b1:
        return Op("delete", a0, a1, b0, b1)
    return Op("replace", a0, a1, b0, b1)


def readable_ops(a: str, b: str) -> tuple[Op, ...]:
    """Ops turning ``a`` into ``b`` for a reader (see the module rules)."""
    if a == b:
        return (Op("equal", 0, len(a), 0, len(b)),) if a else ()
    pre = 0
    limit = min(len(a), len(b))
    while pre < limit and a[pre] == b[pre]:
        pre += 1
    while pre and not a[pre - 1].isspace():  # back to a word boundary
        pre -= 1
    suf = 0
    while suf < limit - pre and a[len(a) - 1 - suf] == b[len(b) - 1 - suf]:
        suf += 1
    while suf and not a[len(a) - suf].isspace():
        suf -= 1
    raw: list[Op] = []
    if pre:
        raw.append(Op("equal", 0, pre, 0, pre))
    _match(a[pre : len(a) - suf], b[pre : len(b) - suf], pre, pre, 0, raw)
    if suf:
        raw.append(Op("equal", len(a) - suf, len(a), len(b) - suf, len(b)))
    # join: empty ops dropped, short whitespace between two edits absorbed, neighbours merged
    ops = [op for op in raw if op.a_end > op.a_start or op.b_end > op.b_start]
    out: list[Op] = []
    for k, op in enumerate(ops):
        if op.tag == "equal":
            text = a[op.a_start : op.a_end]
            between = (
                0 < k < len(ops) - 1 and ops[k - 1].tag != "equal" and ops[k + 1].tag != "equal"
            )
            gap = "\n" not in text and (text[0].isspace() or text[-1].isspace())
            if not (between and len(text) <= ABSORB and gap):
                if out and out[-1].tag == "equal":
                    last = out.pop()
                    op = Op("equal", last.a_start, op.a_end, last.b_start, op.b_end)
                out.append(op)
                continue
        if out and out[-1].tag != "equal":
            last = out.pop()
            out.append(_tag(last.a_start, op.a_end, last.b_start, op.b_end))
        else:
            out.append(_tag(op.a_start, op.a_end, op.b_start, op.b_end))
    return tuple(out)


# ------------------------------------------------------------------------------- build


def _entry(cap: VersionCapture) -> VersionEntry:
    if cap.error is not None or not cap.runs:
        return VersionEntry(
            cap.version,
            cap.published,
            cap.error or "no successful run",
            None,
            (),
            None,
            (),
            (),
            len(cap.runs),
            cap.audit,
            cap.seconds,
        )
    first, *others = cap.runs
    key = main_request(first)
    noise: list[NoiseItem] = []
    keys = [k for k in first.requests if all(k in o.requests for o in others)]
    for run in cap.runs:
        for k in run.requests:
            if k not in keys and all(n.request != k for n in noise):
                noise.append(NoiseItem(k, "", ()))
    if key is None:
        return VersionEntry(
            cap.version,
            cap.published,
            "no model call was captured",
            None,
            tuple(keys),
            None,
            (),
            tuple(noise),
            len(cap.runs),
            cap.audit,
            cap.seconds,
        )
    segs, forms = _split(first.requests[key])
    other_segs, other_forms = [], []
    for o in others:
        values, form = _split(o.requests.get(main_request(o) or key, ()))
        other_segs.append(values)
        other_forms.append(form)
    regions = noise_regions(segs, other_segs)
    for path, spans in regions.items():
        noise.append(NoiseItem("", path, _examples(segs, other_segs, path, spans)))
    noisy_forms: dict[str, list[str]] = {}
    for form in other_forms:
        for d, changes in compare_forms(forms, form):
            seen = noisy_forms.setdefault(d.path, [])
            seen += [c.observed for c in changes if c.observed and c.observed not in seen]
    for path, examples in noisy_forms.items():
        noise.append(NoiseItem("", path, tuple(examples[:3])))
    masked = _mask(segs, regions)
    body = first.body_bytes.get(key, sum(len(s.value.encode("utf-8")) for s in segs))
    return VersionEntry(
        version=cap.version,
        published=cap.published,
        error=None,
        main_request=key,
        requests=tuple(keys),
        sizes=_sizes(segs, body),
        tools=_tools(segs),
        noise=tuple(noise),
        runs=len(cap.runs),
        audit=cap.audit,
        seconds=cap.seconds,
        segments=masked,
        forms=tuple(f for f in forms if f.path not in noisy_forms),
    )


def _step(a: VersionEntry, b: VersionEntry) -> Step:
    tools_a, tools_b = set(a.tools), set(b.tools)
    added = tuple(t for t in b.tools if t not in tools_a)
    removed = tuple(t for t in a.tools if t not in tools_b)
    gone = set(added) | set(removed)
    changes: list[SegmentChange] = []
    for d in diff_segments(a.segments, b.segments):
        tool = tool_of(d.path)
        if tool is not None and (tool[0] in gone or tool[0].rsplit("#", 1)[0] in gone):
            continue
        if d.path == "tools.order":
            kept_a = [t for t in a.tools if t in tools_b]
            kept_b = [t for t in b.tools if t in tools_a]
            if kept_a == kept_b:
                continue  # only additions or removals, listed by name
        shown = SegmentDiff(
            d.path, d.channel, d.status, d.a, d.b, readable_ops(d.a or "", d.b or "")
        )
        changes.append(SegmentChange(categorize(d.path), shown, is_version_only(d.a, d.b)))
    for _d, form_changes in compare_forms(a.forms, b.forms):
        for c in form_changes:
            before, after = c.control or "", c.observed or ""
            shown = SegmentDiff(
                c.path, FORM_CHANNEL, "changed", before, after, readable_ops(before, after)
            )
            changes.append(SegmentChange("serialisation", shown, False))
    # the main requests are compared segment by segment, whatever their keys
    keys_a = set(a.requests) - {a.main_request}
    keys_b = set(b.requests) - {b.main_request}
    req_added = tuple(k for k in b.requests if k in keys_b - keys_a)
    req_removed = tuple(k for k in a.requests if k in keys_a - keys_b)
    return Step(a.version, b.version, added, removed, tuple(changes), req_added, req_removed)


def build_timeline(agent: str, captures: Sequence[VersionCapture]) -> Timeline:
    """Entries for every version (failed ones too), steps between successive captured ones."""
    entries = tuple(_entry(c) for c in captures)
    ok = [e for e in entries if e.error is None]
    steps = tuple(_step(x, y) for x, y in zip(ok, ok[1:], strict=False))
    return Timeline(agent, entries, steps)
