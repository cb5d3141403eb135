"""HAR 1.2 export and import: exact round trip, clear errors, redaction on the way in."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptwitness.capture.har import export_har, import_har
from promptwitness.capture.redact import Redactor
from promptwitness.errors import UsageError
from promptwitness.model import CapturedExchange
from promptwitness.store import Store

SECRET = "sk-ant-api03-Zx9" + "Qw7_" * 12

BODIES = {
    "json": (
        '{"model":"claude","messages":[{"role":"user","content":"it\u2019s\u200b 2026/11/23"}]}'
    ).encode(),
    "binary": bytes(range(256)),
    "invalid-utf8": b'{"text":"caf\xe9 \xff\xfe"}',
    "empty": b"",
}


def _exchange(name: str, body: bytes, **kw: Any) -> CapturedExchange:
    base: dict[str, Any] = {
        "method": "POST",
        "target": "/v1/messages?beta=true&x=%2Fa%20b",
        "host": "127.0.0.1:8123",
        "request_headers": [
            ("Content-Type", "application/json"),
            ("anthropic-beta", "one"),
            ("Anthropic-Beta", "two"),
            ("x-api-key", "pw-redacted:0123456789abcdef"),
        ],
        "request_body": body,
        "status": 200,
        "response_headers": [("content-type", "text/event-stream"), ("x-name", name)],
        "response_body": b"re:" + body,
        "started": 1_790_000_000.123456 + len(body),
        "duration": 0.0421,
        "mode": "sink",
    }
    base.update(kw)
    return CapturedExchange(**base)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "store")
    yield s
    s.close()


def test_export_shape(store: Store) -> None:
    run = store.begin_run("record", None)
    store.add(_exchange("json", BODIES["json"], run=run))
    store.add(_exchange("bin", BODIES["binary"], run=run))
    har = export_har(store, store.exchanges())
    json.dumps(har)  # a JSON value
    log = har["log"]
    assert log["version"] == "1.2"
    assert log["creator"]["name"] == "promptwitness" and log["creator"]["version"]
    e = log["entries"][0]
    assert e["startedDateTime"].startswith("2026-")
    assert e["time"] == pytest.approx(42.1)
    req = e["request"]
    assert req["url"] == "http://127.0.0.1:8123/v1/messages?beta=true&x=%2Fa%20b"
    assert req["httpVersion"] == "HTTP/1.1" and req["cookies"] == [] and req["headersSize"] == -1
    assert req["queryString"] == [{"name": "beta", "value": "true"}, {"name": "x", "value": "/a b"}]
    assert req["headers"][1:3] == [
        {"name": "anthropic-beta", "value": "one"},
        {"name": "Anthropic-Beta", "value": "two"},
    ]
    assert req["bodySize"] == len(BODIES["json"])
    assert req["postData"] == {"mimeType": "application/json", "text": BODIES["json"].decode()}
    resp = e["response"]
    assert resp["status"] == 200 and resp["statusText"] == "OK"
    assert resp["content"]["mimeType"] == "text/event-stream" and "encoding" not in resp["content"]
    assert resp["redirectURL"] == "" and resp["bodySize"] == len(BODIES["json"]) + 3
    assert e["cache"] == {} and e["timings"] == {"send": 0, "wait": e["time"], "receive": 0}
    ext = e["_promptwitness"]
    assert ext["run"] == run and ext["mode"] == "sink" and ext["id"] == 1
    assert ext["protocol"] == "anthropic"
    binary = log["entries"][1]
    assert binary["request"]["postData"]["_encoding"] == "base64"
    assert base64.b64decode(binary["request"]["postData"]["text"]) == BODIES["binary"]
    assert binary["response"]["content"]["encoding"] == "base64"


def test_round_trip_is_exact(store: Store, tmp_path: Path) -> None:
    for name, body in BODIES.items():
        store.add(_exchange(name, body))
    store.add(
        _exchange("noresp", b"x", status=None, response_body=b"", error="reset", duration=None)
    )
    originals = store.exchanges()
    har = json.loads(json.dumps(export_har(store, originals), ensure_ascii=False))
    imported = import_har(har)
    assert len(imported) == len(originals)
    for x, ix in zip(originals, imported, strict=True):
        assert ix.mode == "import"
        assert ix.method == x.method and ix.target == x.target and ix.host == x.host
        assert ix.scheme == x.scheme and ix.http_version == x.http_version
        assert tuple(ix.request_headers) == x.request_headers
        assert tuple(ix.response_headers) == x.response_headers
        assert ix.status == x.status
        assert ix.request_body == store.request_body(x)
        assert ix.response_body == store.response_body(x)
        assert ix.started == x.started and ix.duration == x.duration
        assert ix.error == x.error
    # and into another store: same bytes, same addresses
    with Store.open(tmp_path / "other") as other:
        for ix in imported:
            other.add(ix)
        for a, b in zip(originals, other.exchanges(), strict=True):
            assert (a.request_sha256, a.response_sha256) == (b.request_sha256, b.response_sha256)


def test_import_foreign_har() -> None:
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "browser", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2026-01-02T03:04:05.678Z",
                    "time": 12.5,
                    "request": {
                        "method": "GET",
                        "url": "https://generativelanguage.googleapis.com/v1beta/models?key=abc#frag",
                        "httpVersion": "h2",
                        "headers": [{"name": "accept", "value": "*/*"}],
                    },
                    "response": {
                        "status": 200,
                        "headers": [],
                        "content": {
                            "size": 3,
                            "mimeType": "application/octet-stream",
                            "text": base64.b64encode(b"\x00\x01\x02").decode(),
                            "encoding": "base64",
                        },
                    },
                },
                {
                    "startedDateTime": "2026-01-02T03:04:06+01:00",
                    "time": -1,
                    "request": {
                        "method": "POST",
                        "url": "http://example.test",
                        "headers": [],
                        "postData": {
                            "mimeType": "text/plain",
                            "params": [],
                            "text": "é",
                            "_base64": "ignored",
                        },
                    },
                    "response": {"status": 0, "headers": []},
                },
            ],
        }
    }
    a, b = import_har(har)
    assert a.scheme == "https" and a.host == "generativelanguage.googleapis.com"
    assert a.target == "/v1beta/models?key=abc" and a.http_version == "2"
    assert a.started == pytest.approx(1767323045.678) and a.duration == pytest.approx(0.0125)
    assert a.response_body == b"\x00\x01\x02" and a.request_body == b""
    assert a.mode == "import"
    assert b.target == "/" and b.request_body == "é".encode() and b.status is None
    assert b.duration is None and b.started == pytest.approx(1767319446.0)


def _valid() -> dict[str, Any]:
    return {
        "log": {
            "version": "1.2",
            "entries": [
                {
                    "startedDateTime": "2026-01-01T00:00:00Z",
                    "time": 1,
                    "request": {"method": "GET", "url": "http://h/", "headers": []},
                    "response": {"status": 200, "headers": [], "content": {"text": "ok"}},
                },
            ],
        }
    }


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h: h.pop("log"), 'no "log" object'),
        (lambda h: h["log"].update(entries={}), "log.entries"),
        (lambda h: h["log"]["entries"].append("x"), "HAR entry 1 is not an object"),
        (lambda h: h["log"]["entries"][0]["request"].pop("url"), "HAR entry 0 field request.url"),
        (
            lambda h: h["log"]["entries"][0]["request"].update(url="/relative"),
            "not an absolute URL",
        ),
        (lambda h: h["log"]["entries"][0].pop("response"), "field response is missing"),
        (lambda h: h["log"]["entries"][0]["response"].update(status="200"), "response.status"),
        (
            lambda h: h["log"]["entries"][0]["request"].update(headers=[{"name": 1}]),
            "field request.headers[0]",
        ),
        (
            lambda h: h["log"]["entries"][0]["response"]["content"].update(
                encoding="base64", text="%%%"
            ),
            "response.content.text is not valid base64",
        ),
        (
            lambda h: h["log"]["entries"][0]["response"]["content"].update(encoding="gzip"),
            "response.content.encoding",
        ),
        (lambda h: h["log"]["entries"][0].update(startedDateTime="yesterday"), "startedDateTime"),
    ],
)
def test_malformed_har_names_entry_and_field(mutate: Any, message: str) -> None:
    har = _valid()
    import_har(copy.deepcopy(har))  # the unmutated one is fine
    mutate(har)
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        import_har(har)


def test_not_an_object() -> None:
    with pytest.raises(UsageError):
        import_har([1, 2])


def test_import_then_redact_then_store_leaves_no_secret(tmp_path: Path) -> None:
    har = _valid()
    entry = har["log"]["entries"][0]
    entry["request"] = {
        "method": "POST",
        "url": f"https://api.example/v1/messages?key={SECRET}",
        "headers": [
            {"name": "Authorization", "value": f"Bearer {SECRET}"},
            {"name": "Cookie", "value": "sid=cookie-value-123456"},
        ],
        "postData": {
            "mimeType": "application/json",
            "text": json.dumps({"note": f"my key is {SECRET}", "password": "p4ssw0rd!!"}),
        },
    }
    entry["response"]["content"]["text"] = f"echo {SECRET} cookie-value-123456"
    with Store.open(tmp_path / "s") as store:
        redactor = Redactor(store.salt(), known_secrets=["env-secret-000111"])
        for ex in import_har(har):
            store.add(redactor.redact(ex))
        x = store.exchanges()[0]
        assert x.mode == "import"
        assert dict(x.request_headers)["Authorization"] == "Bearer " + redactor.fingerprint(SECRET)
        assert x.target == f"/v1/messages?key={redactor.fingerprint(SECRET)}"
        shas = [r[0] for r in store._db.execute("SELECT sha256 FROM blobs")]
        content = b"".join(store.blob(s) for s in shas)
        rows = json.dumps([x.to_json(), x.request_headers, x.response_headers]).encode()
        for secret in (SECRET, "cookie-value-123456", "p4ssw0rd!!"):
            assert secret.encode() not in content and secret.encode() not in rows
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = (tmp_path / "s" / "promptwitness.sqlite3").read_bytes()
    assert SECRET.encode() not in raw and b"cookie-value-123456" not in raw
