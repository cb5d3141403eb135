"""The probe's presenters (terminal summary and JSON report v1) on a probe built by
hand: exact output checked against golden files (PROMPTWITNESS_UPDATE_GOLDEN=1 rewrites
them; review the diff)."""

from __future__ import annotations

import json

from tests.unit.report.test_terminal import golden

from promptwitness.analysis.attribute import Observation, analyse, verdict
from promptwitness.model import Segment
from promptwitness.probe.design import plan
from promptwitness.probe.factors import Selection, get
from promptwitness.probe.runner import ProbeConfig, ProbeResult, RunRecord
from promptwitness.report.probe_json import SCHEMA, exit_code, to_json
from promptwitness.report.probe_terminal import render_probe
from promptwitness.report.terminal import render_to_string

REQ = "POST /v1/messages [claude-sonnet-4-5] #0"
SYSTEM = "You are Forge. Today's date is 2026-11-24. Be brief..."


def _segments(system: str, session: str, temperature: str = "1") -> tuple[Segment, ...]:
    return (
        Segment("params.temperature", temperature, "param"),
        Segment("system[0].text", system),
        Segment("metadata.user_id", f'{{"session":"{session}"}}'),
    )


def _result() -> ProbeResult:
    sels = (
        Selection(get("tz"), ("UTC", "Asia/Shanghai")),
        Selection(get("endpoint-host"), ("127.0.0.1", "api.deepseek.com", "api.moonshot.cn")),
    )
    cells = plan(list(sels))
    variants = {
        "control": SYSTEM,
        "tz=Asia/Shanghai": SYSTEM.replace("2026-11-24", "2026/11/24"),
        "endpoint-host=api.deepseek.com": SYSTEM.replace("Today's", "Today\u02bcs"),
        "endpoint-host=api.moonshot.cn": SYSTEM.replace("Today's", "Today\u02b9s"),
    }
    obs, runs = [], []
    n = 0
    for cell in cells:
        for rep in range(3 if cell.id == "control" else 2):
            n += 1
            text = variants.get(cell.id)
            if text is None:  # a covering row: both changes at once
                text = SYSTEM.replace("2026-11-24", "2026/11/24")
                text = text.replace(
                    "Today's", "Today\u02bcs" if "deepseek" in cell.id else "Today\u02b9s"
                )
            temp = "0.7" if cell.id == "endpoint-host=api.moonshot.cn" else "1"
            obs.append(
                Observation(
                    cell.id, dict(cell.levels), rep, {REQ: _segments(text, f"s{n:04d}", temp)}
                )
            )
            runs.append(
                RunRecord(
                    run=f"run{n:03d}",
                    cell=cell.id,
                    replicate=rep,
                    exit_code=0,
                    timed_out=False,
                    duration=1.5,
                    overhead=0.08,
                    requests=1,
                    error=None,
                    wall=1.6,
                    exchanges={REQ: 100 + n},
                )
            )
    analysis = analyse(obs, {s.name: s.control for s in sels})
    config = ProbeConfig(argv=("agent", "-p", "Say hi"), selections=sels)
    return ProbeResult(
        probe="probe0001",
        config=config,
        cells=cells,
        runs=runs,
        analysis=analysis,
        verdict=verdict(analysis, all_cells_ran=True),
        started=1_764_000_000.0,
        finished=1_764_000_042.5,
        store_root="/var/pw/store",
    )


def test_probe_terminal_golden() -> None:
    golden("probe_summary.txt", render_to_string(render_probe(_result()), width=100))


def test_findings_point_at_their_exchanges_and_the_headline_leads_with_covert() -> None:
    doc = to_json(_result())
    f1 = doc["findings"][0]
    # the reference is the control's replicate 0 (exchange 101); the finding's cell's
    # first run holds the observed request
    assert f1["evidence"]["control"] == 101 and f1["evidence"]["observed"] > 103
    assert f1["evidence"]["command"] == (
        f"promptwitness diff --store /var/pw/store 101 {f1['evidence']['observed']}"
    )
    assert doc["summary"]["headline"].startswith("3 covert changes")
    text = render_to_string(render_probe(_result()), width=100).splitlines()
    assert text[1].startswith("3 covert changes")
    kinds = [ln.split()[1] for ln in text if ln.startswith("F")]
    assert kinds == sorted(kinds, key=lambda k: k != "covert")  # covert ones first


def test_probe_json_golden() -> None:
    doc = to_json(_result())
    doc["tool"]["version"] = "X"  # the golden file does not change with every release
    golden("probe_report.json", json.dumps(doc, ensure_ascii=False, indent=2) + "\n")


def test_probe_json_contract() -> None:
    result = _result()
    doc = to_json(result)
    assert doc["schema"] == SCHEMA == "promptwitness/probe-report/v1"
    assert doc["verdict"] == "conditioned" and doc["exit_code"] == exit_code("conditioned") == 1
    kinds = {(tuple(f["factors"].items()), f["kind"]) for f in doc["findings"]}
    assert kinds == {
        ((("tz", "Asia/Shanghai"),), "date-format"),
        ((("endpoint-host", "api.deepseek.com"),), "confusable"),
        ((("endpoint-host", "api.moonshot.cn"),), "confusable"),
        ((("endpoint-host", "api.moonshot.cn"),), "param"),
    }
    for f in doc["findings"]:
        assert set(f) >= {
            "factors",
            "channel",
            "path",
            "kind",
            "severity",
            "control",
            "observed",
            "code_points",
            "support",
            "control_support",
        }
        assert f["support"] == {"replicates": 2, "of": 2}
        assert f["control_support"] == {"replicates": 0, "of": 3}
    conf = next(
        f
        for f in doc["findings"]
        if f["factors"] == {"endpoint-host": "api.moonshot.cn"} and f["kind"] == "confusable"
    )
    assert conf["code_points"] == ["U+0027 APOSTROPHE", "U+02B9 MODIFIER LETTER PRIME"]
    assert conf["severity"] == "covert"
    # the session id differs in every run: noise, never a finding
    assert [n["path"] for n in doc["noise"]] == ["metadata.user_id"]
    assert doc["summary"]["findings"] == {"covert": 3, "overt": 1, "expected": 0}
    assert exit_code("clean") == 0 and exit_code("inconclusive") == 3
