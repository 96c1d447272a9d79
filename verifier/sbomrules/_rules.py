"""SBOM rules compiled once per policy load and evaluated on verified SBOMs.

A rule set (the ``sbom:`` block of a policy's attestation requirement)::

    deny:     [{name, purl: "pkg:TYPE/NAMESPACE/NAME" (globs in namespace and name), versions: "vers:...", mode}]
    licenses: {allow: [SPDX ids] | deny: [SPDX ids], unknown: allow | warn | deny}
    require:  [{name, purl, versions}]      components that must be present
    maxAge:   "720h"                        from the SBOM's own timestamp, else the signed time

Versions compare by each ecosystem's rules through ``univers`` (Debian epochs and tildes, PEP 440, semver,
Maven); a version univers cannot read is a finding of the rule's mode, never a silent pass. Licence
expressions go through ``license-expression``: ``A OR B`` passes an allow-list holding either, ``A AND B``
needs both; ``X WITH E`` is allowed when ``X WITH E`` or ``X`` is allowed, and denied when either is denied.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal
from urllib.parse import unquote

from license_expression import ExpressionError, Licensing, get_spdx_licensing
from univers.version_range import RANGE_CLASS_BY_SCHEMES, VersionRange

from verifier.sbomrules._document import SbomComponent, SbomDocument
from verifier.sbomrules._purl import Purl

__all__ = ["AGE_RULE", "CompiledSbomRules", "SbomFinding", "SbomVerdict", "compile_sbom_rules", "parse_duration"]

Mode = Literal["enforce", "warn"]
#: the rule name of a too-old SBOM finding
AGE_RULE = "maxAge"
_LICENSING: Licensing = get_spdx_licensing()
#: what license-expression raises on text it cannot parse: its own errors, and IndexError for "()" or "( )"
_PARSE_ERRORS = (ExpressionError, ValueError, IndexError, RecursionError)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


def parse_duration(text: str) -> dt.timedelta:
    """A Go-style duration of hours, minutes and seconds: ``720h``, ``1h30m``, ``90s``."""
    if not isinstance(text, str) or not text or _DURATION.sub("", text) != "":
        raise ValueError(f"{text!r} is not a duration like 720h, 1h30m or 90s")
    unit = {"h": 3600.0, "m": 60.0, "s": 1.0}
    seconds = sum(float(n) * unit[u] for n, u in _DURATION.findall(text))
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    try:
        return dt.timedelta(seconds=seconds)
    except OverflowError:  # beyond a timedelta's 999,999,999 days (or a float's range)
        raise ValueError(f"{text[:40]!r} is longer than any time sealgate can count") from None


@dataclass(frozen=True, slots=True)
class _Match:
    """A purl pattern (``pkg:TYPE/NAMESPACE/NAME``, globs in namespace and name) and an optional vers range."""

    rule: str
    type: str
    namespace: str
    name: str
    versions: VersionRange | None
    versions_text: str

    @property
    def literal(self) -> bool:
        return not any(c in self.name for c in "*?[")

    def names(self, purl: Purl) -> bool:
        return fnmatchcase(_name(purl.type, purl.name), self.name) and fnmatchcase(
            (purl.namespace or "").lower(), self.namespace
        )


def _name(purl_type: str, name: str) -> str:
    lowered = name.lower()
    return re.sub(r"[-_.]+", "-", lowered) if purl_type == "pypi" else lowered


def _pattern(rule: str, purl: object, versions: object, where: str) -> _Match:
    if not isinstance(purl, str) or not purl.startswith("pkg:") or "/" not in purl:
        raise ValueError(f"{where}.purl: {purl!r} is not pkg:TYPE/[NAMESPACE/]NAME")
    kind, _, rest = purl[4:].partition("/")
    kind = kind.lower()
    if kind not in RANGE_CLASS_BY_SCHEMES:
        raise ValueError(f"{where}.purl: unknown purl type {kind!r}")
    if any(c in rest for c in "@?#"):
        raise ValueError(f"{where}.purl: give type/namespace/name only; versions go in 'versions'")
    namespace, _, name = (unquote(part) for part in rest.rpartition("/"))
    if not name:
        raise ValueError(f"{where}.purl: {purl!r} names no package")
    parsed: VersionRange | None = None
    text = ""
    if versions is not None:
        if not isinstance(versions, str):
            raise ValueError(f"{where}.versions: not a string")
        try:
            parsed = VersionRange.from_string(versions)  # type: ignore[no-untyped-call]
        except Exception as exc:  # univers raises ValueError, TypeError, InvalidVersion ...
            raise ValueError(f"{where}.versions: {versions!r} is not a vers range ({str(exc)[:120]})") from None
        if parsed.scheme != kind and not (kind in ("deb", "apk", "rpm") and parsed.scheme == kind):
            raise ValueError(f"{where}.versions: the range's scheme {parsed.scheme!r} is not the purl type {kind!r}")
        text = versions
    return _Match(rule, kind, namespace.lower(), _name(kind, name), parsed, text)


@dataclass(frozen=True, slots=True)
class _Deny:
    match: _Match
    mode: Mode


@dataclass(frozen=True, slots=True)
class SbomFinding:
    rule: str
    mode: Mode
    message: str
    purl: str | None = None


@dataclass(frozen=True, slots=True)
class SbomVerdict:
    findings: tuple[SbomFinding, ...]
    #: with maxAge, when this SBOM grows too old (a pass must not be remembered past it); else None
    fresh_until: dt.datetime | None = None

    @property
    def denied(self) -> bool:
        return any(f.mode == "enforce" for f in self.findings)


#: how far an SBOM's time may lie ahead of this clock before maxAge calls it a time in the future
_CLOCK_SKEW = dt.timedelta(minutes=5)


def _born(document: SbomDocument, signed_at: dt.datetime | None) -> dt.datetime | None:
    """When the SBOM was made, as far as what is known bounds it: its own time, but never later than its
    verified signing time (it existed when it was signed), else the signing time."""
    if document.timestamp is None:
        return signed_at
    if signed_at is not None and document.timestamp > signed_at:
        return signed_at
    return document.timestamp


def _version(component: SbomComponent) -> str | None:
    """The version to compare: the purl's, with the epoch put back where a purl keeps it in a qualifier (Trivy
    writes ``pkg:deb/debian/zlib1g@1.2.13.dfsg-1?epoch=1``; syft writes ``@1:1.2.13.dfsg-1``)."""
    purl = component.purl
    text = (purl.version if purl is not None else None) or component.version
    qualifiers = purl.qualifiers if purl is not None else {}
    epoch = qualifiers.get("epoch")
    if text and epoch and ":" not in text:
        text = f"{epoch}:{text}"
    return text


def _display(component: SbomComponent) -> str:
    if component.purl is None:
        return f"{component.name}@{component.version or '?'}"
    p = component.purl
    base = f"pkg:{p.type}/{p.namespace + '/' if p.namespace else ''}{p.name}"
    version = _version(component)
    return f"{base}@{version}" if version else base


@dataclass(frozen=True)
class CompiledSbomRules:
    deny: tuple[_Deny, ...] = ()
    allow_licences: frozenset[str] | None = None
    deny_licences: frozenset[str] | None = None
    unknown: Literal["allow", "warn", "deny"] = "allow"
    require: tuple[_Match, ...] = ()
    max_age: dt.timedelta | None = None
    max_age_text: str = ""
    _index: Mapping[tuple[str, str], tuple[_Deny, ...]] = field(default_factory=dict, repr=False)
    _globbed: Mapping[str, tuple[_Deny, ...]] = field(default_factory=dict, repr=False)

    def evaluate(
        self,
        document: SbomDocument,
        *,
        now: dt.datetime,
        signed_at: dt.datetime | None = None,
        attested: bool = True,
    ) -> SbomVerdict:
        """The findings of these rules on ``document``; ``signed_at``: the attestation's verified signing time
        (maxAge's fallback), ``attested=False`` for a local SBOM that has no attestation to speak of."""
        findings: list[SbomFinding] = []
        versions: dict[tuple[str, str], Any] = {}
        licences: dict[str, tuple[bool, str]] = {}  # each distinct expression parsed once
        for component in document.components:
            findings += self._component(component, versions, licences)
        for wanted in self.require:
            if not any(self._matches(wanted, c, versions) is True for c in document.components):
                scope = f" {wanted.versions_text}" if wanted.versions_text else ""
                message = f'SBOM has no component required by rule "{wanted.rule}" (pkg:{wanted.type}/'
                message += f"{wanted.namespace + '/' if wanted.namespace else ''}{wanted.name}{scope})"
                findings.append(SbomFinding(wanted.rule, "enforce", message))
        fresh_until = None
        if self.max_age is not None:
            born = _born(document, signed_at)
            problem = self._age_problem(self.max_age, born, document.timestamp is not None, now, attested)
            if problem is not None:
                findings.append(SbomFinding(AGE_RULE, "enforce", problem))
            fresh_until = _plus(born, self.max_age) if born is not None else None
        return SbomVerdict(tuple(dict.fromkeys(findings)), fresh_until)

    def _age_problem(
        self, max_age: dt.timedelta, born: dt.datetime | None, stated: bool, now: dt.datetime, attested: bool
    ) -> str | None:
        """Why an SBOM made at ``born`` (:func:`_born`; ``stated``: from its own time) fails maxAge, or None.
        With no time at all the age is unknown, which is a denial (fail closed), never a pass; a time in the
        future is a denial too (an SBOM dated years ahead would otherwise pass maxAge for years)."""
        limit = f"maxAge {self.max_age_text}"
        if born is None and not attested:
            return f"SBOM states no time, so its age is unknown: denied by {limit}"
        if born is None:
            return (
                f"SBOM states no time and its attestation has no verified signing time (transparency log or "
                f"RFC 3161 timestamp), so its age is unknown: denied by {limit}"
            )
        if born > now + _CLOCK_SKEW:
            return f"SBOM states a time in the future ({born.isoformat()}): denied by {limit}"
        if now - born <= max_age:
            return None
        if stated:
            return f"SBOM is {_age(now - born)} old, older than {limit}"
        return f"SBOM states no time; it was signed {_age(now - born)} ago, longer than {limit}"

    def _component(
        self,
        component: SbomComponent,
        versions: dict[tuple[str, str], Any],
        licences: dict[str, tuple[bool, str]],
    ) -> list[SbomFinding]:
        found: list[SbomFinding] = []
        purl = component.purl
        if purl is not None and (self._index or self._globbed):
            kind = purl.type.lower()
            candidates = self._index.get((kind, _name(kind, purl.name)), ()) + self._globbed.get(kind, ())
            for rule in candidates:
                verdict = self._matches(rule.match, component, versions)
                if verdict is True:
                    scope = rule.match.versions_text or "every version"
                    message = f'SBOM component {_display(component)} is denied by rule "{rule.match.rule}" ({scope})'
                    found.append(SbomFinding(rule.match.rule, rule.mode, message, _display(component)))
                elif verdict is None:
                    scope = f'rule "{rule.match.rule}" ({rule.match.versions_text})'
                    if _version(component):
                        message = f"SBOM component {_display(component)}: version "
                        message += f"{str(_version(component))[:60]!r} cannot be compared by {scope}"
                    else:
                        message = f"SBOM component {_display(component)} states no version, so {scope} "
                        message += "cannot rule it out"
                    found.append(SbomFinding(rule.match.rule, rule.mode, message, _display(component)))
        licence_rules = self.allow_licences is not None or self.deny_licences is not None or self.unknown != "allow"
        if licence_rules and not component.operating_system:
            found += self._licence(component, licences)
        return found

    @staticmethod
    def _matches(match: _Match, component: SbomComponent, versions: dict[tuple[str, str], Any]) -> bool | None:
        """True when ``component`` is in ``match``; None when its version cannot be compared."""
        purl = component.purl
        if purl is None or purl.type.lower() != match.type or not match.names(purl):
            return False
        if match.versions is None:
            return True
        text = _version(component)
        if not text:
            return None
        scheme: str = str(match.versions.scheme)
        version_class: Any = match.versions.version_class
        key = (scheme, text)
        if key not in versions:
            try:
                versions[key] = version_class(text)
            except Exception:  # univers raises several kinds on versions it cannot read
                versions[key] = None
        version = versions[key]
        if version is None:
            return None
        try:
            return bool(version in match.versions)
        except Exception:
            return None

    def _licence(self, component: SbomComponent, licences: dict[str, tuple[bool, str]]) -> list[SbomFinding]:
        if component.licenses is None:
            if self.unknown == "allow":
                return []
            mode: Mode = "enforce" if self.unknown == "deny" else "warn"
            message = f"SBOM component {_display(component)} states no licence (licenses.unknown: {self.unknown})"
            return [SbomFinding("licenses", mode, message, _display(component))]
        if component.licenses not in licences:
            licences[component.licenses] = self._licence_ok(component.licenses)
        ok, why = licences[component.licenses]
        if ok:
            return []
        message = f"SBOM component {_display(component)} licence {component.licenses[:200]!r} {why}"
        return [SbomFinding("licenses", "enforce", message, _display(component))]

    def _licence_ok(self, expression: str) -> tuple[bool, str]:
        try:
            parsed = _LICENSING.parse(expression)
        except _PARSE_ERRORS:
            return False, "is not an SPDX expression"
        if parsed is None:
            return False, "is empty"
        if self.allow_licences is not None:
            allowed = self.allow_licences
            if _satisfied(parsed, allowed, allow=True):
                return True, ""
            return False, f"is not allowed (licenses.allow: {', '.join(sorted(allowed))})"
        denied = self.deny_licences or frozenset()
        if _satisfied(parsed, denied, allow=False):
            return True, ""
        return False, f"is denied (licenses.deny: {', '.join(sorted(denied))})"


def _plus(when: dt.datetime, duration: dt.timedelta) -> dt.datetime:
    """``when + duration``, or the last representable time when that lies beyond it (an SBOM dated 9999)."""
    try:
        return when + duration
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=dt.UTC)


def _age(age: dt.timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours}h" if hours else f"{int(age.total_seconds() // 60)}m"


def _keys(symbol: Any) -> list[str]:
    """The licence keys a symbol may be known by: ``X WITH E`` is known as itself and as ``X``."""
    if hasattr(symbol, "license_symbol") and hasattr(symbol, "exception_symbol"):
        base = symbol.license_symbol.key.lower()
        return [f"{base} with {symbol.exception_symbol.key.lower()}", base]
    return [str(symbol.key).lower()]


def _satisfied(expression: Any, listed: frozenset[str], *, allow: bool, depth: int = 0) -> bool:
    """Can ``expression`` be satisfied with the licences an allow-list (``allow``) or deny-list accepts?

    A leaf is accepted when it (``X``, or ``X WITH E`` known as either form) is listed in an allow-list, or
    when no form of it is listed in a deny-list. ``OR`` needs one accepted branch, ``AND`` every branch.
    """
    if depth > 64:
        return False
    args = getattr(expression, "args", None)
    if args:
        results = (_satisfied(a, listed, allow=allow, depth=depth + 1) for a in args)
        return any(results) if type(expression).__name__.upper() == "OR" else all(results)
    named = [key in listed for key in _keys(expression)]
    return any(named) if allow else not any(named)


def _licence_set(values: object, where: str) -> frozenset[str]:
    if not isinstance(values, list) or not values:
        raise ValueError(f"{where}: give a non-empty list of SPDX licence ids")
    keys = set()
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise ValueError(f"{where}[{i}]: not a string")
        try:
            parsed = _LICENSING.parse(value, validate=True, strict=True)
        except _PARSE_ERRORS as exc:
            raise ValueError(f"{where}[{i}]: {value!r} is not an SPDX licence id ({str(exc)[:120]})") from None
        if getattr(parsed, "args", None):
            raise ValueError(f"{where}[{i}]: {value!r} is an expression; list licence ids one by one")
        keys.add(_keys(parsed)[0])
    return frozenset(keys)


def compile_sbom_rules(spec: Mapping[str, Any], where: str = "sbom") -> CompiledSbomRules:
    """Compile an ``sbom:`` block; :class:`ValueError` naming the field path (``sbom.deny[0].versions``)."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: not a mapping")
    unknown_fields = set(spec) - {"deny", "licenses", "require", "maxAge"}
    if unknown_fields:
        raise ValueError(f"{where}: unknown field {sorted(unknown_fields)[0]!r}")
    deny: list[_Deny] = []
    names: set[str] = set()
    for i, raw in enumerate(spec.get("deny") or []):
        at = f"{where}.deny[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
            raise ValueError(f"{at}: a rule needs a name")
        if raw["name"] in names:
            raise ValueError(f"{at}.name: {raw['name']!r} is used twice")
        names.add(raw["name"])
        mode = raw.get("mode", "enforce")
        if mode not in ("enforce", "warn"):
            raise ValueError(f"{at}.mode: {mode!r} is neither enforce nor warn")
        deny.append(_Deny(_pattern(raw["name"], raw.get("purl"), raw.get("versions"), at), mode))
    require = []
    for i, raw in enumerate(spec.get("require") or []):
        at = f"{where}.require[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
            raise ValueError(f"{at}: a requirement needs a name")
        require.append(_pattern(raw["name"], raw.get("purl"), raw.get("versions"), at))
    allow = deny_licences = None
    unknown = "allow"
    licences = spec.get("licenses")
    if licences is not None:
        if not isinstance(licences, Mapping):
            raise ValueError(f"{where}.licenses: not a mapping")
        if ("allow" in licences) == ("deny" in licences):
            raise ValueError(f"{where}.licenses: give exactly one of allow or deny")
        if "allow" in licences:
            allow = _licence_set(licences["allow"], f"{where}.licenses.allow")
        else:
            deny_licences = _licence_set(licences["deny"], f"{where}.licenses.deny")
        unknown = licences.get("unknown", "allow")
        if unknown not in ("allow", "warn", "deny"):
            raise ValueError(f"{where}.licenses.unknown: {unknown!r} is not allow, warn or deny")
    max_age = None
    text = spec.get("maxAge")
    if text is not None:
        try:
            max_age = parse_duration(text)
        except ValueError as exc:
            raise ValueError(f"{where}.maxAge: {exc}") from None
    index: dict[tuple[str, str], tuple[_Deny, ...]] = {}
    globbed: dict[str, tuple[_Deny, ...]] = {}
    for rule in deny:
        if rule.match.literal:
            key = (rule.match.type, rule.match.name)
            index[key] = (*index.get(key, ()), rule)
        else:
            globbed[rule.match.type] = (*globbed.get(rule.match.type, ()), rule)
    return CompiledSbomRules(
        tuple(deny), allow, deny_licences, unknown, tuple(require), max_age, text or "", index, globbed  # type: ignore[arg-type]
    )
