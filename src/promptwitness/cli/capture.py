"""``record`` and ``serve``: run the capture server around an agent, or for a team."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from promptwitness.capture.env import (
    BASE_URL_VARS,
    CAPTURE_PORT,
    capture_env,
    dummy_keys,
    is_loopback_host,
    secrets_in_env,
)
from promptwitness.capture.redact import Redactor
from promptwitness.capture.server import CaptureServer, ServerConfig, ServerThread
from promptwitness.capture.upstream import parse_upstream
from promptwitness.cli.common import add_store_option, human_size, open_store, stderr_console
from promptwitness.cli.probe import add_hermetic_options
from promptwitness.errors import UsageError
from promptwitness.protocols import DEFAULT_ANSWER
from promptwitness.report.lines import exchange_line
from promptwitness.store import Store


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "record",
        help="run a command with every model API pointed at a local capture server",
        description=(
            "Start a capture server on a free loopback port, point CMD at it through every "
            "base-URL variable the common agents and SDKs read ("
            + ", ".join(v.name for v in BASE_URL_VARS)
            + "), give dummy keys where none is set, run CMD, and print a summary on "
            "standard error. Exits with CMD's exit code."
        ),
    )
    add_store_option(p)
    p.add_argument("--upstream", metavar="URL", help="forward to this provider (pass-through)")
    p.add_argument(
        "--isolate",
        action="store_true",
        help="run the server and CMD in a new network namespace with loopback only",
    )
    p.add_argument("--port", type=int, default=0, help="listen on this port (default: a free one)")
    p.add_argument("--answer", default=DEFAULT_ANSWER, help="the text the sink answers with")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary")
    add_hermetic_options(p)
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="VAR=VALUE",
        help="hermetic: set this variable for CMD (the sandbox starts from a "
        "fixed allow-list, not this environment); repeatable",
    )
    p.add_argument(
        "--expose",
        action="append",
        default=[],
        metavar="PATH",
        help="hermetic: a host path under /tmp, /home or /root CMD needs "
        "(bound read-only); repeatable",
    )
    p.add_argument(
        "--workdir",
        metavar="DIR",
        help="hermetic: copy this directory as CMD's working directory "
        "(default: a fresh git repository)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="hermetic: seconds CMD may run (default 600)",
    )
    p.add_argument(
        "--agent",
        metavar="NAME",
        help="hermetic: answer as this agent profile declares (its canned vendor "
        "answers: login, entitlements, flags, models; its runtime and hosts)",
    )
    p.add_argument(
        "--json",
        metavar="FILE",
        help="hermetic: write the egress summary (hosts, paths, sizes, DNS "
        "names, TLS handshakes, CA trust) here as JSON",
    )
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")
    p.set_defaults(func=cmd_record)

    s = sub.add_parser(
        "serve",
        help="a long-running capture gateway",
        description="Serve captures until interrupted; every exchange is printed (to stderr) "
        "as it is stored, unless --quiet.",
    )
    add_store_option(s)
    s.add_argument("--listen", default="127.0.0.1:8787", metavar="HOST:PORT")
    s.add_argument("--upstream", metavar="URL", help="forward to this provider (pass-through)")
    s.add_argument("--answer", default=DEFAULT_ANSWER, help="the text the sink answers with")
    s.add_argument(
        "--writer",
        choices=("auto", "process", "thread"),
        default="auto",
        help="where credentials are redacted and exchanges stored: 'process' a writer "
        "process beside the server, so its event loop keeps its own CPU; 'thread' a thread "
        "inside the server process; 'auto' (default) a process for an SQLite store, a "
        "thread for a PostgreSQL one (its writer mostly waits on the database, and the "
        "hop to another process costs each answer 0.4-0.6 ms). If the writer process "
        "dies, the server says so and goes on storing in its own process.",
    )
    s.add_argument(
        "--ack-after-answer",
        action="store_true",
        help="end each answer without waiting for its exchange to be committed to the store "
        "(by default an answer's last bytes go out only once it is: an answered exchange "
        "survives a kill -9). Faster (see README, Performance), but a kill or crash can "
        "lose the exchanges answered in the last moments.",
    )
    s.add_argument(
        "--quiet",
        action="store_true",
        help="no line per stored exchange (start, errors and the stop summary are still printed)",
    )
    s.set_defaults(func=cmd_serve)


def _command(raw: Sequence[str]) -> list[str]:
    cmd = list(raw)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError("no command given: promptwitness record [OPTIONS] -- CMD [ARGS...]")
    exe = cmd[0]
    found = (
        (os.path.isfile(exe) and os.access(exe, os.X_OK))
        if "/" in exe
        else shutil.which(exe) is not None
    )
    if not found:  # before a server, a namespace or a run in the store
        raise UsageError(
            f"command not found: {exe}" + ("" if "/" in exe else " (not on PATH; give its path)")
        )
    return cmd


def _check_upstream(url: str | None) -> None:
    """Before anything starts (a namespace, a run in the store): the same check the
    capture server makes."""
    if url is not None:
        try:
            parse_upstream(url)
        except ValueError as exc:
            raise UsageError(f"--upstream: {exc}") from None


def summarize(store: Store, run: str) -> list[str]:
    xs = store.exchanges(run=run)
    protocols = Counter(x.protocol or "other" for x in xs)
    sent = sum(x.request_size for x in xs)
    received = sum(x.response_size for x in xs)
    lines = [
        f"{len(xs)} request{'s' if len(xs) != 1 else ''} captured"
        + (f" ({', '.join(f'{n} {p}' for p, n in protocols.most_common())})" if xs else "")
        + f"; {human_size(sent)} sent, {human_size(received)} received",
    ]
    biggest = max(xs, key=lambda x: x.request_size, default=None)
    if biggest is not None:
        lines.append(
            f"largest request: #{biggest.id} {biggest.method} {biggest.target} "
            f"({human_size(biggest.request_size)})"
        )
    errors = [x for x in xs if x.error]
    bad = [x for x in xs if x.parse_error]
    if errors:
        lines.append(
            f"{len(errors)} with transport errors, e.g. #{errors[0].id}: {errors[0].error}"
        )
    if bad:
        lines.append(
            f"{len(bad)} not valid for their protocol, e.g. #{bad[0].id}: {bad[0].parse_error}"
        )
    # pasteable in another shell: the store is named
    where = shlex.quote(store.label)
    lines.append(
        f"run {run} in {store.label}  (promptwitness log --store {where} --run {run}"
        + (f"; promptwitness show --store {where} {biggest.id}" if biggest is not None else "")
        + ")"
    )
    return lines


def cmd_record(args: argparse.Namespace) -> int:
    cmd = _command(args.cmd)
    _check_upstream(args.upstream)
    if args.hermetic:
        if args.upstream or args.isolate:
            raise UsageError(
                "--hermetic runs CMD in its own sandbox with a sink: it takes "
                "neither --upstream nor --isolate"
            )
        return record_hermetic(args, cmd)
    if args.agent:
        raise UsageError("--agent (a profile's canned vendor answers) needs --hermetic")
    if args.isolate:
        if args.upstream and not _is_loopback_url(args.upstream):
            raise UsageError(
                "--isolate allows only a loopback --upstream (nothing else is reachable)"
            )
        from promptwitness.probe.netns import enter_loopback_only

        enter_loopback_only()  # before any thread exists
    console = stderr_console()
    store = open_store(args)
    run = store.begin_run(
        "record", cmd, {"upstream": args.upstream, "isolated": bool(args.isolate)}
    )
    code: int | None = None
    try:
        base = dict(os.environ)
        keys = dummy_keys(base)
        known = secrets_in_env(base) + list(keys.values())
        server = CaptureServer(
            store,
            ServerConfig(upstream=args.upstream, run=run, answer_text=args.answer),
            redactor=Redactor(store.salt(), known_secrets=known),
        )
        thread = ServerThread(server)
        host, port = thread.start(port=args.port)
        try:
            env = capture_env(base, host, port, keys)
            if not args.quiet:
                mode = f"pass-through to {args.upstream}" if args.upstream else "sink"
                console.print(
                    f"promptwitness: capturing on http://{host}:{port} ({mode}); "
                    f"running {shlex.join(cmd)}"
                )
            code = _run_child(cmd, env)
        finally:
            thread.stop()
        if not args.quiet:
            for line in summarize(store, run):
                console.print(f"promptwitness: {line}")
    finally:
        store.end_run(run, code)
        store.close()
    return code


def _is_loopback_url(url: str) -> bool:
    from urllib.parse import urlsplit

    return is_loopback_host(urlsplit(url).hostname or "")


def _run_child(cmd: list[str], env: dict[str, str]) -> int:
    try:
        proc = subprocess.Popen(cmd, env=env)
    except FileNotFoundError:
        print(f"promptwitness: command not found: {cmd[0]}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"promptwitness: command not executable: {cmd[0]}", file=sys.stderr)
        return 126
    while True:
        try:
            rc = proc.wait()
            break
        except KeyboardInterrupt:
            # The child got the same SIGINT from the terminal; wait for it to finish.
            continue
    return 128 - rc if rc < 0 else rc


def _parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--listen wants HOST:PORT, e.g. 127.0.0.1:8787, not {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


LINES_EVERY = 0.25
"""Seconds between two writes of ``serve``'s queued per-exchange lines."""


class _QueuedLines:
    """``serve``'s hooks: the stored exchanges' lines, queued by the writer's thread
    and written to standard error by the main thread (``write``)."""

    on_exchange = None  # the writer process sends no exchange back
    line_format = staticmethod(exchange_line)  # made in the writer process

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []

    def on_lines(self, lines: list[str]) -> None:
        with self._lock:
            self._pending.extend(lines)

    def write(self) -> None:
        with self._lock:
            text = "".join(self._pending)
            self._pending.clear()
        if text:
            sys.stderr.write(text)
            sys.stderr.flush()


def cmd_serve(args: argparse.Namespace) -> int:
    _check_upstream(args.upstream)
    host, port = _parse_listen(args.listen)
    console = stderr_console()
    store = open_store(args)
    writer = args.writer
    if writer == "auto":
        writer = "thread" if store.backend == "postgresql" else "process"
    run = store.begin_run("serve", None, {"listen": args.listen, "upstream": args.upstream})
    # The writer makes a line per stored exchange (in the writer process with the default
    # writer) and hands them over per batch; this (main) thread writes them a few times a
    # second, in one write. Anything more per exchange in the server process (the
    # redacted exchange sent back, a write per line) costs its event loop, under load,
    # ~10 % of its requests per second (benchmarks/README.md).
    lines = _QueuedLines()

    server = CaptureServer(
        store,
        ServerConfig(
            upstream=args.upstream,
            run=run,
            answer_text=args.answer,
            writer=writer,
            commit_before_answer=not args.ack_after_answer,
        ),
        redactor=Redactor(store.salt(), known_secrets=secrets_in_env(os.environ)),
        hooks=None if args.quiet else lines,
    )
    from promptwitness.capture.loop import gateway_loop, gateway_loop_name

    thread = ServerThread(server, loop_factory=gateway_loop)
    try:
        bound_host, bound_port = thread.start(host=host, port=port)
        mode = f"pass-through to {args.upstream}" if args.upstream else "sink"
        console.print(
            f"promptwitness: serving on http://{bound_host}:{bound_port} ({mode}), run {run}, "
            f"store {store.label} ({store.durability}), {gateway_loop_name()} loop, "
            f"writer {writer}"
            + ("; answers do not wait for the store" if args.ack_after_answer else "")
            + "; "
            "Ctrl-C stops",
            markup=False,
        )
        if not is_loopback_host(host):
            console.print(
                "promptwitness: warning: listening beyond loopback; anyone who reaches this "
                "port can send requests through it and read nothing back but their own answers",
                markup=False,
            )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        reported = False
        try:
            while not stop.wait(LINES_EVERY):
                lines.write()
                if not reported and server.writer_crashed is not None:
                    reported = True
                    console.print(f"promptwitness: error: {server.writer_crashed}", markup=False)
        except KeyboardInterrupt:
            pass
    finally:
        thread.stop()  # stores everything received, so the last lines are queued now
        lines.write()
        for failure in server.failures:
            console.print(f"promptwitness: store writer: {failure}", markup=False)
        n = len(store.exchanges(run=run))
        store.end_run(run, 0)
        store.close()
        console.print(f"promptwitness: stopped; {n} exchanges in run {run}", markup=False)
        time.sleep(0)
    return 0


HERMETIC_PORT = CAPTURE_PORT  # the capture port (plain HTTP and CONNECT) in the namespace


def _loopback_client(client: str | None) -> bool:
    return is_loopback_host((client or "").rpartition(":")[0])


def hermetic_summary(store: Store, run: str, report: dict[str, object]) -> dict[str, object]:
    """What a hermetic record saw (JSON values): egress per host, DNS names, handshakes."""
    from promptwitness.capture.hermetic import egress

    xs = store.exchanges(run=run)
    return {
        "run": run,
        "egress": egress(xs),
        "exchanges": len(xs),
        "non_loopback_clients": sorted(
            {x.client or "" for x in xs if not _loopback_client(x.client)}
        ),
        **report,
    }


def _hermetic_lines(doc: dict[str, object]) -> list[str]:
    lines: list[str] = []
    hosts = doc["egress"]
    assert isinstance(hosts, dict)
    lines.append(f"{len(hosts)} host{'s' if len(hosts) != 1 else ''} contacted:")
    for host, h in hosts.items():
        lines.append(
            f"  {host} ({'/'.join(h['schemes'])}): {h['requests']} requests, "
            f"{human_size(h['bytes_sent'])} sent, "
            f"{human_size(h['bytes_received'])} received"
        )
        for path, p in h["paths"].items():
            lines.append(f"    {path} ×{p['count']} ({human_size(p['bytes_sent'])})")
    names = doc["dns_names"]
    assert isinstance(names, list)
    lines.append("DNS names looked up: " + (", ".join(names) if names else "none"))
    tls = doc["tls"]
    assert isinstance(tls, list)
    bad = [t for t in tls if t.get("ok") is False]
    lines.append(
        f"TLS handshakes: {len(tls)}, {len(bad)} failed"
        + (f" (e.g. {bad[0]['sni']}: {bad[0]['reason']})" if bad else "")
    )
    lines.append(f"CA trust: {doc['ca_trust']}")
    outside = doc["non_loopback_clients"]
    lines.append(
        "nothing left the namespace: every exchange came from loopback"
        if not outside
        else f"exchanges from outside loopback: {outside}"
    )
    return lines


def record_hermetic(args: argparse.Namespace, cmd: list[str]) -> int:
    """``record --hermetic``: CMD in a sandbox (loopback-only netns, private /etc) with no
    base-URL variable; DNS, TLS (minted per name), plain HTTP and CONNECT all captured.
    The CA trust is ``probe.hermetic.HermeticSession``'s: the system bundle files first;
    when a client rejects our CA that way, CMD runs once more with its runtime's CA
    variable (the summary says which was needed). This function parses and prints."""
    import json
    from pathlib import Path

    from promptwitness.capture.hermetic import DNS_PORT, HTTP_PORT, HTTPS_PORT
    from promptwitness.capture.tls import CertificateAuthority
    from promptwitness.cli.probe import hermetic_options
    from promptwitness.probe.command import env_pairs, exposed_paths, resolve_command
    from promptwitness.probe.hermetic import HermeticSession
    from promptwitness.probe.sandbox import RunSpec, Sandbox

    profile = None
    if args.agent:
        from promptwitness.agents.profiles import get_profile

        profile = get_profile(args.agent)
    opts = hermetic_options(args, profile)
    assert opts is not None
    argv = resolve_command(cmd, args.workdir)
    expose = exposed_paths(args.expose, argv)
    user_env = env_pairs(args.env)
    console = stderr_console()
    store = open_store(args)
    keys = dummy_keys(user_env)
    redactor = Redactor(store.salt(), known_secrets=secrets_in_env(user_env) + list(keys.values()))
    session = HermeticSession(CertificateAuthority.generate(), opts, port=HERMETIC_PORT)
    base = RunSpec(
        argv=tuple(argv),
        env=tuple({**user_env, **keys}.items()),
        ports=(HERMETIC_PORT, DNS_PORT, HTTP_PORT, HTTPS_PORT),
        udp_ports=(DNS_PORT,),
        expose=expose,
        workdir=args.workdir,
        timeout=args.timeout,
    )
    code = 2
    doc: dict[str, object] = {}
    try:
        with Sandbox() as box:
            # the first attempt uses the system bundle alone; a client that rejects it is
            # stopped at its first rejection and run again with the runtime's CA variable
            for attempt in (1, 2):
                trust = session.trust
                run = store.begin_run(
                    "record", cmd, {"hermetic": True, "attempt": attempt, "ca_trust": trust.label}
                )
                server = CaptureServer(
                    store,
                    ServerConfig(
                        run=run,
                        answer_text=args.answer,
                        answers=opts.answers,
                        fallback=opts.fallback,
                    ),
                    redactor=redactor,
                )
                spec = session.spec(base)
                if profile is not None:  # its configuration files, from the run's env
                    spec = replace(spec, env=tuple({**profile.env, **dict(spec.env)}.items()))
                    for path, data in profile.home_files(spec.environ()):
                        spec = spec.set_home_file(path, data)
                if not args.quiet:
                    console.print(
                        f"promptwitness: hermetic capture (CA trust: {trust.label});"
                        f" running {shlex.join(cmd)}",
                        markup=False,
                    )
                outcome = session.run(box, spec, server, cancel_on_reject=attempt == 1)
                result = outcome.result
                if outcome.sandbox_error is not None:
                    console.print(f"promptwitness: error: {outcome.sandbox_error}", markup=False)
                code = 2 if result is None or result.exit_code is None else result.exit_code
                store.end_run(run, code)
                doc = hermetic_summary(
                    store,
                    run,
                    {
                        **outcome.hermetic.report(),
                        "ca_trust": trust.label,
                        "attempt": attempt,
                        "exit_code": None if result is None else result.exit_code,
                        "timed_out": bool(result and result.timed_out),
                    },
                )
                if attempt == 1 and session.learn(outcome):
                    first, names = doc, [n or "?" for n in outcome.refused_by]
                    if not args.quiet:
                        console.print(
                            f"promptwitness: the client rejected our certificate through the "
                            f"system bundle ({', '.join(names)}); again with "
                            f"{session.trust.label}",
                            markup=False,
                        )
                    continue
                if attempt == 2:
                    doc["system_bundle_attempt"] = {
                        "run": first["run"],
                        "rejected_by": names,
                        "exit_code": first["exit_code"],
                    }
                if result is not None:
                    sys.stdout.buffer.write(result.stdout)
                    sys.stdout.flush()
                    sys.stderr.buffer.write(result.stderr)
                    sys.stderr.flush()
                break
        if args.json:
            Path(args.json).write_text(
                json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        if not args.quiet and doc:
            run_id = str(doc["run"])
            for line in summarize(store, run_id) + _hermetic_lines(doc):
                console.print(f"promptwitness: {line}", markup=False)
    finally:
        store.close()
    return code
