"""The webhook's TLS: a hardened server context that picks up rotated certificate files without a restart.

:class:`ReloadingTLS` hands the server one base :class:`ssl.SSLContext` whose ``sni_callback`` runs on every
ClientHello - with or without SNI, so also for clients that connect by IP address (OpenSSL >= 1.1.1 calls
the servername callback for every hello; ``tests/integration/test_tls_reload.py`` proves it). At most once
per ``check_interval`` the callback stats the certificate, key and client-CA files (device, inode, size,
mtime); when they changed and load as a matching pair it builds a fresh context and every later handshake is
moved onto it (``ssl_object.context = new``). A broken rotation (unreadable file, garbage, key not matching
the certificate) keeps the current pair and logs a warning; the next change is tried again.

Every context is TLS 1.2 or newer, forward-secret AEAD suites only on TLS 1.2, no compression or
renegotiation. With ``client_ca_file`` the server requires a client certificate issued by that CA (mutual TLS
with the API server).

>>> tls = ReloadingTLS("certs/dev/tls.crt", "certs/dev/tls.key")  # doctest: +SKIP
>>> uvicorn.Server(uvicorn_config(app, host="0.0.0.0", port=8443, tls=tls)).run()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import uvicorn
from cryptography import x509

from verifier.errors import ConfigError

__all__ = ["TLS_CIPHERS", "ReloadingTLS", "uvicorn_config"]

_logger = logging.getLogger(__name__)

#: TLS 1.2 suites (TLS 1.3 suites are all AEAD and forward-secret already): ECDHE with AES-GCM or ChaCha20,
#: for ECDSA and RSA certificates. Go's crypto/tls (the API server) offers all of them.
TLS_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

_FileStamp = tuple[int, int, int, int] | None  # (st_dev, st_ino, st_size, st_mtime_ns), None when missing


def _stamp(path: Path) -> _FileStamp:
    try:
        st = path.stat()  # follows symlinks: a Kubernetes secret volume swaps its ..data link
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _no_password() -> NoReturn:
    # without a password callback OpenSSL would prompt on the terminal for an encrypted key
    raise ConfigError("tls key is encrypted; the webhook needs an unencrypted key")


class ReloadingTLS:
    """Server-side TLS whose certificate follows ``cert_file``/``key_file`` as they are rotated.

    Construction loads the files and raises :class:`ConfigError` when they are unusable. Hand
    :attr:`context` to the server (or use :func:`uvicorn_config`). ``clock`` is for tests.
    """

    def __init__(
        self,
        cert_file: str | os.PathLike[str],
        key_file: str | os.PathLike[str],
        *,
        client_ca_file: str | os.PathLike[str] | None = None,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if check_interval < 0:
            raise ConfigError(f"tls check interval {check_interval} is negative")
        self.cert_file = Path(cert_file)
        self.key_file = Path(key_file)
        self.client_ca_file = None if client_ca_file is None else Path(client_ca_file)
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._stamps = self._stat()
        self._base, self._certificate = self._build()
        self._base.sni_callback = self._on_client_hello
        self._current = self._base
        self._next_check = clock() + check_interval
        #: successful reloads since start
        self.reload_count = 0
        #: why the last reload attempt failed (None after a success)
        self.last_error: str | None = None

    # --- what the server and operators see ---------------------------------------------------------------

    @property
    def context(self) -> ssl.SSLContext:
        """The context to give the server; it moves each handshake onto the newest loaded certificate."""
        return self._base

    @property
    def current_context(self) -> ssl.SSLContext:
        """The context new handshakes end up on (the base one until the first reload)."""
        return self._current

    @property
    def certificate(self) -> x509.Certificate:
        """The certificate new connections are served."""
        return self._certificate

    def check(self, *, force: bool = False) -> bool:
        """Reload now if the files changed (or always with ``force``); True when a new pair was taken."""
        with self._lock:
            self._next_check = self._clock() + self.check_interval
            stamps = self._stat()
            if not force and stamps == self._stamps:
                return False
            # remember what was tried even when it fails: a broken pair is reported once, retried on change
            self._stamps = stamps
            try:
                context, certificate = self._build()
            except ConfigError as exc:
                self.last_error = exc.message
                _logger.warning(
                    "keeping the current tls certificate (serial %x): %s", self._certificate.serial_number, exc
                )
                return False
            self._current, self._certificate = context, certificate
            self.reload_count += 1
            self.last_error = None
            _logger.debug(
                "tls certificate reloaded from %s: serial %x, expires %s",
                self.cert_file,
                certificate.serial_number,
                certificate.not_valid_after_utc.isoformat(),
            )
            return True

    # --- internals ---------------------------------------------------------------------------------------

    def _stat(self) -> tuple[_FileStamp, ...]:
        paths = [self.cert_file, self.key_file] + ([self.client_ca_file] if self.client_ca_file else [])
        return tuple(_stamp(p) for p in paths)

    def _build(self) -> tuple[ssl.SSLContext, x509.Certificate]:
        """A fresh hardened context from the files, and the leaf certificate it serves."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(TLS_CIPHERS)
        ctx.options |= (
            ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_SINGLE_ECDH_USE | ssl.OP_NO_RENEGOTIATION
        )
        try:
            pem = self.cert_file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read tls certificate {self.cert_file}: {exc.strerror}") from exc
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise ConfigError(f"tls certificate {self.cert_file} is not a PEM certificate") from exc
        try:
            ctx.load_cert_chain(self.cert_file, self.key_file, password=_no_password)
        except FileNotFoundError as exc:
            raise ConfigError(f"tls key {self.key_file} does not exist") from exc
        except ssl.SSLError as exc:
            reason = exc.reason or str(exc)
            if "KEY_VALUES_MISMATCH" in reason:
                raise ConfigError(f"tls key {self.key_file} does not match certificate {self.cert_file}") from exc
            raise ConfigError(f"cannot load tls certificate/key {self.cert_file}, {self.key_file}: {reason}") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read tls key {self.key_file}: {exc.strerror}") from exc
        if self.client_ca_file is not None:
            try:
                ctx.load_verify_locations(cafile=self.client_ca_file)
            except FileNotFoundError as exc:
                raise ConfigError(f"client CA file {self.client_ca_file} does not exist") from exc
            except (ssl.SSLError, OSError) as exc:
                raise ConfigError(f"client CA file {self.client_ca_file} holds no usable certificate") from exc
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx, certificate

    def _on_client_hello(self, ssl_object: Any, server_name: str | None, context: ssl.SSLContext) -> None:
        """``sni_callback``: runs on every ClientHello, SNI or not. Must never raise (that kills the handshake)."""
        try:
            if self._clock() >= self._next_check:
                self.check()
            current = self._current
            if current is not context:
                ssl_object.context = current
        except Exception:  # a bug here must not take TLS down; the current context keeps serving
            _logger.warning("tls reload check failed", exc_info=True)


class _ReloadingTLSConfig(uvicorn.Config):
    """uvicorn's Config with the SSL context replaced by a :class:`ReloadingTLS` one after ``load()``."""

    def __init__(self, app: Any, *, tls: ReloadingTLS, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.reloading_tls = tls

    @property
    def is_ssl(self) -> bool:
        # False while uvicorn's own load() runs (so it builds no context from ssl_certfile), True once ours is set
        return getattr(self, "ssl", None) is not None

    def load(self) -> None:
        super().load()
        self.ssl = self.reloading_tls.context


def uvicorn_config(app: Any, *, host: str, port: int, tls: ReloadingTLS, **kwargs: Any) -> uvicorn.Config:
    """A ``uvicorn.Config`` serving ``app`` over ``tls`` (single process: no ``workers``/``reload``)."""
    clashing = sorted(k for k in kwargs if k.startswith("ssl_") or k in ("workers", "reload", "http2"))
    if clashing:
        raise ConfigError(f"uvicorn_config: {', '.join(clashing)} cannot be combined with a reloading tls context")
    return _ReloadingTLSConfig(app, tls=tls, host=host, port=port, **kwargs)
