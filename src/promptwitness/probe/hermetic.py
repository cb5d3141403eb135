"""A hermetic session (IO edge): runs in the sandbox with every host served by us.

What ``probe``/``discover`` (``probe.runner``) and ``record --hermetic`` share: the CA,
how the runs trust it, and one run of a spec with the hermetic endpoints
(``capture.hermetic``: DNS, TLS, plain HTTP, CONNECT) around a capture server.

Rules:
- CA trust is decided by a run: the first trusts our CA through the system bundle
  files alone (``Trust()``), stopped at the first rejection when asked
  (``cancel_on_reject``); when a client rejected our certificate there, ``learn``
  switches every later run to its runtime's CA variable as well (such a variable is
  itself observable, so it is used only when needed). The probe's preflight and
  ``record``'s second attempt are this rule.
- ``run`` always returns: a sandbox that cannot run the spec is ``sandbox_error``,
  never an exception; every exchange is stored when it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptwitness.capture.env import CAPTURE_PORT
from promptwitness.capture.hermetic import (
    HermeticOptions,
    HermeticServer,
    HermeticThread,
    Trust,
    cancel_on_rejection,
    rejected,
)
from promptwitness.capture.server import CaptureServer
from promptwitness.capture.tls import CertificateAuthority, TlsHandshake
from promptwitness.probe.sandbox import RunResult, RunSpec, Sandbox, SandboxError, Tracing

__all__ = ["HermeticRun", "HermeticSession"]


@dataclass(frozen=True)
class HermeticRun:
    """One run of a hermetic session: what the sandbox returned, and what was seen."""

    result: RunResult | None  # None: the sandbox could not run it (``sandbox_error``)
    sandbox_error: str | None
    hermetic: HermeticServer  # its DNS and TLS logs, tunnels, ``report()``
    trust: Trust  # how this run trusted our CA

    @property
    def refused(self) -> list[TlsHandshake]:
        """The handshakes in which a client refused our certificate."""
        return rejected(self.hermetic.tls_log.entries())

    @property
    def refused_by(self) -> list[str]:
        """The names those clients asked for (SNI, else the certificate's name)."""
        return sorted({h.sni or h.served or "" for h in self.refused})


class HermeticSession:
    """The CA and its trust across the runs of one probe or one ``record``."""

    def __init__(
        self, ca: CertificateAuthority, opts: HermeticOptions, port: int = CAPTURE_PORT
    ) -> None:
        self.ca = ca
        self.opts = opts
        self.port = port  # the capture port (plain HTTP and CONNECT) in the namespace
        self.trust = Trust()

    def spec(self, spec: RunSpec) -> RunSpec:
        """``spec`` with the session's CA trust: the run's ``/etc`` bundle files with our
        CA, and the runtime's variables once ``learn`` asked for them."""
        spec = spec.set_env(self.trust.env())
        for path, data in self.trust.etc_files(self.ca.pem()).items():
            spec = spec.set_etc_file(path, data)
        return spec

    def run(
        self,
        sandbox: Sandbox,
        spec: RunSpec,
        server: CaptureServer,
        *,
        cancel_on_reject: bool = False,
        trace: Tracing | None = None,
    ) -> HermeticRun:
        """Run ``spec`` (already ``self.spec``'d) with ``server`` behind the hermetic
        endpoints; with ``cancel_on_reject``, stopped as soon as a client refuses our
        certificate (then ``trace`` is not used)."""
        hermetic = HermeticServer(server, self.ca, self.opts, capture_port=self.port)
        thread = HermeticThread(hermetic)
        result: RunResult | None = None
        error: str | None = None
        try:
            if cancel_on_reject:
                with cancel_on_rejection(hermetic) as cancel:
                    result = sandbox.run(spec, serve=thread.serving, cancel=cancel)
            elif trace is not None:
                result = sandbox.run(spec, serve=thread.serving, trace=trace)
            else:
                result = sandbox.run(spec, serve=thread.serving)
        except SandboxError as exc:
            error = str(exc)
        finally:
            thread.stop()
        return HermeticRun(result, error, hermetic, self.trust)

    def learn(self, run: HermeticRun) -> bool:
        """After a run that trusted the system bundle alone: when a client refused our
        certificate, every later run also gets its runtime's CA variable. True when the
        trust changed."""
        if run.refused and not self.trust.variables:
            self.trust = Trust.for_runtimes(self.opts.trust_rows())
            return True
        return False
