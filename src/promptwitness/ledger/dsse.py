"""DSSE envelopes (https://github.com/secure-systems-lab/dsse, v1.0) with Ed25519 (sans-IO).

An envelope is the JSON object ``{"payloadType", "payload": base64, "signatures":
[{"keyid", "sig": base64}]}``; each signature is over the pre-authentication encoding
``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` (lengths are
ASCII decimal byte counts). ``keyid`` is the signed-note key ID ``NAME+HEX8`` of the key,
a hint only: verification tries the key the hint names, and every trusted key otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from promptwitness.errors import (  # re-exported
    EnvelopeError as EnvelopeError,
)
from promptwitness.ledger.note import Signer, Verifier

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "Envelope",
    "EnvelopeError",
    "pae",
    "sign",
    "verify",
]


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass(frozen=True)
class EnvelopeSignature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[EnvelopeSignature, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
                for s in self.signatures
            ],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def loads(cls, text: str | bytes) -> Envelope:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EnvelopeError(f"not a DSSE envelope: not JSON ({exc})") from exc
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: object) -> Envelope:
        if not isinstance(data, dict):
            raise EnvelopeError("not a DSSE envelope: not a JSON object")
        ptype, payload, sigs = data.get("payloadType"), data.get("payload"), data.get("signatures")
        if not isinstance(ptype, str) or not isinstance(payload, str):
            raise EnvelopeError("not a DSSE envelope: payloadType and payload must be strings")
        if not isinstance(sigs, list) or not sigs:
            raise EnvelopeError("the envelope has no signatures")
        out: list[EnvelopeSignature] = []
        for s in sigs:
            if not isinstance(s, dict) or not isinstance(s.get("sig"), str):
                raise EnvelopeError("an envelope signature has no 'sig' string")
            keyid = s.get("keyid", "")
            out.append(EnvelopeSignature(str(keyid or ""), _b64(s["sig"], "a signature")))
        return cls(ptype, _b64(payload, "the payload"), tuple(out))


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        try:  # DSSE allows URL-safe base64 as well
            return base64.urlsafe_b64decode(text.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
            raise EnvelopeError(f"{what} is not valid base64") from exc


def sign(payload_type: str, payload: bytes, signers: Sequence[Signer]) -> Envelope:
    if not signers:
        raise EnvelopeError("an envelope needs at least one signer")
    message = pae(payload_type, payload)
    return Envelope(
        payload_type,
        payload,
        tuple(EnvelopeSignature(s.verifier.id, s.sign(message)) for s in signers),
    )


def verify(envelope: Envelope, trusted: Iterable[Verifier]) -> list[Verifier]:
    """The trusted keys that signed ``envelope``; raises ``EnvelopeError`` unless *every*
    trusted key has a valid signature on it. Signatures by other keys are ignored."""
    keys = list(trusted)
    if not keys:
        raise EnvelopeError("no public key to verify the envelope with")
    message = pae(envelope.payload_type, envelope.payload)
    signed: list[Verifier] = []
    for key in keys:
        candidates = [s for s in envelope.signatures if s.keyid == key.id] or [
            s for s in envelope.signatures if not s.keyid
        ]
        if not candidates:
            candidates = list(envelope.signatures)
        if any(key.verify(message, s.sig) for s in candidates):
            signed.append(key)
            continue
        if any(s.keyid == key.id for s in envelope.signatures):
            raise EnvelopeError(f"the signature of {key.id} does not verify")
        raise EnvelopeError(f"the envelope is not signed by {key.id}")
    return signed
