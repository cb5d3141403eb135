"""The vocabulary of classified changes (sans-IO): kinds, severities, ``Change``.

A :class:`Change` is one difference between the control's value of a segment and a
run's value of it, classified by the detectors (``analysis.detectors``) into one kind
of DESIGN.md's table. Changes are the input of attribution (``analysis.attribute``).

Rules:
- ``control`` / ``observed`` are the *exact* differing texts (no normalisation), taken
  from the segment values at ``a_span`` / ``b_span`` (code-point offsets into the
  control's and the run's segment value; ``None`` when the segment is absent on that
  side). The detectors may widen a raw diff op to whole tokens (a date, a word) so that
  what a reader sees is meaningful; the spans say exactly what was widened to.
- ``code_points`` lists the code points that differ, each as ``U+XXXX NAME``, control
  side first, then observed side (non-ASCII and invisible ones always; for pure-ASCII
  changes too, so that ``'`` vs ``’`` is never ambiguous).
- ``key`` identifies "the same change" across replicates: two runs that show the same
  change at the same place produce equal keys.
- ``serialisation`` changes (``analysis.serialisation``) are about how the JSON body is
  written, not about a segment's value: their path is a form segment's
  (``body.json.messages[0].content[0].text:escapes``), ``control`` / ``observed`` the
  two spellings (``’`` and ``\\u2019``), and they have no spans.
- ``proxied`` is given by attribution, never by a detector: a ``CONNECT`` tunnel that
  only exists because the run was given a proxy (``analysis.attribute``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["DETECTED_KINDS", "KINDS", "SEVERITY", "Change", "Kind", "Severity"]

Kind = Literal[
    "value",
    "date-format",
    "confusable",
    "invisible",
    "whitespace",
    "punctuation",
    "casing",
    "ordering",
    "serialisation",
    "param",
    "header",
    "content",
    "proxied",
]
Severity = Literal["expected", "covert", "overt"]

SEVERITY: dict[str, Severity] = {
    "value": "expected",
    "date-format": "covert",
    "confusable": "covert",
    "invisible": "covert",
    "whitespace": "covert",
    "punctuation": "covert",
    "casing": "covert",
    "ordering": "covert",
    "serialisation": "covert",
    "param": "overt",
    "header": "overt",
    "content": "overt",
    "proxied": "expected",
}
KINDS: tuple[str, ...] = tuple(SEVERITY)
# the kinds a detector gives (``proxied`` is given by attribution only)
DETECTED_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k != "proxied")


@dataclass(frozen=True)
class Change:
    """One classified difference in one segment between the control and a run."""

    path: str  # the segment path, e.g. ``system[1].text``
    channel: str  # the segment's channel: body, param, header, order, request, ...
    kind: Kind
    control: str | None  # the differing text in the control (None: segment absent)
    observed: str | None  # the differing text in the run (None: segment removed)
    a_span: tuple[int, int] | None = None  # offsets in the control's segment value
    b_span: tuple[int, int] | None = None  # offsets in the run's segment value
    code_points: tuple[str, ...] = ()
    detail: str = ""  # one line for humans, e.g. "U+0027 → U+2019 (look-alike)"
    context: str = field(default="", compare=False)  # a little of the text around it

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.kind]

    def to_json(self) -> dict[str, object]:
        """The change as JSON values (spans as lists), as the probe report and the signed
        prompt-diff statement carry it."""
        return {
            "channel": self.channel,
            "path": self.path,
            "kind": self.kind,
            "severity": self.severity,
            "control": self.control,
            "observed": self.observed,
            "a_span": None if self.a_span is None else list(self.a_span),
            "b_span": None if self.b_span is None else list(self.b_span),
            "code_points": list(self.code_points),
            "detail": self.detail,
            "context": self.context,
        }

    @property
    def key(self) -> tuple[str, str, str | None, str | None, tuple[int, int] | None]:
        return (self.path, self.kind, self.control, self.observed, self.a_span)
