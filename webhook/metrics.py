"""Prometheus metrics of one webhook app (its own registry, so several apps in one process do not collide)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from verifier.engine import Decision, EngineStats

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _EngineCollector(Collector):
    """Reads the engine's and registry client's own counters at scrape time (nothing on the hot path)."""

    def __init__(self, stats: Callable[[], EngineStats | None], requests: Callable[[], int]) -> None:
        self._stats = stats
        self._requests = requests

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._stats()
        if stats is None:
            return
        hits = CounterMetricFamily("sealgate_cache_hits", "Policy verdicts answered from the cache")
        hits.add_metric([], stats.cache_hits)
        misses = CounterMetricFamily("sealgate_cache_misses", "Policy verdicts that needed verification")
        misses.add_metric([], stats.cache_misses)
        fetches = CounterMetricFamily("sealgate_signature_fetches", "Signature sets fetched from registries")
        fetches.add_metric([], stats.verifications)
        requests = CounterMetricFamily("sealgate_registry_requests", "HTTP requests sent to registries")
        requests.add_metric([], self._requests())
        yield from (hits, misses, fetches, requests)


class Metrics:
    def __init__(self, stats: Callable[[], EngineStats | None], registry_requests: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sealgate_admission_requests",
            "AdmissionReview requests answered, by result",
            ["result"],
            registry=self.registry,
        )
        self.images = Counter(
            "sealgate_image_decisions",
            "Image decisions, by outcome and code",
            ["outcome", "code"],
            registry=self.registry,
        )
        self.policies = Counter(
            "sealgate_policy_decisions",
            "Policy verdicts on images, by policy and result",
            ["policy", "result"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sealgate_admission_duration_seconds",
            "Time to answer an AdmissionReview",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(stats, registry_requests))
        # labelled children, looked up once: `.labels()` takes a lock and builds a key on every call
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Counter, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def record(self, result: str, decisions: list[Decision], seconds: float) -> None:
        self._child(self.requests, result).inc()
        self.latency.observe(seconds)
        for decision in decisions:
            self._child(self.images, decision.outcome.value, decision.code).inc()
            for verdict in decision.results:
                self._child(self.policies, verdict.policy, "pass" if verdict.passed else "fail").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
