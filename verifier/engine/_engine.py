"""The one place that decides: ``Engine.decide(image) -> Decision``.

The webhook, ``sealgate verify --policy`` and (later) ``sealgate audit`` all call it, so a policy gives the
same answer everywhere. Registries are contacted only for images that a policy matches, on hosts the
policies' ``images`` globs name (an image reference is attacker-controlled input).

Fast path: a policy that asks for no attestation is first judged on the ``.sig`` tag alone (cosign's classic
layout: the signature manifest and its payloads, 3 requests with the tag lookup); only when that does not
satisfy it are the referrers (API, else the fallback tag) read as well. More signatures can only add verified
authorities, so the verdict is the one a full discovery gives.

Deadline and ``onError``: ``decide``/``decide_many`` take an optional ``deadline`` in seconds (the webhook passes
the policies' ``deadlineSeconds``; the CLI and audit pass none unless asked). Registry requests get 90 % of it, so
a slow registry ends as a ``REGISTRY_UNAVAILABLE`` failure naming it; an image still undecided at the deadline is
a ``DEADLINE_EXCEEDED`` decision. Either way, when sealgate could not verify (registry unreachable, breaker open,
deadline), ``Settings.onError`` decides: ``deny`` (the default), or ``allow`` - a warning naming the image and why.

Caching: a policy's verdict is cached by (repository, digest, policy hash) - for ``ttlSeconds`` when it
passed, ``failureTtlSeconds`` when the signatures did not satisfy it; registry failures are never cached, so
an outage ends the moment the registry is back. Concurrent requests for the same work share it
(singleflight), and each registry gets at most ``registries.concurrency`` requests at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, replace

from verifier.attachments import LAYOUTS, LEGACY_SIG, Attachment, discover
from verifier.engine._cache import SingleFlight, TTLCache
from verifier.engine._decision import Decision, Outcome, PolicyResult
from verifier.engine._judge import judge
from verifier.errors import DownloadBudgetError, InvalidReferenceError, Reason, RegistryError, SealgateError
from verifier.oci import Descriptor, Digest, Reference, Registry
from verifier.policy import CompiledPolicy, PolicySet
from verifier.registry import request_deadline

__all__ = ["Engine", "EngineStats", "NamespaceLabels"]

_logger = logging.getLogger(__name__)

#: failure codes that mean "could not verify" rather than "verified and found wanting"; Settings.onError decides
_UNVERIFIABLE = frozenset({Reason.REGISTRY_UNAVAILABLE, Reason.DEADLINE_EXCEEDED})
#: the share of a deadline registry requests get: past it a slow registry is a failure naming it, in time to answer
_REGISTRY_SHARE = 0.9
#: looks up a namespace's labels (the webhook asks the Kubernetes API); None when unknown
NamespaceLabels = Callable[[str], Awaitable[Mapping[str, str] | None]]
#: the fast path's layout, and the layouts read when it does not decide
_FAST = (LEGACY_SIG,)
_REST = tuple(layout for layout in LAYOUTS if layout != LEGACY_SIG)


@dataclass(slots=True)
class EngineStats:
    """Counters the metrics endpoint exports."""

    cache_hits: int = 0
    cache_misses: int = 0
    verifications: int = 0


class _Unverifiable(Exception):
    """Verification could not run at all (registry failure): the same failure for every policy."""

    def __init__(self, error: SealgateError) -> None:
        self.error = error


class Engine:
    """Decides whether images may run, against a compiled :class:`PolicySet`."""

    def __init__(
        self,
        policies: PolicySet,
        client: Registry,
        *,
        namespace_labels: NamespaceLabels | None = None,
        clock: Callable[[], float] = time.monotonic,
        keep_statements: bool = False,
    ) -> None:
        """``keep_statements``: keep verified attestations' statements in the decisions' evidence (the CLI
        prints them); off, they are dropped before caching, so cached verdicts stay small."""
        self._client = client
        self._keep_statements = keep_statements
        self._namespace_labels = namespace_labels
        self._clock = clock
        self.stats = EngineStats()
        self._resolving: SingleFlight[str, Descriptor] = SingleFlight()
        self._judging: SingleFlight[tuple[str, str, str], PolicyResult] = SingleFlight()
        self._fetching: SingleFlight[tuple[str, str, bool, Collection[str]], list[Attachment]] = SingleFlight()
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._load(policies)

    def _load(self, policies: PolicySet) -> None:
        self.policies = policies
        size = policies.settings.cache_max_entries
        self._verdicts: TTLCache[tuple[str, str, str], PolicyResult] = TTLCache(size, self._clock)
        self._tags: TTLCache[str, Digest] = TTLCache(size, self._clock)
        #: whole decisions built from cached verdicts, until the first of those expires
        self._decisions: TTLCache[tuple[str, str | None], Decision] = TTLCache(size, self._clock)

    # --- deciding ---------------------------------------------------------------------------------

    async def decide(self, image: str, *, namespace: str | None = None, deadline: float | None = None) -> Decision:
        """The decision for one image reference as written in a workload (tag or digest), within ``deadline``
        seconds when given (module docstring)."""
        memo = self._decisions.get((image, namespace))
        if memo is not None:
            self.stats.cache_hits += len(memo.results)
            return memo
        step = self._prepare(image, namespace)
        if isinstance(step, Decision):
            return step
        return self._from_cache(step) or (await self._run_all([step], deadline))[0]

    async def decide_many(
        self, images: list[str], *, namespace: str | None = None, deadline: float | None = None
    ) -> list[Decision]:
        """Decisions for several images: answered from the caches where possible (no task, no await),
        the rest verified in parallel, within ``deadline`` seconds when given. The same image twice costs one
        verification."""
        decided: dict[str, Decision] = {}
        pending: list[_Plan] = []
        for image in dict.fromkeys(images):
            memo = self._decisions.get((image, namespace))
            if memo is not None:
                self.stats.cache_hits += len(memo.results)
                decided[image] = memo
                continue
            step = self._prepare(image, namespace)
            if isinstance(step, _Plan):
                found = self._from_cache(step)
                if found is None:
                    pending.append(step)
                    continue
                step = found
            decided[image] = step
        if pending:
            for plan, decision in zip(pending, await self._run_all(pending, deadline), strict=True):
                decided[plan.image] = decision
        return [decided[i] for i in images]

    async def _run_all(self, plans: list[_Plan], deadline: float | None) -> list[Decision]:
        """``plans`` verified in parallel; with a deadline, those unfinished at it end as DEADLINE_EXCEEDED."""
        if deadline is None:
            if len(plans) == 1:
                return [await self._run(plans[0])]
            return list(await asyncio.gather(*map(self._run, plans)))
        with request_deadline(deadline * _REGISTRY_SHARE):  # the tasks inherit it
            tasks = [asyncio.ensure_future(self._run(plan)) for plan in plans]
        try:
            await asyncio.wait(tasks, timeout=deadline)
        finally:  # on time, or cancelled by our caller: nothing keeps running for a request that is over
            late = [task for task in tasks if not task.done()]
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        return [
            self._out_of_time(plan, deadline) if task.cancelled() else task.result()
            for plan, task in zip(plans, tasks, strict=True)
        ]

    def _out_of_time(self, plan: _Plan, deadline: float) -> Decision:
        reason = f"sealgate could not finish verification within its {deadline:g}s deadline"
        enforced = any(p.mode == "enforce" for p in plan.candidates)
        outcome = Outcome.DENY if enforced else Outcome.WARN
        return self._on_error(Decision(plan.image, outcome, Reason.DEADLINE_EXCEEDED, reason, reference=str(plan.ref)))

    def _on_error(self, decision: Decision) -> Decision:
        """``decision``, admitted with a warning when only sealgate's inability to verify denies it (a registry
        unreachable, its breaker open, the deadline) and ``Settings.onError`` is allow."""
        if (
            decision.outcome is Outcome.DENY
            and decision.code in _UNVERIFIABLE
            and self.policies.settings.on_error == "allow"
            and all(r.code in _UNVERIFIABLE for r in decision.failures("enforce"))
        ):
            return replace(decision, outcome=Outcome.WARN, reason=f"{decision.reason} (admitted: onError is allow)")
        return decision

    def _prepare(self, image: str, namespace: str | None) -> Decision | _Plan:
        """Everything decidable without I/O: exemptions, parsing, which policies apply, the allow-list."""
        settings = self.policies.settings
        if settings.is_exempt(namespace, image):
            return Decision(image, Outcome.ALLOW, Reason.EXEMPT, "exempt by settings")
        try:
            ref = Reference.parse(image)
        except InvalidReferenceError as exc:
            return Decision(image, Outcome.DENY, exc.code, exc.message)
        candidates = self.policies.matching(ref)
        if namespace is not None and candidates:
            if any(p.uses_namespace_labels for p in candidates):
                return _Plan(image, ref, candidates, namespace, needs_labels=True)
            candidates = [p for p in candidates if p.applies_to_namespace(namespace, None)]
        return self._selected(image, ref, candidates, namespace)

    def _selected(
        self, image: str, ref: Reference, candidates: list[CompiledPolicy], namespace: str | None
    ) -> Decision | _Plan:
        if not candidates:
            return self._no_match(image, ref)
        if not self.policies.registry_allowed(ref.registry):
            reason = f"registry {ref.registry} is not named by any policy"
            return Decision(image, Outcome.DENY, Reason.REGISTRY_NOT_ALLOWED, reason, reference=str(ref))
        return _Plan(image, ref, candidates, namespace, needs_labels=False)

    def _from_cache(self, plan: _Plan) -> Decision | None:
        """The decision when every verdict it needs is cached (the hot path of a busy cluster)."""
        if plan.needs_labels:
            return None
        ref = plan.ref
        expires = float("inf")
        digest = ref.digest
        if digest is None:
            tag_entry = self._tags.get_entry(str(ref))
            if tag_entry is None:
                return None
            expires, digest = tag_entry
        needs_digest, remaining = _split_digest_required(ref, plan.candidates)
        results = [_digest_required(p) for p in needs_digest]
        for policy in remaining:
            entry = self._verdicts.get_entry((ref.name, str(digest), policy.hash))
            if entry is None:
                return None
            expires = min(expires, entry[0])
            results.append(entry[1])
        self.stats.cache_hits += len(remaining)
        resolved_from = ref.tag if ref.digest is None else None
        decision = _decision(plan.image, ref, digest if remaining else ref.digest, resolved_from, tuple(results), True)
        if remaining:
            self._decisions.put_until((plan.image, plan.namespace), decision, expires)
        return decision

    async def _run(self, plan: _Plan) -> Decision:
        candidates = plan.candidates
        if plan.needs_labels and plan.namespace is not None:
            selected = await self._in_namespace(candidates, plan.namespace)
            if isinstance(selected, Decision):
                return Decision(plan.image, selected.outcome, selected.code, selected.reason, reference=str(plan.ref))
            step = self._selected(plan.image, plan.ref, selected, plan.namespace)
            if isinstance(step, Decision):
                return step
            candidates = step.candidates
        return await self._verify(plan.image, plan.ref, candidates)

    async def _in_namespace(self, candidates: list[CompiledPolicy], namespace: str) -> list[CompiledPolicy] | Decision:
        labels: Mapping[str, str] | None = None
        if self._namespace_labels is not None:
            try:
                labels = await self._namespace_labels(namespace)
            except SealgateError as exc:
                _logger.debug("labels of namespace %s unavailable: %s", namespace, exc)
        if labels is None:
            return Decision(
                "",
                Outcome.DENY,
                Reason.NAMESPACE_LABELS_UNAVAILABLE,
                f"labels of namespace {namespace!r} are needed by a policy but could not be read",
            )
        return [p for p in candidates if p.applies_to_namespace(namespace, labels)]

    def _no_match(self, image: str, ref: Reference) -> Decision:
        mode = self.policies.settings.no_match
        reason = f"no policy matches {ref.name}"
        outcome = {"allow": Outcome.ALLOW, "warn": Outcome.WARN}.get(mode, Outcome.DENY)
        return Decision(image, outcome, Reason.NO_MATCH, reason, reference=str(ref))

    async def _verify(self, image: str, ref: Reference, policies: list[CompiledPolicy]) -> Decision:
        needs_digest, remaining = _split_digest_required(ref, policies)
        results = [_digest_required(p) for p in needs_digest]
        digest, resolved_from, cached = ref.digest, None, True
        if remaining:
            try:
                if digest is None:
                    digest, cached = await self._resolve(ref)
                    resolved_from = ref.tag
                for policy in remaining:
                    result, hit = await self._policy_result(ref, digest, policy)
                    results.append(result)
                    cached = cached and hit
            except _Unverifiable as exc:
                results.extend(
                    PolicyResult(p.name, p.mode, False, exc.error.code, exc.error.message)
                    for p in remaining
                    if p.name not in {r.policy for r in results}
                )
                cached = False
        return self._on_error(_decision(image, ref, digest, resolved_from, tuple(results), cached))

    async def _resolve(self, ref: Reference) -> tuple[Digest, bool]:
        key = str(ref)
        found = self._tags.get(key)
        if found is not None:
            return found, True
        try:
            async with self._slot(ref.registry):
                resolved = (await self._resolving.do(key, lambda: self._client.resolve(ref))).digest
        except RegistryError as exc:
            raise _Unverifiable(exc) from None
        self._tags.put(key, resolved, self.policies.settings.cache_tag_ttl_seconds)
        return resolved, False

    async def _policy_result(self, ref: Reference, digest: Digest, policy: CompiledPolicy) -> tuple[PolicyResult, bool]:
        key = (ref.name, str(digest), policy.hash)
        found = self._verdicts.get(key)
        if found is not None:
            self.stats.cache_hits += 1
            return found, True
        self.stats.cache_misses += 1
        try:
            return await self._judging.do(key, lambda: self._evaluate(ref, digest, policy)), False
        except RegistryError as exc:  # this caller's deadline passed while the shared verification went on
            raise _Unverifiable(exc) from None

    async def _evaluate(self, ref: Reference, digest: Digest, policy: CompiledPolicy) -> PolicyResult:
        try:
            result = await self._discover_and_judge(ref, digest, policy)
        except _Unverifiable as exc:
            if not isinstance(exc.error, DownloadBudgetError):
                raise
            # the image's own content is over budget: a verdict like any failed check, cached as one, so the next
            # admission of this digest does not download up to the budget again
            result = PolicyResult(policy.name, policy.mode, False, exc.error.code, exc.error.message)
        if not self._keep_statements and any(e.statement is not None for e in result.evidence):
            result = replace(result, evidence=tuple(replace(e, statement=None) for e in result.evidence))
        settings = self.policies.settings
        ttl: float = settings.cache_ttl_seconds if result.passed else settings.cache_failure_ttl_seconds
        if result.fresh_until is not None:  # an SBOM's maxAge runs out before the TTL: the pass ends with it
            ttl = min(ttl, (result.fresh_until - dt.datetime.now(dt.UTC)).total_seconds())
        self._verdicts.put((ref.name, str(digest), policy.hash), result, ttl)
        return result

    async def _discover_and_judge(self, ref: Reference, digest: Digest, policy: CompiledPolicy) -> PolicyResult:
        store = policy.signature_repository or ref
        attestations = bool(policy.attestations)
        found: list[Attachment] = []
        if not attestations:  # the fast path (module docstring)
            found = await self._attachments(store, digest, attestations=False, layouts=_FAST)
            result = judge(policy, ref, digest, found)
            if result.passed:
                return result
        layouts = LAYOUTS if attestations else _REST
        found = found + await self._attachments(store, digest, attestations=attestations, layouts=layouts)
        return judge(policy, ref, digest, found)

    async def _attachments(
        self, ref: Reference, digest: Digest, *, attestations: bool, layouts: Collection[str]
    ) -> list[Attachment]:
        """What is attached to ``ref@digest`` in ``layouts`` (attestations only when a policy asks)."""

        async def fetch() -> list[Attachment]:
            if LEGACY_SIG in layouts:  # a verification's first look (the rest of the slow path is not another)
                self.stats.verifications += 1
            async with self._slot(ref.registry):
                return await discover(
                    self._client, ref, digest, signatures=True, attestations=attestations, layouts=layouts
                )

        try:
            return await self._fetching.do((ref.name, str(digest), attestations, tuple(layouts)), fetch)
        except RegistryError as exc:
            raise _Unverifiable(exc) from None

    def _slot(self, registry: str) -> asyncio.Semaphore:
        slot = self._slots.get(registry)
        if slot is None:
            slot = self._slots[registry] = asyncio.Semaphore(self.policies.settings.verifications_per_registry)
        return slot


@dataclass(frozen=True, slots=True)
class _Plan:
    """An image that needs more than the policies to decide: namespace labels, or the registry."""

    image: str
    ref: Reference
    candidates: list[CompiledPolicy]
    namespace: str | None
    needs_labels: bool


def _split_digest_required(
    ref: Reference, policies: list[CompiledPolicy]
) -> tuple[list[CompiledPolicy], list[CompiledPolicy]]:
    """(policies this tag reference fails for lack of a digest, the policies left to verify)."""
    if ref.digest is not None:
        return [], policies
    return [p for p in policies if p.require_digest], [p for p in policies if not p.require_digest]


def _digest_required(policy: CompiledPolicy) -> PolicyResult:
    return PolicyResult(policy.name, policy.mode, False, Reason.DIGEST_REQUIRED, "image must be referenced by digest")


def _decision(
    image: str,
    ref: Reference,
    digest: Digest | None,
    resolved_from: str | None,
    results: tuple[PolicyResult, ...],
    cached: bool,
) -> Decision:
    enforce = [r for r in results if not r.passed and r.mode == "enforce"]
    warn = [r for r in results if not r.passed and r.mode != "enforce"]
    failing = enforce or warn
    outcome = Outcome.DENY if enforce else Outcome.WARN if warn else Outcome.ALLOW
    if failing:
        code, reason = failing[0].code, "; ".join(f'policy "{r.policy}": {r.reason}' for r in failing)
    else:
        code, reason = Reason.OK, "; ".join(f'policy "{r.policy}": {r.reason}' for r in results)
    return Decision(
        image,
        outcome,
        code,
        reason,
        reference=str(ref),
        digest=str(digest) if digest else None,
        resolved_from_tag=resolved_from,
        results=results,
        cached=cached,
    )
