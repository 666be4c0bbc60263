"""graveler: the versioning core (refs, staging, commits, trees, diff, merge).

Semantics follow lakeFS's graveler so lakeFS clients see what they expect; every cost
scales with the change, never with the size of the lake.

Modules (one concept each):

- ``tree``: immutable, content-addressed, sorted trees (a prolly tree whose shape depends
  only on its contents). Build, apply sorted changes writing only touched nodes, seek,
  iterate, and diff that skips identical subtrees by id. Nodes live in the block store.
- ``model``: ``CommitRecord``, ``BranchRecord``, ``RepositoryRecord``, ``Value`` and
  their canonical encodings; commit ids are the SHA-256 of the commit's encoding.
- ``names``: validation of repository ids, branch and tag names, amounts, and the
  strict parser of ref expressions (``id``, prefix, branch, tag, ``~N``, ``^N``, ``@``,
  ``$``).
- ``refs``: repositories, branches, tags, commits and settings in the metadata store
  (one partition per repository instance) and ref resolution.
- ``staging``: per-branch uncommitted writes and tombstones under staging tokens (a
  commit seals the token so writes during a commit are never lost).
- ``repository``: one open repository (record, stores, tree), the compare-and-set loop
  that alone changes branch heads, and reads of a ref's view (staging over committed).
- ``commits``: the commit flow (seal, build, record, move, clean), log, merge base (by
  generation).
- ``merge``: three-way merge of tree diffs, conflict reporting, strategies; revert and
  cherry-pick are merges against a chosen base.
- ``head_updates``: merge, revert, cherry-pick and bulk import: build a tree from the
  head, commit it, compare-and-set the branch to it.
- ``graveler``: the ``Graveler`` facade that the catalog calls.
- ``fsck``: verification that a repository is consistent.

The core depends only on ``storage`` interfaces and ``errors``.
"""
