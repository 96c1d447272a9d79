"""sealgate's verification engine: OCI values, registry access, cosign signatures, policies.

Public names live in the subpackages (:mod:`verifier.oci`, :mod:`verifier.registry`, :mod:`verifier.cosign`, ...).
"""

__version__ = "0.1.0"
