"""``sealgate serve``: the admission webhook over HTTPS (uvicorn), policies checked before it starts."""

from __future__ import annotations

import argparse
import logging
import socket
from pathlib import Path
from typing import Any

from verifier.errors import UsageError
from verifier.policy import load_policy_files

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[Any]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the validating admission webhook over HTTPS",
        description="Serve POST /validate (AdmissionReview v1), /healthz, /readyz and /metrics over HTTPS. "
        "Policies are loaded and checked first: a broken policy stops start-up with every error listed. "
        "Rotated certificate files are picked up without a restart.",
    )
    serve.add_argument(
        "--policy",
        action="append",
        required=True,
        metavar="FILE_OR_DIR",
        help="policy file or folder of *.yaml; repeatable",
    )
    serve.add_argument("--tls-cert", required=True, metavar="FILE", help="serving certificate (PEM)")
    serve.add_argument("--tls-key", required=True, metavar="FILE", help="serving key (PEM)")
    serve.add_argument(
        "--client-ca", metavar="FILE", help="require client certificates signed by this CA (the API server's)"
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default: 0.0.0.0)")  # noqa: S104
    serve.add_argument("--port", type=int, default=8443, help="port (default: 8443)")
    serve.add_argument(
        "--kube-api",
        default="",
        metavar="URL|in-cluster",
        help="Kubernetes API for namespace labels (needed only by label-selecting policies)",
    )
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    serve.set_defaults(func=_serve)


def _check_listen(host: str, port: int) -> None:
    """Fail with one clear line (exit 2) when the address cannot be listened on, before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from webhook.app import create_app
    from webhook.jsonlog import configure_json_logging
    from webhook.settings import WebhookSettings
    from webhook.tls import ReloadingTLS, uvicorn_config

    for path in (args.tls_cert, args.tls_key, args.client_ca):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port")
    _check_listen(args.host, args.port)
    policies = load_policy_files(args.policy)  # PolicyError (exit 2) before anything listens
    settings = WebhookSettings(policy_paths=tuple(args.policy), kube_api=args.kube_api)
    configure_json_logging(getattr(logging, args.log_level.upper()))
    tls = ReloadingTLS(args.tls_cert, args.tls_key, client_ca_file=args.client_ca)
    app = create_app(settings, policies=policies)
    config = uvicorn_config(
        app,
        host=args.host,
        port=args.port,
        tls=tls,
        log_level=args.log_level,
        log_config=None,  # keep our JSON logging; every admission is logged by the app itself
        access_log=False,
    )
    uvicorn.Server(config).run()
    return 0
