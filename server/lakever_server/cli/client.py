"""The lakeFS REST client the commands talk through (``lakefs_sdk`` only).

The command line is a client of any lakeFS-compatible endpoint: it never imports the
server's own modules, so it behaves the same against lakever and against lakeFS.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

from lakefs_sdk.api.auth_api import AuthApi
from lakefs_sdk.api.branches_api import BranchesApi
from lakefs_sdk.api.commits_api import CommitsApi
from lakefs_sdk.api.config_api import ConfigApi
from lakefs_sdk.api.health_check_api import HealthCheckApi
from lakefs_sdk.api.import_api import ImportApi
from lakefs_sdk.api.objects_api import ObjectsApi
from lakefs_sdk.api.refs_api import RefsApi
from lakefs_sdk.api.repositories_api import RepositoriesApi
from lakefs_sdk.api.tags_api import TagsApi
from lakefs_sdk.api_client import ApiClient
from lakefs_sdk.configuration import Configuration
from lakefs_sdk.exceptions import ApiException
from lakefs_sdk.models.object_stats import ObjectStats

from lakever_server.cli.config import ClientConfig


class LakeClient:
    """One configured ``ApiClient`` and the API groups the commands use."""

    def __init__(self, config: ClientConfig, *, pool_size: int = 16) -> None:
        self.config = config
        configuration = Configuration(
            host=config.endpoint_url,
            username=config.access_key_id or None,
            password=config.secret_access_key or None,
        )
        # Parallel transfers share this pool: one connection per worker thread.
        configuration.connection_pool_maxsize = pool_size
        self.api_client = ApiClient(configuration)

    def close(self) -> None:
        self.api_client.close()  # type: ignore[no-untyped-call]

    def _raw_request(self, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
        """A request over the SDK's own connection pool and credentials.

        The generated ``get_object`` and ``upload_object`` hold the whole object in
        memory; transfers stream instead.

        Raises:
            ApiException: the server answered with an error status.
        """
        configuration = self.api_client.configuration
        auth = configuration.auth_settings().get("basic_auth")
        if auth:
            headers[auth["key"]] = auth["value"]
        pool = self.api_client.rest_client.pool_manager
        response = pool.request(method, url, headers=headers, **kwargs)
        if response.status >= 400:
            error = ApiException(status=response.status, reason=response.reason)
            error.body = response.data.decode("utf-8", errors="replace")
            response.release_conn()
            raise error
        return response

    def _object_url(self, repository: str, kind: str, ref: str, path: str) -> str:
        host = self.api_client.configuration.host
        return (
            f"{host}/repositories/{quote(repository, safe='')}/{kind}/{quote(ref, safe='')}"
            f"/objects?{urlencode({'path': path})}"
        )

    def open_object(self, repository: str, ref: str, path: str) -> Any:
        """Start a ``GET`` of an object's content; returns the unread urllib3 response."""
        url = self._object_url(repository, "refs", ref, path)
        headers = {"Accept": "application/octet-stream"}
        return self._raw_request("GET", url, headers, preload_content=False)

    def put_object(
        self,
        repository: str,
        branch: str,
        path: str,
        body: Iterable[bytes],
        *,
        size: int,
        content_type: str,
    ) -> ObjectStats:
        """Upload ``body`` (``size`` bytes) as the raw request body, streamed.

        lakeFS and lakever both take a raw body as well as a multipart ``content`` field;
        the raw form needs no buffering and keeps the content type.
        """
        url = self._object_url(repository, "branches", branch, path)
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(size),
            "Accept": "application/json",
        }
        response = self._raw_request("POST", url, headers, body=body)
        stats: ObjectStats = ObjectStats.from_json(response.data.decode("utf-8"))
        return stats

    @cached_property
    def repositories(self) -> RepositoriesApi:
        return RepositoriesApi(self.api_client)

    @cached_property
    def branches(self) -> BranchesApi:
        return BranchesApi(self.api_client)

    @cached_property
    def commits(self) -> CommitsApi:
        return CommitsApi(self.api_client)

    @cached_property
    def refs(self) -> RefsApi:
        return RefsApi(self.api_client)

    @cached_property
    def tags(self) -> TagsApi:
        return TagsApi(self.api_client)

    @cached_property
    def objects(self) -> ObjectsApi:
        return ObjectsApi(self.api_client)

    @cached_property
    def imports(self) -> ImportApi:
        return ImportApi(self.api_client)

    @cached_property
    def auth(self) -> AuthApi:
        return AuthApi(self.api_client)

    @cached_property
    def config_api(self) -> ConfigApi:
        return ConfigApi(self.api_client)

    @cached_property
    def health(self) -> HealthCheckApi:
        return HealthCheckApi(self.api_client)
