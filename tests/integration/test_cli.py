"""The promptwitness command as a user runs it: record a synthetic agent, then log,
show, diff, export and import — real server, real SQLite, real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

AGENT = Path(__file__).parents[1] / "fixtures" / "agents" / "multi_protocol_agent.py"


def pw(
    store: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    base["PROMPTWITNESS_STORE"] = str(store)
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "promptwitness", *args],
        env=base,
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[bytes]]:
    store = tmp_path_factory.mktemp("cli") / "store"
    run = pw(store, "record", "--", sys.executable, str(AGENT), "7")
    return store, run


def test_record_runs_the_command_and_exits_with_its_code(
    recorded: tuple[Path, subprocess.CompletedProcess[bytes]],
) -> None:
    _, run = recorded
    assert run.returncode == 7, run.stderr.decode()
    out = run.stdout.decode()
    for proto in ("anthropic", "openai-chat", "gemini"):
        assert f"{proto}: Hello from promptwitness." in out
    err = run.stderr.decode()
    assert "3 requests captured" in err
    assert "anthropic" in err and "gemini" in err


def test_log_json_lists_every_exchange(
    recorded: tuple[Path, subprocess.CompletedProcess[bytes]],
) -> None:
    store, _ = recorded
    log = pw(store, "log", "--json")
    assert log.returncode == 0
    items = json.loads(log.stdout)
    assert [x["protocol"] for x in items] == ["anthropic", "openai-chat", "gemini"]
    for x in items:
        assert {"id", "protocol", "method", "host", "path", "status", "time", "run"} <= set(x)
        assert x["method"] == "POST" and x["status"] == 200
        assert x["run"] == items[0]["run"]
    assert items[0]["path"] == "/v1/messages"
    table = pw(store, "log", env={"COLUMNS": "200"})
    assert table.returncode == 0 and b"openai-chat" in table.stdout
    # at 80 columns, piped: one line per exchange (plus a header and the date), none wider
    narrow = pw(store, "log", env={"COLUMNS": "80"}).stdout.decode().splitlines()
    assert len(narrow) == 2 + len(items) and all(len(ln) <= 80 for ln in narrow), narrow
    assert narrow[-1].split()[0] == str(items[-1]["id"])
    limited = pw(store, "log", "--limit", "1").stdout.decode().splitlines()
    assert limited[0].startswith("… 2 earlier exchanges not shown") and len(limited) == 4


def test_show_marks_hidden_code_points(
    recorded: tuple[Path, subprocess.CompletedProcess[bytes]],
) -> None:
    store, _ = recorded
    first = json.loads(pw(store, "log", "--json").stdout)[0]["id"]
    shown = pw(store, "show", str(first), env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr.decode()
    text = shown.stdout.decode()
    assert "U+2019 RIGHT SINGLE QUOTATION MARK" in text
    assert "pw-redacted:" in text
    raw = pw(store, "show", str(first), "--raw")
    assert raw.stdout.startswith(b"POST /v1/messages?beta=true HTTP/1.1\r\n")
    assert "It’s 2026-11-24.".encode() not in raw.stdout  # json.dumps escaped it: \u2019
    assert b"It\\u2019s 2026-11-24." in raw.stdout
    segs = pw(store, "show", str(first), "--segments")
    assert b"system[0].text" in segs.stdout
    doc = json.loads(pw(store, "show", str(first), "--json").stdout)
    assert doc["prompt"]["system"][0]["text"] == "You are a test agent. It’s 2026-11-24."
    assert doc["answer"]["text"] == "Hello from promptwitness."


def test_diff_between_two_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert pw(store, "record", "-q", "--", sys.executable, str(AGENT)).returncode == 0
    assert pw(store, "record", "-q", "--", sys.executable, str(AGENT)).returncode == 0
    items = json.loads(pw(store, "log", "--json").stdout)
    a, b = (x["id"] for x in items if x["protocol"] == "anthropic")
    same = pw(store, "diff", str(a), str(b))
    # Only the redacted key differs between runs (a fresh dummy key per record).
    assert same.returncode == 1
    diffs = json.loads(pw(store, "diff", str(a), str(b), "--json").stdout)
    assert [d["path"] for d in diffs] == ["headers.x-api-key"]
    missing = pw(store, "diff", str(a), "9999")
    assert missing.returncode == 2 and b"9999" in missing.stderr


def test_har_export_import_round_trip(
    recorded: tuple[Path, subprocess.CompletedProcess[bytes]], tmp_path: Path
) -> None:
    store, _ = recorded
    har = tmp_path / "out.har"
    assert pw(store, "export", "--har", str(har)).returncode == 0
    data = json.loads(har.read_text())
    assert data["log"]["version"] == "1.2" and len(data["log"]["entries"]) == 3
    other = tmp_path / "other"
    imp = pw(other, "import", "--har", str(har))
    assert imp.returncode == 0, imp.stderr.decode()
    a = json.loads(pw(store, "log", "--json").stdout)
    b = json.loads(pw(other, "log", "--json").stdout)
    assert [
        (x["method"], x["path"], x["status"], x["protocol"], x["request_sha256"]) for x in a
    ] == [(x["method"], x["path"], x["status"], x["protocol"], x["request_sha256"]) for x in b]


def test_bad_arguments_are_clear(tmp_path: Path) -> None:
    store = tmp_path / "s"
    r = pw(store, "record")
    assert r.returncode == 2 and b"no command given" in r.stderr
    r = pw(store, "show", "1")  # reading never creates a store
    assert r.returncode == 2 and b"no store at" in r.stderr and not store.exists()
    from promptwitness.store import Store

    Store.open(store).close()  # what a command that writes (record, serve, probe) does
    r = pw(store, "show", "1")
    assert r.returncode == 2 and b"no exchange 1" in r.stderr
    runs_before = pw(store, "log", "--json").stdout
    r = pw(store, "record", "--", "/nonexistent/agent")
    assert r.returncode == 2 and b"command not found" in r.stderr
    r = pw(store, "record", "--", "no-such-agent-on-path")
    assert r.returncode == 2 and b"not on PATH" in r.stderr
    # nothing was started: no run (empty or not) was added to the store
    from promptwitness.store import Store as _Store

    with _Store.open(store) as s:
        assert not s.runs(), s.runs()
    assert pw(store, "log", "--json").stdout == runs_before
    r = pw(store, "serve", "--listen", "nonsense")
    assert r.returncode == 2 and b"HOST:PORT" in r.stderr
    r = pw(store, "import", "--har", str(tmp_path / "missing.har"))
    assert r.returncode == 2 and b"no such file" in r.stderr
    # an upstream URL with a password would be stored with every exchange: refused
    r = pw(store, "serve", "--listen", "127.0.0.1:0", "--upstream", "https://u:pw@api.example")
    assert r.returncode == 2 and b"must not hold credentials" in r.stderr
    r = pw(store, "record", "--upstream", "ftp://api.example", "--", "true")
    assert r.returncode == 2 and b"http:// or https://" in r.stderr


def test_serve_captures_until_terminated(tmp_path: Path) -> None:
    """The team gateway, for real: a subprocess serving a free port on its gateway loop
    (uvloop when installed), capturing a model call, stopping cleanly on SIGTERM."""
    import signal
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promptwitness",
            "serve",
            "--store",
            str(store),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        body = b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
        for _ in range(100):
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/messages",
                    data=body,
                    headers={"content-type": "application/json"},
                )
                with urllib.request.urlopen(req, timeout=5) as resp:
                    assert resp.status == 200
                    assert b"Hello from promptwitness." in resp.read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("serve did not answer")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    from promptwitness.capture.loop import gateway_loop_name

    assert f"{gateway_loop_name()} loop" in err.decode()
    assert b"1 exchanges" in err


def test_diff_reports_a_serialisation_difference_as_covert(tmp_path: Path) -> None:
    """The same prompt, once with ’ and a zero-width space written as characters, once
    as \\u escapes: different bytes, identical values. ``diff`` must not call the prompts
    identical: it reports the serialisation difference (covert) and exits 1."""
    from promptwitness.model import CapturedExchange
    from promptwitness.store import Store

    prompt = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "it\u2019s\u200b fine"}],
    }
    bodies = [
        json.dumps(prompt, ensure_ascii=False, separators=(",", ":")).encode(),
        json.dumps(prompt, ensure_ascii=True, separators=(",", ":")).encode(),
    ]
    store = tmp_path / "store"
    with Store.open(store) as st:
        a, b = (
            st.add(
                CapturedExchange(
                    method="POST",
                    target="/v1/messages",
                    host="api.anthropic.com",
                    request_headers=[("content-type", "application/json")],
                    request_body=body,
                    status=200,
                    started=1.0 + i,
                )
            )
            for i, body in enumerate(bodies)
        )
    out = pw(store, "diff", str(a), str(b), env={"COLUMNS": "200"})
    text = out.stdout.decode()
    assert out.returncode == 1, out.stderr.decode()
    assert "identical prompts" not in text
    assert "values are identical" in text and "serialisation differs" in text
    assert "covert serialisation" in text
    assert "messages[0].content:escapes" in text
    assert "U+200B ZERO WIDTH SPACE" in text and "U+2019" in text
    doc = json.loads(pw(store, "diff", str(a), str(b), "--json").stdout)
    assert {(d["kind"], d["severity"], d["channel"]) for d in doc} == {
        ("serialisation", "covert", "serialisation")
    }
    assert {(d["a"], d["b"]) for d in doc} == {("\u2019", "\\u2019"), ("\u200b", "\\u200b")}
    html, sarif = tmp_path / "d.html", tmp_path / "d.sarif"
    assert (
        pw(store, "diff", str(a), str(b), "--html", str(html), "--sarif", str(sarif)).returncode
        == 1
    )
    log = json.loads(sarif.read_text())
    assert {r["ruleId"] for r in log["runs"][0]["results"]} == {"promptwitness/serialisation"}
    assert {r["level"] for r in log["runs"][0]["results"]} == {"error"}
    page = html.read_text()
    assert "serialisation" in page and "identical values" in page
    # the same bytes: identical
    assert pw(store, "diff", str(a), str(a)).returncode == 0


def test_export_into_a_missing_directory_is_a_clear_error(
    recorded: tuple[Path, subprocess.CompletedProcess[bytes]], tmp_path: Path
) -> None:
    store, _ = recorded
    out = tmp_path / "no-such-dir" / "out.har"
    r = pw(store, "export", "--har", str(out))
    assert r.returncode == 2 and b"no directory" in r.stderr, r.stderr.decode()
    assert b"Traceback" not in r.stderr and not out.parent.exists()


def test_a_corrupt_blob_costs_only_its_exchange(
    recorded: tuple[Path, subprocess.CompletedProcess[bytes]], tmp_path: Path
) -> None:
    import shutil
    import sqlite3

    from promptwitness.store import Store

    src, _ = recorded
    store = tmp_path / "damaged"
    shutil.copytree(src, store)
    with Store.open(store) as s:
        xs = s.exchanges()
        victim, path = xs[0], s.path
    with sqlite3.connect(path) as conn:  # damage the first exchange's request body
        conn.execute(
            "UPDATE blobs SET data = X'28b52ffd00deadbeef' WHERE sha256 = ?",
            (victim.request_sha256,),
        )
    shown = pw(store, "show", str(victim.id))
    assert shown.returncode == 2 and b"export --har" in shown.stderr, shown.stderr.decode()
    har = tmp_path / "rescued.har"
    r = pw(store, "export", "--har", str(har))
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert f"exchange {victim.id}:" in err and "could not be read" in err
    entries = json.loads(har.read_text())["log"]["entries"]
    assert len(entries) == len(xs) - 1  # everything else was exported
    fresh = tmp_path / "fresh"
    assert pw(fresh, "import", "--har", str(har)).returncode == 0
    assert len(json.loads(pw(fresh, "log", "--json").stdout)) == len(xs) - 1
