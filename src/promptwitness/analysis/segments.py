"""Cut a ``Prompt`` into addressed ``Segment`` values (sans-IO).

Segments are what the diff, the detectors and the probe align across runs: each one
is a path (``tools[Bash].description``) and a text value.

Rules:
- Never normalise. Text fields (model, part text, role, part type, tool description,
  header values) are taken verbatim; every other value is a parsed JSON value and is
  written as ``json.dumps(v, ensure_ascii=False, separators=(",", ":"))`` with its key
  order kept (key order is a signal: never sort keys). So a string parameter keeps its
  quotes (``params.tool_choice`` = ``"auto"``) and ``"1"`` stays distinct from ``1``.
- Paths are unique within one prompt and unambiguous, whatever the names contain.

Paths (channel in brackets, ``body`` when not said):

    model                          [param]  the model name, when the prompt has one
    stream                         [param]  ``true`` / ``false``
    params.NAME                    [param]  each request parameter, in request order
    system[i].text                          a system block's text, when it has one
    system[i].type                          only when the block's type is not ``text``
    system[i].FIELD                         each extra field of the block
    tools.order                    [order]  the tool names, in order, joined by "\\n"
    tools[NAME].description                 when the tool has one
    tools[NAME].schema                      its input schema, as JSON text
    tools[NAME].FIELD                       each extra field of the tool
    messages[i].role
    messages[i].content[j].text             when the part carries text
    messages[i].content[j].type             only when the part's type is not ``text``
    messages[i].content[j].FIELD            each extra field of the part
    messages[i].FIELD                       each extra field of the message
    metadata.NAME
    headers.NAME                   [header] the selected request headers

Escaping (``escape_name``): inside a name, ``\\``, ``.``, ``[``, ``]`` and ``#`` are
written with a backslash before them (``params.a\\.b``, ``tools[x\\]y]``), so the
separators of a path are never part of a name. A second, third ... tool with the same
name is ``tools[NAME#2]``, ``tools[NAME#3]`` (an escaped ``\\#`` is a literal ``#``). An
extra field whose name equals a modelled field of the same object (``text`` and
``type`` of a part; ``role`` and ``content`` of a message; ``description`` and
``schema`` of a tool) gets a leading backslash (``messages[0].content[0].\\text``), so
it can never collide with the modelled one. ``unescape_name`` undoes ``escape_name``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping

from promptwitness.model import JSON, Part, Prompt, Segment

__all__ = ["escape_name", "json_text", "reminders", "segments", "unescape_name"]

_SPECIAL = frozenset("\\.[]#")

_PART_FIELDS = frozenset({"text", "type"})
_MESSAGE_FIELDS = frozenset({"role", "content"})
_TOOL_FIELDS = frozenset({"description", "schema"})


def escape_name(name: str, reserved: Iterable[str] = ()) -> str:
    """A name as it appears inside a path; see the module docstring."""
    out = "".join("\\" + c if c in _SPECIAL else c for c in name)
    if name in frozenset(reserved) and out and not out.startswith("\\"):
        # A backslash before the first character (a redundant escape) keeps the name
        # distinct from the modelled field's, and still unescapes to the name.
        out = "\\" + out
    return out


def unescape_name(escaped: str) -> str:
    """Inverse of ``escape_name``: a backslash makes the next character literal."""
    out: list[str] = []
    it = iter(escaped)
    for c in it:
        if c == "\\":
            out.append(next(it, ""))
        else:
            out.append(c)
    return "".join(out)


def json_text(value: JSON) -> str:
    """The one JSON spelling of a non-text value: compact, non-ASCII kept, keys in order."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _extras(prefix: str, extra: Mapping[str, JSON], reserved: frozenset[str]) -> Iterator[Segment]:
    for key, value in extra.items():
        yield Segment(f"{prefix}.{escape_name(key, reserved)}", json_text(value))


def _part(prefix: str, part: Part) -> Iterator[Segment]:
    if part.text is not None:
        yield Segment(f"{prefix}.text", part.text)
    if part.type != "text":
        yield Segment(f"{prefix}.type", part.type)
    yield from _extras(prefix, part.extra, _PART_FIELDS)


def segments(prompt: Prompt) -> tuple[Segment, ...]:
    """Every addressed segment of ``prompt``, in a stable order (see module docstring)."""
    out: list[Segment] = []
    if prompt.model is not None:
        out.append(Segment("model", prompt.model, "param"))
    out.append(Segment("stream", json_text(prompt.stream), "param"))
    for name, value in prompt.params.items():
        out.append(Segment(f"params.{escape_name(name)}", json_text(value), "param"))

    for i, part in enumerate(prompt.system):
        out.extend(_part(f"system[{i}]", part))

    if prompt.tools:
        out.append(Segment("tools.order", "\n".join(t.name for t in prompt.tools), "order"))
    seen: dict[str, int] = {}
    for tool in prompt.tools:
        n = seen[tool.name] = seen.get(tool.name, 0) + 1
        key = escape_name(tool.name) + (f"#{n}" if n > 1 else "")
        prefix = f"tools[{key}]"
        if tool.description is not None:
            out.append(Segment(f"{prefix}.description", tool.description))
        if tool.schema is not None:
            out.append(Segment(f"{prefix}.schema", json_text(tool.schema)))
        out.extend(_extras(prefix, tool.extra, _TOOL_FIELDS))

    for i, message in enumerate(prompt.messages):
        prefix = f"messages[{i}]"
        out.append(Segment(f"{prefix}.role", message.role))
        for j, part in enumerate(message.parts):
            out.extend(_part(f"{prefix}.content[{j}]", part))
        out.extend(_extras(prefix, message.extra, _MESSAGE_FIELDS))

    for name, value in prompt.metadata.items():
        out.append(Segment(f"metadata.{escape_name(name)}", json_text(value)))
    for name, text in prompt.headers.items():
        out.append(Segment(f"headers.{escape_name(name)}", text, "header"))
    return tuple(out)


_REMINDER = re.compile(r"<system-reminder>(.*?)</system-reminder>", re.DOTALL)


def reminders(text: str) -> list[tuple[int, int, str]]:
    """The ``<system-reminder>…</system-reminder>`` blocks of ``text``.

    Each is ``(start, end, inner)``: ``text[start:end]`` is the whole block, tags
    included (code-point offsets), ``inner`` the text between the tags, verbatim.
    Blocks do not nest; an opening tag without a closing one is not a block.
    """
    return [(m.start(), m.end(), m.group(1)) for m in _REMINDER.finditer(text)]
