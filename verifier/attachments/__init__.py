"""The one place cosign material meets a registry: finding signatures, attestations and bundles of an image in
every layout (``.sig``/``.att`` tags, referrers API, referrers fallback tag), and pushing them as
``cosign sign --key`` / ``cosign attest --key`` do.

Typed against the protocols of ``verifier.oci`` (:class:`~verifier.oci.Registry` to read,
:class:`~verifier.oci.RegistryWriter` to push), which ``verifier.registry.RegistryClient`` and the tests'
in-memory registry satisfy; the bytes themselves are built and judged by the pure ``verifier.cosign``.

>>> from verifier.attachments import discover
>>> from verifier.oci import Reference
>>> from verifier.registry import RegistryClient
>>> async def signatures() -> int:  # doctest: +SKIP
...     async with RegistryClient() as client:
...         ref = Reference.parse("ghcr.io/org/app@sha256:...")
...         return len(await discover(client, ref, ref.digest, signatures=True, attestations=False))
"""

from verifier.attachments._read import discover
from verifier.attachments._write import (
    AttestedImage,
    SignedImage,
    attach_bundle,
    attach_signature,
    attest_image,
    sign_image,
)
from verifier.cosign import (
    COSIGN_SIGN_PREDICATE,
    FALLBACK_TAG,
    LAYOUTS,
    LEGACY_ATT,
    LEGACY_SIG,
    REFERRERS,
    Attachment,
)

__all__ = [
    "COSIGN_SIGN_PREDICATE",
    "FALLBACK_TAG",
    "LAYOUTS",
    "LEGACY_ATT",
    "LEGACY_SIG",
    "REFERRERS",
    "Attachment",
    "AttestedImage",
    "SignedImage",
    "attach_bundle",
    "attach_signature",
    "attest_image",
    "discover",
    "sign_image",
]
