"""Zero-copy import from the block store into a branch, as one commit per location.

Imports run in a background thread of the replica that received them; their status lives
in the metadata store, so a client may poll or cancel through any replica.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from lakever_server.api import convert
from lakever_server.api.deps import ServicesDep, UserDep, check_prefix, current_user
from lakever_server.api.schemas import ImportCreation
from lakever_server.catalog.interface import CatalogService
from lakever_server.catalog.models import Commit
from lakever_server.errors import (
    Conflict,
    InvalidValue,
    LakeverError,
    NotFound,
    ReadOnlyRepository,
)
from lakever_server.services import Services
from lakever_server.storage.block import parse_address
from lakever_server.storage.kv import KVStore

router = APIRouter(tags=["import"], dependencies=[Depends(current_user)])
IMPORT = "/repositories/{repository}/branches/{branch}/import"
ImportId = Annotated[str, Query(alias="id", description="the import id")]


@dataclass
class ImportJob:
    id: str
    repository: str
    branch: str
    updated: float = field(default_factory=time.time)
    completed: bool = False
    canceled: bool = False
    commit_id: str | None = None
    error: str | None = None

    def status(self, catalog: CatalogService) -> dict[str, Any]:
        out: dict[str, Any] = {
            "completed": self.completed,
            "update_time": datetime.fromtimestamp(self.updated, UTC).isoformat(),
        }
        if self.commit_id is not None:
            commit = catalog.get_commit(self.repository, self.commit_id)
            out["commit"] = convert.commit(commit)
            out["metarange_id"] = commit.meta_range_id
        if self.error is not None:
            out["error"] = {"message": self.error}
        return out


class ImportJobs:
    """Import jobs by id, recorded in the metadata store's ``imports`` partition."""

    PARTITION = "imports"

    def __init__(self, kv: KVStore) -> None:
        self._kv = kv

    def _save(self, job: ImportJob) -> None:
        job.updated = time.time()
        self._kv.set(self.PARTITION, job.id.encode(), json.dumps(asdict(job)).encode())

    def _load(self, job_id: str) -> ImportJob | None:
        raw = self._kv.get(self.PARTITION, job_id.encode())
        return None if raw is None else ImportJob(**json.loads(raw))

    def start(
        self,
        catalog: CatalogService,
        repository: str,
        branch: str,
        body: ImportCreation,
        committer: str,
    ) -> ImportJob:
        job = ImportJob(uuid.uuid4().hex, repository, branch)
        self._save(job)
        worker = threading.Thread(
            target=self._run, args=(job, catalog, body, committer), daemon=True
        )
        worker.start()
        return job

    def _canceled(self, job: ImportJob) -> bool:
        stored = self._load(job.id)
        return stored is not None and stored.canceled

    def _run(
        self, job: ImportJob, catalog: CatalogService, body: ImportCreation, committer: str
    ) -> None:
        try:
            for location in body.paths:
                if self._canceled(job):
                    raise Conflict("import canceled")
                commit: Commit = catalog.import_from(
                    job.repository,
                    job.branch,
                    location.path,
                    location.destination,
                    committer,
                    message=body.commit.message,
                    metadata=body.commit.metadata,
                    force=body.force or body.commit.force,
                )
                job.commit_id = commit.id
                self._save(job)
        except LakeverError as err:
            job.error = err.message
        except Exception as err:
            job.error = f"import failed: {type(err).__name__}"
        finally:
            job.canceled = self._canceled(job)
            job.completed = job.error is None
            self._save(job)

    def get(self, repository: str, branch: str, job_id: str) -> ImportJob:
        job = self._load(job_id)
        if job is None or (job.repository, job.branch) != (repository, branch):
            raise NotFound(f"import {job_id} not found", kind="import", name=job_id)
        return job

    def cancel(self, repository: str, branch: str, job_id: str) -> None:
        job = self.get(repository, branch, job_id)
        if job.completed:
            raise Conflict("import already completed")
        job.canceled = True
        self._save(job)


def _jobs(request: Request) -> ImportJobs:
    jobs: ImportJobs = request.app.state.imports
    return jobs


JobsDep = Annotated[ImportJobs, Depends(_jobs)]


def _check_single_object(services: Services, address: str) -> None:
    """An ``object`` location imports exactly that blob. It is imported as a prefix, so
    refuse it when other blobs share the prefix (``a.csv`` next to ``a.csv.bak``)."""
    found = [blob.address for blob in islice(services.block.list_prefix(address), 2)]
    if found != [address]:
        what = "does not exist" if not found else "is a prefix of other objects"
        raise InvalidValue(f"import object {address} {what}", field="paths")


@router.post(IMPORT, status_code=202)
def import_start(
    repository: str,
    branch: str,
    body: ImportCreation,
    services: ServicesDep,
    jobs: JobsDep,
    user: UserDep,
) -> dict[str, Any]:
    """Start importing; each location's ``path`` is a block-store address prefix."""
    services.catalog.get_branch(repository, branch)
    if services.catalog.get_repository(repository).read_only and not body.force:
        # Refused now rather than in the background job; the catalog refuses it too.
        raise ReadOnlyRepository()
    for location in body.paths:
        parse_address(location.path)
        check_prefix(location.destination, "destination")
        if location.type == "object":
            _check_single_object(services, location.path)
    job = jobs.start(services.catalog, repository, branch, body, user.id)
    return {"id": job.id}


@router.get(IMPORT)
def import_status(
    repository: str, branch: str, job_id: ImportId, jobs: JobsDep, services: ServicesDep
) -> dict[str, Any]:
    return jobs.get(repository, branch, job_id).status(services.catalog)


@router.delete(IMPORT, status_code=204)
def import_cancel(repository: str, branch: str, job_id: ImportId, jobs: JobsDep) -> Response:
    jobs.cancel(repository, branch, job_id)
    return Response(status_code=204)
