"""The health check's probes: one cheap read of each store.

Load balancers poll the health check every few seconds on every replica, so each probe
is a single point read: a missing key in the metadata store, and the existence of one
address in the block store (for S3, a HEAD request). Neither writes anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lakever_server.services import Services

log = logging.getLogger(__name__)

_PROBE_PARTITION = "lakever-health"
_PROBE_KEY = b"probe"


@dataclass(frozen=True)
class StoreHealth:
    """``None`` for a store that answered, else why it did not (no secrets)."""

    metadata: str | None
    blockstore: str | None

    @property
    def healthy(self) -> bool:
        return self.metadata is None and self.blockstore is None

    def as_json(self) -> dict[str, str]:
        return {
            "metadata": self.metadata or "ok",
            "blockstore": self.blockstore or "ok",
        }


def _probe_address(services: Services) -> str:
    settings = services.settings
    if settings.blockstore.type == "local":
        return "local://lakever-health-probe"
    if settings.blockstore.type == "s3":
        prefix = settings.blockstore.default_namespace_prefix or ""
        bucket = prefix.removeprefix("s3://").split("/", 1)[0]
        return f"s3://{bucket or 'lakever-health'}/lakever-health-probe"
    return "mem://lakever-health-probe"


def check_stores(services: Services) -> StoreHealth:
    """Read each store once; report which one failed and with what kind of error."""
    metadata = blockstore = None
    try:
        services.kv.get(_PROBE_PARTITION, _PROBE_KEY)
    except Exception as error:  # any failure means unhealthy, whatever the driver raises
        log.warning("health check: metadata store failed: %s", type(error).__name__)
        metadata = f"unavailable ({type(error).__name__})"
    try:
        services.block.exists(_probe_address(services))
    except Exception as error:
        log.warning("health check: block store failed: %s", type(error).__name__)
        blockstore = f"unavailable ({type(error).__name__})"
    return StoreHealth(metadata=metadata, blockstore=blockstore)
