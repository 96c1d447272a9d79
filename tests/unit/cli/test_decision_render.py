"""`verify` (--policy, --key, keyless) and `verify-attestation` print the same per-image lines as the webhook's
denial (one renderer)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from verifier.cli._decide import print_decision as _print_decision
from verifier.engine import Decision, Outcome, PolicyResult, decision_lines, denial_line
from verifier.engine._decision import Evidence


def _decision() -> Decision:
    return Decision(
        image="reg.test/app:1",
        outcome=Outcome.DENY,
        code="NO_SIGNATURES",
        reason="no signatures found",
        results=(
            PolicyResult(
                policy="prod", mode="enforce", passed=False, code="NO_SIGNATURES", reason="no signatures found"
            ),
            PolicyResult(policy="audit", mode="warn", passed=False, code="SIGNATURE_INVALID", reason="bad\x1bsig"),
            PolicyResult(policy="ok", mode="enforce", passed=True, code="OK", reason="verified"),
        ),
    )


def test_cli_prints_the_webhook_lines(capsys: pytest.CaptureFixture[str]) -> None:
    _print_decision(_decision())
    out = capsys.readouterr().out.splitlines()
    webhook_denials, webhook_warnings = decision_lines("image", "reg.test/app:1", _decision())
    assert webhook_denials == [denial_line("image", "reg.test/app:1", "prod", "no signatures found")]
    assert out == [
        "Decision for reg.test/app:1: DENY",
        '  PASS policy "ok" (enforce)',
        '  FAIL image "reg.test/app:1": policy "prod": no signatures found',
        '  WARN image "reg.test/app:1": policy "audit": bad?sig',
    ]
    assert out[2:] == [f"  FAIL {line}" for line in webhook_denials] + [f"  WARN {line}" for line in webhook_warnings]


def test_a_decision_without_policies_prints_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    decision = Decision(image="x", outcome=Outcome.DENY, code="REFERENCE_INVALID", reason="bad reference")
    _print_decision(decision)
    assert capsys.readouterr().out.splitlines() == [
        "Decision for x: DENY",
        '  FAIL image "x": bad reference',
    ]


def test_what_was_checked_follows_and_verified_statements_are_printed(capsys: pytest.CaptureFixture[str]) -> None:
    digest = "sha256:" + "1" * 64
    statement = {"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://x.test/p", "predicate": {}}
    evidence = (
        Evidence(
            "attestation", "k.pub", "legacy-att", digest, "OK", "attestation verified with key 'k.pub'", statement
        ),
        Evidence("attestation", "k.pub", "referrers", "sha256:" + "2" * 64, "SUBJECT_MISMATCH", "not\x1bthis"),
    )
    result = PolicyResult("command-line", "enforce", True, "OK", "attestations p verified", evidence=evidence)
    _print_decision(
        Decision(image="reg.test/app@" + digest, outcome=Outcome.ALLOW, code="OK", reason="ok", results=(result,))
    )
    assert capsys.readouterr().out.splitlines() == [
        f"Decision for reg.test/app@{digest}: ALLOW",
        '  PASS policy "command-line" (enforce)',
        '  checked for policy "command-line":',
        f"    OK attestation {digest} [legacy-att]: attestation verified with key 'k.pub'",
        f"    SUBJECT_MISMATCH attestation sha256:{'2' * 64} [referrers]: not?this",
        json.dumps(statement, sort_keys=True),
    ]


def test_decision_json_follows_the_documented_schema() -> None:
    schema = json.loads((Path(__file__).parents[3] / "schemas" / "verify-result.schema.json").read_text())
    evidence = Evidence(
        kind="attestation",
        authority="a",
        layout="legacy-att",
        digest="sha256:" + "0" * 64,
        code="OK",
        reason="verified",
        statement={"_type": "https://in-toto.io/Statement/v1", "predicate": {}},
    )
    result = PolicyResult(policy="p", mode="enforce", passed=True, code="OK", reason="ok", evidence=(evidence,))
    good = Decision(
        image="x", outcome=Outcome.ALLOW, code="OK", reason="ok", digest="sha256:" + "0" * 64, results=(result,)
    )
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(json.loads(json.dumps(good.to_dict())))
    validator.validate(_decision().to_dict())
    broken = good.to_dict() | {"outcome": "maybe"}
    assert not validator.is_valid(broken)
