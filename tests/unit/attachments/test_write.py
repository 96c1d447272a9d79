"""sign_image / attest_image write cosign material through ``RegistryWriter`` (here the in-memory registry):
cosign's dedupe of equal signatures, ``replace`` of legacy attestations, the referrers fallback index, and
what ``discover`` then finds. The bytes come from the pure builders of ``verifier.cosign``."""

from __future__ import annotations

import json

import pytest

from tests.support.memregistry import MemRegistry
from verifier.attachments import FALLBACK_TAG, LEGACY_ATT, LEGACY_SIG, REFERRERS, attest_image, discover, sign_image
from verifier.cosign import generate_signing_key, with_fallback_entry
from verifier.errors import LimitExceededError, UsageError
from verifier.limits import Limits
from verifier.oci import OCI_INDEX, OCI_MANIFEST, Descriptor, Digest, Reference

KEY = generate_signing_key()
OTHER = generate_signing_key()
REPO = "mem.test/team/app"
PREDICATE = "https://example.com/custom/v1"


async def test_an_equal_signature_by_the_same_key_is_not_appended_twice():
    reg = MemRegistry()
    ref = Reference.parse(reg.add_image(REPO, "v1"))
    [first] = await sign_image(reg, ref, KEY)
    [again] = await sign_image(reg, ref, KEY)
    [other] = await sign_image(reg, ref, OTHER)
    assert (first.appended, again.appended, other.appended) == (True, False, True)
    found = await discover(reg, ref, first.digest, attestations=False)
    assert [a.layout for a in found] == [LEGACY_SIG, LEGACY_SIG]
    assert {a.payload for a in found} == {first.payload}  # same payload, two keys


async def test_signing_past_max_signatures_is_refused():
    reg = MemRegistry(Limits(max_signatures=1))
    ref = Reference.parse(reg.add_image(REPO, "v1"))
    await sign_image(reg, ref, KEY)
    with pytest.raises(LimitExceededError, match=r"already holds 1 signatures, the limit is 1"):
        await sign_image(reg, ref, OTHER)


async def test_replace_drops_the_legacy_attestations_of_the_same_predicate_type_only():
    reg = MemRegistry()
    ref = Reference.parse(reg.add_image(REPO, "v1"))
    await attest_image(reg, ref, KEY, predicate=b'{"n": 1}', predicate_type=PREDICATE)
    await attest_image(reg, ref, KEY, predicate=b"{}", predicate_type="custom")
    done = await attest_image(reg, ref, KEY, predicate=b'{"n": 2}', predicate_type=PREDICATE, replace=True)
    assert (done.layout, done.replaced) == (LEGACY_ATT, 1)
    found = await discover(reg, ref, done.digest, signatures=False)
    assert len(found) == 2 and found[0].payload == done.attachment  # the replacement comes first


async def test_replace_with_the_bundle_format_is_a_usage_error():
    reg = MemRegistry()
    ref = Reference.parse(reg.add_image(REPO, "v1"))
    with pytest.raises(UsageError, match="--replace applies to the legacy .att layout only"):
        await attest_image(reg, ref, KEY, predicate=b"{}", predicate_type=PREDICATE, bundle_format=True, replace=True)


@pytest.mark.parametrize(("api", "layout"), [(True, REFERRERS), (False, FALLBACK_TAG)])
async def test_a_bundle_goes_to_the_referrers_api_or_the_fallback_tag(api, layout):
    reg = MemRegistry(referrers_api=api)
    ref = Reference.parse(reg.add_image(REPO, "v1"))
    done = await attest_image(reg, ref, KEY, predicate=b"{}", predicate_type=PREDICATE, bundle_format=True)
    again = await attest_image(reg, ref, KEY, predicate=b"{}", predicate_type="custom", bundle_format=True)
    assert done.layout == again.layout == layout
    found = await discover(reg, ref, done.digest, signatures=False)
    payloads = sorted(a.payload for a in found if isinstance(a.payload, bytes))
    assert payloads == sorted([done.attachment, again.attachment])
    assert {a.layout for a in found} == {layout}


def _entry(hex_digit: str) -> Descriptor:
    return Descriptor(OCI_MANIFEST, Digest.parse("sha256:" + hex_digit * 64), 10)


def test_the_fallback_index_lists_each_entry_once_sorted_by_digest():
    first = with_fallback_entry(None, _entry("b"), "repo:sha256-x")
    assert first is not None
    second = with_fallback_entry(json.loads(first), _entry("a"), "repo:sha256-x")
    assert second is not None
    doc = json.loads(second)
    assert doc["mediaType"] == OCI_INDEX and doc["schemaVersion"] == 2
    assert [m["digest"][7] for m in doc["manifests"]] == ["a", "b"]
    assert with_fallback_entry(doc, _entry("a"), "repo:sha256-x") is None
    with pytest.raises(UsageError, match="repo:sha256-x holds an index without a manifests list"):
        with_fallback_entry({"manifests": {"not": "a list"}}, _entry("c"), "repo:sha256-x")
