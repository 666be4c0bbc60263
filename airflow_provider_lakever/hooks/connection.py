"""How an Airflow connection maps to a lakeFS REST endpoint and credentials.

Two kinds of connection work:

- a ``lakever`` connection: *Endpoint URL* in ``host``, access key id in ``login``, secret in
  ``password``, and ``ui_base_url`` / ``verify_tls`` / ``ca_bundle`` in extras;
- a plain ``http`` connection with lakeFS-style extras, as older lakeFS integrations wrote
  them: ``{"endpoint": ..., "access_key_id": ..., "secret_access_key": ...}`` (``host``,
  ``schema`` and ``port`` are used when ``endpoint`` is absent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_lakever.hooks.retry import RetryPolicy

API_PATH = "/api/v1"

_ENDPOINT_KEYS = ("endpoint", "lakefs_endpoint", "endpoint_url")
_ACCESS_KEY_KEYS = ("access_key_id", "lakefs_access_key_id", "aws_access_key_id")
_SECRET_KEYS = ("secret_access_key", "lakefs_secret_access_key", "aws_secret_access_key")
_UI_KEYS = ("ui_base_url", "lakefs_ui", "ui_url")
_VERIFY_KEYS = ("verify_tls", "verify_ssl", "verify")


@dataclass(frozen=True)
class ServerSettings:
    """Everything the hook needs to reach a server, resolved from one connection.

    :param endpoint: the REST API base URL, ending in ``/api/v1``.
    :param access_key_id: the access key id (``None`` for an unauthenticated server).
    :param secret_access_key: the secret; never shown by ``repr``.
    :param ui_base_url: the base URL of the server's web UI, for extra links.
    :param verify_tls: whether to verify the server's TLS certificate.
    :param ca_bundle: an optional PEM file to verify it with.
    :param retry: the retry policy for transient failures.
    """

    endpoint: str
    access_key_id: str | None
    secret_access_key: str | None = field(repr=False)
    ui_base_url: str
    verify_tls: bool = True
    ca_bundle: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_connection(cls, conn: Any) -> ServerSettings:
        """Resolve settings from an Airflow connection (``lakever`` or ``http``).

        :param conn: an ``airflow.sdk.Connection`` (anything with its attributes).
        """
        extra: dict[str, Any] = dict(conn.extra_dejson or {})
        endpoint = _first(extra, _ENDPOINT_KEYS) or _endpoint_from_host(conn)
        if not endpoint:
            raise ValueError(
                f"connection {conn.conn_id!r} names no endpoint: set its host "
                "(e.g. http://localhost:8000) or an 'endpoint' extra"
            )
        endpoint = normalize_endpoint(endpoint)
        ui_base_url = _first(extra, _UI_KEYS) or endpoint.removesuffix(API_PATH)
        return cls(
            endpoint=endpoint,
            access_key_id=conn.login or _first(extra, _ACCESS_KEY_KEYS),
            secret_access_key=conn.password or _first(extra, _SECRET_KEYS),
            ui_base_url=ui_base_url.rstrip("/"),
            verify_tls=_as_bool(_first(extra, _VERIFY_KEYS), default=True),
            ca_bundle=extra.get("ca_bundle") or None,
            retry=RetryPolicy.from_extra(extra),
        )


def normalize_endpoint(url: str) -> str:
    """Add a scheme when missing and the ``/api/v1`` path when the URL has no path.

    :param url: what a user typed: ``host:8000``, ``http://host:8000/``, or a full API URL.
    """
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path:
        path = API_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _endpoint_from_host(conn: Any) -> str | None:
    host = (conn.host or "").strip()
    if not host:
        return None
    if "://" in host:
        parts = urlsplit(host)
        netloc = parts.netloc
        if conn.port and parts.port is None:
            netloc = f"{netloc}:{conn.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    # An http connection keeps the scheme in ``schema``; anything else means plain http.
    scheme = conn.schema if conn.schema in ("http", "https") else "http"
    netloc = f"{host}:{conn.port}" if conn.port else host
    return f"{scheme}://{netloc}"


def _first(extra: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = extra.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _as_bool(value: str | None, *, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() not in ("false", "0", "no", "off")
