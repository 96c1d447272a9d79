"""The ``sealgate`` command line.

Every sub-command raises :class:`verifier.errors.SealgateError` on failure; :func:`main` is the only place
that turns it into a one-line message and an exit code (``-v`` adds the traceback). Exit codes: 0 success,
1 verification failed or the registry could not be used, 2 usage or configuration error, 3 internal error.

>>> from verifier.cli import main
>>> main(["verify", "--key", "cosign.pub", "registry.example.com/app@sha256:..."])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from verifier import __version__
from verifier.cli import _attest, _audit, _bundle, _certs, _images, _policy, _serve
from verifier.errors import SealgateError

__all__ = ["build_parser", "main"]

INTERNAL_ERROR_EXIT = 3


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit code 2 and one line, like our own errors."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sealgate",
        description="Sign and verify container images (cosign-compatible) and gate what runs in Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"sealgate {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _images.register(commands)
    _attest.register(commands)
    _bundle.register(commands)
    _serve.register(commands)
    _policy.register(commands)
    _certs.register(commands)
    _audit.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except SealgateError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"error: {exc.diagnostics()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line and a distinct exit code, never a bare traceback
        if args.verbose:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (run with -v for the traceback)", file=sys.stderr)
        return INTERNAL_ERROR_EXIT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
