"""An in-memory Rekor v1-like transparency log: canonical entry bodies, SETs, Merkle proofs and signed checkpoints.

    log = RekorLog(hostname="rekor.sealgate.test")
    entry = log.add_hashedrekord(signature=sig, payload_digest=sha256(payload), public_key_or_cert_pem=cert_pem)
    entry.bundle_entry()        # a protobuf-specs TransparencyLogEntry (JSON dict) for Sigstore bundles
    entry.legacy_bundle()       # cosign's ``dev.sigstore.cosign/bundle`` object

Like the public instance, the SET signs the *global* log index while the inclusion proof uses the index inside the
current shard (``index_offset`` apart), the checkpoint origin is ``"<hostname> - <tree id>"`` and its signature
line is named ``<hostname>`` with the first four bytes of the log id as key hint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from . import _merkle
from ._fulcio import key_id

__all__ = ["Entry", "InclusionProof", "RekorLog", "canonical_json", "envelope_json"]

_logger = logging.getLogger(__name__)


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes for the values Rekor signs: objects, arrays, strings, ints and booleans."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def envelope_json(envelope: dict[str, Any]) -> bytes:
    """The compact DSSE envelope Rekor hashes for ``envelopeHash``: payload, payloadType, signatures[{keyid?, sig}]."""
    signatures = []
    for signature in envelope["signatures"]:
        item = {"keyid": signature["keyid"]} if signature.get("keyid") else {}
        item["sig"] = signature["sig"]
        signatures.append(item)
    compact = {"payload": envelope["payload"], "payloadType": envelope["payloadType"], "signatures": signatures}
    return json.dumps(compact, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class InclusionProof:
    log_index: int  # index inside the shard
    tree_size: int
    root_hash: bytes
    hashes: list[bytes]
    checkpoint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "logIndex": str(self.log_index),
            "rootHash": _b64(self.root_hash),
            "treeSize": str(self.tree_size),
            "hashes": [_b64(h) for h in self.hashes],
            "checkpoint": {"envelope": self.checkpoint},
        }


@dataclass(frozen=True)
class Entry:
    """One integrated entry, with everything a bundle or a cosign bundle annotation carries about it."""

    body: bytes  # canonicalized JSON body
    kind: str
    api_version: str
    log_index: int  # global index, the one the SET signs
    integrated_time: int
    log_id: str  # hex SHA-256 of the log's SPKI DER
    signed_entry_timestamp: bytes
    proof: InclusionProof = field(repr=False)

    def set_payload(self) -> dict[str, Any]:
        """The object whose RFC 8785 bytes the SET signs."""
        return {
            "body": _b64(self.body),
            "integratedTime": self.integrated_time,
            "logID": self.log_id,
            "logIndex": self.log_index,
        }

    def bundle_entry(self, *, promise: bool = True, proof: bool = True) -> dict[str, Any]:
        """A protobuf-specs ``TransparencyLogEntry`` in JSON form (int64 values as strings)."""
        entry: dict[str, Any] = {
            "logIndex": str(self.log_index),
            "logId": {"keyId": _b64(bytes.fromhex(self.log_id))},
            "kindVersion": {"kind": self.kind, "version": self.api_version},
            "integratedTime": str(self.integrated_time),
        }
        if promise:
            entry["inclusionPromise"] = {"signedEntryTimestamp": _b64(self.signed_entry_timestamp)}
        if proof:
            entry["inclusionProof"] = self.proof.to_dict()
        entry["canonicalizedBody"] = _b64(self.body)
        return entry

    def legacy_bundle(self) -> dict[str, Any]:
        """cosign's ``dev.sigstore.cosign/bundle`` object (Go field order, capitalised outer keys)."""
        return {
            "SignedEntryTimestamp": _b64(self.signed_entry_timestamp),
            "Payload": {
                "body": _b64(self.body),
                "integratedTime": self.integrated_time,
                "logIndex": self.log_index,
                "logID": self.log_id,
            },
        }


class RekorLog:
    """An append-only log signed with an ECDSA P-256 key; every append also adds ``fillers_after`` foreign entries."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey | None = None,
        *,
        hostname: str = "rekor.sealgate.test",
        tree_id: int | None = None,
        index_offset: int = 1000,
        prefill: int = 3,
        fillers_after: int = 2,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.key = key or ec.generate_private_key(ec.SECP256R1())
        self.log_id_bytes = key_id(self.key.public_key())
        self.log_id = self.log_id_bytes.hex()
        self.hostname = hostname
        self.tree_id = tree_id if tree_id is not None else 1_000_000_000_000_000_000 + secrets.randbelow(10**18)
        self.origin = f"{hostname} - {self.tree_id}"
        self.index_offset = index_offset
        self.fillers_after = fillers_after
        self._clock = clock
        self._bodies: list[bytes] = []
        self._leaves: list[bytes] = []
        self.entries: list[Entry] = []
        for _ in range(prefill):
            self._append(self._filler())

    @property
    def public_key_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def size(self) -> int:
        return len(self._leaves)

    # --- writing -------------------------------------------------------------------------------------------

    def add_hashedrekord(
        self,
        *,
        signature: bytes,
        payload_digest: bytes,
        public_key_or_cert_pem: bytes,
        integrated_time: int | None = None,
    ) -> Entry:
        """Log a hashedrekord 0.0.1 entry: sha256 ``payload_digest`` (raw 32 bytes), signature, PEM key or cert."""
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": payload_digest.hex()}},
                "signature": {"content": _b64(signature), "publicKey": {"content": _b64(public_key_or_cert_pem)}},
            },
        }
        return self.add_body(canonical_json(body), "hashedrekord", "0.0.1", integrated_time=integrated_time)

    def add_dsse(self, envelope: dict[str, Any], verifier_pem: bytes, *, integrated_time: int | None = None) -> Entry:
        """Log a dsse 0.0.1 entry for an envelope dict (``payload`` base64, ``signatures[].sig`` base64)."""
        payload = base64.b64decode(envelope["payload"])
        body = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(envelope_json(envelope)).hexdigest()},
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                "signatures": [
                    {"signature": signature["sig"], "verifier": _b64(verifier_pem)}
                    for signature in envelope["signatures"]
                ],
            },
        }
        return self.add_body(canonical_json(body), "dsse", "0.0.1", integrated_time=integrated_time)

    def add_body(self, body: bytes, kind: str, api_version: str, *, integrated_time: int | None = None) -> Entry:
        """Integrate an already canonical body; returns the entry with its SET and an inclusion proof."""
        local_index = self._append(body)
        for _ in range(self.fillers_after):
            self._append(self._filler())
        when = integrated_time if integrated_time is not None else self._now()
        unsigned = Entry(
            body=body,
            kind=kind,
            api_version=api_version,
            log_index=self.index_offset + local_index,
            integrated_time=when,
            log_id=self.log_id,
            signed_entry_timestamp=b"",
            proof=self.inclusion_proof(local_index),
        )
        entry = replace(unsigned, signed_entry_timestamp=self.sign_set(unsigned.set_payload()))
        self.entries.append(entry)
        _logger.debug("integrated %s entry %d", kind, entry.log_index)
        return entry

    def sign_set(self, payload: dict[str, Any]) -> bytes:
        return self.key.sign(canonical_json(payload), ec.ECDSA(hashes.SHA256()))

    # --- reading -------------------------------------------------------------------------------------------

    def root(self, size: int | None = None) -> bytes:
        return _merkle.tree_root(self._leaves[: self.size if size is None else size])

    def inclusion_proof(self, local_index: int, tree_size: int | None = None) -> InclusionProof:
        size = self.size if tree_size is None else tree_size
        leaves = self._leaves[:size]
        return InclusionProof(
            log_index=local_index,
            tree_size=size,
            root_hash=_merkle.tree_root(leaves),
            hashes=_merkle.inclusion_proof(leaves, local_index),
            checkpoint=self.checkpoint(size),
        )

    def checkpoint(self, size: int | None = None) -> str:
        """A C2SP signed note over ``origin``, ``size`` and the base64 root, signed ECDSA-SHA256 by the log key."""
        size = self.size if size is None else size
        text = f"{self.origin}\n{size}\n{_b64(self.root(size))}\n"
        signature = self.key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
        return f"{text}\n\u2014 {self.hostname} {_b64(self.log_id_bytes[:4] + signature)}\n"

    # --- internals -----------------------------------------------------------------------------------------

    def _now(self) -> int:
        if self._clock is None:
            raise ValueError("no integrated_time given and the log has no clock")
        return self._clock()

    def _append(self, body: bytes) -> int:
        self._bodies.append(body)
        self._leaves.append(_merkle.leaf_hash(body))
        return len(self._leaves) - 1

    @staticmethod
    def _filler() -> bytes:
        """Someone else's entry: a hashedrekord-shaped body with random values."""
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {"data": {"hash": {"algorithm": "sha256", "value": secrets.token_hex(32)}}},
        }
        return canonical_json(body)
