"""The engine: the only place sealgate decides whether an image may run.

>>> from verifier.engine import Engine
>>> from verifier.registry import RegistryClient
>>> from verifier.policy import load_policy_files
>>> async def check(image: str) -> bool:  # doctest: +SKIP
...     async with RegistryClient() as client:
...         engine = Engine(load_policy_files(["policies/"]), client)
...         decision = await engine.decide(image, namespace="prod")
...         return decision.allowed
"""

from verifier.engine._cache import SingleFlight, TTLCache
from verifier.engine._decision import Decision, Outcome, PolicyResult
from verifier.engine._engine import Engine, EngineStats, NamespaceLabels
from verifier.engine._judge import check_signature, judge
from verifier.engine._render import MAX_DENIAL_LINES, cut_text, decision_lines, denial_line, denial_message, safe_text

__all__ = [
    "MAX_DENIAL_LINES",
    "Decision",
    "Engine",
    "EngineStats",
    "NamespaceLabels",
    "Outcome",
    "PolicyResult",
    "SingleFlight",
    "TTLCache",
    "check_signature",
    "cut_text",
    "decision_lines",
    "denial_line",
    "denial_message",
    "judge",
    "safe_text",
]
