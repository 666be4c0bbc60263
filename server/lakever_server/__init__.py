"""lakever-server: a lakeFS-compatible "git for data" server.

Layering (dependencies point one way, left to right)::

    api | gateway | webhdfs | ui | cli   protocols: lakeFS REST, S3, WebHDFS, HTML, terminal
        -> catalog                       paths and object entries over the versioning core
        -> graveler                      refs, staging, commits, content-addressed trees,
                                         diff, three-way merge, revert, cherry-pick
        -> storage.kv | storage.block    small adapter interfaces: metadata (SQLite,
                                         PostgreSQL, memory) and blocks (local disk, S3, memory)

Cross-cutting modules used by every layer:

- ``errors``: the one error taxonomy (``NotFound``, ``AlreadyExists``, ``Conflict``, ...),
  mapped to lakeFS JSON errors once in ``api`` and to S3 XML errors once in ``gateway``.
- ``config``: the one ``Settings`` object (config file plus ``LAKEVER_*`` env overrides).

The versioning core (``graveler`` and below) never imports the web framework or boto3
outside ``storage.block.s3``.
"""

from __future__ import annotations

__version__ = "0.1.0"
