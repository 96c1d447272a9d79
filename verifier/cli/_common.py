"""Options and helpers shared by the sub-commands: registry access, keys, ``-a key=value`` annotations."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from verifier.errors import UsageError

if TYPE_CHECKING:  # imported where used: `sealgate --help` and light commands do not pay for them
    from verifier.cosign import NamedKey, SigningKey
    from verifier.oci import Reference
    from verifier.registry import RegistryClient

__all__ = [
    "add_registry_options",
    "annotations_from",
    "load_signing_key",
    "load_verifying_keys",
    "registry_client",
    "signature_repository",
]


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("registry access")
    group.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="allow plain HTTP to this registry (loopback registries are always allowed); repeatable",
    )
    group.add_argument("--ca-bundle", metavar="FILE", help="extra CA certificates (PEM) for registry TLS")
    group.add_argument("--registry-username", metavar="USER", help="username for every registry contacted")
    group.add_argument(
        "--registry-password",
        metavar="PASSWORD",
        help="password for --registry-username (or set SEALGATE_REGISTRY_PASSWORD)",
    )
    group.add_argument(
        "--docker-config",
        metavar="FILE",
        help="docker config.json with credentials (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)",
    )


def registry_client(args: argparse.Namespace, *, insecure: Iterable[str] = ()) -> RegistryClient:
    """A client configured by the registry options (plus ``insecure`` hosts, e.g. from policy settings)."""
    from verifier.registry import DockerConfigCredentials, RegistryClient, RegistryConfig, StaticCredentials

    hosts = set(args.insecure_registry) | set(insecure)
    hosts |= {h for h in os.environ.get("SEALGATE_INSECURE_REGISTRIES", "").split(",") if h}
    config = RegistryConfig(insecure=frozenset(hosts), ca_bundle=args.ca_bundle, docker_config=args.docker_config)
    if args.ca_bundle and not Path(args.ca_bundle).is_file():
        raise UsageError(f"--ca-bundle {args.ca_bundle}: no such file")
    if args.registry_username:
        password = args.registry_password or os.environ.get("SEALGATE_REGISTRY_PASSWORD")
        if password is None:
            raise UsageError("--registry-username needs --registry-password or SEALGATE_REGISTRY_PASSWORD")
        credentials = StaticCredentials.for_any_registry(args.registry_username, password)
        return RegistryClient(config, credentials=credentials)
    return RegistryClient(config, credentials=DockerConfigCredentials(args.docker_config))


def annotations_from(pairs: Sequence[str]) -> dict[str, str]:
    """``-a key=value`` options as a dict (a repeated key is a usage error)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"annotation {pair!r} is not of the form key=value")
        if key in out:
            raise UsageError(f"annotation {key!r} given twice")
        out[key] = value
    return out


def signature_repository() -> Reference | None:
    """cosign's ``COSIGN_REPOSITORY``: store and look up signatures in another repository."""
    value = os.environ.get("COSIGN_REPOSITORY")
    if not value:
        return None
    from verifier.oci import Reference

    ref = Reference.parse(value)
    if ref.tag not in (None, "latest") or ref.digest is not None:
        raise UsageError(f"COSIGN_REPOSITORY={value!r} must name a repository, without tag or digest")
    return ref


def load_signing_key(path: str) -> SigningKey:
    from verifier.cosign import load_private_key, password_from_env_or_prompt, read_key_file

    return load_private_key(read_key_file(path), lambda: password_from_env_or_prompt(stdin=sys.stdin), source=path)


def load_verifying_keys(paths: Sequence[str]) -> list[NamedKey]:
    from verifier.cosign import NamedKey, load_public_key, read_key_file

    return [NamedKey(Path(p).name, load_public_key(read_key_file(p), source=p)) for p in paths]
