"""The ``sealgate`` command line.

Every sub-command raises :class:`verifier.errors.SealgateError` on failure; :func:`main` is the only place
that turns it into a one-line message and an exit code (``-v`` adds the traceback). Exit codes: 0 success,
1 verification failed or the registry could not be used, 2 usage or configuration error, 3 internal error.

>>> from verifier.cli import main
>>> main(["verify", "--key", "cosign.pub", "registry.example.com/app@sha256:..."])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from verifier import __version__
from verifier.errors import SealgateError

__all__ = ["COMMANDS", "build_parser", "main"]

INTERNAL_ERROR_EXIT = 3

#: every sub-command, in the order ``sealgate --help`` lists them: the module that registers it (imported only
#: when that command runs, so start-up stays fast) and its one-line help (a test keeps it equal to the module's)
COMMANDS: dict[str, tuple[str, str]] = {
    "keygen": ("_sign_verify", "generate a cosign-compatible key pair (cosign.key, cosign.pub)"),
    "sign": ("_sign_verify", "sign an image in its registry (cosign .sig layout)"),
    "verify": ("_sign_verify", "verify an image's signatures (key, keyless identity, or policy files)"),
    "attest": ("_attest", "attach a signed in-toto attestation to an image (cosign .att layout or sigstore bundle)"),
    "verify-attestation": ("_attest", "verify an image's key-signed attestations"),
    "verify-bundle": (
        "_bundle",
        "verify a Sigstore bundle (keyless identity or key) for a file or sha256 digest, offline",
    ),
    "sbom": ("_sbom", "generate a CycloneDX SBOM of an image (registry, OCI layout or archive, docker save, dir)"),
    "serve": ("_serve", "run the validating admission webhook over HTTPS"),
    "policy": ("_policy", "work with policy files (check)"),
    "certs": ("_certs", "make the webhook's TLS certificates (CA, tls.crt, tls.key) and print the caBundle"),
    "audit": ("_audit", "audit running clusters (or manifests) for unsigned, drifting and mutable images"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit code 2 and one line, like our own errors."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def build_parser(command: str | None = None, *, lazy: bool = False) -> argparse.ArgumentParser:
    """The parser with every sub-command; with ``lazy``, only ``command``'s module is imported and the other
    sub-commands are listed by name and help alone (enough for ``sealgate --help`` and for running one)."""
    parser = _Parser(
        prog="sealgate",
        description="Sign and verify container images (cosign-compatible) and gate what runs in Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"sealgate {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = COMMANDS[command][0] if command in COMMANDS else None
    loaded: set[str] = set()
    for name, (module, text) in COMMANDS.items():
        if not lazy or module == wanted:
            if module not in loaded:
                importlib.import_module(f"verifier.cli.{module}").register(commands)
                loaded.add(module)
        else:
            commands.add_parser(name, help=text, add_help=False)
    return parser


def _command_of(argv: Sequence[str]) -> tuple[str | None, int]:
    """The sub-command named in ``argv`` (after the global flags) and its position."""
    for index, arg in enumerate(argv):
        if not arg.startswith("-"):
            return arg, index
    return None, len(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command, at = _command_of(argv)
    rest = argv[at + 1 :]
    if command == "sbom" and rest[:1] == ["check"]:  # `sealgate sbom check`: its own module and parser
        verbose = any(a in ("-v", "--verbose") for a in argv[:at])
        return _guarded(lambda: int(importlib.import_module("verifier.cli._sbom_check").run(rest[1:])), verbose)
    args = build_parser(command, lazy=True).parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    return _guarded(lambda: int(args.func(args)), args.verbose)


def _guarded(run: Callable[[], int], verbose: bool) -> int:
    """Run a command: a :class:`SealgateError` is one line and its exit code, anything else exit 3."""
    try:
        return run()
    except SealgateError as exc:
        if verbose:
            traceback.print_exc()
        print(f"error: {exc.diagnostics()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line and a distinct exit code, never a bare traceback
        if verbose:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (run with -v for the traceback)", file=sys.stderr)
        return INTERNAL_ERROR_EXIT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
