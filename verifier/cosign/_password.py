"""Where the private-key password comes from, in cosign's order (FORMATS.md §8 "COSIGN_PASSWORD").

1. ``COSIGN_PASSWORD``, then ``SEALGATE_PASSWORD``: the value verbatim; an empty value is an empty password.
2. Standard input is a terminal: prompt (twice when confirming a new password).
3. Otherwise: all of standard input, verbatim, trailing newline included.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

from verifier.errors import PasswordError
from verifier.limits import DEFAULT_LIMITS

__all__ = ["PASSWORD_ENV_VARS", "password_from_env_or_prompt"]

_logger = logging.getLogger(__name__)

PASSWORD_ENV_VARS = ("COSIGN_PASSWORD", "SEALGATE_PASSWORD")

_PROMPT = "Enter password for private key: "
_PROMPT_AGAIN = "Enter password for private key again: "


def _encode(value: str) -> bytes:
    # os.environ and text streams decode undecodable bytes as surrogates; this gives back the original bytes.
    return value.encode("utf-8", "surrogateescape")


def _read_stdin(stream: TextIO) -> bytes:
    binary = getattr(stream, "buffer", None)
    data: bytes
    if binary is not None:
        data = binary.read(DEFAULT_LIMITS.max_password_bytes + 1)
    else:
        data = _encode(stream.read(DEFAULT_LIMITS.max_password_bytes + 1))
    if len(data) > DEFAULT_LIMITS.max_password_bytes:
        raise PasswordError(
            f"password on standard input is longer than {DEFAULT_LIMITS.max_password_bytes // 1024} KiB"
        )
    return data


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):  # closed or detached stream
        return False


def password_from_env_or_prompt(
    *,
    confirm: bool = False,
    env: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    prompt: Callable[[str], str] | None = None,
) -> bytes:
    """The private-key password: from the environment, a terminal prompt, or standard input.

    ``env`` defaults to ``os.environ``, ``stdin`` to ``sys.stdin`` and ``prompt`` to :func:`getpass.getpass`.
    With ``confirm`` the terminal prompt asks twice and a mismatch raises :class:`PasswordError`.
    """
    environ = os.environ if env is None else env
    for name in PASSWORD_ENV_VARS:
        if name in environ:
            _logger.debug("password taken from %s", name)
            return _encode(environ[name])
    stream = sys.stdin if stdin is None else stdin
    if stream is None:
        raise PasswordError("no password: set COSIGN_PASSWORD or pipe the password on standard input")
    if _is_tty(stream):
        ask = getpass.getpass if prompt is None else prompt
        try:
            first = ask(_PROMPT)
            if confirm and ask(_PROMPT_AGAIN) != first:
                raise PasswordError("passwords do not match")
        except EOFError:
            raise PasswordError("no password entered") from None
        return _encode(first)
    _logger.debug("password read from standard input")
    try:
        return _read_stdin(stream)
    except (OSError, ValueError) as exc:
        raise PasswordError(f"cannot read the password from standard input: {exc}") from None
