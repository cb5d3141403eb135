"""The hermetic mode's TLS: a CA made for one probe, certificates minted per name.

- :class:`CertificateAuthority` — ``generate()`` makes a self-signed CA (basicConstraints
  CA:true pathlen 0, keyUsage keyCertSign/cRLSign, SKI, valid 2 days and backdated 1 hour
  so a clock a little behind still accepts it). Its private key lives only in this
  process's memory: :meth:`~CertificateAuthority.pem` gives the certificate, never the
  key, and nothing here writes the key anywhere. :meth:`~CertificateAuthority.mint`
  returns a leaf certificate + key (PEM) for a DNS name or an IP address (SAN dNSName or
  iPAddress, EKU serverAuth, AKI/SKI so strict verifiers such as Python 3.13's
  ``VERIFY_X509_STRICT`` accept it), cached per name, thread-safe. All leaves of one CA
  share one leaf key (made once; mitmproxy does the same), so minting is one signature.
- :class:`TlsTerminator` — the server side. ``context()`` returns a fresh, cheap
  (~0.2 ms) *front* context per connection whose ``sni_callback`` switches the handshake
  to the per-name context (cached) of the name the client asked for; a ClientHello
  without SNI gets ``default_host``'s certificate and is recorded as such. The record
  (:class:`TlsHandshake`) is completed by whoever runs the handshake
  (:func:`promptwitness.capture.connect.accept_tls`) with the outcome: ok, or the
  failure classified (``client-rejected-certificate``, ``not-tls``, ...). Leaf keys reach
  OpenSSL through an anonymous memory file (``memfd``), not the file system.
- :func:`server_context` — one shared front context for a server that cannot make one
  per connection (it records hellos, not outcomes).
- :func:`bundle_with` — the system CA bundle plus our CA, for the sandbox to mount over
  the bundle files (:data:`SYSTEM_BUNDLE_FILES`) in the run's mount namespace.
- :data:`CA_TRUST` — which runtimes trust the system bundle and which need their own
  variable, with the source of each fact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import re
import secrets
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyKind = Literal["ec-p256", "rsa-2048"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

DEFAULT_VALIDITY = dt.timedelta(days=2)
BACKDATE = dt.timedelta(hours=1)
DEFAULT_ALPN = ("http/1.1",)


def _new_key(kind: KeyKind) -> PrivateKey:
    if kind == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key kind {kind!r} (ec-p256, rsa-2048)")


_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z")


def normalise_host(host: str) -> str:
    """``host`` lower-cased, without a trailing dot, checked; ValueError if not a DNS
    name (A-labels: letters, digits, ``-``, ``_``) or an IP address."""
    if not isinstance(host, str):
        raise ValueError("host name must be a string")
    h = host.strip().lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(h))
    h = h.removesuffix(".")
    if not h or len(h) > 253 or not all(_LABEL.match(lb) for lb in h.split(".")):
        raise ValueError(f"not a host name: {host!r}")
    return h


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class CertificateAuthority:
    """A probe's CA; the private key never leaves this object."""

    def __init__(self, cert: x509.Certificate, key: PrivateKey, key_kind: KeyKind) -> None:
        self.cert = cert
        self.__key = key
        self.key_kind: KeyKind = key_kind
        self._lock = threading.Lock()
        self._leaf_key: PrivateKey | None = None
        self._leaves: dict[str, tuple[bytes, bytes]] = {}

    @classmethod
    def generate(
        cls,
        name: str | None = None,
        key: KeyKind = "ec-p256",
        *,
        validity: dt.timedelta = DEFAULT_VALIDITY,
        now: dt.datetime | None = None,
    ) -> CertificateAuthority:
        if name is None:
            name = f"promptwitness probe CA {secrets.token_hex(4)}"
        if not 0 < len(name) <= 64:
            raise ValueError("CA name must be 1..64 characters (X.520 CN upper bound)")
        now = now or dt.datetime.now(dt.UTC)
        k = _new_key(key)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "promptwitness"),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(k.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            .sign(k, hashes.SHA256())
        )
        return cls(cert, k, key)

    @property
    def name(self) -> str:
        attrs = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else ""

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate (DER), hex."""
        return self.cert.fingerprint(hashes.SHA256()).hex()

    def pem(self) -> bytes:
        """The CA certificate in PEM. Never the key."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write_certificate(self, path: Path) -> Path:
        """Write the CA *certificate* (only) to ``path``."""
        path.write_bytes(self.pem())
        return path

    def minted(self) -> list[str]:
        with self._lock:
            return list(self._leaves)

    def mint(self, hostname: str) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) for ``hostname`` (a DNS name or an IP address)."""
        host = normalise_host(hostname)
        with self._lock:
            cached = self._leaves.get(host)
            if cached is not None:
                return cached
            if self._leaf_key is None:
                self._leaf_key = _new_key(self.key_kind)
            leaf = self._sign_leaf(host, self._leaf_key)
            out = (leaf.public_bytes(serialization.Encoding.PEM), _pem_key(self._leaf_key))
            self._leaves[host] = out
            return out

    def _sign_leaf(self, host: str, key: PrivateKey) -> x509.Certificate:
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            san = x509.DNSName(host)
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, host)] if len(host) <= 64 else []
        )
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.cert.not_valid_before_utc)
            .not_valid_after(self.cert.not_valid_after_utc)
            .add_extension(x509.SubjectAlternativeName([san]), critical=not subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=is_rsa,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value),
                critical=False,
            )
            .sign(self.__key, hashes.SHA256())
        )


# --- server side ----------------------------------------------------------------------


@contextlib.contextmanager
def _memory_file(data: bytes) -> Iterator[str]:
    """A path OpenSSL can read ``data`` from; a memfd on Linux (never on a disk)."""
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None and os.path.isdir("/proc/self/fd"):
        fd = memfd("promptwitness-leaf", getattr(os, "MFD_CLOEXEC", 0))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="pw-tls-") as d:  # fallback: 0700, removed
        p = Path(d) / "leaf.pem"
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield str(p)


@dataclass
class TlsHandshake:
    """One TLS handshake as the report shows it (mutable until its outcome is known)."""

    peer: str | None = None
    sni: str | None = None  # what the client sent; None: no SNI
    served: str | None = None  # the name on the certificate we presented
    ok: bool | None = None  # None: outcome not (yet) reported
    reason: str | None = None  # "client-rejected-certificate", "not-tls", ...
    error: str | None = None  # the error text
    alpn: str | None = None
    version: str | None = None
    time: float = field(default_factory=time.time)

    @property
    def no_sni(self) -> bool:
        return self.served is not None and self.sni is None

    def as_dict(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "sni": self.sni,
            "served": self.served,
            "ok": self.ok,
            "reason": self.reason,
            "error": self.error,
            "alpn": self.alpn,
            "version": self.version,
            "time": self.time,
        }


class TlsLog:
    """Thread-safe list of handshakes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[TlsHandshake] = []

    def record(self, entry: TlsHandshake) -> TlsHandshake:
        with self._lock:
            if not any(e is entry for e in self._entries):
                self._entries.append(entry)
        return entry

    def entries(self) -> list[TlsHandshake]:
        with self._lock:
            return list(self._entries)

    def failures(self) -> list[TlsHandshake]:
        return [e for e in self.entries() if e.ok is False]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# OpenSSL reasons (lower-case, as in ssl.SSLError.reason or its text) by what they mean.
_REJECT_ALERTS = (
    "unknown_ca",
    "unknown ca",
    "bad_certificate",
    "bad certificate",
    "certificate_unknown",
    "certificate unknown",
    "certificate_expired",
    "certificate expired",
    "unsupported_certificate",
    "unsupported certificate",
    "certificate_revoked",
    "certificate revoked",
    "decrypt_error",
    "decrypt error",
    "access_denied",
    "access denied",
)
_NOT_TLS = (
    "http_request",
    "http request",
    "https_proxy_request",
    "https proxy request",
    "wrong_version_number",
    "wrong version number",
    "unknown_protocol",
    "unknown protocol",
    "packet_length_too_long",
    "packet length too long",
    "record_layer_failure",
    "record layer failure",
    "unexpected_record",
    "unexpected record",
)


def classify_failure(exc: BaseException) -> tuple[str, str]:
    """(reason, text) for a failed server-side handshake.

    reason: ``client-rejected-certificate`` (the client sent a certificate alert: it does
    not trust our CA), ``not-tls`` (the bytes were not a TLS ClientHello, e.g. plain
    HTTP), ``no-shared-cipher``, ``timeout``, ``closed`` (the peer hung up mid-way),
    ``tls-error`` (any other TLS error) or ``error``.
    """
    text = str(exc) or type(exc).__name__
    low = text.lower() + " " + str(getattr(exc, "reason", "") or "").lower()
    if isinstance(exc, TimeoutError) or (
        isinstance(exc, ConnectionAbortedError) and "taking longer" in low
    ):
        return "timeout", "handshake timed out"  # asyncio's ssl_handshake_timeout
    if isinstance(exc, ssl.SSLError):
        if "alert" in low and any(a in low for a in _REJECT_ALERTS):
            alert = next(a for a in _REJECT_ALERTS if a in low).replace("_", " ")
            return (
                "client-rejected-certificate",
                f"client rejected the certificate: tlsv1 alert {alert}",
            )
        if any(a in low for a in _NOT_TLS):
            return "not-tls", f"not a TLS ClientHello: {text}"
        if "no shared cipher" in low or "no_shared_cipher" in low:
            return "no-shared-cipher", text
        if isinstance(exc, ssl.SSLEOFError) or "eof" in low:
            return "closed", f"peer closed during the handshake: {text}"
        return "tls-error", text
    if isinstance(exc, ConnectionError | EOFError):
        return "closed", f"peer closed during the handshake: {text}"
    return "error", f"{type(exc).__name__}: {text}"


class TlsTerminator:
    """Server-side TLS with certificates minted per SNI name."""

    def __init__(
        self,
        ca: CertificateAuthority,
        default_host: str = "localhost",
        *,
        log: TlsLog | None = None,
        alpn: Iterable[str] = DEFAULT_ALPN,
    ) -> None:
        self.ca = ca
        self.default_host = normalise_host(default_host)
        self.log = log if log is not None else TlsLog()
        self.alpn = tuple(alpn)
        self._lock = threading.Lock()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self.host_context(self.default_host)  # fail now, not in a handshake

    def _base(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.alpn:
            ctx.set_alpn_protocols(list(self.alpn))
        return ctx

    def host_context(self, host: str) -> ssl.SSLContext:
        """The (cached) context holding the minted certificate for ``host``."""
        name = normalise_host(host)
        with self._lock:
            ctx = self._contexts.get(name)
        if ctx is not None:
            return ctx
        cert_pem, key_pem = self.ca.mint(name)
        ctx = self._base()
        with _memory_file(cert_pem + key_pem) as path:
            ctx.load_cert_chain(path)
        with self._lock:
            return self._contexts.setdefault(name, ctx)

    def _pick(self, server_name: str | None, hello: TlsHandshake) -> ssl.SSLContext:
        hello.sni = server_name
        try:
            name = self.default_host if server_name is None else normalise_host(server_name)
            ctx = self.host_context(name)
        except ValueError as e:
            hello.error = f"bad SNI {server_name!r}: {e}; served {self.default_host}"
            name, ctx = self.default_host, self.host_context(self.default_host)
        hello.served = name
        return ctx

    def context(self, peer: str | None = None) -> tuple[ssl.SSLContext, TlsHandshake]:
        """A front context for one connection and the handshake record it fills in.

        The record is added to the log when the ClientHello arrives (sni, served); the
        caller sets its outcome (see ``connect.accept_tls``).
        """
        hello = TlsHandshake(peer=peer)
        return self._front(lambda: hello), hello

    def shared_context(self) -> ssl.SSLContext:
        """One front context for many connections: each ClientHello is recorded
        (sni, served) with ``ok`` None — the outcome is not known here."""
        return self._front(TlsHandshake)

    def _front(self, record: Callable[[], TlsHandshake]) -> ssl.SSLContext:
        """A front context whose SNI callback switches to the minted certificate's
        context and logs the ClientHello in the record ``record()`` gives."""
        front = self._base()

        def on_sni(
            sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext
        ) -> int | None:
            hello = record()
            try:
                sslobj.context = self._pick(server_name, hello)
            except Exception as e:  # never raise into OpenSSL's callback
                hello.error = f"certificate for {server_name!r} failed: {e}"
                return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
            finally:
                self.log.record(hello)
            return None

        front.sni_callback = on_sni
        return front


def server_context(
    ca: CertificateAuthority,
    default_host: str = "localhost",
    *,
    log: TlsLog | None = None,
    alpn: Iterable[str] = DEFAULT_ALPN,
) -> ssl.SSLContext:
    """A server context minting per SNI name; no SNI → ``default_host``'s certificate."""
    return TlsTerminator(ca, default_host, log=log, alpn=alpn).shared_context()


# --- trust ---------------------------------------------------------------------------

# Where Linux distributions keep the system bundle (the list Go's crypto/x509 probes,
# src/crypto/x509/root_linux.go); the sandbox mounts bundle_with(...) over each that
# exists inside the run's mount namespace.
SYSTEM_BUNDLE_FILES: tuple[str, ...] = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian/Ubuntu/Gentoo/Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora/RHEL 6
    "/etc/ssl/ca-bundle.pem",  # OpenSUSE
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # CentOS/RHEL 7
    "/etc/ssl/cert.pem",  # Alpine
)
DEFAULT_SYSTEM_BUNDLE = SYSTEM_BUNDLE_FILES[0]


def bundle_with(
    ca_pem: bytes,
    system_bundle_path: str | Path = DEFAULT_SYSTEM_BUNDLE,
) -> bytes:
    """The system bundle followed by our CA certificate (PEM).

    A missing system bundle gives our CA alone. Raises ValueError when ``ca_pem`` holds
    anything but certificates (a private key must never end up in a bundle).
    """
    if b"PRIVATE KEY" in ca_pem or b"-----BEGIN CERTIFICATE-----" not in ca_pem:
        raise ValueError("ca_pem must hold certificates only")
    try:
        system = Path(system_bundle_path).read_bytes()
    except FileNotFoundError:
        system = b""
    if system and not system.endswith(b"\n"):
        system += b"\n"
    ca = ca_pem if ca_pem.endswith(b"\n") else ca_pem + b"\n"
    return system + b"# promptwitness probe CA\n" + ca


@dataclass(frozen=True)
class RuntimeTrust:
    """How one runtime/library decides which CAs it trusts."""

    runtime: str
    system_bundle: bool  # trusts the system bundle files by default
    variables: tuple[str, ...]  # variables that add or set the CA, in precedence order
    semantics: Literal["extends", "replaces", "none"]  # extends the default set, or replaces it
    note: str
    sources: tuple[str, ...]


# For "replaces" variables point them at bundle_with(...) (system + our CA), not at our CA
# alone, or every other host stops verifying. "extends" variables can take the CA alone.
CA_TRUST: dict[str, RuntimeTrust] = {
    t.runtime: t
    for t in (
        RuntimeTrust(
            "openssl",
            True,
            ("SSL_CERT_FILE", "SSL_CERT_DIR"),
            "replaces",
            "OpenSSL's default verify paths (OPENSSLDIR/cert.pem, certs/); curl, git, "
            "Python's ssl.create_default_context (urllib, aiohttp), Ruby",
            (
                "https://peps.python.org/pep-0476/#trust-database",
                "https://docs.openssl.org/master/man3/SSL_CTX_load_verify_locations/",
            ),
        ),
        RuntimeTrust(
            "node",
            False,
            ("NODE_EXTRA_CA_CERTS",),
            "extends",
            "bundled Mozilla roots, system bundle ignored unless NODE_USE_SYSTEM_CA=1 / "
            "--use-system-ca (recent Node) or --use-openssl-ca; NODE_EXTRA_CA_CERTS is read "
            "once at start-up and ignored for setuid binaries or files with capabilities",
            (
                "https://nodejs.org/api/cli.html#node_extra_ca_certsfile",
                "https://github.com/nodejs/node/commit/471fe712b3 (NODE_USE_SYSTEM_CA)",
            ),
        ),
        RuntimeTrust(
            "bun",
            False,
            ("NODE_EXTRA_CA_CERTS",),
            "extends",
            "bundled Mozilla roots by default; honours NODE_EXTRA_CA_CERTS (a regression in "
            "1.3.2, oven-sh/bun#24581) and NODE_USE_SYSTEM_CA; reported to also read "
            "SSL_CERT_FILE/SSL_CERT_DIR through OpenSSL default paths (unmerged docs PR)",
            (
                "https://github.com/oven-sh/bun/issues/13867",
                "https://github.com/oven-sh/bun/issues/24581",
                "https://github.com/oven-sh/bun/pull/22441",
                "https://github.com/oven-sh/bun/pull/42970",
                "https://github.com/monasticacademy/httptap/pull/9",
            ),
        ),
        RuntimeTrust(
            "deno",
            False,
            ("DENO_CERT",),
            "extends",
            "bundled roots (DENO_TLS_CA_STORE=system switches to the system store); does not "
            "read SSL_CERT_FILE; newer versions also honour NODE_EXTRA_CA_CERTS",
            (
                "https://github.com/monasticacademy/httptap/pull/9",
                "denoland/deno feat(ext/node): support NODE_EXTRA_CA_CERTS (#33148)",
            ),
        ),
        RuntimeTrust(
            "python-requests",
            False,
            ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
            "replaces",
            "certifi's bundle by default, not the system's",
            (
                "https://requests.readthedocs.io/en/latest/user/advanced/#ssl-cert-verification",
                "https://github.com/psf/requests/commit/7104ad4b135daab0ed19d8e41bd469874702342b",
            ),
        ),
        RuntimeTrust(
            "python-httpx",
            False,
            ("SSL_CERT_FILE", "SSL_CERT_DIR"),
            "replaces",
            "certifi's bundle by default (openai and anthropic Python SDKs, litellm); the "
            "variables apply when trust_env is on (documented on the environment page of the "
            "versions we checked; verify per version)",
            (
                "https://www.python-httpx.org/advanced/ssl/",
                "https://www.python-httpx.org/environment_variables/",
            ),
        ),
        RuntimeTrust(
            "rust-native-certs",
            True,
            ("SSL_CERT_FILE", "SSL_CERT_DIR"),
            "replaces",
            "rustls-native-certs: the system bundle found by openssl-probe; if either "
            "variable is set, only those locations are loaded",
            (
                "https://docs.rs/rustls-native-certs/0.7.3/rustls_native_certs/fn.load_native_certs.html",
            ),
        ),
        RuntimeTrust(
            "rust-webpki-roots",
            False,
            (),
            "none",
            "compiled-in Mozilla roots: nothing outside the binary can add a CA, so TLS to "
            "the capture endpoint cannot succeed (record it as such)",
            ("https://docs.rs/webpki-roots",),
        ),
        RuntimeTrust(
            "codex",
            True,
            ("CODEX_CA_CERTIFICATE", "SSL_CERT_FILE"),
            "replaces",
            "Codex CLI (Rust, reqwest): CODEX_CA_CERTIFICATE, else SSL_CERT_FILE, for its "
            "HTTPS and websocket clients",
            (
                "https://github.com/openai/codex/pull/6864",
                "https://github.com/openai/codex/pull/14239",
            ),
        ),
        RuntimeTrust(
            "go",
            True,
            ("SSL_CERT_FILE", "SSL_CERT_DIR"),
            "replaces",
            "crypto/x509 reads the system bundle files above; the variables override them",
            (
                "https://pkg.go.dev/crypto/x509#SystemCertPool",
                "https://go.dev/src/crypto/x509/root_unix.go",
            ),
        ),
    )
}


def ca_variables(runtimes: Iterable[str], ca_file: str, bundle_file: str) -> dict[str, str]:
    """The variables to set for ``runtimes`` that ignore the system bundle.

    "extends" variables get ``ca_file`` (our CA alone); "replaces" variables get
    ``bundle_file`` (system + our CA). Runtimes that trust the system bundle add
    nothing: the mounted bundle is enough, which is the point of recording which way
    was needed. Unknown runtime names raise KeyError.
    """
    env: dict[str, str] = {}
    for name in runtimes:
        trust = CA_TRUST[name]
        if trust.system_bundle:
            continue
        for var in trust.variables:
            env[var] = ca_file if trust.semantics == "extends" else bundle_file
    return env
