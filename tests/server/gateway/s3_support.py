"""Clients of a running lakever server for the S3 gateway tests."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import lakefs_sdk
from botocore.config import Config

from tests.support.server import RunningServer


def s3_client(
    server: RunningServer,
    *,
    access_key_id: str | None = None,
    secret: str | None = None,
    signature_version: str = "s3v4",
) -> Any:
    """A boto3 S3 client at its default settings, except path-style addressing."""
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=access_key_id or server.access_key_id,
        aws_secret_access_key=secret or server.secret_access_key,
        region_name="us-east-1",
        config=Config(
            signature_version=signature_version,
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
        ),
    )


def create_repository(server: RunningServer, prefix: str = "repo") -> str:
    """A fresh repository with branch ``main`` on the server's local block store."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    with server.sdk_client() as client:
        lakefs_sdk.RepositoriesApi(client).create_repository(
            lakefs_sdk.RepositoryCreation(
                name=name, storage_namespace=f"local://{name}", default_branch="main"
            )
        )
    return name


def commit(server: RunningServer, repository: str, branch: str, message: str) -> str:
    with server.sdk_client() as client:
        created = lakefs_sdk.CommitsApi(client).commit(
            repository, branch, lakefs_sdk.CommitCreation(message=message)
        )
    return str(created.id)


def physical_address(server: RunningServer, repository: str, ref: str, path: str) -> str:
    with server.sdk_client() as client:
        stats = lakefs_sdk.ObjectsApi(client).stat_object(repository, ref, path)
    return str(stats.physical_address)
