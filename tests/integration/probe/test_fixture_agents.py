"""The planted agent (tests/fixtures/agents/planted_agent.py), the probe's ground truth.

Run for real: in the sandbox with a capture server on the socket the sandbox hands
over, the environment built by the factor catalog's ``apply``; and through
``promptwitness record``. Each captured request is parsed (``protocols.parse_request``)
and cut into segments (``analysis.segments``); a planted change must appear exactly at
its documented spot, exactly as documented, when its factor is at a non-control level,
and nowhere else and never otherwise.

Needs root or unprivileged user namespaces (the sandbox's requirement). Nothing here
addresses anything but loopback.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from promptwitness.analysis.changes import DETECTED_KINDS as KINDS
from promptwitness.analysis.diff import diff_segments
from promptwitness.analysis.segments import segments
from promptwitness.analysis.serialisation import compare_forms
from promptwitness.capture.server import CaptureServer, ServerConfig, ServerThread
from promptwitness.model import Segment
from promptwitness.probe import factors as F
from promptwitness.probe.factors import FactorContext
from promptwitness.probe.observe import request_forms
from promptwitness.probe.sandbox import RunSpec, Sandbox
from promptwitness.protocols import parse_request
from promptwitness.store import Store

AGENT = Path(__file__).parents[2] / "fixtures" / "agents" / "planted_agent.py"
PORT = 48231
CTX = FactorContext(port=PORT)
CONTROL = {name: f.control for name, f in F.FACTORS.items()}
KEY = "sk-ant-api03-pwfixture0123456789abcdef"
Segs = tuple[Segment, ...]


def load_agent() -> object:
    spec = importlib.util.spec_from_file_location("planted_agent", AGENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Captured:
    requests: tuple[Segs, ...]  # in the order sent
    stdout: str
    stderr: str
    forms: tuple[Segs, ...] = ()  # each request's form segments (analysis.serialisation)

    @property
    def only(self) -> Segs:
        assert len(self.requests) == 1, f"{len(self.requests)} requests"
        return self.requests[0]

    @property
    def only_forms(self) -> Segs:
        assert len(self.forms) == 1, f"{len(self.forms)} requests"
        return self.forms[0]


class Runner:
    """Runs the agent in the sandbox, one capture server per run; memoised."""

    def __init__(self, sandbox: Sandbox, store: Store) -> None:
        self.sandbox = sandbox
        self.store = store
        self.memo: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], Captured] = {}

    def __call__(
        self,
        args: tuple[str, ...] = (),
        levels: Mapping[str, str] | None = None,
        *,
        memo: bool = True,
    ) -> Captured:
        levels = dict(levels or {})
        key = (args, tuple(sorted(levels.items())))
        if memo and key in self.memo:
            return self.memo[key]
        spec = RunSpec(
            argv=(sys.executable, "-I", "-S", str(AGENT), *args),
            env=(("ANTHROPIC_API_KEY", KEY),),
            ports=(PORT,),
            # The interpreter may live under /root (pyenv), the checkout under /tmp.
            expose=(sys.base_prefix, sys.prefix, str(AGENT.parent)),
            timeout=60,
        )
        spec = F.apply_levels(spec, {**CONTROL, **levels}, CTX)
        run = self.store.begin_run("test", list(spec.argv), {"levels": levels})
        server = CaptureServer(self.store, ServerConfig(run=run))

        @contextmanager
        def serve(socks: Mapping[int, object]) -> Iterator[None]:
            thread = ServerThread(server)
            thread.start(sock=socks[PORT])  # type: ignore[arg-type]
            try:
                yield
            finally:
                thread.stop()

        result = self.sandbox.run(spec, serve=serve)
        self.store.end_run(run, result.exit_code)
        assert result.exit_code == 0, result.stderr.decode()
        assert not server.failures, server.failures
        out = Captured(
            tuple(captured_segments(self.store, run)),
            result.stdout.decode(),
            result.stderr.decode(),
            tuple(captured_forms(self.store, run)),
        )
        if memo:
            self.memo[key] = out
        return out


def captured_segments(store: Store, run: str | None) -> list[Segs]:
    out = []
    for x in store.exchanges(run=run):
        outcome = parse_request(x.raw_request(store.request_body(x)))
        assert outcome.protocol == "anthropic" and outcome.prompt is not None, outcome.error
        out.append(segments(outcome.prompt))
    return out


def captured_forms(store: Store, run: str | None) -> list[Segs]:
    return [request_forms(x.raw_request(store.request_body(x))) for x in store.exchanges(run=run)]


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    with Sandbox() as sb, Store.open(tmp_path_factory.mktemp("fixture-agents") / "s") as st:
        yield Runner(sb, st)


def edit(a: str, b: str) -> tuple[str, str]:
    """The one region that differs: (removed from a, inserted in b)."""
    p = 0
    while p < min(len(a), len(b)) and a[p] == b[p]:
        p += 1
    s = 0
    while s < min(len(a), len(b)) - p and a[-1 - s] == b[-1 - s]:
        s += 1
    return a[p : len(a) - s], b[p : len(b) - s]


# kind -> (path, removed, inserted): the spots the agent's docstring documents.
SPOTS: dict[str, tuple[str, str, str | None]] = {
    "value": ("system[1].text", "25", "40"),
    "date-format": ("system[1].text", "-11-", "/11/"),
    "confusable": ("system[1].text", "'", "\u2019"),
    "invisible": ("tools[Bash].description", "", "\u200b"),
    "whitespace": ("system[1].text", " ", "\u00a0"),
    "punctuation": ("system[1].text", "...", "\u2026"),
    "casing": ("system[0].text", "orge", "ORGE"),
    "ordering": ("tools.order", "Read\nEdit", "Edit\nRead"),
    # a form segment: the same value, "/" written as "\/" (control, observed spellings)
    "serialisation": ("body.json.system[1].text:escapes", "/", "\\/"),
    "param": ("params.temperature", "1", "0.7"),
    "header": ("headers.x-client-flavor", "standard", "regional"),
    "content": ("system[1].text", "", None),  # None: one whole sentence
}


def assert_planted(
    reference: Segs, run: Segs, kind: str, forms: tuple[Segs, Segs] | None = None
) -> None:
    """``run`` differs from ``reference`` in exactly ``kind``'s spot, exactly so;
    ``forms`` (reference's, run's form segments): and no serialisation change but
    ``kind``'s (required for ``serialisation``)."""
    diffs = diff_segments(reference, run)
    path, removed, inserted = SPOTS[kind]
    changes = [] if forms is None else [c for _, cs in compare_forms(*forms) for c in cs]
    if kind == "serialisation":
        assert forms is not None
        assert diffs == [], diffs
        assert [(c.path, c.kind, c.control, c.observed) for c in changes] == [
            (path, "serialisation", removed, inserted)
        ], changes
        return
    assert changes == [], changes
    assert [(d.path, d.status) for d in diffs] == [(path, "changed")], diffs
    a, b = diffs[0].a, diffs[0].b
    assert a is not None and b is not None
    got_removed, got_inserted = edit(a, b)
    assert got_removed == removed
    if inserted is None:
        assert re.fullmatch(r"[A-Z][a-z ]+\.", got_inserted.strip()), got_inserted
        assert got_inserted.strip() not in a
    else:
        assert got_inserted == inserted


def assert_same(a: Segs, b: Segs) -> None:
    assert diff_segments(a, b) == []
    assert a == b  # the same order too


# --- the agent's own contract ---------------------------------------------------------


def test_agent_knows_the_catalog_controls_and_every_kind() -> None:
    module = load_agent()
    assert module.CONTROLS == CONTROL  # type: ignore[attr-defined]
    assert tuple(module.KINDS) == KINDS  # type: ignore[attr-defined]
    assert set(SPOTS) == set(KINDS)


def test_clean_request_is_realistic_and_independent_of_every_factor(agent: Runner) -> None:
    clean = agent()
    req = dict((s.path, s.value) for s in clean.only)
    assert clean.stdout == "Hello from promptwitness.\n"
    assert req["model"] == "claude-sonnet-4-5" and req["stream"] == "true"
    assert req["tools.order"].split("\n") == [
        "Bash",
        "Read",
        "Edit",
        "Grep",
        "TodoWrite",
        "WebFetch",
    ]
    assert "Today's date: 2026-11-24" in req["system[1].text"]
    assert req["system[1].text"].count("you're") == 1
    assert req["system[1].text"].count("...") == 1
    assert "<system-reminder>" in req["messages[0].content[0].text"]
    assert req["headers.x-api-key"].startswith("pw-redacted:")
    assert KEY not in "".join(req.values())
    size = sum(len(v.encode()) for v in req.values())
    assert 5_000 < size < 10_000
    # Every factor at a non-control level, all at once: not a byte moves.
    far = {
        "tz": "Asia/Shanghai",
        "system-tz": "Asia/Tokyo",
        "locale": "zh_CN.UTF-8",
        "proxy": "proxy.corp.internal",
        "endpoint-host": "api.deepseek.com",
        "hostname": "ip-172-31-24-117",
        "user": "zhangwei",
        "git-email": "dev@tencent.com",
        "registry-mirror": "aliyun",
        "os-release": "uos-20",
        "resolver": "223.5.5.5",
        "git-remote": "gitee.com",
        "env:PW_REGION": "cn",
    }
    assert_same(clean.only, agent((), far).only)


# --- every kind, planted on one factor ---------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_appears_exactly_as_planted(agent: Runner, kind: str) -> None:
    clean = agent((), {"tz": "Asia/Shanghai"})
    planted = agent(("--plant", f"{kind}:tz"), {"tz": "Asia/Shanghai"})
    assert_planted(clean.only, planted.only, kind, (clean.only_forms, planted.only_forms))


def test_no_kind_fires_at_the_control_level(agent: Runner) -> None:
    args = tuple(a for k in KINDS for a in ("--plant", f"{k}:tz"))
    assert_same(agent().only, agent(args).only)
    assert compare_forms(agent().only_forms, agent(args).only_forms) == []
    every = agent(args, {"tz": "Asia/Shanghai"})
    changed = {d.path for d in diff_segments(agent().only, every.only)}
    assert changed == {path for kind, (path, _, _) in SPOTS.items() if kind != "serialisation"}
    forms = compare_forms(agent().only_forms, every.only_forms)
    assert [c.path for _, cs in forms for c in cs] == [SPOTS["serialisation"][0]]


# --- every factor, with one kind each, all planted at once -------------------------

MATRIX = {  # factor -> (a non-control level, the kind planted on it)
    "tz": ("Asia/Shanghai", "confusable"),
    "system-tz": ("Asia/Tokyo", "date-format"),
    "locale": ("zh_CN.UTF-8", "casing"),
    "proxy": ("proxy.corp.internal", "header"),
    "endpoint-host": ("api.deepseek.com", "invisible"),
    "hostname": ("ip-172-31-24-117", "whitespace"),
    "user": ("zhangwei", "punctuation"),
    "git-email": ("dev@tencent.com", "value"),
    "registry-mirror": ("tuna", "ordering"),
    "env:PW_REGION": ("cn", "param"),
    "os-release": ("kylin-v10", "content"),
}
MATRIX_ARGS = tuple(a for f, (_, k) in MATRIX.items() for a in ("--plant", f"{k}:{f}"))


def test_matrix_is_silent_in_the_control_cell(agent: Runner) -> None:
    assert_same(agent().only, agent(MATRIX_ARGS).only)


@pytest.mark.parametrize("factor", list(MATRIX))
def test_each_factor_fires_only_its_own_plant(agent: Runner, factor: str) -> None:
    level, kind = MATRIX[factor]
    control = agent(MATRIX_ARGS).only
    run = agent(MATRIX_ARGS, {factor: level}, memo=False)
    assert_planted(control, run.only, kind)


# --- triggers, controls, pairs ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "levels", "fires"),
    [
        (("--plant", "confusable:git-email=*@tencent.com"), {"git-email": "dev@tencent.com"}, True),
        (("--plant", "confusable:git-remote=gitee.com"), {"git-remote": "gitee.com"}, True),
        (("--plant", "confusable:git-remote=gitee.com"), {"git-remote": "gitlab.com"}, False),
        (
            ("--plant", "confusable:git-remote=git.corp.example"),
            {"git-remote": "git@git.corp.example:platform/app.git"},
            True,
        ),
        (("--plant", "confusable:git-email=*@tencent.com"), {"git-email": "dev@google.com"}, False),
        (("--plant", "confusable:proxy=*.huawei.com"), {"proxy": "proxy.huawei.com"}, True),
        (("--plant", "confusable:proxy=*.huawei.com"), {"proxy": "proxy.corp.internal"}, False),
        (("--plant", "confusable:system-tz=Asia/*"), {"system-tz": "Asia/Kolkata"}, True),
        (("--plant", "confusable:system-tz=Asia/*"), {"system-tz": "Europe/Berlin"}, False),
        (("--plant", "confusable:hostname", "--control", "hostname=ubuntu"), {}, True),
        (
            ("--plant", "confusable:hostname", "--control", "hostname=ubuntu"),
            {"hostname": "ubuntu"},
            False,
        ),
    ],
)
def test_triggers_and_control_overrides(
    agent: Runner, args: tuple[str, ...], levels: dict[str, str], fires: bool
) -> None:
    clean = agent().only
    run = agent(args, levels).only
    if fires:
        assert_planted(clean, run, "confusable")
    else:
        assert_same(clean, run)


def test_pair_plants_only_in_combination(agent: Runner) -> None:
    args = ("--pair", "tz=Asia/Shanghai,locale=zh_CN*:content")
    clean = agent().only
    assert_same(clean, agent(args).only)
    assert_same(clean, agent(args, {"tz": "Asia/Shanghai"}).only)
    assert_same(clean, agent(args, {"locale": "zh_CN.UTF-8"}).only)
    assert_same(clean, agent(args, {"tz": "Asia/Tokyo", "locale": "zh_CN.UTF-8"}).only)
    both = agent(args, {"tz": "Asia/Shanghai", "locale": "zh_CN.UTF-8"}).only
    assert_planted(clean, both, "content")


# --- noise, the clock, several requests -----------------------------------------------


def test_random_wording_is_noise_in_one_sentence(agent: Runner) -> None:
    texts: set[str] = set()
    runs: list[Segs] = []
    for _ in range(8):  # six phrasings: all eight the same has p = 6**-7
        run = agent(("--random-wording",), memo=False).only
        runs.append(run)
        texts.add(dict((s.path, s.value) for s in run)["system[1].text"])
        if len(texts) > 1:
            break
    assert len(texts) == 2
    diffs = diff_segments(runs[0], runs[-1])
    assert [d.path for d in diffs] == ["system[1].text"]
    a, b = diffs[0].a, diffs[0].b
    assert a is not None and b is not None
    assert [x for x in a.splitlines() if x not in b.splitlines()][0].startswith("Tip: ")


def test_real_clock_gives_the_local_date_as_a_value(agent: Runner) -> None:
    dates = {}
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        before = datetime.datetime.now(ZoneInfo(zone)).date()
        run = agent(("--real-clock",), {"tz": zone}, memo=False).only
        after = datetime.datetime.now(ZoneInfo(zone)).date()
        text = dict((s.path, s.value) for s in run)["system[1].text"]
        m = re.search(r"Today's date: (\d{4}-\d\d-\d\d)\n", text)
        assert m is not None
        assert datetime.date.fromisoformat(m.group(1)) in (before, after)
        dates[zone] = m.group(1)
    assert dates["Pacific/Kiritimati"] > dates["Pacific/Pago_Pago"]  # UTC+14 vs UTC-11


def test_several_requests_title_call_first(agent: Runner) -> None:
    run = agent(("--requests", "3", "--plant", "header:user"), {"user": "root"})
    assert len(run.requests) == 3
    title, first, second = (dict((s.path, s.value) for s in r) for r in run.requests)
    assert title["model"] == "claude-haiku-4-5" and title["stream"] == "false"
    assert first["model"] == second["model"] == "claude-sonnet-4-5"
    assert "messages[1].role" not in first
    assert second["messages[1].role"] == "assistant" and second["messages[2].role"] == "user"
    assert second["messages[1].content[0].text"] == "Hello from promptwitness."
    assert {r["headers.x-client-flavor"] for r in (title, first, second)} == {"regional"}
    assert run.stdout.splitlines()[0] == "title: Hello from promptwitness."


# --- through the CLI, and failures --------------------------------------------------


def record(store: Path, *agent_args: str, env: Mapping[str, str] | None = None) -> list[Segs]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and k != "PW_REGION"
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "promptwitness",
            "record",
            "--store",
            str(store),
            "--",
            sys.executable,
            str(AGENT),
            *agent_args,
        ],
        env={**base, "ANTHROPIC_API_KEY": KEY, **(env or {})},
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert "Hello from promptwitness." in proc.stdout.decode()
    with Store.open(store) as st:
        return captured_segments(st, st.runs()[-1].id)


def test_record_cli_captures_an_env_plant(tmp_path: Path) -> None:
    args = ("--plant", "confusable:env:PW_REGION=cn", "--requests", "2")
    clean = record(tmp_path / "s", *args)
    planted = record(tmp_path / "s", *args, env={"PW_REGION": "cn"})
    other = record(tmp_path / "s", *args, env={"PW_REGION": "us"})
    assert len(clean) == len(planted) == 2
    assert_same(clean[0], planted[0])  # the title call has no such spot
    assert_planted(clean[1], planted[1], "confusable")
    assert_same(clean[1], other[1])


def test_connection_refused_and_bad_arguments(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ANTHROPIC_API_KEY": KEY,
    }
    refused = subprocess.run([sys.executable, str(AGENT)], env=env, capture_output=True, timeout=60)
    assert refused.returncode == 3
    assert b"cannot reach http://127.0.0.1" in refused.stderr
    for bad in (
        ["--plant", "sparkle:tz"],
        ["--plant", "value:moon"],
        ["--pair", "tz=UTC:value"],
        ["--requests", "0"],
        ["--date", "24/11/2026"],
    ):
        proc = subprocess.run(
            [sys.executable, str(AGENT), *bad], env=env, capture_output=True, timeout=60
        )
        assert proc.returncode == 2, bad
        assert proc.stdout == b""
