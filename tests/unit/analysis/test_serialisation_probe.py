"""Serialisation differences through the probe's attribution and the history's
timeline, from real request bodies (``probe.observe.request_map``; sans-IO)."""

from __future__ import annotations

import json
from typing import Any

from promptwitness.analysis.attribute import Observation, analyse
from promptwitness.history.timeline import RunCapture, VersionCapture, build_timeline
from promptwitness.probe.observe import SentRequest, request_map
from promptwitness.report.history_terminal import render_step
from promptwitness.report.terminal import render_to_string

HEADERS = (("content-type", "application/json"), ("anthropic-version", "2023-06-01"))
TEXT = "body.json.messages[0].content[0].text:escapes"


def body(session: str, *, ascii_only: bool = False, text: str = "it\u2019s\u200b ok") -> bytes:
    prompt: dict[str, Any] = {
        "model": "claude-x",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        "metadata": {"user_id": f"user_{session}"},
    }
    return json.dumps(prompt, ensure_ascii=ascii_only, separators=(",", ":")).encode()


def requests(data: bytes) -> dict[str, Any]:
    return request_map([SentRequest("POST", "/v1/messages", HEADERS, data)])


def test_request_map_carries_the_form_segments() -> None:
    (segs,) = requests(body("a")).values()
    forms = [s for s in segs if s.channel == "serialisation"]
    assert TEXT in [s.path for s in forms]
    assert [s for s in segs if s.path == "messages[0].content[0].text"]


def test_a_level_that_escapes_differently_is_a_covert_finding() -> None:
    obs = []
    for rep in range(3):
        obs.append(Observation("control", {"tz": "UTC"}, rep, requests(body(f"c{rep}"))))
    for rep in range(2):
        obs.append(
            Observation(
                "tz=Asia/Tokyo",
                {"tz": "Asia/Tokyo"},
                rep,
                requests(body(f"t{rep}", ascii_only=True)),
            )
        )
    a = analyse(obs, {"tz": "UTC"})
    found = sorted(
        (f.change.path, f.change.kind, f.change.control, f.change.observed) for f in a.findings
    )
    assert found == [
        (TEXT, "serialisation", "\u200b", "\\u200b"),
        (TEXT, "serialisation", "\u2019", "\\u2019"),
    ]
    assert all(f.factors == {"tz": "Asia/Tokyo"} and f.severity == "covert" for f in a.findings)
    assert a.verdict() == "conditioned"
    # the session id is noise (a value), never a serialisation difference
    assert [n.path for n in a.noise] == ["metadata.user_id"]


def test_identical_forms_with_other_values_are_clean() -> None:
    obs = [
        Observation("control", {"tz": "UTC"}, rep, requests(body(f"c{rep}"))) for rep in range(3)
    ]
    obs += [
        Observation(
            "tz=Asia/Tokyo",
            {"tz": "Asia/Tokyo"},
            rep,
            requests(body(f"t{rep}", text="another text, same form \u2019")),
        )
        for rep in range(2)
    ]
    a = analyse(obs, {"tz": "UTC"})
    kinds = {f.change.kind for f in a.findings}
    assert "content" in kinds and "serialisation" not in kinds  # the text, not its form


def test_a_form_that_varies_between_control_runs_is_noise() -> None:
    obs = [
        Observation("control", {"tz": "UTC"}, rep, requests(body("c", ascii_only=rep == 1)))
        for rep in range(3)
    ]
    obs += [
        Observation(
            "tz=Asia/Tokyo", {"tz": "Asia/Tokyo"}, rep, requests(body("c", ascii_only=True))
        )
        for rep in range(2)
    ]
    a = analyse(obs, {"tz": "UTC"})
    assert a.findings == ()
    assert [n.path for n in a.noise] == [TEXT]


def _version(version: str, ascii_only: bool) -> VersionCapture:
    runs = tuple(
        RunCapture(requests(body(f"{version}-{i}", ascii_only=ascii_only))) for i in range(2)
    )
    return VersionCapture(version, None, runs)


def test_history_lists_a_serialisation_change_between_releases() -> None:
    timeline = build_timeline(
        "agent", [_version("1.0.0", False), _version("1.0.1", True), _version("1.0.2", True)]
    )
    first, second = timeline.steps
    got = sorted((c.category, c.path, c.diff.a, c.diff.b) for c in first.changes)
    assert got == [
        ("serialisation", TEXT, "\u200b", "\\u200b"),
        ("serialisation", TEXT, "\u2019", "\\u2019"),
    ]
    assert second.empty
    # the session id is noise; the form segments are never masked or listed as noise
    entry = timeline.entries[0]
    assert [n.path for n in entry.noise] == ["metadata.user_id"]
    assert all(s.channel != "serialisation" for s in entry.segments)
    text = render_to_string(render_step(first), width=200)
    assert "covert serialisation" in text and "U+200B ZERO WIDTH SPACE" in text


def test_history_form_noise_within_a_release_is_not_a_change() -> None:
    noisy = VersionCapture(
        "1.0.0",
        None,
        (RunCapture(requests(body("a"))), RunCapture(requests(body("b", ascii_only=True)))),
    )
    timeline = build_timeline("agent", [noisy, _version("1.0.1", True)])
    assert [c for c in timeline.steps[0].changes if c.category == "serialisation"] == []
    assert TEXT in [n.path for n in timeline.entries[0].noise]


def test_history_document_and_html_show_the_serialisation_change() -> None:
    from promptwitness.history.document import to_json
    from promptwitness.history.run import History
    from promptwitness.report.history_html import render_history_html

    caps = (_version("1.0.0", False), _version("1.0.1", True))
    history = History("agent", "Agent", build_timeline("agent", caps), caps, 0.0, 1.0)
    rng = {
        "spec": "1.0.0..1.0.1",
        "order": "version",
        "every": None,
        "max": None,
        "in_range": 2,
        "selected": ["1.0.0", "1.0.1"],
    }
    doc = to_json("agent", "Agent", rng, "/s", history=history)
    changes = doc["steps"][0]["changes"]
    assert {(c["category"], c["channel"], c["before"], c["after"]) for c in changes} == {
        ("serialisation", "serialisation", "\u200b", "\\u200b"),
        ("serialisation", "serialisation", "\u2019", "\\u2019"),
    }
    page = render_history_html(doc)
    assert "covert serialisation: the same values, written differently" in page


def test_probe_reports_render_the_serialisation_finding() -> None:
    """Terminal, JSON, HTML and SARIF (schema-valid) all carry the covert finding."""
    from pathlib import Path

    import jsonschema

    from promptwitness.analysis.attribute import verdict
    from promptwitness.probe.design import Cell
    from promptwitness.probe.factors import Selection, get
    from promptwitness.probe.runner import ProbeConfig, ProbeResult, RunRecord
    from promptwitness.report.html import render_probe_html
    from promptwitness.report.probe_json import to_json
    from promptwitness.report.probe_terminal import render_probe
    from promptwitness.report.sarif import probe_sarif

    sels = (Selection(get("tz"), ("UTC", "Asia/Tokyo")),)
    obs, runs = [], []
    for cell, levels, ascii_only in (
        ("control", {"tz": "UTC"}, False),
        ("tz=Asia/Tokyo", {"tz": "Asia/Tokyo"}, True),
    ):
        for rep in range(2):
            obs.append(
                Observation(
                    # a session id of one form in every cell: its values are noise
                    cell,
                    levels,
                    rep,
                    requests(body(f"{cell[0]}{rep}", ascii_only=ascii_only)),
                )
            )
            runs.append(
                RunRecord(
                    run=f"{cell}-{rep}",
                    cell=cell,
                    replicate=rep,
                    exit_code=0,
                    timed_out=False,
                    duration=1.0,
                    overhead=None,
                    requests=1,
                    error=None,
                )
            )
    analysis = analyse(obs, {"tz": "UTC"})
    cells = (
        Cell({"tz": "UTC"}, "control", "the control"),
        Cell({"tz": "Asia/Tokyo"}, "one-at-a-time", "one factor"),
    )
    result = ProbeResult(
        probe="p1",
        config=ProbeConfig(argv=("agent",), selections=sels),
        cells=cells,
        runs=runs,
        analysis=analysis,
        verdict=verdict(analysis, all_cells_ran=True),
        started=0.0,
        finished=1.0,
        store_root="/s",
    )
    assert result.verdict == "conditioned"
    text = render_to_string(render_probe(result), width=200)
    assert "covert serialisation" in text and TEXT in text
    doc = to_json(result)
    assert {(f["kind"], f["severity"]) for f in doc["findings"]} == {("serialisation", "covert")}
    page = render_probe_html(result)
    assert "serialisation" in page and "U+200B ZERO WIDTH SPACE" in page
    log = probe_sarif(result)
    assert {r["ruleId"] for r in log["runs"][0]["results"]} == {"promptwitness/serialisation"}
    schema_file = (
        Path(__file__).resolve().parents[2] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
    )
    schema = json.loads(schema_file.read_bytes())
    cls = jsonschema.validators.validator_for(schema)
    assert not list(cls(schema).iter_errors(log))
