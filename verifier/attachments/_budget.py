"""What one verification may download: each distinct blob once, and at most ``Limits.max_verification_bytes``.

Signature material is attacker-made: a ``.sig`` manifest may name one 2 MiB blob in 400 layers, or an index
list 128 referrers of 4 MiB each. A :class:`Downloads` belongs to one verification (one ``discover``
call): it fetches each blob digest once (concurrent askers share the fetch) and charges
every manifest and blob against the budget *before* fetching it, by its declared size; a blob is read no
further than its descriptor says. Going over the budget raises :class:`DownloadBudgetError` - a denial of the
image with its own reason code, decided by sealgate without a request, so never a registry failure and never
counted by the registry's circuit breaker.
"""

from __future__ import annotations

import asyncio
import logging

from verifier.errors import DownloadBudgetError
from verifier.oci import Descriptor, Digest, Manifest, Reference, Registry

__all__ = ["Downloads"]

_logger = logging.getLogger(__name__)


class Downloads:
    """The blobs and manifests one verification fetches from ``repository``, deduplicated and budgeted."""

    def __init__(self, client: Registry, repository: Reference) -> None:
        self._client = client
        self._repository = repository
        self._budget = client.limits.max_verification_bytes
        self.spent = 0
        self._blobs: dict[Digest, asyncio.Task[bytes]] = {}

    def charge(self, size: int, what: str) -> None:
        """Count ``size`` bytes of ``what``; :class:`DownloadBudgetError` when that goes over the budget."""
        if self.spent + size > self._budget:
            raise DownloadBudgetError(
                f"verifying {self._repository.name} would download more than {self._budget} bytes "
                f"(limit max_verification_bytes; {self.spent} spent, {what} is {size} more)"
            )
        self.spent += size

    def fetched(self, manifest: Manifest, declared: int = 0) -> Manifest:
        """Charge a manifest fetched whose size was unknown (``declared`` 0) or charged already as ``declared``."""
        extra = len(manifest.raw) - declared
        if extra > 0:
            self.charge(extra, f"manifest {manifest.digest}")
        return manifest

    async def blob(self, descriptor: Descriptor, *, max_bytes: int, limit_name: str) -> bytes:
        """The blob ``descriptor`` names, fetched at most once per verification (errors are shared too)."""
        task = self._blobs.get(descriptor.digest)
        if task is None:
            self.charge(descriptor.size, f"blob {descriptor.digest}")
            # never read past the size the descriptor declares (and was charged for)
            cap = min(max_bytes, descriptor.size)
            task = asyncio.ensure_future(
                self._client.get_blob(self._repository, descriptor.digest, max_bytes=cap, limit_name=limit_name)
            )
            self._blobs[descriptor.digest] = task
        else:
            _logger.debug("blob %s already fetched for this verification", descriptor.digest)
        return await asyncio.shield(task)
