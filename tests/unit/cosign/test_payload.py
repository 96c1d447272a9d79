"""The simple-signing payload: byte-exact Go encoding when building, precise errors when parsing."""

from __future__ import annotations

import json

import pytest

from tests.support.sigstore_json import read_sigstore_json
from verifier.cosign._payload import (
    SIMPLE_SIGNING_TYPE,
    SimpleSigningPayload,
    build_simple_signing_payload,
    go_json_string,
)
from verifier.errors import PayloadInvalidError

DIGEST = "sha256:" + "ab" * 32


def _rebuild(raw: bytes) -> bytes:
    parsed = SimpleSigningPayload.parse(raw)
    assert parsed.docker_reference is not None
    return build_simple_signing_payload(parsed.docker_reference, parsed.digest, parsed.optional)


def test_tobby_cosign_payload_is_rebuilt_byte_for_byte(vectors):
    raw = (vectors / "tobby-fetch-cosign-oci" / "simplesigning-payload.json").read_bytes()
    assert len(raw) == 245
    rebuilt = build_simple_signing_payload(
        "localhost:15381/tobby/fixture",
        "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268",
    )
    assert rebuilt == raw
    assert _rebuild(raw) == raw


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param("dir-img-cosign-valid/signature-1", id="cosign payload with null optional"),
        pytest.param("dir-img-cosign-valid-with-tag/signature-1", id="containers-image payload with creator"),
        pytest.param("dir-img-cosign-key-rekor-valid/signature-1", id="cosign payload signed with rekor"),
    ],
)
def test_containers_image_payloads_are_rebuilt_byte_for_byte(vectors, fixture):
    raw = read_sigstore_json(vectors / "containers-image" / "fixtures" / fixture).payload
    assert _rebuild(raw) == raw


def test_sigstore_rs_payload_is_rebuilt_byte_for_byte(vectors):
    raw = (vectors / "sigstore-rs" / "cosign-key-signed" / "payload.json").read_bytes()
    assert _rebuild(raw) == raw


def test_payload_shape_is_compact_and_in_struct_order():
    raw = build_simple_signing_payload("127.0.0.1:5000/demo/app", DIGEST)
    assert raw == (
        b'{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/demo/app"},'
        b'"image":{"docker-manifest-digest":"' + DIGEST.encode() + b'"},'
        b'"type":"cosign container image signature"},"optional":null}'
    )


def test_optional_keys_are_sorted_by_code_point():
    raw = build_simple_signing_payload("r", DIGEST, {"b": "2", "a": "1", "A": "0", "é": "3", "a.b": "4"})
    assert raw.endswith('"optional":{"A":"0","a":"1","a.b":"4","b":"2","é":"3"}}'.encode())


def test_empty_annotations_are_null_like_cosign_without_dash_a():
    assert build_simple_signing_payload("r", DIGEST, {}).endswith(b'"optional":null}')
    assert build_simple_signing_payload("r", DIGEST, None).endswith(b'"optional":null}')


def test_optional_values_of_other_json_scalar_types_are_encoded_like_go():
    raw = build_simple_signing_payload("r", DIGEST, {"n": 1657296609, "t": True, "f": False, "z": None})
    assert raw.endswith(b'"optional":{"f":false,"n":1657296609,"t":true,"z":null}}')


def test_optional_values_of_unsupported_types_are_refused():
    with pytest.raises(TypeError, match="unsupported optional value type float"):
        build_simple_signing_payload("r", DIGEST, {"x": 1.5})  # type: ignore[dict-item]


ESCAPES = [
    pytest.param("<a>&b", '"\\u003ca\\u003e\\u0026b"', id="html characters are escaped like go"),
    pytest.param("\u2028\u2029", '"\\u2028\\u2029"', id="line and paragraph separators are escaped"),
    pytest.param('q"b\\', '"q\\"b\\\\"', id="quote and backslash get short escapes"),
    pytest.param("\n\r\t", '"\\n\\r\\t"', id="newline return and tab get short escapes"),
    pytest.param("\b\f", '"\\b\\f"', id="backspace and form feed get short escapes as in go 1.22"),
    pytest.param("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"', id="other control characters use lowercase hex"),
    pytest.param("\x7f", '"\x7f"', id="delete is not escaped"),
    pytest.param("é✓😀", '"é✓😀"', id="non ascii is written as utf-8"),
    pytest.param("a/b", '"a/b"', id="slash is not escaped"),
    pytest.param("\ud800", '"\\ufffd"', id="a lone surrogate becomes the replacement character"),
]


@pytest.mark.parametrize(("value", "expected"), ESCAPES)
def test_strings_are_escaped_like_go_encoding_json(value, expected):
    assert go_json_string(value) == expected


@pytest.mark.parametrize(("value", "expected"), ESCAPES[:-1])
def test_escaped_strings_decode_back_to_the_original(value, expected):
    assert json.loads(expected) == value


def test_escaping_applies_to_reference_digest_and_annotations():
    raw = build_simple_signing_payload("a<b", "c>d", {"k&": "v\u2028"})
    text = raw.decode()
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    parsed = SimpleSigningPayload.parse(raw)
    assert (parsed.docker_reference, parsed.digest, dict(parsed.optional or {})) == (
        "a<b",
        "c>d",
        {"k&": "v\u2028"},
    )


# --- parsing ---------------------------------------------------------------------------------------------


def test_parse_reads_the_claims(vectors):
    raw = read_sigstore_json(
        vectors / "containers-image" / "fixtures" / "dir-img-cosign-valid-with-tag" / "signature-1"
    )
    parsed = SimpleSigningPayload.parse(raw.payload)
    assert parsed.docker_reference == "192.168.64.2:5000/skopeo-signed:tag"
    assert parsed.digest == "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"
    assert parsed.type == SIMPLE_SIGNING_TYPE
    assert parsed.optional == {"creator": "containers/image 5.21.2-dev", "timestamp": 1657296609}


def test_parse_accepts_a_payload_without_identity():
    raw = (
        b'{"critical":{"image":{"docker-manifest-digest":"sha256:00"},"type":"' + SIMPLE_SIGNING_TYPE.encode() + b'"}}'
    )
    parsed = SimpleSigningPayload.parse(raw)
    assert parsed.docker_reference is None
    assert parsed.optional is None


def test_parse_ignores_unknown_fields_like_cosign():
    raw = (
        b'{"critical":{"identity":{"docker-reference":"r","extra":1},"image":{"docker-manifest-digest":"d"},'
        b'"type":"cosign container image signature","more":[]},"optional":null,"other":true}'
    )
    assert SimpleSigningPayload.parse(raw).digest == "d"


def _payload(critical: str, optional: str = "null") -> bytes:
    return f'{{"critical":{critical},"optional":{optional}}}'.encode()


GOOD_CRITICAL = '{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"d"},"type":"' + (
    SIMPLE_SIGNING_TYPE + '"}'
)

PARSE_ERRORS = [
    pytest.param(b"\xff\xfe", "payload is not UTF-8", id="bytes that are not utf-8"),
    pytest.param(b"{not json", "payload is not JSON", id="text that is not json"),
    pytest.param(b"", "payload is not JSON", id="an empty payload"),
    pytest.param(b'{"critical":NaN}', "payload is not JSON", id="a bare NaN"),
    pytest.param(b"[1]", "payload is not a JSON object", id="a json array"),
    pytest.param(b'"text"', "payload is not a JSON object", id="a json string"),
    pytest.param(b'{"optional":null}', "payload critical is missing", id="critical is missing"),
    pytest.param(b'{"critical":null}', "payload critical is missing", id="critical is null"),
    pytest.param(b'{"critical":[]}', "payload critical is not an object", id="critical is an array"),
    pytest.param(_payload('{"type":"x"}'), "payload critical.image is missing", id="image is missing"),
    pytest.param(_payload('{"image":"sha256:00"}'), "critical.image is not an object", id="image is a string"),
    pytest.param(
        _payload('{"image":{},"type":"cosign container image signature"}'),
        "critical.image.docker-manifest-digest is missing",
        id="digest is missing",
    ),
    pytest.param(
        _payload('{"image":{"docker-manifest-digest":5},"type":"cosign container image signature"}'),
        "critical.image.docker-manifest-digest is not a string",
        id="digest is a number",
    ),
    pytest.param(
        _payload('{"image":{"docker-manifest-digest":"d"}}'), "critical.type is missing", id="type is missing"
    ),
    pytest.param(
        _payload('{"image":{"docker-manifest-digest":"d"},"type":1}'),
        "critical.type is not a string",
        id="type is a number",
    ),
    pytest.param(
        _payload('{"image":{"docker-manifest-digest":"d"},"type":"atomic container signature"}'),
        "critical.type is 'atomic container signature', not 'cosign container image signature'",
        id="type is the atomic signature type",
    ),
    pytest.param(
        _payload('{"identity":"r","image":{"docker-manifest-digest":"d"},"type":"cosign container image signature"}'),
        "critical.identity is not an object",
        id="identity is a string",
    ),
    pytest.param(
        _payload(
            '{"identity":{"docker-reference":["r"]},"image":{"docker-manifest-digest":"d"},'
            '"type":"cosign container image signature"}'
        ),
        "critical.identity.docker-reference is not a string",
        id="docker reference is an array",
    ),
    pytest.param(_payload(GOOD_CRITICAL, '"x"'), "optional is not an object or null", id="optional is a string"),
    pytest.param(
        b'{"critical":' + GOOD_CRITICAL.encode() + b',"critical":' + GOOD_CRITICAL.encode() + b"}",
        "duplicate key 'critical'",
        id="critical appears twice",
    ),
    pytest.param(
        _payload(
            '{"image":{"docker-manifest-digest":"d","docker-manifest-digest":"e"},'
            '"type":"cosign container image signature"}'
        ),
        "duplicate key 'docker-manifest-digest'",
        id="the digest appears twice",
    ),
    pytest.param(b"[" * 100000 + b"]" * 100000, "payload is", id="deeply nested arrays"),
]


@pytest.mark.parametrize(("raw", "message"), PARSE_ERRORS)
def test_malformed_payloads_are_payload_errors_naming_the_problem(raw, message):
    with pytest.raises(PayloadInvalidError, match=message):
        SimpleSigningPayload.parse(raw)


# --- annotations ---------------------------------------------------------------------------------------

ANNOTATION_CASES = [
    pytest.param(None, {}, True, id="nothing required and no optional"),
    pytest.param({"a": "1"}, {}, True, id="nothing required"),
    pytest.param({"a": "1", "b": "2"}, {"a": "1"}, True, id="a required annotation is present"),
    pytest.param({"a": "1", "b": "2"}, {"a": "1", "b": "2"}, True, id="every required annotation is present"),
    pytest.param(None, {"a": "1"}, False, id="required but optional is null"),
    pytest.param({"a": "2"}, {"a": "1"}, False, id="a required annotation has another value"),
    pytest.param({"b": "1"}, {"a": "1"}, False, id="a required annotation is absent"),
    pytest.param({"a": 1}, {"a": "1"}, False, id="a number never equals a string"),
    pytest.param({"a": "1"}, {"a": "1", "b": "2"}, False, id="one of two required annotations is absent"),
]


@pytest.mark.parametrize(("optional", "required", "expected"), ANNOTATION_CASES)
def test_annotations_match_like_cosign_verify_dash_a(optional, required, expected):
    payload = SimpleSigningPayload(docker_reference="r", digest="d", type=SIMPLE_SIGNING_TYPE, optional=optional)
    assert payload.annotations_match(required) is expected


def test_annotations_built_by_sign_are_matched_after_parse():
    raw = build_simple_signing_payload("r", DIGEST, {"env": "prod", "team": "a&b"})
    assert SimpleSigningPayload.parse(raw).annotations_match({"team": "a&b"})
