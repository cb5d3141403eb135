"""``log``, ``show`` and ``diff``: read what was captured."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from rich.text import Text

from promptwitness.analysis.diff import diff_segments
from promptwitness.analysis.segments import reminders, segments
from promptwitness.analysis.serialisation import escaped_text
from promptwitness.cli.common import (
    add_store_option,
    human_size,
    open_store,
    stdout_console,
    write_report,
)
from promptwitness.errors import UsageError
from promptwitness.model import Prompt, RawRequest
from promptwitness.protocols import parse_request, rebuild_answer
from promptwitness.report import terminal
from promptwitness.report.unicode import binary_summary, mark_summary, rich_mark
from promptwitness.store import Store, StoredExchange

if TYPE_CHECKING:
    from promptwitness.report.evidence import DiffReport


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("log", help="list captured exchanges")
    add_store_option(p)
    p.add_argument("--run", help="only this run")
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help=f"only the last N exchanges (default {LOG_DEFAULT_LIMIT} in the "
        "terminal view, all with --json)",
    )
    p.add_argument("--all", action="store_true", help="every exchange")
    p.add_argument("--json", action="store_true", help="a JSON array on standard output")
    p.set_defaults(func=cmd_log)

    s = sub.add_parser(
        "show",
        help="one exchange, with every hidden or look-alike code point made visible",
    )
    add_store_option(s)
    s.add_argument("id", type=int)
    view = s.add_mutually_exclusive_group()
    view.add_argument("--raw", action="store_true", help="the exact request bytes (head and body)")
    view.add_argument("--raw-response", action="store_true", help="the exact response bytes")
    view.add_argument("--json", action="store_true", help="exchange, prompt and segments as JSON")
    view.add_argument("--segments", action="store_true", help="the addressed segments")
    s.set_defaults(func=cmd_show)

    d = sub.add_parser(
        "diff",
        help="segment-aligned, code-point-exact differences between two captured requests",
        description="Exit status: 0 when the two prompts are identical in their values and in "
        "their JSON serialisation, 1 when they differ.",
    )
    add_store_option(d)
    d.add_argument("a", type=int, metavar="ID_A")
    d.add_argument("b", type=int, metavar="ID_B")
    d.add_argument("--json", action="store_true", help="the differences as JSON")
    d.add_argument(
        "--html",
        metavar="FILE",
        help="also write a self-contained HTML report of the differences here",
    )
    d.add_argument("--sarif", metavar="FILE", help="also write a SARIF 2.1.0 report here")
    d.set_defaults(func=cmd_diff)


def _raw_request(store: Store, x: StoredExchange) -> RawRequest:
    return RawRequest(x.method, x.target, tuple(x.request_headers), store.request_body(x))


def _prompt(store: Store, x: StoredExchange) -> tuple[Prompt | None, str | None]:
    outcome = parse_request(_raw_request(store, x))
    return outcome.prompt, outcome.error


LOG_DEFAULT_LIMIT = 50  # the terminal view's default: the most recent exchanges


def cmd_log(args: argparse.Namespace) -> int:
    with open_store(args, create=False) as store:
        xs = store.exchanges(run=args.run)
    limit = args.limit
    if limit is None and not args.json and not args.all:
        limit = LOG_DEFAULT_LIMIT
    hidden = 0
    if limit is not None and not args.all:
        hidden = max(0, len(xs) - limit) if limit > 0 else len(xs)
        xs = xs[-limit:] if limit > 0 else []
    if args.json:
        json.dump([x.to_json() for x in xs], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    console = stdout_console()
    if not xs and not hidden:
        console.print("no exchanges captured yet (promptwitness record -- CMD)", markup=False)
        return 0
    if hidden:
        console.print(
            f"… {hidden} earlier exchange{'s' if hidden != 1 else ''} not shown "
            f"(--all, or --limit N)",
            markup=False,
            highlight=False,
        )
    # one line per exchange, never wrapped: fixed columns, then the host and path (and
    # a note) cut to the width left
    console.print(
        Text(
            f"{'id':>5} {'time':<8} {'run':<8} {'meth':<4} {'st':>3} "
            f"{'protocol':<11} {'sent':>7} {'got':>7}  path @host",
            style="bold",
        ),
        no_wrap=True,
        overflow="ellipsis",
        crop=True,
    )
    day = None
    for x in xs:
        j = x.to_json()
        stamp = str(j["time"])
        if stamp[:10] != day:  # the date once, when it changes
            day = stamp[:10]
            console.print(Text(f"{'':>5} {day}", style="dim"), no_wrap=True, crop=True)
        note = x.error or x.parse_error or ""
        where = f"{x.target} @{x.host}" + (f"  [{note}]" if note else "")
        proto = x.protocol or "-"
        line = Text(
            f"{x.id:>5} {stamp[11:19]:<8} {(x.run or '-')[:8]:<8} {x.method[:4]:<4} "
            f"{x.status if x.status is not None else '-':>3} "
            f"{proto if len(proto) <= 11 else proto[:10] + '…':<11} "
            f"{human_size(x.request_size):>7} {human_size(x.response_size):>7}  "
        )
        line.append(Text(where, style="yellow" if note else ""))
        console.print(line, no_wrap=True, overflow="ellipsis", crop=True)
    return 0


def _prompt_json(prompt: Prompt) -> dict[str, Any]:
    def part(p: Any) -> dict[str, Any]:
        return {"type": p.type, "text": p.text, **({"extra": dict(p.extra)} if p.extra else {})}

    return {
        "protocol": prompt.protocol,
        "model": prompt.model,
        "stream": prompt.stream,
        "system": [part(p) for p in prompt.system],
        "tools": [
            {
                "name": t.name,
                "description": t.description,
                "schema": t.schema,
                "extra": dict(t.extra),
            }
            for t in prompt.tools
        ],
        "messages": [
            {
                "role": m.role,
                "content": [part(p) for p in m.parts],
                **({"extra": dict(m.extra)} if m.extra else {}),
            }
            for m in prompt.messages
        ],
        "params": dict(prompt.params),
        "metadata": dict(prompt.metadata),
        "headers": dict(prompt.headers),
    }


def cmd_show(args: argparse.Namespace) -> int:
    with open_store(args, create=False) as store:
        x = store.get(args.id)
        body = store.request_body(x)
        response = store.response_body(x)
    if args.raw or args.raw_response:
        out = sys.stdout.buffer
        if args.raw:
            out.write(
                f"{x.method} {x.target} HTTP/{x.http_version}\r\n".encode("latin-1", "replace")
            )
            for k, v in x.request_headers:
                out.write(f"{k}: {v}\r\n".encode("latin-1", "replace"))
            out.write(b"\r\n" + body)
        else:
            out.write(response)
        out.flush()
        return 0
    raw = RawRequest(x.method, x.target, tuple(x.request_headers), body)
    outcome = parse_request(raw)
    prompt = outcome.prompt
    answer = (
        rebuild_answer(x.protocol, x.status or 0, tuple(x.response_headers), response)
        if x.protocol and x.status is not None
        else None
    )
    if args.json:
        doc: dict[str, Any] = {
            "exchange": x.to_json(),
            "request_headers": [list(h) for h in x.request_headers],
            "response_headers": [list(h) for h in x.response_headers],
            "prompt": _prompt_json(prompt) if prompt else None,
            "segments": [
                {"path": s.path, "channel": s.channel, "value": s.value} for s in segments(prompt)
            ]
            if prompt
            else [],
            "answer": None
            if answer is None
            else {
                "text": answer.text,
                "tool_calls": [
                    {"id": c.id, "name": c.name, "arguments": c.arguments}
                    for c in answer.tool_calls
                ],
                "stop_reason": answer.stop_reason,
                "complete": answer.complete,
                "error": answer.error,
            },
        }
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    console = stdout_console()
    if args.segments:
        if prompt is None:
            raise UsageError(
                f"exchange {x.id} has no prompt: {outcome.error or 'not a model call'}"
            )
        console.print(terminal.render_segments(segments(prompt)))
        return 0
    _show_terminal(console, x, body, prompt, outcome.error, answer)
    return 0


def coding_line(x: StoredExchange, body: bytes) -> tuple[str | None, bytes, str | None]:
    """For a request body sent with a ``Content-Encoding``: ``("gzip, 18.5 KB → 96.1
    KB; …", the body to show, decoding error)``: the decoded bytes, or when it could
    not be decoded the bytes stored (as received, or what could be decoded); else
    ``(None, body, None)``."""
    decoded = x.decoded_request_body(body)
    if decoded is None:
        return None, body, None
    meta = x.request_coding or {}
    received = meta.get("received_size")
    size = meta.get("decoded_size")
    line = (
        f"{decoded.label}, {human_size(received if isinstance(received, int) else len(body))}"
        f" → {human_size(size if isinstance(size, int) else len(decoded.body))}"
    )
    stored = meta.get("stored")
    if stored == "re-encoded":
        line += " (a secret was replaced: stored re-encoded after redaction)"
    elif stored in ("decoded", "decoded-prefix"):
        line += " (stored decoded: what could be decoded, redacted)"
    elif stored == "received-redacted":
        line += " (stored as received, visible secrets replaced)"
    for key in ("received_digest", "decoded_digest"):
        if meta.get(key):
            line += f"\n  {key.split('_')[0]} {meta[key]}"
    if decoded.error is None:
        return line, decoded.body, None
    # not decodable: the bytes stored are shown (a hex summary when they are not text)
    return line, body, str(decoded.error)


def _body_text(console: Any, body: bytes, limit: int = 20000) -> None:
    """The body as marked text, or a short hex summary when it is not UTF-8 text."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        console.print(binary_summary(body), markup=False)
        return
    console.print(rich_mark(text[:limit]))
    if len(text) > limit:
        console.print(f"… {len(text) - limit} more characters (show --raw)", markup=False)


def _show_terminal(
    console: Any,
    x: StoredExchange,
    body: bytes,
    prompt: Prompt | None,
    error: str | None,
    answer: Any,
) -> None:
    j = x.to_json()
    console.rule(f"exchange #{x.id}", style="bold")
    console.print(
        f"{x.method} {x.scheme}://{x.host}{x.target}  →  "
        f"{x.status if x.status is not None else '-'}",
        markup=False,
    )
    console.print(
        f"time {j['time']}  run {x.run or '-'}  mode {x.mode}  protocol {x.protocol or '-'}",
        markup=False,
    )
    console.print(
        f"request {human_size(x.request_size)} sha256:{x.request_sha256}  "
        f"response {human_size(x.response_size)} sha256:{x.response_sha256}",
        markup=False,
    )
    if x.error:
        console.print(Text(f"transport error: {x.error}", style="bold red"))
    coding, body, coding_error = coding_line(x, body)
    if coding is not None:
        console.print(f"content coding {coding}", markup=False)
    if coding_error:
        console.print(Text(f"content coding error: {coding_error}", style="bold red"))
    if error and not (coding_error and coding_error in error):
        console.print(Text(f"parse error: {error}", style="bold red"))
    notes = [n for n in x.redactions if not n.startswith("request body content-coding ")]
    if notes:
        console.print(f"redacted: {', '.join(notes)}", markup=False)
    console.rule("request headers")
    for k, v in x.request_headers:
        console.print(Text.assemble((k, "bold"), ": ", rich_mark(v)))
    if prompt is None:
        console.rule("request body" if coding is None else "request body (decoded)")
        _body_text(console, body)
    else:
        _show_prompt(console, prompt)
    if answer is not None:
        console.rule("answer")
        console.print(rich_mark(answer.text))
        for c in answer.tool_calls:
            console.print(
                Text.assemble(("tool call ", "bold"), c.name, " ", rich_mark(c.arguments))
            )
        state = "complete" if answer.complete else "INCOMPLETE"
        console.print(f"stop reason {answer.stop_reason or '-'}; {state}", markup=False)
        if answer.error:
            console.print(Text(f"answer error: {answer.error}", style="bold red"))
    console.rule("hidden and non-ASCII code points in the request body")
    try:
        # code points written as \u escapes count too: an escaped U+200B is still there
        counts = mark_summary(body.decode("utf-8") + escaped_text(body))
    except UnicodeDecodeError:
        console.print("not counted: the body is not UTF-8 text", markup=False)
        return
    if not counts:
        console.print("none: the body is plain printable ASCII", markup=False)
    else:
        console.print(terminal.render_code_point_counts(counts))


def _show_prompt(console: Any, prompt: Prompt) -> None:
    console.rule(f"prompt ({prompt.protocol}, model {prompt.model or '-'}, stream {prompt.stream})")
    if prompt.params:
        console.print(Text("params", style="bold"))
        for k, v in prompt.params.items():
            console.print(Text.assemble(f"  {k} = ", rich_mark(json.dumps(v, ensure_ascii=False))))
    for i, part in enumerate(prompt.system):
        console.print(
            Text(f"system[{i}] ({part.type}, {len(part.text or '')} chars)", style="bold")
        )
        console.print(rich_mark(part.text or json.dumps(dict(part.extra), ensure_ascii=False)))
    if prompt.tools:
        console.print(Text(f"tools ({len(prompt.tools)})", style="bold"))
        for t in prompt.tools:
            first = (t.description or "").strip().splitlines()[0:1]
            schema_len = (
                len(json.dumps(t.schema, ensure_ascii=False)) if t.schema is not None else 0
            )
            console.print(
                Text.assemble(
                    ("  " + t.name, "bold"),
                    f"  ({len(t.description or '')} chars, schema {schema_len} chars)  ",
                    rich_mark(first[0][:100] if first else ""),
                )
            )
    for i, m in enumerate(prompt.messages):
        for j, part in enumerate(m.parts):
            console.print(Text(f"messages[{i}] {m.role} content[{j}] ({part.type})", style="bold"))
            if part.text is not None:
                spans = reminders(part.text)
                if spans:
                    console.print(f"  {len(spans)} <system-reminder> block(s)", markup=False)
                console.print(rich_mark(part.text))
            if part.extra:
                console.print(rich_mark(json.dumps(dict(part.extra), ensure_ascii=False)[:4000]))
    if prompt.metadata:
        console.print(Text("metadata", style="bold"))
        for k, v in prompt.metadata.items():
            console.print(Text.assemble(f"  {k} = ", rich_mark(json.dumps(v, ensure_ascii=False))))


def _diff_reports(args: argparse.Namespace, report: DiffReport) -> None:
    from promptwitness.report.html import render_diff_html
    from promptwitness.report.sarif import diff_sarif, dumps

    if args.html:
        write_report(args.html, render_diff_html(report), "HTML report")
    if args.sarif:
        doc = diff_sarif(report, command_line=["promptwitness", *sys.argv[1:]])
        write_report(args.sarif, dumps(doc), "SARIF log")


def cmd_diff(args: argparse.Namespace) -> int:
    with open_store(args, create=False) as store:
        xa, xb = store.get(args.a), store.get(args.b)
        pa, ea = _prompt(store, xa)
        pb, eb = _prompt(store, xb)
        for x, p, e in ((xa, pa, ea), (xb, pb, eb)):
            if p is None:
                raise UsageError(
                    f"exchange {x.id} has no prompt to diff: {e or 'not a model call'} "
                    f"({x.method} {x.target})"
                )
        assert pa is not None and pb is not None
        diffs = diff_segments(segments(pa), segments(pb))
        from promptwitness.analysis.serialisation import compare_forms
        from promptwitness.probe.observe import request_forms

        forms = compare_forms(
            request_forms(_raw_request(store, xa)), request_forms(_raw_request(store, xb))
        )
        if args.html or args.sarif:
            from promptwitness.report.evidence import diff_report

            _diff_reports(args, diff_report(store, xa, xb, diffs, forms))
    if args.json:
        json.dump(
            [
                {
                    "path": d.path,
                    "channel": d.channel,
                    "status": d.status,
                    "a": d.a,
                    "b": d.b,
                    "ops": [[o.tag, o.a_start, o.a_end, o.b_start, o.b_end] for o in d.ops],
                }
                for d in diffs
            ]
            + [
                {"status": "changed", "a": c.control, "b": c.observed, "ops": [], **c.to_json()}
                for _, cs in forms
                for c in cs
            ],
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        console = stdout_console()
        n_forms = sum(len(cs) for _, cs in forms)
        if not diffs and not forms:
            console.print(f"#{xa.id} and #{xb.id}: identical prompts", markup=False)
        elif not diffs:
            console.print(
                f"#{xa.id} and #{xb.id}: the prompts' values are identical, but "
                f"their JSON serialisation differs ({n_forms} covert "
                f"serialisation difference(s))",
                markup=False,
            )
        else:
            console.print(f"#{xa.id} → #{xb.id}: {len(diffs)} segment(s) differ", markup=False)
            console.print(terminal.render_diff(diffs))
        if forms:
            if diffs:
                console.print(
                    f"and the JSON serialisation differs ({n_forms} covert "
                    f"serialisation difference(s)):",
                    markup=False,
                )
            console.print(terminal.render_form_changes(c for _, cs in forms for c in cs))
    return 1 if diffs or forms else 0
