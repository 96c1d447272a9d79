"""Digest parsing, hashing and verification."""

from __future__ import annotations

import hashlib

import pytest

from verifier.errors import DigestMismatchError, InvalidDigestError
from verifier.oci import OCI_EMPTY_DIGEST, OCI_EMPTY_JSON, Digest


def test_of_matches_hashlib_for_both_algorithms() -> None:
    assert Digest.of(b"abc").hex == hashlib.sha256(b"abc").hexdigest()
    assert str(Digest.of(b"abc", "sha512")) == "sha512:" + hashlib.sha512(b"abc").hexdigest()
    assert str(Digest.of(OCI_EMPTY_JSON)) == OCI_EMPTY_DIGEST


def test_parse_round_trips_and_tag_form() -> None:
    digest = Digest.parse(OCI_EMPTY_DIGEST)
    assert str(digest) == OCI_EMPTY_DIGEST
    assert digest.tag_form == OCI_EMPTY_DIGEST.replace(":", "-")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("sha256", "expected '<algorithm>:<hex>'", id="no colon"),
        pytest.param("sha256:", "expected '<algorithm>:<hex>'", id="no hex"),
        pytest.param("md5:" + "a" * 32, "unsupported algorithm", id="md5"),
        pytest.param("sha256:" + "a" * 63, "needs 64 hex characters, got 63", id="too short"),
        pytest.param("sha512:" + "a" * 64, "needs 128 hex characters, got 64", id="sha512 with sha256 length"),
        pytest.param("sha256:" + "A" * 64, "lowercase", id="uppercase hex"),
        pytest.param("sha256:" + "g" * 64, "non-hex", id="non-hex"),
    ],
)
def test_invalid_digests_say_why(text: str, fragment: str) -> None:
    with pytest.raises(InvalidDigestError) as caught:
        Digest.parse(text)
    assert fragment in str(caught.value)


def test_direct_construction_is_validated() -> None:
    with pytest.raises(InvalidDigestError, match="needs 64 hex"):
        Digest("sha256", "abc")


def test_verify_names_expected_and_actual() -> None:
    digest = Digest.of(b"good")
    digest.verify(b"good")
    with pytest.raises(DigestMismatchError) as caught:
        digest.verify(b"evil", "layer 0")
    message = str(caught.value)
    assert message.startswith("layer 0: digest mismatch")
    assert str(digest) in message and str(Digest.of(b"evil")) in message
