"""graveler: the versioning core (refs, staging, commits, trees, diff, merge).

Semantics follow lakeFS's graveler so lakeFS clients see what they expect; every cost
scales with the change, never with the size of the lake.

Modules (one concept each):

- ``tree``: immutable, content-addressed, sorted trees (a prolly tree whose shape depends
  only on its contents). Build, apply sorted changes writing only touched nodes, seek,
  iterate, and diff that skips identical subtrees by id. Nodes live in the block store.
- ``model``: ``Commit``, ``Branch``, ``Tag``, ``Value`` records and their encodings;
  commit ids are the SHA-256 of the commit's canonical encoding.
- ``refs``: repositories, branches, tags and commits in the metadata store; ref
  expressions (``id``, prefix, branch, tag, ``~N``, ``^N``, ``@``, ``$``); branch heads
  change only by compare-and-set.
- ``staging``: per-branch uncommitted writes and tombstones under staging tokens (a
  commit seals the token so writes during a commit are never lost).
- ``commits``: commit, log, merge base (by generation).
- ``merge``: three-way merge of tree diffs, conflict reporting, strategies; revert and
  cherry-pick as merges against a chosen base.
- ``graveler``: the ``Graveler`` facade that the catalog calls.
- ``fsck``: verification that a repository is consistent.

The core depends only on ``storage`` interfaces and ``errors``.
"""
