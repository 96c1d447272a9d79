"""A private, offline Sigstore for tests: Fulcio-like CA, CT log, Rekor v1-like log and an RFC 3161 TSA.

Everything it emits is byte-compatible with what Fulcio, Rekor and cosign produce (FORMATS.md sections 1-7) and is
verified in its own tests by sigstore-python against the ``trusted_root.json`` it writes:

    ss = TestSigstore(tmp_path)
    layer = ss.sign_image_legacy(digest="sha256:...", docker_reference="127.0.0.1:5000/app",
                                 identity="dev@example.com", issuer="https://issuer.example")
    layer["payload"], layer["annotations"]          # the .sig layer cosign writes keylessly
    bundle = ss.sign_bundle(statement=ss.statement_for_image("sha256:...", "https://sigstore.dev/cosign/sign/v1"),
                            identity="dev@example.com", issuer="https://issuer.example")
    ss.trusted_root_path                           # trusted_root.json for the verifier

``tamper=`` makes bad artifacts whose one defect is named (see :data:`TAMPERS`). Nothing here touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ._fulcio import CertificateAuthority, CTLog, IssuerExtensions, issue_leaf, key_id, spki_der
from ._rekor import Entry, InclusionProof, RekorLog
from ._tsa import TimestampAuthority
from .localregistry import ToolError

__all__ = [
    "BUNDLE_MEDIA_TYPES",
    "COSIGN_SIGN_PREDICATE",
    "INTOTO_PAYLOAD_TYPE",
    "TAMPERS",
    "TRUSTED_ROOT_MEDIA_TYPE",
    "Entry",
    "SigningKey",
    "TestSigstore",
    "pae",
    "simple_signing_payload",
]

_logger = logging.getLogger(__name__)

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
BUNDLE_MEDIA_TYPES = {
    "0.1": "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "0.2": "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "0.3": "application/vnd.dev.sigstore.bundle.v0.3+json",
}
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

#: What each ``tamper`` value breaks (everything else stays valid):
TAMPERS: dict[str, str] = {
    "bad-set": "the SET (inclusion promise) does not verify over the entry",
    "bad-proof": "one inclusion-proof hash is flipped, so the root does not recompute",
    "bad-checkpoint": "the checkpoint is signed by a key that is not the log's",
    "bad-signature": "the artifact signature is over other bytes (the log entry records that signature)",
    "body-mismatch": "the log entry records another payload digest",
    "expired-cert": "the entry's integrated time (and TSA time) is after the certificate expired",
    "untrusted-ca": "the certificate is issued by a CA with the same names that is not in the trusted root",
    "no-sct": "the certificate has no embedded SCT",
    "no-promise": "the tlog entry has no inclusion promise (bundles only)",
    "bad-tsa": "the RFC 3161 timestamp's CMS signature does not verify (bundles with tsa=True only)",
}

_CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
_CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
_BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pem(certificates: list[x509.Certificate]) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)


def _public_pem(key: SigningKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _go_json(value: Any) -> bytes:
    """Compact JSON the way Go's encoding/json writes it (HTML characters escaped, insertion order kept)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode()


def simple_signing_payload(digest: str, docker_reference: str, annotations: dict[str, str] | None = None) -> bytes:
    """The cosign simple-signing payload (FORMATS.md section 2), byte for byte."""
    return _go_json(
        {
            "critical": {
                "identity": {"docker-reference": docker_reference},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": dict(sorted(annotations.items())) if annotations else None,
        }
    )


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _hash_for(key: SigningKey) -> hashes.HashAlgorithm:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {384: hashes.SHA384(), 521: hashes.SHA512()}.get(key.curve.key_size, hashes.SHA256())
    return hashes.SHA256()


def _sign(key: SigningKey, data: bytes) -> bytes:
    """Sign with the key's default algorithm (FORMATS.md section 2; pure Ed25519)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(_hash_for(key)))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data)


def _sign_sha256_digest(key: SigningKey, digest: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    raise ToolError("an Ed25519 key cannot sign a prehashed message digest")


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


class TestSigstore:
    """A self-contained Sigstore instance whose trust material lives in ``workdir``."""

    __test__ = False  # not a pytest test class, despite the name

    Log = RekorLog

    def __init__(
        self, workdir: Path, *, now: datetime | None = None, with_tsa: bool = True, hostname: str = "sealgate.test"
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        self.valid_from = self.now - timedelta(days=1)
        valid_until = self.now + timedelta(days=3650)
        self.fulcio = CertificateAuthority.generate(not_before=self.valid_from, not_after=valid_until)
        self.ct_log = CTLog()
        self.log = RekorLog(hostname=f"rekor.{hostname}", clock=lambda: int(self.now.timestamp()))
        self.tsa = TimestampAuthority(not_before=self.valid_from, not_after=valid_until) if with_tsa else None
        self._hostname = hostname
        self._rogue: CertificateAuthority | None = None
        self.trusted_root = self._trusted_root()
        self.trusted_root_path = self.workdir / "trusted_root.json"
        self.trusted_root_path.write_text(json.dumps(self.trusted_root, indent=2) + "\n")
        (self.workdir / "rekor.pub").write_bytes(self.log.public_key_pem)
        (self.workdir / "ctfe.pub").write_bytes(_public_pem(self.ct_log.key))
        (self.workdir / "fulcio_chain.pem").write_bytes(_pem(self.fulcio.chain))
        _logger.debug("test sigstore ready in %s", self.workdir)

    # --- trust material ------------------------------------------------------------------------------------

    def _tlog_instance(self, base_url: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
        public_key = key.public_key()
        return {
            "baseUrl": base_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": _b64(spki_der(public_key)),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": _rfc3339(self.valid_from)},
            },
            "logId": {"keyId": _b64(key_id(public_key))},
        }

    def _trusted_root(self) -> dict[str, Any]:
        def chain(certificates: list[x509.Certificate]) -> dict[str, Any]:
            return {
                "certificates": [{"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))} for c in certificates]
            }

        root: dict[str, Any] = {
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": [self._tlog_instance(f"https://{self.log.hostname}", self.log.key)],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "sealgate.test", "commonName": "fulcio"},
                    "uri": f"https://fulcio.{self._hostname}",
                    "certChain": chain(self.fulcio.chain),
                    "validFor": {"start": _rfc3339(self.valid_from)},
                }
            ],
            "ctlogs": [self._tlog_instance(f"https://ctfe.{self._hostname}/test", self.ct_log.key)],
            "timestampAuthorities": [],
        }
        if self.tsa is not None:
            root["timestampAuthorities"].append(
                {
                    "subject": {"organization": "sealgate.test", "commonName": "tsa-signer"},
                    "uri": f"https://tsa.{self._hostname}/api/v1/timestamp",
                    "certChain": chain(self.tsa.chain),
                    "validFor": {"start": _rfc3339(self.valid_from)},
                }
            )
        return root

    # --- certificates --------------------------------------------------------------------------------------

    def issue_certificate(
        self,
        *,
        identity: str,
        issuer: str,
        not_before: datetime | None = None,
        lifetime: timedelta = timedelta(minutes=10),
        key: SigningKey | None = None,
        extensions: IssuerExtensions = "both",
        sct: bool = True,
        trusted: bool = True,
    ) -> tuple[SigningKey, x509.Certificate, list[x509.Certificate]]:
        """A Fulcio-profile leaf for ``identity`` (email or URI SAN) and OIDC ``issuer``.

        Returns ``(private key, leaf, [intermediate, root])``. By default the leaf is valid from a minute before
        :attr:`now` for ``lifetime``; ``trusted=False`` issues it from a look-alike CA absent from the trusted root.
        """
        key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
        start = (not_before or self.now - timedelta(minutes=1)).astimezone(UTC)
        ca = self.fulcio if trusted else self._rogue_ca()
        cert = issue_leaf(
            ca,
            self.ct_log if sct else None,
            public_key=key.public_key(),
            identity=identity,
            issuer=issuer,
            not_before=start,
            not_after=start + lifetime,
            extensions=extensions,
        )
        return key, cert, ca.chain

    def _rogue_ca(self) -> CertificateAuthority:
        if self._rogue is None:
            self._rogue = CertificateAuthority.generate(
                not_before=self.valid_from, not_after=self.valid_from + timedelta(days=3650)
            )
        return self._rogue

    def _keyless(
        self, identity: str, issuer: str | None, key: SigningKey | None, tamper: str | None
    ) -> tuple[SigningKey, x509.Certificate, list[x509.Certificate]]:
        if not issuer:
            raise ToolError("a keyless signature needs an OIDC issuer")
        return self.issue_certificate(
            identity=identity,
            issuer=issuer,
            key=key,
            sct=tamper != "no-sct",
            trusted=tamper != "untrusted-ca",
        )

    # --- the transparency log ------------------------------------------------------------------------------

    def cosign_bundle_annotation(self, entry: Entry) -> str:
        """The ``dev.sigstore.cosign/bundle`` annotation value (cosign's legacy SET bundle) for ``entry``."""
        return _go_json(entry.legacy_bundle()).decode()

    def _integrated_time(self, cert: x509.Certificate | None, tamper: str | None) -> int:
        if tamper == "expired-cert" and cert is not None:
            return int((cert.not_valid_after_utc + timedelta(hours=1)).timestamp())
        return int(self.now.timestamp())

    def _tampered_set(self, entry: Entry) -> Entry:
        forged = dict(entry.set_payload(), integratedTime=entry.integrated_time + 1)
        return _replace_entry(entry, signed_entry_timestamp=self.log.sign_set(forged))

    def _tampered_proof(self, entry: Entry) -> Entry:
        hashes_ = list(entry.proof.hashes)
        if not hashes_:
            raise ToolError("the inclusion proof has no hashes to tamper with")
        hashes_[0] = _flip_last_byte(hashes_[0])
        return _replace_entry(entry, proof=_replace_proof(entry, hashes=hashes_))

    def _tampered_checkpoint(self, entry: Entry) -> Entry:
        impostor = ec.generate_private_key(ec.SECP256R1())
        text, _, _ = entry.proof.checkpoint.partition("\n\n")
        signature = impostor.sign((text + "\n").encode(), ec.ECDSA(hashes.SHA256()))
        note = f"{text}\n\n\u2014 {self.log.hostname} {_b64(self.log.log_id_bytes[:4] + signature)}\n"
        return _replace_entry(entry, proof=_replace_proof(entry, checkpoint=note))

    def _apply_log_tamper(self, entry: Entry, tamper: str | None) -> Entry:
        if tamper == "bad-set":
            return self._tampered_set(entry)
        if tamper == "bad-proof":
            return self._tampered_proof(entry)
        if tamper == "bad-checkpoint":
            return self._tampered_checkpoint(entry)
        return entry

    # --- cosign legacy .sig layers -------------------------------------------------------------------------

    def sign_image_legacy(
        self,
        *,
        digest: str,
        docker_reference: str,
        identity: str,
        issuer: str,
        annotations: dict[str, str] | None = None,
        tamper: str | None = None,
        key: SigningKey | None = None,
    ) -> dict[str, Any]:
        """The layer ``cosign sign`` (keyless, legacy tag mode) appends to ``sha256-<hex>.sig``.

        Returns ``{"payload": bytes, "annotations": {signature, certificate, chain, bundle}}``.
        """
        _check_tamper(tamper, allowed=set(TAMPERS) - {"no-promise", "bad-tsa"})
        payload = simple_signing_payload(digest, docker_reference, annotations)
        signing_key, cert, chain = self._keyless(identity, issuer, key, tamper)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        signature = _sign(signing_key, payload + b"!" if tamper == "bad-signature" else payload)
        logged = payload + b"!" if tamper == "body-mismatch" else payload
        entry = self.log.add_hashedrekord(
            signature=signature,
            payload_digest=hashlib.sha256(logged).digest(),
            public_key_or_cert_pem=cert_pem,
            integrated_time=self._integrated_time(cert, tamper),
        )
        entry = self._apply_log_tamper(entry, tamper)
        return {
            "payload": payload,
            "annotations": {
                _SIGNATURE_ANNOTATION: _b64(signature),
                _CERTIFICATE_ANNOTATION: cert_pem.decode(),
                _CHAIN_ANNOTATION: _pem(chain).decode(),
                _BUNDLE_ANNOTATION: self.cosign_bundle_annotation(entry),
            },
        }

    # --- Sigstore bundles ----------------------------------------------------------------------------------

    @staticmethod
    def statement_for_image(
        digest: str, predicate_type: str, predicate: dict[str, Any] | None = None, *, name: str | None = None
    ) -> dict[str, Any]:
        """An in-toto v1 statement about an image digest, shaped like cosign v3's (subject ``annotations: {}``)."""
        algorithm, _, hex_digest = digest.partition(":")
        if not hex_digest:
            raise ToolError(f"digest {digest!r} is not <algorithm>:<hex>")
        subject: dict[str, Any] = {"name": name} if name else {}
        subject["digest"] = {algorithm: hex_digest}
        subject["annotations"] = {}
        statement: dict[str, Any] = {"_type": STATEMENT_V1, "subject": [subject], "predicateType": predicate_type}
        if predicate is not None:
            statement["predicate"] = predicate
        return statement

    def sign_bundle(
        self,
        *,
        artifact_digest: bytes | None = None,
        statement: dict[str, Any] | None = None,
        identity: str | None = None,
        issuer: str | None = None,
        version: str = "0.3",
        key: SigningKey | None = None,
        tsa: bool = False,
        tamper: str | None = None,
    ) -> dict[str, Any]:
        """A Sigstore bundle (protobuf-specs JSON) over a SHA-256 ``artifact_digest`` or an in-toto ``statement``.

        Keyless (Fulcio certificate for ``identity``/``issuer``) when ``identity`` is given, otherwise signed by
        ``key`` and pointed to by a ``publicKey.hint``. ``tsa=True`` adds an RFC 3161 timestamp over the signature.
        """
        _check_tamper(tamper, allowed=set(TAMPERS))
        if (artifact_digest is None) == (statement is None):
            raise ToolError("give exactly one of artifact_digest and statement")
        if version not in BUNDLE_MEDIA_TYPES:
            raise ToolError(f"unknown bundle version {version!r}")
        if tamper == "bad-tsa" and not tsa:
            raise ToolError("tamper 'bad-tsa' needs tsa=True")
        if tsa and self.tsa is None:
            raise ToolError("this test sigstore has no timestamp authority")

        cert: x509.Certificate | None = None
        chain: list[x509.Certificate] = []
        if identity is not None:
            signing_key, cert, chain = self._keyless(identity, issuer, key, tamper)
            verifier_pem = cert.public_bytes(serialization.Encoding.PEM)
        elif key is not None:
            signing_key, verifier_pem = key, _public_pem(key)
        else:
            raise ToolError("a key-signed bundle needs key=")
        when = self._integrated_time(cert, tamper)

        content: dict[str, Any]
        if artifact_digest is not None:
            if len(artifact_digest) != 32:
                raise ToolError("artifact_digest must be a raw 32-byte SHA-256 digest")
            signed_digest = hashlib.sha256(artifact_digest).digest() if tamper == "bad-signature" else artifact_digest
            signature = _sign_sha256_digest(signing_key, signed_digest)
            logged = hashlib.sha256(artifact_digest).digest() if tamper == "body-mismatch" else artifact_digest
            entry = self.log.add_hashedrekord(
                signature=signature, payload_digest=logged, public_key_or_cert_pem=verifier_pem, integrated_time=when
            )
            content = {
                "messageSignature": {
                    "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(artifact_digest)},
                    "signature": _b64(signature),
                }
            }
        else:
            payload = json.dumps(statement, separators=(",", ":")).encode()
            signed_payload = payload + b" " if tamper == "bad-signature" else payload
            signature = _sign(signing_key, pae(INTOTO_PAYLOAD_TYPE, signed_payload))
            envelope = {
                "payload": _b64(payload),
                "payloadType": INTOTO_PAYLOAD_TYPE,
                "signatures": [{"sig": _b64(signature)}],
            }
            logged_envelope = dict(envelope, payload=_b64(payload + b" ")) if tamper == "body-mismatch" else envelope
            entry = self.log.add_dsse(logged_envelope, verifier_pem, integrated_time=when)
            content = {"dsseEnvelope": envelope}
        entry = self._apply_log_tamper(entry, tamper)

        material: dict[str, Any] = {}
        if cert is None:
            material["publicKey"] = {"hint": _b64(key_id(signing_key.public_key()))}
        elif version == "0.3":
            material["certificate"] = {"rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))}
        else:
            leaf_and_intermediates = [cert, *chain[:-1]]
            material["x509CertificateChain"] = {
                "certificates": [
                    {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))} for c in leaf_and_intermediates
                ]
            }
        material["tlogEntries"] = [entry.bundle_entry(promise=tamper != "no-promise")]
        if tsa and self.tsa is not None:
            response = self.tsa.timestamp(
                signature, gen_time=datetime.fromtimestamp(when, UTC), corrupt=tamper == "bad-tsa"
            )
            material["timestampVerificationData"] = {"rfc3161Timestamps": [{"signedTimestamp": _b64(response)}]}
        return {"mediaType": BUNDLE_MEDIA_TYPES[version], "verificationMaterial": material, **content}

    @staticmethod
    def public_key_hint(key: SigningKey) -> str:
        """cosign's ``publicKey.hint``: base64 SHA-256 of the SPKI DER."""
        return _b64(key_id(key.public_key()))


def _check_tamper(tamper: str | None, *, allowed: set[str]) -> None:
    if tamper is not None and tamper not in allowed:
        raise ToolError(f"unsupported tamper {tamper!r}; choose from {sorted(allowed)}")


def _replace_entry(entry: Entry, **changes: Any) -> Entry:
    return replace(entry, **changes)


def _replace_proof(entry: Entry, **changes: Any) -> InclusionProof:
    return replace(entry.proof, **changes)
