"""drift over a real SQLite store of a simulated fleet (no gateway: ``Store.add`` of
redacted exchanges, as ``serve`` stores them), its reports, golden files.

Set PROMPTWITNESS_UPDATE_GOLDEN=1 to rewrite the golden files (then review the diff).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.fixtures.agents.fleet_agent import HOSTS, captured, fleet_env
from tests.unit.report.test_terminal import golden

from promptwitness.capture.redact import Redactor
from promptwitness.drift.model import DriftReport, Options
from promptwitness.drift.run import run_drift
from promptwitness.report.drift_html import render_drift_html
from promptwitness.report.drift_sarif import drift_sarif
from promptwitness.report.drift_terminal import render_drift
from promptwitness.report.terminal import render_to_string
from promptwitness.store import Store

NOW = dt.datetime(2026, 12, 6, 3, 30, tzinfo=dt.UTC)
T0 = NOW.timestamp()
SCHEMA = Path(__file__).resolve().parents[2] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"


def fill(
    store: Store,
    *,
    conditioned: bool,
    clients: int = 36,
    requests: int = 2,
) -> None:
    red = Redactor(store.salt())
    for i in range(clients):
        env = fleet_env(i, conditioned=conditioned)
        for n in range(requests):
            when = NOW + dt.timedelta(minutes=i, seconds=n)
            ex = captured(i, env, n, when)
            store.add(red.redact(ex))


@pytest.fixture(scope="module")
def conditioned(tmp_path_factory: pytest.TempPathFactory) -> DriftReport:
    with Store.open(tmp_path_factory.mktemp("fleet") / "store") as st:
        fill(st, conditioned=True)
        return run_drift(st)


def test_the_conditioned_variant_is_found_and_attributed_to_its_host(
    conditioned: DriftReport,
) -> None:
    r = conditioned
    assert r.exit_code == 1 and r.read == r.model_calls == 72
    (v,) = r.findings
    assert set(v.kinds) == {"confusable", "date-format"}
    assert v.variant.path == "system[1].text"
    cn = [i for i in range(36) if HOSTS[i % 3] == "api.corp.cn"]
    assert v.variant.count == 2 * len(cn) and v.variant.senders == len(cn)
    assert v.template.count == 72 - 2 * len(cn)
    # the evidence is exactly the exchanges of the .cn clients (ids 1.. in sending order)
    assert set(v.variant.exchanges) == {2 * i + n + 1 for i in cn for n in range(2)}
    top = v.explained_by
    assert [(s.dimension, s.values) for s in top] == [("host", ("api.corp.cn",))]
    assert (top[0].variant_hits, top[0].other_hits) == (v.variant.count, 0)
    assert not any(s.dimension == "client-subnet" for s in v.separators)


def test_a_fleet_where_nothing_is_conditioned_gives_no_finding(tmp_path: Path) -> None:
    with Store.open(tmp_path / "store") as st:
        fill(st, conditioned=False)
        r = run_drift(st)
    assert r.findings == () and r.exit_code == 0
    assert r.passes == 1 and r.groups[0].template_units > 5


def test_a_variant_of_one_sender_is_set_apart(tmp_path: Path) -> None:
    with Store.open(tmp_path / "store") as st:
        fill(st, conditioned=True, clients=3 * 4, requests=2)  # .cn clients: 2, 5, 8, 11
        assert run_drift(st).findings
        r = run_drift(st, options=Options(min_senders=5))
    assert r.findings == ()
    (v,) = r.set_apart
    assert v.status == "one-sender" and "fewer than 5" in v.notes[0]


def test_window_and_agent_filter(tmp_path: Path) -> None:
    with Store.open(tmp_path / "store") as st:
        fill(st, conditioned=True)
        # the .cn clients are i = 2, 5, ...: a window of clients 0-1 has none of them
        early = run_drift(st, until=T0 + 120)
        assert early.read == 4 and early.findings == ()
        other = run_drift(st, agent="someone-else")
        assert other.model_calls == 0 and other.other_agents == 72 and other.groups == ()
        assert run_drift(st, agent="FLEET-AGENT/1.4").findings


def _stable(doc: dict[str, Any], root: str) -> str:
    """The report without what differs from store to store: its path, the tool's
    version, and credential fingerprints (keyed with each store's random salt)."""
    for v in doc["findings"]:
        for s in v["separators"]:
            if s["dimension"] == "credential":
                s["values"] = ["pw-redacted:FINGERPRINT"] * len(s["values"])
                s["text"] = re.sub(r"pw-redacted:[0-9a-f]+", "pw-redacted:FINGERPRINT", s["text"])
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    return text.replace(root, "STORE").replace('"version": "0.1.0"', '"version": "X"')


def test_terminal_and_json_golden(conditioned: DriftReport) -> None:
    golden("drift_summary.txt", render_to_string(render_drift(conditioned), width=100))
    golden("drift_report.json", _stable(conditioned.to_json(), conditioned.store))


def test_sarif_is_valid_and_names_the_evidence(conditioned: DriftReport) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    doc = drift_sarif(conditioned, command_line=["promptwitness", "drift"])
    errors = list(cls(schema).iter_errors(doc))
    assert not errors, errors[:3]
    (res,) = doc["runs"][0]["results"]
    assert res["level"] == "error" and res["ruleId"] in (
        "promptwitness/confusable",
        "promptwitness/date-format",
    )
    assert "host=api.corp.cn" in res["message"]["text"]
    assert res["properties"]["exchanges"] == list(conditioned.findings[0].variant.exchanges)
    assert doc["runs"][0]["invocations"][0]["exitCode"] == 1


def test_html_marks_the_lookalike_and_loads_nothing(conditioned: DriftReport) -> None:
    page = render_drift_html(conditioned)
    assert "default-src &#39;none&#39;" in page or "default-src 'none'" in page
    assert "U+2019 RIGHT SINGLE QUOTATION MARK" in page
    assert "host=api.corp.cn: 24 of 24 with the variant, 0 of 48 others" in page
    assert "http://" not in page.replace("http://api.", "").replace("http://llm.", "")
