"""Sans-IO analysis: segments of a Prompt, and code-point-exact diffs between them.

Nothing here opens a file, a socket or a process; every function is pure over values.
"""

from __future__ import annotations

from promptwitness.analysis.diff import (
    Op,
    SegmentDiff,
    apply,
    diff_prompts,
    diff_segments,
    diff_text,
)
from promptwitness.analysis.segments import reminders, segments

__all__ = [
    "Op",
    "SegmentDiff",
    "apply",
    "diff_prompts",
    "diff_segments",
    "diff_text",
    "reminders",
    "segments",
]
