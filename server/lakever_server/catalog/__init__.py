"""The catalog: object paths and entries over the versioning core.

Modules:

- ``models``: plain dataclasses returned to protocols (``Repository``, ``Branch``,
  ``Commit``, ``Entry``, ``Difference``, ``Page``, ...).
- ``interface``: ``CatalogService``, the protocol every caller codes against.
- ``catalog``: ``Catalog(kv, block)``, the implementation: translates paths and entries
  to graveler keys and values, streams content to and from the block store, and enforces
  branch protection.

Construct with ``Catalog(kv: KVStore, block: BlockStore)``.
"""

from __future__ import annotations
