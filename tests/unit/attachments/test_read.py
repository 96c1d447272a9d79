"""discover(): every cosign storage layout, read from an in-process loopback registry (tests/support/faultregistry)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.faultregistry import Fault, FaultRegistry
from verifier.attachments import COSIGN_SIGN_PREDICATE, FALLBACK_TAG, LEGACY_ATT, LEGACY_SIG, REFERRERS, discover
from verifier.cosign import BUNDLE_V03_MEDIA_TYPE, build_signature_manifest
from verifier.cosign._layout import DSSE_MEDIA_TYPE, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE
from verifier.errors import RegistryUnavailableError
from verifier.limits import Limits
from verifier.oci import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, Descriptor, Digest, Reference
from verifier.registry import RegistryClient, RegistryConfig

REPO = "demo/app"


@pytest.fixture
def reg() -> Iterator[FaultRegistry]:
    with FaultRegistry() as registry:
        yield registry


def _client(**limits: int) -> RegistryClient:
    return RegistryClient(RegistryConfig(limits=Limits(retries=0, **limits)))


def _compact(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _image(reg: FaultRegistry) -> tuple[Reference, Digest]:
    digest = Digest.parse(reg.add_image(REPO, "v1"))
    return Reference.parse(f"{reg.host}/{REPO}"), digest


def _legacy(reg: FaultRegistry, digest: Digest, suffix: str, layers: list[tuple[str, bytes, dict[str, str]]]) -> None:
    descriptors = []
    for media_type, blob, notes in layers:
        reg.add_blob(REPO, blob)
        descriptors.append(Descriptor(media_type, Digest.of(blob), len(blob), annotations=notes))
    manifest, config = build_signature_manifest(descriptors)
    reg.add_blob(REPO, config)
    reg.add_manifest(REPO, manifest, OCI_MANIFEST, tag=f"{digest.tag_form}.{suffix}")


def _bundle_referrer(
    reg: FaultRegistry,
    subject: Digest,
    bundle: bytes = b'{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}',
    *,
    predicate: str = "https://cyclonedx.org/bom",
    layers: int = 1,
    subject_digest: Digest | None = None,
) -> tuple[str, bytes]:
    """Store a cosign 3 bundle referrer for ``subject``; returns (manifest digest, manifest bytes)."""
    reg.add_blob(REPO, b"{}")
    reg.add_blob(REPO, bundle)
    layer = {"mediaType": BUNDLE_V03_MEDIA_TYPE, "size": len(bundle), "digest": str(Digest.of(bundle))}
    manifest = _compact(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_EMPTY, "size": 2, "digest": str(Digest.of(b"{}"))},
            "layers": [layer] * layers,
            "annotations": {"dev.sigstore.bundle.predicateType": predicate},
            "subject": {"mediaType": OCI_MANIFEST, "size": 1, "digest": str(subject_digest or subject)},
            "artifactType": BUNDLE_V03_MEDIA_TYPE,
        }
    )
    return reg.add_manifest(REPO, manifest), manifest


def _fallback_index(reg: FaultRegistry, subject: Digest, entries: list[dict[str, object]]) -> None:
    index = _compact({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    reg.add_manifest(REPO, index, OCI_INDEX, tag=subject.tag_form)


async def _discover(ref: Reference, digest: Digest, client: RegistryClient | None = None, **kw: bool):
    async with client or _client() as c:
        return await discover(c, ref, digest, **kw)


async def test_legacy_sig_and_att_layers_are_found_with_payload_and_annotations(reg):
    ref, digest = _image(reg)
    _legacy(reg, digest, "sig", [(SIMPLE_SIGNING_MEDIA_TYPE, b"payload-1", {SIGNATURE_ANNOTATION: "c2ln"})])
    _legacy(reg, digest, "att", [(DSSE_MEDIA_TYPE, b"envelope", {SIGNATURE_ANNOTATION: "", "predicateType": "x:y"})])
    found = await _discover(ref, digest)
    by_layout = {a.layout: a for a in found}
    assert set(by_layout) == {LEGACY_SIG, LEGACY_ATT}
    assert by_layout[LEGACY_SIG].payload == b"payload-1"
    assert by_layout[LEGACY_SIG].annotations[SIGNATURE_ANNOTATION] == "c2ln"
    assert by_layout[LEGACY_ATT].payload == b"envelope"
    assert by_layout[LEGACY_ATT].annotations["predicateType"] == "x:y"
    assert by_layout[LEGACY_ATT].bundle is None
    assert by_layout[LEGACY_ATT].is_attestation and not by_layout[LEGACY_ATT].is_signature


@pytest.mark.parametrize(
    ("signatures", "attestations", "expected"),
    [
        pytest.param(True, False, {LEGACY_SIG}, id="signatures only skip the .att tag"),
        pytest.param(False, True, {LEGACY_ATT, REFERRERS}, id="attestations only skip the .sig tag"),
        pytest.param(True, True, {LEGACY_SIG, LEGACY_ATT, REFERRERS}, id="both find everything"),
    ],
)
async def test_signature_and_attestation_selection(reg, signatures, attestations, expected):
    ref, digest = _image(reg)
    _legacy(reg, digest, "sig", [(SIMPLE_SIGNING_MEDIA_TYPE, b"p", {SIGNATURE_ANNOTATION: "c2ln"})])
    _legacy(reg, digest, "att", [(DSSE_MEDIA_TYPE, b"e", {SIGNATURE_ANNOTATION: ""})])
    _bundle_referrer(reg, digest)  # an attestation bundle (cyclonedx)
    found = await _discover(ref, digest, signatures=signatures, attestations=attestations)
    assert {a.layout for a in found} == expected


async def test_referrers_api_bundle_is_found_with_its_manifest_annotations(reg):
    ref, digest = _image(reg)
    bundle = b'{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","x":1}'
    manifest_digest, _ = _bundle_referrer(reg, digest, bundle, predicate=COSIGN_SIGN_PREDICATE)
    found = await _discover(ref, digest)
    assert len(found) == 1
    (item,) = found
    assert item.layout == REFERRERS
    assert item.bundle == bundle and item.payload == bundle
    assert str(item.manifest) == manifest_digest
    assert item.is_signature and not item.is_attestation
    assert reg.count("GET", "/referrers/") == 1


@pytest.mark.parametrize(
    "artifact_type",
    [
        pytest.param("application/vnd.oci.empty.v1+json", id="cosign 3.0 fallback entry typed as the empty config"),
        pytest.param(BUNDLE_V03_MEDIA_TYPE, id="cosign 3.1 fallback entry typed as a bundle"),
        pytest.param("application/vnd.example.unrelated", id="a misleading artifactType is not trusted"),
        pytest.param(None, id="an entry without artifactType"),
    ],
)
async def test_fallback_tag_index_is_never_filtered(reg, artifact_type):
    reg.referrers_api = False
    ref, digest = _image(reg)
    manifest_digest, manifest = _bundle_referrer(reg, digest)
    entry: dict[str, object] = {"mediaType": OCI_MANIFEST, "size": len(manifest), "digest": manifest_digest}
    if artifact_type is not None:
        entry["artifactType"] = artifact_type
    _fallback_index(reg, digest, [entry])
    found = await _discover(ref, digest)
    assert [(a.layout, a.ok) for a in found] == [(FALLBACK_TAG, True)]
    assert found[0].bundle is not None


async def test_referrers_api_that_answers_400_falls_back_to_the_tag(reg):
    ref, digest = _image(reg)
    manifest_digest, manifest = _bundle_referrer(reg, digest)
    _fallback_index(reg, digest, [{"mediaType": OCI_MANIFEST, "size": len(manifest), "digest": manifest_digest}])
    reg.inject(Fault("status", method="GET", path="/referrers/", status=400))
    found = await _discover(ref, digest)
    assert [a.layout for a in found] == [FALLBACK_TAG]


async def test_no_attachments_anywhere_is_an_empty_list(reg):
    ref, digest = _image(reg)
    assert await _discover(ref, digest) == []


def _entry(digest: str, size: int = 10) -> dict[str, object]:
    return {"mediaType": OCI_MANIFEST, "size": size, "digest": digest}


async def test_bad_entries_are_kept_as_errors_next_to_good_ones(reg):
    reg.referrers_api = False
    ref, digest = _image(reg)
    good_digest, good = _bundle_referrer(reg, digest)
    two_layers, two = _bundle_referrer(reg, digest, b'{"other":1}', layers=2)
    other_subject = Digest.of(b"another image")
    foreign, foreign_raw = _bundle_referrer(reg, digest, b'{"foreign":1}', subject_digest=other_subject)
    missing = str(Digest.of(b"never pushed"))
    _fallback_index(
        reg,
        digest,
        [
            _entry(good_digest, len(good)),
            _entry(two_layers, len(two)),
            _entry(foreign, len(foreign_raw)),
            _entry(missing),
        ],
    )
    found = await _discover(ref, digest)
    assert [str(a.manifest) for a in found if a.ok] == [good_digest]
    errors = {str(a.manifest): a.payload for a in found if not a.ok}
    assert errors[two_layers].code == "UNSUPPORTED_ATTACHMENT"
    assert "exactly one bundle" in errors[two_layers].message
    assert errors[foreign].code == "VERIFICATION_FAILED"
    assert f"refers to {other_subject}" in errors[foreign].message
    assert errors[missing].code == "NOT_FOUND"


async def test_referrers_that_are_not_cosign_material_are_skipped(reg):
    ref, digest = _image(reg)
    sbom = b'{"spdxVersion":"SPDX-2.3"}'
    reg.add_blob(REPO, sbom)
    reg.add_blob(REPO, b"{}")
    reg.add_manifest(
        REPO,
        _compact(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/spdx+json",
                "config": {"mediaType": OCI_EMPTY, "size": 2, "digest": str(Digest.of(b"{}"))},
                "layers": [{"mediaType": "application/spdx+json", "size": len(sbom), "digest": str(Digest.of(sbom))}],
                "subject": {"mediaType": OCI_MANIFEST, "size": 1, "digest": str(digest)},
            }
        ),
    )
    assert await _discover(ref, digest) == []


async def test_cosign_oci11_mode_signature_referrer_is_read_like_a_sig_manifest(reg):
    ref, digest = _image(reg)
    payload = b'{"critical":{}}'
    reg.add_blob(REPO, payload)
    config = b'{"architecture":""}'
    reg.add_blob(REPO, config)
    reg.add_manifest(
        REPO,
        _compact(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.dev.cosign.artifact.sig.v1+json",
                    "size": len(config),
                    "digest": str(Digest.of(config)),
                },
                "layers": [
                    {
                        "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
                        "size": len(payload),
                        "digest": str(Digest.of(payload)),
                        "annotations": {SIGNATURE_ANNOTATION: "c2ln"},
                    }
                ],
                "subject": {"mediaType": OCI_MANIFEST, "size": 1, "digest": str(digest)},
            }
        ),
    )
    found = await _discover(ref, digest, attestations=False)
    assert [(a.layout, a.media_type, a.payload) for a in found] == [(REFERRERS, SIMPLE_SIGNING_MEDIA_TYPE, payload)]
    assert found[0].annotations[SIGNATURE_ANNOTATION] == "c2ln"


@pytest.mark.parametrize(
    ("suffix", "media_type", "limit"),
    [("att", DSSE_MEDIA_TYPE, "max_attestation_bytes"), ("sig", SIMPLE_SIGNING_MEDIA_TYPE, "max_payload_bytes")],
)
async def test_oversized_layer_is_refused_before_it_is_fetched(reg, suffix, media_type, limit):
    ref, digest = _image(reg)
    big = b"x" * 2048
    _legacy(reg, digest, suffix, [(media_type, big, {SIGNATURE_ANNOTATION: ""})])
    generous = {"max_attestation_bytes": 1 << 20, "max_payload_bytes": 1 << 20}
    found = await _discover(ref, digest, _client(**{**generous, limit: 1024}))
    (item,) = found
    assert item.payload.code == "SIZE_LIMIT"
    assert "2048 bytes" in item.payload.message and limit in item.payload.message
    assert reg.count("GET", f"/blobs/{Digest.of(big)}") == 0


async def test_corrupted_blob_is_a_per_layer_digest_mismatch(reg):
    ref, digest = _image(reg)
    _legacy(
        reg,
        digest,
        "att",
        [
            (DSSE_MEDIA_TYPE, b"first", {SIGNATURE_ANNOTATION: ""}),
            (DSSE_MEDIA_TYPE, b"second", {SIGNATURE_ANNOTATION: ""}),
        ],
    )
    reg.inject(Fault("corrupt", path=f"/blobs/{Digest.of(b'first')}"))
    found = await _discover(ref, digest)
    assert [a.payload.code if not a.ok else a.payload for a in found] == ["DIGEST_MISMATCH", b"second"]


async def test_unknown_layer_media_type_in_att_tag_has_a_clear_reason(reg):
    ref, digest = _image(reg)
    _legacy(reg, digest, "att", [("application/x-mystery", b"?", {})])
    (item,) = await _discover(ref, digest)
    assert item.payload.code == "UNSUPPORTED_ATTACHMENT"
    assert "application/x-mystery" in item.payload.message


@pytest.mark.parametrize(
    ("index", "code"),
    [
        pytest.param(
            b'{"schemaVersion":2,"mediaType":"%s","manifests":{}}', "REGISTRY_PROTOCOL", id="manifests not a list"
        ),
        pytest.param(
            b'{"schemaVersion":2,"mediaType":"%s","manifests":[{"digest":"sha256:zz"}]}',
            "REGISTRY_PROTOCOL",
            id="malformed entry",
        ),
    ],
)
async def test_malformed_fallback_index_is_one_error(reg, index, code):
    reg.referrers_api = False
    ref, digest = _image(reg)
    reg.add_manifest(REPO, index.replace(b"%s", OCI_INDEX.encode()), OCI_INDEX, tag=digest.tag_form)
    (item,) = await _discover(ref, digest)
    assert (item.layout, item.payload.code) == (FALLBACK_TAG, code)


async def test_fallback_index_longer_than_the_limit_is_refused(reg):
    reg.referrers_api = False
    ref, digest = _image(reg)
    _fallback_index(reg, digest, [_entry(str(Digest.of(bytes([i])))) for i in range(5)])
    (item,) = await _discover(ref, digest, _client(max_referrers=3))
    assert item.payload.code == "LIMIT_EXCEEDED"
    assert "max_referrers" in item.payload.message
    assert reg.count("GET", "/manifests/sha256:") == 0


async def test_registry_unavailable_propagates(reg):
    ref, digest = _image(reg)
    reg.inject(Fault("status", method="GET", path=".att", status=503, times=-1))
    with pytest.raises(RegistryUnavailableError):
        await _discover(ref, digest)
