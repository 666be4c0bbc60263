"""Errors the provider raises in tasks.

Failures that retrying cannot fix (a merge conflict, a branch that exists on another
source) derive from ``AirflowFailException`` so Airflow fails the task without spending its
retries; the rest derive from ``AirflowException`` and follow the task's retry settings.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class LakeverError(AirflowException):
    """A request to the server failed; the message carries the server's explanation."""


class MergeConflictError(AirflowFailException):
    """A merge found paths changed differently on both sides.

    :param source: the source ref of the merge.
    :param destination: the destination branch.
    :param paths: every conflicting path found.
    :param server_message: the server's own error message.
    """

    def __init__(
        self, *, source: str, destination: str, paths: Sequence[str], server_message: str
    ) -> None:
        self.source = source
        self.destination = destination
        self.paths = list(paths)
        self.server_message = server_message
        listing = "\n".join(f"  - {path}" for path in self.paths) or "  (none reported)"
        super().__init__(
            f"merge of {source!r} into {destination!r} conflicts on {len(self.paths)} "
            f"path(s):\n{listing}\nserver: {server_message}\n"
            "Resolve it on the source branch (or merge with strategy='source-wins' or "
            "'dest-wins') and run the task again."
        )


class BranchExistsElsewhereError(AirflowFailException):
    """A branch to create exists already and does not derive from the requested source."""
