"""SBOM rules: read a verified SBOM predicate (CycloneDX or SPDX JSON) and judge it against a policy's rules."""

from verifier.sbomrules._document import SbomComponent, SbomDocument, SbomInvalidError, read_sbom
from verifier.sbomrules._rules import (
    AGE_RULE,
    CompiledSbomRules,
    SbomFinding,
    SbomVerdict,
    compile_sbom_rules,
    parse_duration,
)

__all__ = [
    "AGE_RULE",
    "CompiledSbomRules",
    "SbomComponent",
    "SbomDocument",
    "SbomFinding",
    "SbomInvalidError",
    "SbomVerdict",
    "compile_sbom_rules",
    "parse_duration",
    "read_sbom",
]
