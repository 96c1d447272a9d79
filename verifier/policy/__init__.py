"""Image policies: YAML files validated against the schema and compiled into immutable objects.

>>> from verifier.oci import Reference
>>> from verifier.policy import load_policy_files
>>> policies = load_policy_files(["policies/examples"])  # doctest: +SKIP
>>> ref = Reference.parse("registry.example.com/team/app@sha256:" + "a" * 64)
>>> [p.name for p in policies.matching(ref)]  # doctest: +SKIP
['prod-signed']
>>> policies.registry_allowed("evil.example.net")  # doctest: +SKIP
False

Semantics: every policy whose ``images`` match an image must pass; inside a policy, ``threshold``
distinct authorities (default 1) must verify it. Images no policy matches get ``Settings.noMatch`` (deny by
default). Any problem in any file raises one :class:`~verifier.errors.PolicyError` listing them all.
"""

from verifier.errors import PolicyError
from verifier.policy._compile import (
    CompiledAttestation,
    CompiledAuthority,
    CompiledPolicy,
    CompiledSettings,
    Document,
    KeyLoader,
    PolicySet,
    compile_documents,
    compile_problems,
)
from verifier.policy._glob import ImageGlob, NamespaceGlob, normalise_registry
from verifier.policy._load import load_policy_files, parse_policy_text, read_policy_documents
from verifier.policy._models import (
    API_VERSION,
    AttestationRequirement,
    Authority,
    CacheSettings,
    Exemptions,
    ImagePolicy,
    ImagePolicySpec,
    KeylessRef,
    KeyRef,
    LabelSelectorRequirement,
    Metadata,
    NamespaceSelector,
    RegistrySettings,
    Settings,
    SettingsSpec,
    document_adapter,
)
from verifier.policy._schema import policy_json_schema, render_policy_schema
from verifier.policy._select import CompiledNamespaceSelector, LabelRequirement, NamespaceLabelsRequired
from verifier.policy._single import single_policy

__all__ = [
    "single_policy",
    "AttestationRequirement",
    "CompiledAttestation",
    "KeylessRef",
    "API_VERSION",
    "Authority",
    "CacheSettings",
    "CompiledAuthority",
    "CompiledNamespaceSelector",
    "CompiledPolicy",
    "CompiledSettings",
    "Document",
    "Exemptions",
    "ImageGlob",
    "ImagePolicy",
    "ImagePolicySpec",
    "KeyLoader",
    "KeyRef",
    "LabelRequirement",
    "LabelSelectorRequirement",
    "Metadata",
    "NamespaceGlob",
    "NamespaceLabelsRequired",
    "NamespaceSelector",
    "PolicyError",
    "PolicySet",
    "RegistrySettings",
    "Settings",
    "SettingsSpec",
    "compile_documents",
    "compile_problems",
    "document_adapter",
    "load_policy_files",
    "normalise_registry",
    "parse_policy_text",
    "policy_json_schema",
    "read_policy_documents",
    "render_policy_schema",
]
