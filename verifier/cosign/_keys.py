"""Key types, now in :mod:`verifier.crypto` (below both cosign and sigstore, issue 9).

Kept only for ``_verify.py`` until the engine routing of issue 9 rewrites its imports; delete it then.
"""

from verifier.crypto import VerifyingKey

__all__ = ["VerifyingKey"]
