"""Storage adapters behind two small interfaces.

- ``storage.kv``: the metadata store, an ordered key/value store split into partitions,
  with compare-and-set (``set_if``) and atomic batches. Branch heads, tags, commits,
  staging entries, settings and credentials live here. Implementations: ``memory``
  (tests), ``sqlite`` (embedded default, WAL, one writer), ``postgres`` (production).
- ``storage.block``: the block store, immutable blobs by address. Object content and
  committed tree nodes live here. Implementations: ``memory`` (tests), ``local``
  (embedded default), ``s3`` (any S3-compatible service).

One contract test suite per interface (``tests/server/storage``) runs against every
implementation.
"""
