"""The policy file schema: pydantic models of the ``ImagePolicy`` and ``Settings`` documents.

Field names are camelCase as written in YAML; unknown fields are rejected (``extra="forbid"``) and values are
taken strictly (``"true"`` is not a boolean, ``1`` is not a string). ``policies/policy.schema.json`` is exported
from these models by ``tools/export_schema.py``; rules JSON Schema cannot state across fields (unique
authority names, ``threshold`` at most the number of authorities) are checked when the documents are compiled.

An authority has exactly one source of trust. Today that is ``key``; keyless authorities will add a
``keyless`` alternative to :data:`AUTHORITY_SOURCES` and a field next to ``key``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from verifier.policy._glob import ImageGlob, NamespaceGlob

__all__ = [
    "AttestationRequirement",
    "KeylessRef",
    "API_VERSION",
    "AUTHORITY_SOURCES",
    "Authority",
    "CacheSettings",
    "Exemptions",
    "ImagePolicy",
    "ImagePolicySpec",
    "KeyRef",
    "LabelSelectorRequirement",
    "Metadata",
    "NamespaceSelector",
    "PolicyDocument",
    "RegistrySettings",
    "Settings",
    "SettingsSpec",
    "document_adapter",
]

API_VERSION = "sealgate.dev/v1alpha1"

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN = rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$"
#: Kubernetes qualified name: ``[dns-subdomain/]name``
LABEL_KEY = rf"^({_DNS_LABEL}(\.{_DNS_LABEL})*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
AUTHORITY_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
NAMESPACE_PATTERN = r"^[-a-z0-9*?]+$"
_HOST_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?"
HOST_PORT = rf"^({_HOST_LABEL}(\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])(:[0-9]{{1,5}})?$"


def _matching(pattern: str, message: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise PydanticCustomError("pattern", message)
        return value

    return AfterValidator(check)


def _parses(parse: Callable[[str], object]) -> AfterValidator:
    def check(value: str) -> str:
        try:
            parse(value)
        except ValueError as exc:
            raise PydanticCustomError("glob", str(exc)) from None
        return value

    return AfterValidator(check)


DnsSubdomain = Annotated[
    str,
    Field(min_length=1, max_length=253, json_schema_extra={"pattern": DNS_SUBDOMAIN}),
    _matching(DNS_SUBDOMAIN, "must be a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')"),
]
AuthorityName = Annotated[
    str,
    Field(min_length=1, max_length=63, json_schema_extra={"pattern": AUTHORITY_NAME}),
    _matching(AUTHORITY_NAME, "must be 1-63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"),
]
LabelKey = Annotated[
    str,
    Field(max_length=317),
    _matching(LABEL_KEY, "invalid label key (an optional DNS prefix and '/', then a name of up to 63 characters)"),
]
LabelValue = Annotated[
    str,
    Field(max_length=63, json_schema_extra={"pattern": LABEL_VALUE}),
    _matching(LABEL_VALUE, "invalid label value (up to 63 letters, digits, '-', '_' or '.')"),
]
ImageGlobText = Annotated[
    str,
    Field(min_length=1, max_length=512, description="image glob: [registry/]repository[:tag-pattern][@digest]"),
    _parses(ImageGlob.parse),
]
NamespacePattern = Annotated[
    str,
    Field(min_length=1, max_length=253, json_schema_extra={"pattern": NAMESPACE_PATTERN}),
    _parses(NamespaceGlob.parse),
]
HostPort = Annotated[
    str,
    Field(min_length=1, max_length=261, json_schema_extra={"pattern": HOST_PORT}),
    _matching(HOST_PORT, "must be host or host:port"),
]


def _one_of_message(names: tuple[str, ...]) -> str:
    if len(names) == 1:
        return f"{names[0]} is required"
    return f"exactly one of {', '.join(names[:-1])} or {names[-1]}"


def _exactly_one(names: tuple[str, ...]) -> dict[str, Any]:
    """JSON Schema for "exactly one of ``names`` is given and not null"."""
    return {"oneOf": [{"required": [n], "properties": {n: {"not": {"type": "null"}}}} for n in names]}


def _check_exactly_one(model: BaseModel, names: tuple[str, ...]) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise PydanticCustomError("exactly_one", _one_of_message(names))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, alias_generator=to_camel)


class Metadata(_Model):
    name: DnsSubdomain = Field(description="policy name, unique over all files (DNS-1123 subdomain)")
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


_KEY_SOURCES = ("path", "data")


class KeyRef(_Model):
    """A public key: a PEM file (relative to the policy file's folder) or the PEM text itself."""

    model_config = ConfigDict(json_schema_extra=_exactly_one(_KEY_SOURCES))

    path: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="PEM public key file; relative paths start at the policy file's folder"
    )
    data: Annotated[str, Field(min_length=1)] | None = Field(default=None, description="PEM public key text")

    @model_validator(mode="after")
    def _one_source(self) -> KeyRef:
        _check_exactly_one(self, _KEY_SOURCES)
        return self


_IDENTITY_FORMS = ("identity", "identityRegExp")
_ISSUER_FORMS = ("issuer", "issuerRegExp")


def _keyless_schema(schema: dict[str, Any]) -> None:
    schema["allOf"] = [_exactly_one(_IDENTITY_FORMS), _exactly_one(_ISSUER_FORMS)]


class KeylessRef(_Model):
    """A keyless (Fulcio certificate) signer: who signed, as the certificate says, and whom to trust for it.

    ``identity``/``identityRegExp`` match the certificate's SAN (email, URI, ...); ``issuer``/``issuerRegExp``
    the OIDC issuer extension. Regular expressions must match the whole value. Both are required: an identity
    means nothing without the issuer that vouched for it, so "any issuer" must be written ``issuerRegExp: ".*"``
    (which ``policy check`` warns about).
    """

    model_config = ConfigDict(json_schema_extra=_keyless_schema)

    identity: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="certificate identity (SAN), exact"
    )
    identity_reg_exp: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="certificate identity (SAN), full-match regular expression"
    )
    issuer: Annotated[str, Field(min_length=1)] | None = Field(default=None, description="OIDC issuer, exact")
    issuer_reg_exp: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="OIDC issuer, full-match regular expression"
    )
    trusted_root: Annotated[str, Field(min_length=1)] | None = Field(
        default=None,
        description="Sigstore trusted_root.json (relative to the policy file's folder); default: the public-good "
        "root shipped with sealgate (no network fetch, ever)",
    )

    @model_validator(mode="after")
    def _one_identity(self) -> KeylessRef:
        given = [n for n in ("identity", "identity_reg_exp") if getattr(self, n) is not None]
        if len(given) != 1:
            raise PydanticCustomError("exactly_one", "exactly one of identity or identityRegExp")
        if self.issuer is not None and self.issuer_reg_exp is not None:
            raise PydanticCustomError("at_most_one", "issuer and issuerRegExp are exclusive")
        if self.issuer is None and self.issuer_reg_exp is None:
            raise PydanticCustomError(
                "issuer_required",
                "an OIDC issuer is required: issuer, or issuerRegExp (write issuerRegExp: '.*' to accept any issuer)",
            )
        return self


#: the fields of :class:`Authority` naming where trust comes from; an authority has exactly one
AUTHORITY_SOURCES = ("key", "keyless")


class Authority(_Model):
    """One party whose signature is accepted: a public key, or a keyless (Fulcio) identity."""

    model_config = ConfigDict(json_schema_extra=_exactly_one(AUTHORITY_SOURCES))

    name: AuthorityName
    key: KeyRef | None = None
    keyless: KeylessRef | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Authority:
        _check_exactly_one(self, AUTHORITY_SOURCES)
        return self


Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]


def _requirement_schema(schema: dict[str, Any]) -> None:
    schema["if"] = {"properties": {"operator": {"enum": ["In", "NotIn"]}}}
    schema["then"] = {"required": ["values"], "properties": {"values": {"type": "array", "minItems": 1}}}
    schema["else"] = {"properties": {"values": {"anyOf": [{"type": "null"}, {"type": "array", "maxItems": 0}]}}}


class LabelSelectorRequirement(_Model):
    """A Kubernetes label selector requirement on the namespace's labels."""

    model_config = ConfigDict(json_schema_extra=_requirement_schema)

    key: LabelKey
    operator: Operator
    values: list[LabelValue] | None = None

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise PydanticCustomError("values", "operator {operator} needs values", {"operator": self.operator})
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise PydanticCustomError("values", "operator {operator} takes no values", {"operator": self.operator})
        return self


def _labels_schema(schema: dict[str, Any]) -> None:
    schema["propertyNames"] = {"pattern": LABEL_KEY, "maxLength": 317}


class NamespaceSelector(_Model):
    """Which namespaces a policy applies to; every part given must hold (an empty ``include`` means all)."""

    include: list[NamespacePattern] = Field(default_factory=list)
    exclude: list[NamespacePattern] = Field(default_factory=list)
    match_labels: Annotated[dict[LabelKey, LabelValue], Field(json_schema_extra=_labels_schema)] = Field(
        default_factory=dict
    )
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)


class AttestationRequirement(_Model):
    """An in-toto attestation the image must carry, signed by one of the policy's authorities."""

    name: AuthorityName
    predicate_type: Annotated[str, Field(min_length=1, max_length=512)] = Field(
        description="in-toto predicateType URI, or a cosign --type shorthand (cyclonedx, spdxjson, "
        "slsaprovenance, slsaprovenance1, link, vuln, openvex, custom)"
    )
    authorities: list[AuthorityName] = Field(
        default_factory=list, description="authorities that may sign it (names from spec.authorities; empty = any)"
    )
    sbom: dict[str, Any] | None = Field(
        default=None,
        description="SBOM rules on the verified CycloneDX/SPDX predicate: deny (name, purl glob, versions vers "
        "range, mode enforce|warn), licenses (allow|deny SPDX ids, unknown allow|warn|deny), require, maxAge",
    )


class ImagePolicySpec(_Model):
    images: list[ImageGlobText] = Field(min_length=1, description="image globs this policy applies to")
    mode: Literal["enforce", "warn"] = Field(default="enforce", description="warn: admit with a warning on failure")
    require_digest: bool = Field(default=False, description="refuse images named by tag only")
    namespaces: NamespaceSelector | None = None
    authorities: list[Authority] = Field(min_length=1)
    threshold: int = Field(default=1, ge=1, description="how many distinct authorities must verify")
    attestations: list[AttestationRequirement] = Field(
        default_factory=list, description="attestations every matching image must also carry"
    )
    annotations: dict[Annotated[str, Field(min_length=1, max_length=253)], Annotated[str, Field(max_length=1024)]] = (
        Field(
            default_factory=dict,
            max_length=64,
            description="claims a signature's simple-signing payload must carry in its `optional` section "
            "(cosign verify -a KEY=VALUE); signature bundles carry none, so only `.sig` signatures can satisfy them",
        )
    )
    skip_reference_check: bool = Field(
        default=False,
        description="accept signatures whose payload names another repository (cosign verify "
        "--skip-reference-check); by default the signed docker-reference must name the image's repository",
    )


class ImagePolicy(_Model):
    api_version: Literal["sealgate.dev/v1alpha1"]
    kind: Literal["ImagePolicy"]
    metadata: Metadata
    spec: ImagePolicySpec


class CacheSettings(_Model):
    ttl_seconds: int = Field(default=300, ge=0, description="how long a verification verdict is reused")
    failure_ttl_seconds: int = Field(default=10, ge=0, description="how long a failed verification is reused")
    max_entries: int = Field(default=10000, ge=0, description="verdicts kept (0 = no cache)")
    tag_ttl_seconds: int = Field(default=0, ge=0, description="how long a tag->digest resolution is reused (0 = never)")


class Exemptions(_Model):
    namespaces: list[NamespacePattern] = Field(default_factory=list)
    images: list[ImageGlobText] = Field(default_factory=list)


class RegistrySettings(_Model):
    insecure: list[HostPort] = Field(
        default_factory=list, description="registries reached over plain HTTP (loopback always is)"
    )
    concurrency: int = Field(default=8, ge=1, le=256, description="images verified at once per registry")


class SettingsSpec(_Model):
    no_match: Literal["deny", "allow", "warn"] = Field(
        default="deny", description="what happens to images no policy matches"
    )
    on_error: Literal["deny", "allow"] = Field(
        default="deny", description="the answer on internal errors and deadlines"
    )
    deadline_seconds: float = Field(default=8.0, gt=0, le=29)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    exemptions: Exemptions = Field(default_factory=Exemptions)
    registries: RegistrySettings = Field(default_factory=RegistrySettings)


class Settings(_Model):
    api_version: Literal["sealgate.dev/v1alpha1"]
    kind: Literal["Settings"]
    metadata: Metadata | None = None
    spec: SettingsSpec = Field(default_factory=SettingsSpec)


PolicyDocument = Annotated[ImagePolicy | Settings, Field(discriminator="kind")]

_ADAPTER: TypeAdapter[ImagePolicy | Settings] = TypeAdapter(PolicyDocument)


def document_adapter() -> TypeAdapter[ImagePolicy | Settings]:
    """The adapter for one policy document (either kind); its ``json_schema()`` is the published schema."""
    return _ADAPTER
