"""The catalogers ``sealgate sbom`` runs, in one list."""

from __future__ import annotations

from ._dpkg import Dpkg
from ._model import Cataloger
from ._npm import Npm
from ._python import Python

__all__ = ["default_catalogers"]


def default_catalogers() -> list[Cataloger]:
    return [Dpkg(), Python(), Npm()]
