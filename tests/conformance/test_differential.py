"""Differential: sealgate's bundle verdicts against sigstore-python's, case by case, on the conformance suite.

sealgate owns its keyless verification (Fulcio chain, SCT, Rekor SET / inclusion proof / checkpoint, RFC 3161),
so it must show that it agrees with the reference implementation. For every case of the sigstore-conformance
``bundle-verify`` suite, sigstore-python (the installed ``sigstore`` package, offline: the case's trusted root or
the public-good root it ships) gives a verdict through its own API, and sealgate's verdict (``sealgate
verify-bundle``, as the conformance harness calls it) must be the same -- except for the cases listed in
``SIGSTORE_PYTHON_WRONG``, where the suite's expected result shows sigstore-python is the one that is wrong
(each with why), and the cases sigstore-python's API cannot express at all (``NOT_EXPRESSIBLE``: it has no
verifier for key-signed bundles). Both lists are asserted exactly, so a change in either implementation that
moves a verdict fails here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import sigstore
from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier
from sigstore.verify.policy import Identity

import verifier.cli
from tests.conformance.test_conformance import BEACON_IDENTITY, BEACON_ISSUER, CASES, _suite, conformance_args

PUBLIC_GOOD_ROOT = (
    Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json"
)

#: cases where sigstore-python 4.5.1 disagrees with the suite's expected result (and so with sealgate), and why
SIGSTORE_PYTHON_WRONG: dict[str, str] = {
    "intoto-with-custom-trust-root": (
        "a valid DSSE bundle logged as a Rekor `intoto` v0.0.2 entry: sigstore-python takes the integrated time only "
        "from dsse/hashedrekord 0.0.1 entries ('Integrated time only supported for dsse/hashedrekord 0.0.1 types'), "
        "so it finds no verified time and rejects what the suite says verifies"
    ),
    "trust-root-tsa-validity-end-inclusive": (
        "the RFC 3161 time equals the TSA's validFor.end; a trusted-root TimeRange is a closed interval, but "
        "sigstore-python treats the end as exclusive and rejects ('not enough sources of verified time')"
    ),
}

#: key-signed ("managed key") bundles: sigstore-python's Verifier has no key-based verification
NOT_EXPRESSIBLE = frozenset(name for name in CASES if name.startswith("managed-key"))


def _sigstore_python_verdict(case: Path) -> bool:
    """True when sigstore-python accepts the case; any exception it raises is a rejection."""
    suite = case.parent
    artifact = case / "artifact" if (case / "artifact").exists() else suite / "a.txt"
    identity = (case / "identity").read_text().strip() if (case / "identity").exists() else BEACON_IDENTITY
    issuer = (case / "issuer").read_text().strip() if (case / "issuer").exists() else BEACON_ISSUER
    root_file = case / "trusted_root.json" if (case / "trusted_root.json").exists() else PUBLIC_GOOD_ROOT
    try:
        root = TrustedRoot.from_file(str(root_file))
        bundle = Bundle.from_json((case / "bundle.sigstore.json").read_bytes())
        checker = Verifier(trusted_root=root)
        policy = Identity(identity=identity, issuer=issuer)
        if bundle._dsse_envelope is None:
            checker.verify_artifact(artifact.read_bytes(), bundle, policy)
            return True
        payload_type, payload = checker.verify_dsse(bundle, policy)
        if payload_type != "application/vnd.in-toto+json":
            return False
        # the conformance harness's contract for DSSE: the in-toto subject must be the artifact's digest
        digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
        subjects = json.loads(payload).get("subject", [])
        return any(s.get("digest", {}).get("sha256") == digest for s in subjects)
    except Exception:  # noqa: BLE001 - every exception of the reference implementation is its "no"
        return False


def _sealgate_verdict(case: Path, capsys: pytest.CaptureFixture[str]) -> bool:
    code = verifier.cli.main(conformance_args(case, "path"))
    capsys.readouterr()
    return code == 0


def test_sealgate_agrees_with_sigstore_python_on_every_case_it_can_judge(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert len(CASES) == 70
    agree, disagree = [], {}
    for name in CASES:
        case = _suite() / name
        ours = _sealgate_verdict(case, capsys)
        assert ours is (not name.endswith("_fail")), f"sealgate itself is wrong on {name}"
        if name in NOT_EXPRESSIBLE:
            continue
        theirs = _sigstore_python_verdict(case)
        if theirs == ours:
            agree.append(name)
        else:
            disagree[name] = f"sealgate {'accepts' if ours else 'rejects'}, sigstore-python " + (
                "accepts" if theirs else "rejects"
            )
    print(f"\ndifferential: {len(agree)} agree, {len(disagree)} differ, {len(NOT_EXPRESSIBLE)} not expressible")
    assert set(disagree) == set(SIGSTORE_PYTHON_WRONG), disagree
    assert len(agree) == len(CASES) - len(NOT_EXPRESSIBLE) - len(SIGSTORE_PYTHON_WRONG)
