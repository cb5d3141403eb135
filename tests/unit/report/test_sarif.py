"""report.sarif: SARIF 2.1.0 for CI, validated against the OASIS schema (vendored in
tests/fixtures/sarif/), exact output checked against golden files
(PROMPTWITNESS_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.unit.report.test_html import golden, probe_result

from promptwitness.analysis.changes import KINDS, SEVERITY
from promptwitness.analysis.detectors import classify
from promptwitness.analysis.diff import diff_segments
from promptwitness.model import Segment
from promptwitness.report import sarif as sarif_mod
from promptwitness.report.evidence import DiffReport, RequestEvidence
from promptwitness.report.sarif import LEVEL, diff_sarif, dumps, probe_sarif
from promptwitness.report.unicode import mark

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    data = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256  # the vendored copy, unchanged
    schema = json.loads(data)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture
def fixed_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sarif_mod, "__version__", "X")


def _diff_report() -> DiffReport:
    a = [Segment("system[0].text", "It's 2026-11-24."), Segment("params.top_k", "5", "param")]
    b = [Segment("system[0].text", "It\u2019s 2026/11/24.\u200b")]
    ev = [
        RequestEvidence(
            None, f"#{i} POST /v1/messages", i, "POST", "/v1/messages", "1.1", (), b"{}", 2
        )
        for i in (7, 8)
    ]
    diffs = diff_segments(a, b)
    return DiffReport(ev[0], ev[1], tuple((d, tuple(classify(d))) for d in diffs), "/var/pw/store")


def _errors(validator: jsonschema.protocols.Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_probe_sarif_golden(fixed_version: None) -> None:
    result, _ = probe_result()
    doc = probe_sarif(result, command_line=["promptwitness", "probe", "--", "agent"])
    golden("probe_report.sarif", dumps(doc))


def test_diff_sarif_golden(fixed_version: None) -> None:
    golden("diff_report.sarif", dumps(diff_sarif(_diff_report())))


def test_probe_sarif_valid(validator: jsonschema.protocols.Validator) -> None:
    result, _ = probe_result()
    doc = probe_sarif(result, exit_code=1, command_line=["promptwitness", "audit", "x"])
    assert _errors(validator, doc) == []
    # and the schema does catch a broken log (the validator is not vacuous)
    broken = json.loads(json.dumps(doc))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    del broken["runs"][0]["invocations"][0]["executionSuccessful"]
    assert len(_errors(validator, broken)) >= 2


def test_diff_sarif_valid(validator: jsonschema.protocols.Validator) -> None:
    doc = diff_sarif(_diff_report())
    assert _errors(validator, doc) == []
    assert doc["runs"][0]["invocations"][0]["exitCode"] == 1


def test_one_result_per_finding() -> None:
    result, _ = probe_result()
    doc = probe_sarif(result)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [f"promptwitness/{k}" for k in KINDS]
    for r in rules:
        assert r["help"]["text"] and r["defaultConfiguration"]["level"] in LEVEL.values()
    findings = result.analysis.findings
    assert len(run["results"]) == len(findings) >= 4
    for i, (res, f) in enumerate(zip(run["results"], findings, strict=True), 1):
        c = f.change
        assert res["ruleId"] == f"promptwitness/{c.kind}"
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert (
            res["level"]
            == {"covert": "error", "overt": "warning", "expected": "note"}[SEVERITY[c.kind]]
        )
        assert res["message"]["text"].startswith(f"F{i} ")
        loc = res["locations"][0]
        fqn = loc["logicalLocations"][0]["fullyQualifiedName"]
        assert fqn == f"{f.request}::{c.path}"
        region = loc["physicalLocation"]["region"]
        assert c.b_span is not None
        assert (region["charOffset"], region["charLength"]) == (
            c.b_span[0],
            c.b_span[1] - c.b_span[0],
        )
        uri = loc["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith("runs/run") and " " not in uri and "[" not in uri
        assert res["properties"]["factors"] == f.factors
        if c.observed:
            assert mark(c.observed[:200]) in res["message"]["text"]
        assert "\u200b" not in res["message"]["text"]  # hidden code points are marked
    fps = [r["partialFingerprints"]["promptwitnessChange/v1"] for r in run["results"]]
    assert len(set(fps)) == len(fps)
    assert fps == [
        r["partialFingerprints"]["promptwitnessChange/v1"]
        for r in probe_sarif(result)["runs"][0]["results"]
    ]  # stable
    assert run["originalUriBaseIds"]["PROMPTWITNESS_STORE"]["uri"] == "file:///var/pw/store/"
    assert run["columnKind"] == "unicodeCodePoints"


def test_invocation() -> None:
    result, _ = probe_result()
    inv = probe_sarif(result)["runs"][0]["invocations"][0]
    assert inv["exitCode"] == 1 and inv["exitCodeDescription"] == "conditioned"
    assert inv["executionSuccessful"] is True
    failed = [n for n in inv["toolExecutionNotifications"] if n["descriptor"]["id"] == "run-failed"]
    assert len(failed) == sum(1 for r in result.runs if r.error) == 1
    assert probe_sarif(result, exit_code=0)["runs"][0]["invocations"][0]["exitCode"] == 0
    driver = probe_sarif(result)["runs"][0]["tool"]["driver"]
    assert driver["name"] == "promptwitness" and driver["informationUri"].startswith("https://")
