"""``probe.hermetic.HermeticSession``: the CA trust rule ``probe`` and ``record
--hermetic`` share (system bundle first; the runtime's variable once a client refused)."""

from __future__ import annotations

from promptwitness.capture.hermetic import (
    BUNDLE_FILE,
    CA_FILE,
    HermeticOptions,
    HermeticServer,
    Trust,
)
from promptwitness.capture.server import CaptureServer
from promptwitness.capture.tls import CertificateAuthority, TlsHandshake
from promptwitness.model import CapturedExchange
from promptwitness.probe.hermetic import HermeticRun, HermeticSession
from promptwitness.probe.sandbox import RunSpec


class _Store:
    def add(self, ex: CapturedExchange) -> int:
        return 1

    def salt(self) -> bytes:
        return b"s" * 32


CA = CertificateAuthority.generate()


def _run(session: HermeticSession, *handshakes: TlsHandshake) -> HermeticRun:
    hermetic = HermeticServer(CaptureServer(_Store()), CA, session.opts)
    for h in handshakes:
        hermetic.tls_log.record(h)
    return HermeticRun(None, None, hermetic, session.trust)


def test_the_first_runs_trust_the_system_bundle_alone() -> None:
    session = HermeticSession(CA, HermeticOptions(runtimes=("node",)))
    spec = session.spec(RunSpec(argv=("agent",), env=(("A", "1"),)))
    assert session.trust == Trust() and dict(spec.env) == {"A": "1"}
    etc = dict(spec.etc_files)
    assert etc and all(CA.pem() in data for data in etc.values())
    assert CA_FILE.removeprefix("/etc/") not in etc


def test_a_refused_certificate_switches_later_runs_to_the_runtimes_variable() -> None:
    session = HermeticSession(CA, HermeticOptions(runtimes=("node",)))
    accepted = TlsHandshake(sni="a.example", served="a.example", ok=True)
    assert not session.learn(_run(session, accepted))
    assert session.trust == Trust()
    refused = TlsHandshake(sni="api.example", served="api.example", ok=False, reason="closed")
    first = _run(session, refused, accepted)
    assert first.refused_by == ["api.example"]
    assert session.learn(first) and session.trust.variables
    spec = session.spec(RunSpec(argv=("agent",)))
    assert set(dict(spec.env).values()) <= {CA_FILE, BUNDLE_FILE}
    assert CA_FILE.removeprefix("/etc/") in dict(spec.etc_files)
    # decided once: a later refusal does not change it again
    assert not session.learn(_run(session, refused))
    assert first.trust == Trust()  # what that run had
