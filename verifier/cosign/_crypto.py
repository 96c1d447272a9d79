"""Signature primitives, now in :mod:`verifier.crypto` (below both cosign and sigstore, issue 9).

Kept only for ``_verify.py`` and ``_attest_check.py`` until the engine routing of issue 9 rewrites their
imports; delete it then.
"""

from verifier.crypto import MALFORMED_MATERIAL, malformed, verify_bytes

__all__ = ["MALFORMED_MATERIAL", "malformed", "verify_bytes"]
