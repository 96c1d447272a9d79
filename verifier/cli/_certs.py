"""``sealgate certs``: a CA and a serving certificate for the admission webhook, and the caBundle to trust."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from cryptography import x509

from webhook.certs import TLS_CERT_FILE, TLS_KEY_FILE, write_bundle

__all__ = ["register"]

#: where the webhook answers AdmissionReviews (see webhook/app.py)
WEBHOOK_PATH = "/validate"


def register(commands: argparse._SubParsersAction[Any]) -> None:
    certs = commands.add_parser(
        "certs",
        help="make the webhook's TLS certificates (CA, tls.crt, tls.key) and print the caBundle",
        description="Write ca.crt and ca.key (a private ECDSA P-256 CA, kept when already present so the caBundle "
        "stays the same across rotations), tls.crt and tls.key (the serving certificate for "
        "<service>.<namespace>.svc) into DIR, each file replaced atomically. Prints the caBundle for the "
        "ValidatingWebhookConfiguration. Run it again to rotate: the server reloads the files by itself.",
    )
    certs.add_argument("--service", required=True, metavar="NAME", help="the webhook's Service name")
    certs.add_argument("--namespace", required=True, metavar="NS", help="the Service's namespace")
    certs.add_argument("--out-dir", required=True, metavar="DIR", help="directory for the four files")
    certs.add_argument(
        "--dns", action="append", default=[], metavar="NAME", help="extra DNS name in the certificate; repeatable"
    )
    certs.add_argument(
        "--ip", action="append", default=[], metavar="ADDR", help="IP address in the certificate; repeatable"
    )
    certs.add_argument(
        "--days", type=int, default=365, metavar="N", help="serving certificate lifetime in days (default: 365)"
    )
    certs.add_argument(
        "--new-ca", action="store_true", help="replace the CA in DIR (the caBundle changes: update the webhook)"
    )
    certs.set_defaults(func=_certs)


def _when(cert: x509.Certificate) -> str:
    return cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _certs(args: argparse.Namespace) -> int:
    bundle = write_bundle(
        args.out_dir,
        service=args.service,
        namespace=args.namespace,
        dns_names=args.dns,
        ip_addresses=args.ip,
        days=args.days,
        new_ca=args.new_ca,
    )
    ca_path = bundle.out_dir / "ca.crt"
    if bundle.ca_reused:
        print(f"kept CA {ca_path} ({bundle.ca_cert.subject.rfc4514_string()}, expires {_when(bundle.ca_cert)})")
    else:
        print(f"new CA {ca_path} ({bundle.ca_cert.subject.rfc4514_string()}, expires {_when(bundle.ca_cert)})")
    for path in bundle.written:
        print(f"wrote {path}")
    sans = bundle.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = [f"DNS:{n}" for n in sans.get_values_for_type(x509.DNSName)]
    names += [f"IP:{a}" for a in sans.get_values_for_type(x509.IPAddress)]
    print(f"serving certificate for {', '.join(names)}")
    print(f"serving certificate expires {_when(bundle.cert)}")
    requested_end = bundle.cert.not_valid_before_utc + dt.timedelta(days=args.days)
    if bundle.cert.not_valid_after_utc < requested_end - dt.timedelta(hours=1):
        print("note: shortened to the CA's own expiry; use --new-ca for a longer-lived CA")
    if not bundle.ca_reused:
        print("note: a new CA - update caBundle wherever the webhook is configured")
    print(f"caBundle: {bundle.ca_bundle_b64}")
    print()
    print(
        f"# the webhook's Secret: kubectl -n {args.namespace} create secret tls {args.service}-tls "
        f"--cert={bundle.out_dir / TLS_CERT_FILE} --key={bundle.out_dir / TLS_KEY_FILE}  (ca.key stays here)"
    )
    print("# ValidatingWebhookConfiguration webhooks[].clientConfig:")
    print("clientConfig:")
    print("  service:")
    print(f"    name: {args.service}")
    print(f"    namespace: {args.namespace}")
    print(f"    path: {WEBHOOK_PATH}")
    print("    port: 443")
    print(f"  caBundle: {bundle.ca_bundle_b64}")
    return 0
