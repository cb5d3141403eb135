"""``invisible``: a changed code point that renders as nothing (sans-IO).

Format characters (Cf), default-ignorable code points, bidi controls, variation
selectors (U+FE00–FE0F, U+E0100–E01EF), tag characters (U+E0000–E007F), zero-width
characters, the soft hyphen, U+2060–2064, the BOM, and C0/C1 controls that are not
whitespace. Any such code point inserted, deleted or replaced makes the op invisible:
covert beats overt, and the invisible payload is the signal even when visible text
changed next to it.
"""

from __future__ import annotations

import regex

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors._base import Context, label

__all__ = ["INVISIBLE", "detect", "has_invisible"]

INVISIBLE = regex.compile(
    r"[\p{Cf}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}\p{Variation_Selector}"
    r"\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U000e0000-\U000e0fff"
    r"\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]"
)


def has_invisible(text: str) -> bool:
    return INVISIBLE.search(text) is not None


def _summary(text: str) -> str:
    found = INVISIBLE.findall(text)
    if not found:
        return ""
    distinct = list(dict.fromkeys(found))
    shown = ", ".join(label(c) for c in distinct[:4])
    more = f" and {len(distinct) - 4} more" if len(distinct) > 4 else ""
    count = f"{len(found)} × " if len(found) > 1 else ""
    return f"{count}{shown}{more}"


def detect(ctx: Context) -> Change | None:
    ca, cb = ctx.changed()
    sa, sb = _summary(ca), _summary(cb)
    if not sa and not sb:
        return None
    parts = []
    if sb:
        parts.append(f"inserted {sb}")
    if sa:
        parts.append(f"removed {sa}")
    rest_a, rest_b = INVISIBLE.sub("", ca), INVISIBLE.sub("", cb)
    tail = " (invisible)" if rest_a == rest_b else " (invisible, with visible changes)"
    return ctx.change("invisible", ctx.raw, "; ".join(parts) + tail)
