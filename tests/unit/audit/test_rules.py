"""Which rule and severity each engine Decision becomes (pure): one case per behaviour."""

from __future__ import annotations

import pytest

from verifier.audit._check import _decision_findings
from verifier.audit._model import RULES, Severity
from verifier.engine import Decision, Outcome, PolicyResult

IMAGE = "reg.test/app@sha256:" + "ab" * 32


def _failed(code: str, reason: str, mode: str = "enforce") -> Decision:
    outcome = Outcome.DENY if mode == "enforce" else Outcome.WARN
    return Decision(IMAGE, outcome, code, reason, results=(PolicyResult("p", mode, False, code, reason),))


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        pytest.param(Decision(IMAGE, Outcome.ALLOW, "EXEMPT", "exempt by settings"), [], id="exempt: nothing"),
        pytest.param(Decision(IMAGE, Outcome.ALLOW, "OK", "verified", results=(
            PolicyResult("p", "enforce", True, "OK", "verified by 'ci'"),)), [], id="verified: nothing"),
        pytest.param(Decision(IMAGE, Outcome.DENY, "NO_MATCH", "no policy matches reg.test/app"),
                     [("SG007", None)], id="no match, deny"),
        pytest.param(Decision(IMAGE, Outcome.ALLOW, "NO_MATCH", "no policy matches reg.test/app"),
                     [("SG007", Severity.LOW)], id="no match, noMatch allow: low"),
        pytest.param(Decision(IMAGE, Outcome.DENY, "REGISTRY_NOT_ALLOWED", "registry x is not named by any policy"),
                     [("SG007", None)], id="registry not named"),
        pytest.param(Decision("Not A Ref", Outcome.DENY, "REFERENCE_INVALID", "invalid reference"),
                     [("SG009", None)], id="invalid reference"),
        pytest.param(_failed("NO_SIGNATURES", "no signatures found"), [("SG004", None)], id="unsigned"),
        pytest.param(_failed("SIGNATURE_INVALID", 'no signature verifies with key of "ci"'), [("SG004", None)],
                     id="wrong key"),
        pytest.param(_failed("NO_SIGNATURES", "no signatures found", mode="warn"), [("SG004", Severity.LOW)],
                     id="warn-mode policy: low"),
        pytest.param(_failed("ATTESTATION_MISSING", 'no verified https://cyclonedx.org/bom attestation ("sbom")'),
                     [("SG005", None)], id="attestation missing"),
        pytest.param(_failed("SIGNATURE_INVALID", 'no verified https://cyclonedx.org/bom attestation ("sbom") '
                             'signed by "ci": signature invalid'), [("SG005", None)], id="attestation bad signature"),
        pytest.param(_failed("SBOM_RULE_VIOLATED", "package log4j-core 2.14.1 is denied"), [("SG006", None)],
                     id="sbom rule"),
        pytest.param(_failed("REGISTRY_UNAVAILABLE", "registry unavailable"), [("SG008", None)], id="registry down"),
        pytest.param(_failed("REGISTRY_UNAUTHORIZED", "401"), [("SG008", None)], id="registry auth"),
        pytest.param(_failed("REGISTRY_UNAVAILABLE", "registry unavailable", mode="warn"), [("SG008", None)],
                     id="could not check stays medium in warn mode"),
        pytest.param(Decision(IMAGE, Outcome.DENY, "NAMESPACE_LABELS_UNAVAILABLE", "labels unreadable"),
                     [("SG008", None)], id="namespace labels unreadable"),
    ],
)
def test_decision_to_rule(decision, expected):
    found = [(rule, severity) for rule, _, _, severity in _decision_findings(decision)]
    assert found == expected
    assert all(rule in RULES for rule, _ in found)
