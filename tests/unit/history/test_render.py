"""The history's terminal presenters and JSON document on hand-built timelines."""

from __future__ import annotations

import json

from promptwitness.agents.registry import Release
from promptwitness.history.bisect import Search, parse_signature
from promptwitness.history.document import SCHEMA, to_json
from promptwitness.history.run import Bisect, History
from promptwitness.history.timeline import (
    Audit,
    AuditFinding,
    RunCapture,
    VersionCapture,
    build_timeline,
)
from promptwitness.model import Segment
from promptwitness.report.history_terminal import render_bisect, render_history
from promptwitness.report.terminal import render_to_string

KEY = "POST /v1/messages [m] #0"
FINDING = AuditFinding(
    {"endpoint-host": "api.deepseek.com"},
    KEY,
    "messages[0].content[0].text",
    "confusable",
    "covert",
    "'",
    "\u02bc",
    ("U+0027 APOSTROPHE", "U+02BC MODIFIER LETTER APOSTROPHE"),
    "U+0027 → U+02BC (look-alike)",
)


def _segs(version: str, reminder: str, tools: str, session: str) -> tuple[Segment, ...]:
    return (
        Segment("model", "m", "param"),
        Segment("system[0].text", "You are an agent."),
        Segment("tools.order", tools, "order"),
        *(Segment(f"tools[{t}].description", f"The {t} tool.") for t in tools.split("\n")),
        Segment("messages[0].role", "user"),
        Segment("messages[0].content[0].text", reminder),
        Segment("headers.user-agent", f"cli/{version}", "header"),
        Segment("headers.x-session", session, "header"),
    )


def _cap(version: str, reminder: str, tools: str, audit: Audit | None) -> VersionCapture:
    runs = tuple(
        RunCapture({KEY: _segs(version, reminder, tools, s)}, {KEY: 1000 + i})
        for i, s in enumerate(("s-1111", "s-2222"))
    )
    return VersionCapture(
        version, f"2026-0{version[-1]}-01T00:00:00Z", runs, audit=audit, seconds=1.0
    )


def _history() -> History:
    caps = [
        _cap("2.1.1", "Today's date is 2026-11-28.", "Bash\nRead", Audit("clean", (), 7)),
        _cap(
            "2.1.2",
            "Today's date is 2026-11-28.\u200b",
            "Bash\nRead\nWeb",
            Audit("conditioned", (FINDING,), 7),
        ),
        VersionCapture("2.1.3", None, (), "install: npm failed"),
    ]
    return History("a", "Agent", build_timeline("a", caps), tuple(caps), 0.0, 12.0)


def test_history_rendering_marks_hidden_code_points_and_lists_changes() -> None:
    text = render_to_string(render_history(_history()), width=110)
    assert "Agent: the prompt across 3 release(s) (2.1.1 … 2.1.3), 2 captured" in text
    assert "2.1.1 → 2.1.2" in text
    assert "tools added (1): Web" in text
    assert "{+⟦U+200B ZERO WIDTH SPACE⟧+}" in text  # the invisible insertion, marked
    assert "+ U+200B ZERO WIDTH SPACE" in text  # and listed
    assert "version number only (expected): headers.user-agent" in text
    assert "install: npm failed" in text
    assert "conditioned (1)" in text  # the audit column
    assert "ʼ⟦U+02BC MODIFIER LETTER APOSTROPHE⟧" in text  # the finding, marked
    # noise: the session header, never a change
    assert "headers.x-session" in text and "s-1111" in text
    assert "~ headers.x-session" not in text


def test_bisect_rendering_shows_the_run_the_tests_and_the_evidence() -> None:
    rels = tuple(Release(f"2.1.{i}", f"2026-03-{i + 1:02d}T00:00:00Z") for i in range(8))
    audit = Audit("conditioned", (FINDING,))
    caps = {
        f"2.1.{i}": VersionCapture(
            f"2.1.{i}", None, (), None, audit=audit if 2 <= i <= 5 else Audit("clean")
        )
        for i in (0, 7, 3, 1, 2, 5, 6)
    }
    tested = ((0, False), (7, False), (3, True), (1, False), (2, True), (5, True), (6, False))
    b = Bisect(
        parse_signature("endpoint-host:confusable"),
        rels,
        Search(2, 5, tested, True, ""),
        caps,
        0.0,
        30.0,
    )
    text = render_to_string(render_bisect(b), width=100)
    assert "bisect endpoint-host:confusable over 8 release(s) (2.1.0 … 2.1.7): 7 audit(s)" in text
    assert "holds from 2.1.2 (2026-03-03) to 2.1.5 (2026-03-06): 4 of 8 releases" in text
    assert "evidence in 2.1.2 (first):" in text and "evidence in 2.1.5 (last):" in text
    assert "'⟦U+0027" not in text  # ASCII is not marked
    assert "ʼ⟦U+02BC MODIFIER LETTER APOSTROPHE⟧" in text
    doc = to_json("a", "Agent", {"spec": "2.1.0..2.1.7"}, "/s", bisect=b)
    assert doc["schema"] == SCHEMA and doc["versions"] == [] and doc["steps"] == []
    bj = doc["bisect"]
    assert (bj["first"], bj["last"], bj["audits"], bj["contiguous"]) == ("2.1.2", "2.1.5", 7, True)
    assert [t["holds"] for t in bj["tested"]] == [h for _, h in tested]
    assert bj["tested"][2]["evidence"][0]["observed"] == "\u02bc"
    json.dumps(doc)


def test_history_json_document() -> None:
    doc = to_json("a", "Agent", {"spec": "x"}, "/s", history=_history())
    assert [v["version"] for v in doc["versions"]] == ["2.1.1", "2.1.2", "2.1.3"]
    v1, v2, v3 = doc["versions"]
    assert v1["sizes"]["request_bytes"] == 1000 and v1["tools"] == ["Bash", "Read"]
    assert v1["noise"] == [
        {"request": "", "path": "headers.x-session", "examples": ["s-1111", "s-2222"]}
    ]
    assert v2["audit"]["findings"][0]["kind"] == "confusable"
    assert v3["error"] == "install: npm failed" and v3["sizes"] is None
    (step,) = doc["steps"]
    assert step["tools_added"] == ["Web"]
    changes = {c["path"]: c for c in step["changes"]}
    assert changes["headers.user-agent"]["version_only"] is True
    reminder = changes["messages[0].content[0].text"]
    assert reminder["edits"] == [["insert", 27, 27, 27, 28]]
    assert reminder["after"][27] == "\u200b"
