"""The catalogers ``sealgate sbom`` runs, in one list."""

from __future__ import annotations

from ._apk import Apk
from ._dpkg import Dpkg
from ._golang import Golang
from ._java import Java
from ._model import Cataloger
from ._npm import Npm
from ._python import Python
from ._rpm import Rpm
from ._rust import Rust

__all__ = ["default_catalogers"]


def default_catalogers() -> list[Cataloger]:
    return [Dpkg(), Apk(), Rpm(), Python(), Npm(), Golang(), Rust(), Java()]
