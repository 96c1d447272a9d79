"""sealgate's verification engine: OCI registry access, cosign signatures, policies.

Public names are re-exported from the subpackages :mod:`verifier.oci` and :mod:`verifier.cosign`.
"""

__version__ = "0.1.0"
