"""Where the example DAGs find the server, and how engines reach its S3 gateway and WebHDFS."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow.fs

#: The Airflow connection every example uses (type ``lakever``: URL, access key, secret).
CONN_ID = "lakever_default"
#: The repository the examples write to; each DAG also takes it as the ``repository`` param.
DEFAULT_REPOSITORY = os.environ.get("LAKEVER_EXAMPLES_REPOSITORY", "lakever-examples")
#: The templated repository of every lakever operator in the examples.
REPOSITORY_PARAM = "{{ params.repository }}"


@dataclass(frozen=True)
class S3Settings:
    """The server behind a connection, for engines: S3 gateway and WebHDFS, same keys.

    :param endpoint: the server's base URL, e.g. ``http://127.0.0.1:8000``.
    :param access_key_id: the access key id.
    :param secret_access_key: the secret access key.
    """

    endpoint: str
    access_key_id: str
    secret_access_key: str = field(repr=False)

    def filesystem(self) -> pyarrow.fs.S3FileSystem:
        """A pyarrow filesystem on the gateway: paths are ``<repository>/<ref>/<path>``."""
        from urllib.parse import urlsplit

        import pyarrow.fs

        parts = urlsplit(self.endpoint)
        return pyarrow.fs.S3FileSystem(
            access_key=self.access_key_id,
            secret_key=self.secret_access_key,
            endpoint_override=parts.netloc,
            scheme=parts.scheme or "http",
            region="us-east-1",
            allow_bucket_creation=False,
        )

    @property
    def webhdfs_root(self) -> str:
        """The server's WebHDFS for Hadoop and Spark: ``webhdfs://<host>:<port>``.

        Paths under it are ``/<repository>/<ref>/<path>``; ``https`` servers are ``swebhdfs``.
        """
        from urllib.parse import urlsplit

        parts = urlsplit(self.endpoint)
        scheme = "swebhdfs" if parts.scheme == "https" else "webhdfs"
        return f"{scheme}://{parts.netloc}"

    @property
    def webhdfs_token_url(self) -> str:
        """Where Hadoop's OAuth2 token provider trades these keys for a bearer token."""
        return f"{self.endpoint.rstrip('/')}/webhdfs/oauth2/token"

    def env(self) -> dict[str, str]:
        """Environment variables that hand these settings to a Spark job."""
        return {
            "LAKEVER_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    @classmethod
    def from_env(cls) -> S3Settings:
        """The settings a Spark job received through :meth:`env`."""
        return cls(
            endpoint=os.environ["LAKEVER_S3_ENDPOINT"],
            access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
            secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        )


def s3_settings(conn_id: str = CONN_ID) -> S3Settings:
    """Resolve the S3 gateway of the server behind an Airflow connection.

    :param conn_id: the lakever connection id.
    """
    from airflow_provider_lakever.hooks.connection import API_PATH
    from airflow_provider_lakever.hooks.lakever import LakeverHook

    settings = LakeverHook(conn_id).settings
    return S3Settings(
        endpoint=settings.endpoint.removesuffix(API_PATH),
        access_key_id=settings.access_key_id or "",
        secret_access_key=settings.secret_access_key or "",
    )
