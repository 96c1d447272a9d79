"""``sealgate sbom``: a CycloneDX SBOM of an image, optionally attested in the same step.

Only argparse is loaded to build this parser; the generator (and cyclonedx-python-lib) is imported when the
command runs, so ``sealgate sbom --help`` stays fast. ``sealgate sbom check`` is dispatched before this parser
(see :func:`verifier.cli.main`).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from verifier.cli._common import add_registry_options, load_signing_key, registry_client
from verifier.errors import SbomSourceError, UsageError

__all__ = ["register"]

_ARCHIVES = ("oci:", "oci-archive:", "docker-archive:", "dir:")
#: seconds between GIL hand-overs while the layers are read (the interpreter's default is 5 ms)
_SWITCH_INTERVAL = 0.0005


def register(commands: argparse._SubParsersAction[Any]) -> None:
    sbom = commands.add_parser(
        "sbom",
        help="generate a CycloneDX SBOM of an image (registry, OCI layout or archive, docker save, dir)",
        description="Catalog every package in SOURCE (dpkg, apk, rpm, Python, npm, Go and Rust binaries, Java "
        "archives) into a CycloneDX JSON SBOM. SOURCE is named as skopeo names it: REF or docker://REF (a tag is "
        "resolved to its digest), oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], or "
        "dir:ROOTFS. Layers are streamed and never unpacked; what a later layer deletes is not reported. "
        "`sealgate sbom check SBOM --policy P` checks an SBOM against a policy (see `sealgate sbom check -h`).",
    )
    sbom.add_argument("source", metavar="SOURCE")
    sbom.add_argument(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        help="image to read from an index (default: linux/amd64, else the only one)",
    )
    sbom.add_argument("-o", "--output", default="-", metavar="FILE", help="where to write the SBOM (default: - stdout)")
    sbom.add_argument("--spec-version", choices=("1.6", "1.5"), default="1.6", help="CycloneDX version (default: 1.6)")
    sbom.add_argument(
        "--reproducible",
        action="store_true",
        help="fixed serial number and timestamp (SOURCE_DATE_EPOCH, else the image's creation time): "
        "byte-identical output for the same image",
    )
    sbom.add_argument("-q", "--quiet", action="store_true", help="no progress, notes or warnings on stderr")
    attest = sbom.add_argument_group("attest (registry images only)")
    attest.add_argument(
        "--attest",
        action="store_true",
        help="also attach the SBOM to the image as a signed attestation (as `sealgate attest --type cyclonedx`)",
    )
    attest.add_argument("--key", metavar="FILE", help="private key for --attest (cosign format or PEM)")
    attest.add_argument(
        "--bundle-format",
        action="store_true",
        help="with --attest: store a sigstore bundle v0.3 as an OCI 1.1 referrer",
    )
    add_registry_options(sbom)
    sbom.set_defaults(func=_sbom)


class _Bar:
    """One self-overwriting progress line on a terminal's stderr."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last = 0.0
        self._shown = False

    def __call__(self, what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done != total and now - self._last < 0.1:
            return
        self._last = now
        width = 24
        filled = width * done // total if total else 0
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} " if total else ""
        self._stream.write(f"\r\x1b[K{bar}{what[:80]}")
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()


def _is_registry(source: str) -> bool:
    return not source.startswith(_ARCHIVES)


def _sbom(args: argparse.Namespace) -> int:
    from verifier.sbom import generate, render, summary

    source = args.source
    if args.attest:
        if not args.key:
            raise UsageError("--attest needs --key")
        if not _is_registry(source):
            raise SbomSourceError(f"--attest needs a registry image, not {source.partition(':')[0]}:")
    elif args.key or args.bundle_format:
        raise UsageError("--key and --bundle-format go with --attest")
    key = load_signing_key(args.key) if args.attest else None  # ask for the password before the long work
    client = (lambda: registry_client(args)) if _is_registry(source) else None
    bar = _Bar(sys.stderr) if not args.quiet and sys.stderr.isatty() else None
    notes: list[str] = []
    # The layer workers (read-ahead, hashing) need the GIL back for a moment after each chunk they hand over, and
    # at the default 5 ms interval they wait that long behind the tar parser each time: the pipeline then runs at
    # the speed of their waits. The command does nothing else meanwhile, so it switches ten times as often.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(_SWITCH_INTERVAL)
    try:
        sbom = generate(source, platform=args.platform, progress=bar, registry_client=client, notes=notes)
    finally:
        sys.setswitchinterval(switch_interval)
        if bar is not None:
            bar.clear()
    text = render(sbom, spec_version=args.spec_version, reproducible=args.reproducible)
    _write(args.output, text)
    if not args.quiet:
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        for warning in sbom.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        where = "stdout" if args.output == "-" else args.output
        print(f"{summary(sbom)} -> {where}", file=sys.stderr)
    if key is not None:
        from verifier.cli._attest import attest_and_report
        from verifier.oci import Reference

        ref = Reference.parse(source.removeprefix("docker://"))
        return attest_and_report(args, ref, key, text.encode(), "cyclonedx", out=sys.stderr)
    return 0


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"-o {path}: {exc.strerror or exc}") from None
