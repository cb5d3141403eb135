"""What the gateway knows about who sent an exchange, as ``dimension=value`` pairs (sans-IO).

Dimensions (in the order a report prefers them when several explain a variant equally):

    host             the Host the gateway was reached by (lower case, port dropped)
    credential       the credential's fingerprint (``pw-redacted:…``, set by the
                     gateway's redaction), ``(none)`` without one
    client-subnet    the client's IPv4 /24 or IPv6 /64
    client           the client's address (no port)
    header:NAME      a request header that describes the sender (user-agent,
                     accept-language, anthropic-version, x-stainless-os, ...): every
                     header except transport and credential headers and those whose
                     values are per request (ids, sessions, traces, dates)
    model            the model the request names
    gateway-run      the gateway run (``serve`` instance) that captured it
    upstream         where the gateway passed it on to (``(sink)`` when it answered)

The *sender* of an exchange (what "two distinct clients" counts) is its client address
with its credential fingerprint.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import regex

__all__ = [
    "DIMENSION_ORDER",
    "client_address",
    "dimension_rank",
    "sender",
    "sender_attributes",
    "subnet",
]

DIMENSION_ORDER = (
    "host",
    "credential",
    "client-subnet",
    "client",
    "header:",
    "model",
    "gateway-run",
    "upstream",
)

_TRANSPORT = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "connection",
        "transfer-encoding",
        "accept-encoding",
        "keep-alive",
        "te",
        "expect",
        "accept",
    }
)
_CREDENTIAL = regex.compile(r"auth|key|token|secret|passw|credential|cookie", regex.IGNORECASE)
_PER_REQUEST = regex.compile(
    r"(?:^|[-_])(?:id|ids|session|request|trace|span|idempotency|nonce|date|time|timestamp|"
    r"retry|timeout|traceparent|tracestate|baggage|sentry)(?:[-_]|$)|^traceparent$|^baggage$",
    regex.IGNORECASE,
)
_FINGERPRINT = regex.compile(r"pw-redacted:[0-9a-f]+")


def client_address(client: str | None) -> str | None:
    """The address of a stored ``client`` (``1.2.3.4:5678``, ``[::1]:80``), port dropped."""
    if not client:
        return None
    if client.startswith("["):
        return client[1:].split("]", 1)[0]
    if client.count(":") == 1:
        return client.rsplit(":", 1)[0]
    return client


def subnet(address: str | None) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) of an address; None when it is not an IP address."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _credential(headers: Iterable[tuple[str, str]]) -> str:
    found: list[str] = []
    for name, value in headers:
        if _CREDENTIAL.search(name):
            found.extend(m.group() for m in _FINGERPRINT.finditer(value))
    return ",".join(dict.fromkeys(found)) or "(none)"


def _host(host: str) -> str:
    h = host.strip().lower()
    if h.startswith("["):
        return h.split("]", 1)[0] + "]"
    if h.count(":") == 1:
        h = h.rsplit(":", 1)[0]
    return h or "(none)"


def sender(client: str | None, headers: Iterable[tuple[str, str]]) -> str:
    """Who sent it: the client's address and the credential's fingerprint."""
    return f"{client_address(client) or '(unknown)'} {_credential(headers)}"


def sender_attributes(
    *,
    host: str,
    client: str | None,
    headers: Iterable[tuple[str, str]],
    model: str | None = None,
    run: str | None = None,
    upstream: str | None = None,
) -> list[tuple[str, str]]:
    """The ``(dimension, value)`` pairs of one exchange (module docstring)."""
    headers = list(headers)
    address = client_address(client)
    out = [
        ("host", _host(host)),
        ("credential", _credential(headers)),
        ("client-subnet", subnet(address) or "(unknown)"),
        ("client", address or "(unknown)"),
    ]
    seen: dict[str, str] = {}
    for name, value in headers:
        low = name.lower()
        if low in _TRANSPORT or _CREDENTIAL.search(low) or _PER_REQUEST.search(low):
            continue
        seen[low] = f"{seen[low]}, {value}" if low in seen else value
    out.extend((f"header:{k}", v) for k, v in seen.items())
    out.append(("model", model or "(none)"))
    out.append(("gateway-run", run or "(none)"))
    out.append(("upstream", upstream or "(sink)"))
    return out


def dimension_rank(dimension: str) -> int:
    """Where a dimension comes in ``DIMENSION_ORDER`` (headers share one place)."""
    for i, d in enumerate(DIMENSION_ORDER):
        if dimension == d or (d.endswith(":") and dimension.startswith(d)):
            return i
    return len(DIMENSION_ORDER)
