"""The probe, end to end on synthetic agents with known ground truth: every change
kind planted under every factor, a clean agent, an agent whose wording changes at
random, and an interaction that only a combination of two factors shows."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from promptwitness.analysis.changes import DETECTED_KINDS as KINDS
from promptwitness.probe.factors import Selection, get
from promptwitness.probe.runner import ProbeConfig, ProbeError, ProbeResult, run_probe
from promptwitness.probe.sandbox import Sandbox
from promptwitness.report.probe_json import SCHEMA, to_json
from promptwitness.store import Store

AGENT = Path(__file__).resolve().parents[2] / "fixtures" / "agents" / "planted_agent.py"
EXPOSE = (sys.base_prefix, sys.prefix, str(AGENT.parent))

# one non-control level per factor (the first level is the control)
LEVELS: dict[str, tuple[str, ...]] = {
    "tz": ("UTC", "Asia/Shanghai"),
    "system-tz": ("UTC", "Asia/Tokyo"),
    "locale": ("C.UTF-8", "zh_CN.UTF-8"),
    "endpoint-host": ("127.0.0.1", "api.deepseek.com"),
    "proxy": ("none", "proxy.tencent.com"),
    "hostname": ("devbox", "ubuntu"),
    "user": ("dev", "ec2-user"),
    "git-email": ("dev@example.com", "dev@alibaba-inc.com"),
    "registry-mirror": ("default", "npmmirror"),
    "env:PW_REGION": ("<unset>", "cn"),
}


def _sel(name: str, levels: tuple[str, ...] | None = None) -> Selection:
    lv = levels or LEVELS[name]
    if name.startswith("env:"):
        from promptwitness.probe.factors import env_factor

        return Selection(env_factor(name[4:], lv), lv)
    return Selection(get(name), lv)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    with Sandbox() as box:
        yield box  # type: ignore[misc]


def probe(
    store_dir: Path,
    sandbox: Sandbox,
    agent_args: list[str],
    names: list[str],
    levels: dict[str, tuple[str, ...]] | None = None,
    **kw: object,
) -> ProbeResult:
    sels = tuple(_sel(n, (levels or {}).get(n)) for n in names)
    config = ProbeConfig(
        argv=(sys.executable, "-I", "-S", str(AGENT), *agent_args),
        selections=sels,
        expose=EXPOSE,
        timeout=60,
        **kw,  # type: ignore[arg-type]
    )
    with Store.open(store_dir) as store:
        return run_probe(config, store, sandbox=sandbox)


def test_clean_agent_is_clean(tmp_path: Path, sandbox: Sandbox) -> None:
    result = probe(tmp_path, sandbox, [], ["tz", "locale", "hostname"])
    assert result.verdict == "clean", result.analysis.findings
    assert not result.analysis.findings and not result.analysis.noise
    doc = to_json(result)
    assert doc["schema"] == SCHEMA and doc["exit_code"] == 0
    assert all(r["error"] is None and r["requests"] == 1 for r in doc["runs"])
    # the design: 3 control replicates, one cell per factor x 2 replicates, one covering row
    purposes = [c["purpose"] for c in doc["design"]["cells"]]
    assert purposes.count("control") == 1 and purposes.count("one-at-a-time") == 3
    # sequential replicates: a cell whose one run shows nothing is not run again
    runs = Counter(r["cell"] for r in doc["runs"])
    assert runs.pop("control") == 3 and set(runs.values()) == {1}, runs
    assert doc["design"]["sequential"] is True


def test_all_replicates_runs_every_cell_up_front(tmp_path: Path, sandbox: Sandbox) -> None:
    result = probe(tmp_path, sandbox, [], ["tz", "locale"], sequential=False)
    runs = Counter(r.cell for r in result.runs)
    assert result.verdict == "clean"
    assert runs.pop("control") == 3 and set(runs.values()) == {2}, runs


def test_sequential_tops_up_only_the_cells_that_change(tmp_path: Path, sandbox: Sandbox) -> None:
    """A change seen in a cell's first run gets the cell's other replicates, and is a
    finding only when every replicate shows it; the cells that showed nothing ran once."""
    result = probe(tmp_path, sandbox, ["--plant", "confusable:tz"], ["tz", "locale", "hostname"])
    runs = Counter(r.cell for r in result.runs)
    assert runs["tz=Asia/Shanghai"] == 2
    assert runs["locale=zh_CN.UTF-8"] == 1 and runs["hostname=ubuntu"] == 1
    (finding,) = result.analysis.findings
    assert dict(finding.factors) == {"tz": "Asia/Shanghai"} and finding.support == (2, 2)


@pytest.mark.parametrize("factor", list(LEVELS))
def test_every_kind_under_every_factor(factor: str, tmp_path: Path, sandbox: Sandbox) -> None:
    """Every kind planted on one factor: one finding of each kind (``serialisation``
    included: the same values, written differently), every one attributed to that
    factor's level and supported by every replicate."""
    args = [a for kind in KINDS for a in ("--plant", f"{kind}:{factor}")]
    result = probe(tmp_path, sandbox, args, [factor])
    found = result.analysis.findings
    assert result.verdict == "conditioned"
    assert sorted(f.change.kind for f in found) == sorted(KINDS), [
        (f.change.kind, f.change.path, f.change.control, f.change.observed) for f in found
    ]
    level = LEVELS[factor][1]
    for f in found:
        assert dict(f.factors) == {factor: level}
        assert f.support == (2, 2) and f.control_support[0] == 0
    assert not result.analysis.noise


def test_findings_are_attributed_to_the_right_factor(tmp_path: Path, sandbox: Sandbox) -> None:
    """Ten factors varied together, a different kind planted on each: every finding
    goes to its own factor, none to the others, none to the covering row."""
    kinds = dict(
        zip(
            LEVELS,
            [
                "confusable",
                "date-format",
                "invisible",
                "whitespace",
                "punctuation",
                "casing",
                "ordering",
                "param",
                "header",
                "content",
            ],
            strict=True,
        )
    )
    args = [a for f, k in kinds.items() for a in ("--plant", f"{k}:{f}")]
    result = probe(tmp_path, sandbox, args, list(LEVELS), jobs=2)
    got = {(next(iter(f.factors)), f.change.kind) for f in result.analysis.findings}
    assert got == set(kinds.items())
    assert all(len(f.factors) == 1 for f in result.analysis.findings)
    assert not result.analysis.suspects


def test_interaction_is_narrowed_to_the_pair(tmp_path: Path, sandbox: Sandbox) -> None:
    levels = {
        "tz": ("UTC", "Asia/Shanghai", "Asia/Tokyo"),
        "locale": ("C.UTF-8", "zh_CN.UTF-8", "ja_JP.UTF-8"),
        "hostname": ("devbox", "ubuntu"),
    }
    result = probe(
        tmp_path,
        sandbox,
        ["--pair", "tz=Asia/Shanghai,locale=zh_CN.UTF-8:confusable"],
        ["tz", "locale", "hostname"],
        levels,
    )
    found = result.analysis.findings
    assert [(dict(f.factors), f.change.kind) for f in found] == [
        ({"tz": "Asia/Shanghai", "locale": "zh_CN.UTF-8"}, "confusable")
    ]
    assert any(c.purpose == "confirm" for c in result.cells)
    assert result.verdict == "conditioned"


SCREEN_LEVELS = {
    "tz": ("UTC", "Asia/Shanghai", "Asia/Tokyo"),
    "locale": ("C.UTF-8", "zh_CN.UTF-8", "ja_JP.UTF-8"),
    "hostname": ("devbox", "ubuntu"),
}


def test_covering_rows_clear_the_levels_of_a_clean_agent(tmp_path: Path, sandbox: Sandbox) -> None:
    """Screening (``--screen``): the covering rows run every level; where none shows a
    change, no level runs alone, and each of their cells says why in the report."""
    result = probe(tmp_path, sandbox, [], list(SCREEN_LEVELS), SCREEN_LEVELS, screen=True)
    assert result.verdict == "clean", result.analysis.findings
    doc = to_json(result)
    assert doc["design"]["screen"] is True
    alone = [c for c in doc["design"]["cells"] if c["purpose"] == "one-at-a-time"]
    rows = [c for c in doc["design"]["cells"] if c["purpose"] == "covering"]
    assert len(alone) == 5 and len(rows) >= 4
    assert {level for c in rows for level in c["levels"].items()} >= {
        (c.split("=")[0], c.split("=", 1)[1]) for c in (a["id"] for a in alone)
    }
    for c in alone:
        assert c["runs"] == 0 and c["reason"].startswith("Not run alone: the covering rows"), c
    runs = Counter(r["cell"] for r in doc["runs"])
    assert runs.pop("control") == 3 and set(runs) == {c["id"] for c in rows}
    assert sum(runs.values()) == len(rows)


def test_a_changed_row_wakes_only_its_own_levels(tmp_path: Path, sandbox: Sandbox) -> None:
    """A change planted on one level: the rows that hold it show it, their levels run
    alone (so the change goes to that level, not to a pair of the row), and a level that
    only clean rows hold never runs alone."""
    result = probe(
        tmp_path,
        sandbox,
        ["--plant", "confusable:tz=Asia/Shanghai"],
        list(SCREEN_LEVELS),
        SCREEN_LEVELS,
        screen=True,
    )
    a = result.analysis
    assert result.verdict == "conditioned" and not a.suspects and not a.unresolved
    (finding,) = a.findings
    assert dict(finding.factors) == {"tz": "Asia/Shanghai"} and finding.support == (2, 2)
    rows = [c for c in result.cells if c.purpose == "covering"]
    changed = {c.id for c in rows if c.levels["tz"] == "Asia/Shanghai"}
    assert changed and set(finding.cells) == {"tz=Asia/Shanghai", *changed}
    runs = Counter(r.cell for r in result.runs)
    woken = {f"{k}={v}" for c in rows if c.id in changed for k, v in c.varied.items()}
    for c in result.cells:
        if c.purpose == "one-at-a-time":
            assert (runs[c.id] > 0) == (c.id in woken), (c.id, runs[c.id], woken)
    assert runs["tz=Asia/Tokyo"] == 0  # only rows that showed nothing hold it


def test_by_default_every_level_runs_alone(tmp_path: Path, sandbox: Sandbox) -> None:
    result = probe(tmp_path, sandbox, [], list(SCREEN_LEVELS), SCREEN_LEVELS)
    runs = Counter(r.cell for r in result.runs)
    assert result.verdict == "clean"
    assert all(runs[c.id] == 1 for c in result.cells if c.purpose == "one-at-a-time")
    assert to_json(result)["design"]["screen"] is False


def test_a_signal_alone_in_an_ordinary_environment_needs_the_cell_alone(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Why screening is not the default: an agent that changes its request for a zone
    only when the rest of the environment is ordinary (here the locale at its control)
    shows it in the zone's cell alone; every covering row that holds the zone varies the
    locale too, so with --screen the rows show nothing and the verdict is clean."""
    plant = ["--pair", "tz=Asia/Shanghai,locale=C.UTF-8:confusable"]
    levels = {k: v for k, v in SCREEN_LEVELS.items() if k != "hostname"}
    found = probe(tmp_path / "a", sandbox, plant, list(levels), levels)
    assert found.verdict == "conditioned"
    assert [dict(f.factors) for f in found.analysis.findings] == [{"tz": "Asia/Shanghai"}]
    rows = [c for c in found.cells if c.purpose == "covering"]
    assert rows and all(c.levels["locale"] != "C.UTF-8" for c in rows)
    missed = probe(tmp_path / "b", sandbox, plant, list(levels), levels, screen=True)
    assert missed.verdict == "clean" and not missed.analysis.findings


def test_random_wording_is_noise_not_a_finding(tmp_path: Path, sandbox: Sandbox) -> None:
    result = probe(
        tmp_path,
        sandbox,
        ["--random-wording", "--plant", "casing:tz"],
        ["tz", "locale"],
        replicates=3,
        control_replicates=4,
    )
    kinds = [(dict(f.factors), f.change.kind) for f in result.analysis.findings]
    # the planted casing change is still found; the random sentence never is
    assert kinds == [({"tz": "Asia/Shanghai"}, "casing")]
    assert any(n.path == "system[1].text" for n in result.analysis.noise)


def test_agent_that_never_calls_is_an_error(tmp_path: Path, sandbox: Sandbox) -> None:
    config = ProbeConfig(argv=("/bin/false",), selections=(_sel("tz"),), timeout=30)
    with Store.open(tmp_path) as store, pytest.raises(ProbeError, match="no request"):
        run_probe(config, store, sandbox=sandbox)


def _cli(*args: str, store: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "promptwitness", "probe", "--store", str(store), *args],
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    agent = [sys.executable, "-I", "-S", str(AGENT)]
    run = _cli(
        "--factor",
        "tz=UTC,Asia/Shanghai",
        "--json",
        str(report),
        "--",
        *agent,
        "--plant",
        "param:tz",
        store=tmp_path / "s",
    )
    assert run.returncode == 1, run.stderr.decode()
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["verdict"] == "conditioned"
    (f,) = doc["findings"]
    assert f["factors"] == {"tz": "Asia/Shanghai"} and f["kind"] == "param"
    assert f["severity"] == "overt" and f["path"] == "params.temperature"
    assert (f["control"], f["observed"]) == ("1", "0.7")
    assert b"verdict" in run.stdout and b"conditioned" in run.stdout
    # --fail-on covert: an overt finding alone does not fail the build
    run = _cli(
        "--factor",
        "tz=UTC,Asia/Shanghai",
        "--fail-on",
        "covert",
        "-q",
        "--",
        *agent,
        "--plant",
        "param:tz",
        store=tmp_path / "s",
    )
    assert run.returncode == 0, run.stderr.decode()
    clean = _cli("--factor", "tz=UTC,Asia/Shanghai", "-q", "--", *agent, store=tmp_path / "s")
    assert clean.returncode == 0, clean.stderr.decode()
    bad = _cli("--factor", "nope", "--", *agent, store=tmp_path / "s")
    assert bad.returncode == 2 and b"unknown factor" in bad.stderr
    broken = _cli(
        "--factor", "tz=UTC,Asia/Shanghai", "-q", "--", "/bin/false", store=tmp_path / "s"
    )
    assert broken.returncode == 2 and b"no request" in broken.stderr


@pytest.mark.parametrize("flag", [False, True])
def test_cli_screen(flag: bool, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    factors = ("tz=UTC,Asia/Shanghai", "locale=C.UTF-8,zh_CN.UTF-8", "hostname=devbox,ubuntu")
    run = _cli(
        *(a for f in factors for a in ("--factor", f)),
        *(["--screen"] if flag else []),
        "-q",
        "--json",
        str(report),
        "--",
        sys.executable,
        "-I",
        "-S",
        str(AGENT),
        store=tmp_path / "s",
    )
    assert run.returncode == 0, run.stderr.decode()
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["design"]["screen"] is flag
    alone = [c["runs"] for c in doc["design"]["cells"] if c["purpose"] == "one-at-a-time"]
    assert alone == ([0, 0, 0] if flag else [1, 1, 1])
