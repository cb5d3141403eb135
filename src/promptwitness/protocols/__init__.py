"""Model API protocols (sans-IO): recognise a request, parse it into a ``Prompt``,
answer it as the provider would (sink mode), rebuild an ``Answer`` from a response.

Each adapter module registers itself in ``ADAPTERS`` when imported; the imports below
fix the detection order. Nothing here touches sockets, files or processes, and
``parse_request``, ``rebuild_answer`` and ``sink_reply`` never raise on any bytes.
"""

from __future__ import annotations

from promptwitness.protocols import anthropic as _anthropic  # noqa: F401  (registers)
from promptwitness.protocols import gemini as _gemini  # noqa: F401
from promptwitness.protocols import openai_chat as _openai_chat  # noqa: F401
from promptwitness.protocols import openai_responses as _openai_responses  # noqa: F401
from promptwitness.protocols.base import (
    ADAPTERS,
    Adapter,
    ParseOutcome,
    detect,
    parse_request,
    rebuild_answer,
    register,
)
from promptwitness.protocols.sink import DEFAULT_ANSWER, sink_reply

__all__ = [
    "ADAPTERS",
    "DEFAULT_ANSWER",
    "Adapter",
    "ParseOutcome",
    "detect",
    "parse_request",
    "rebuild_answer",
    "register",
    "sink_reply",
]
