"""``lakefs://repository/ref/path`` URIs, as users type them.

Commands accept a full URI, or (for refs) a bare ref name such as ``main`` or
``main~1`` that takes its repository from another URI in the same command or from the
``--repository`` default: ``lakever merge lakefs://repo/my-branch main``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakever_server.cli.errors import UsageError

SCHEME = "lakefs://"
# lakeFS repository ids: lower-case letters, digits and dashes, 3 to 63 characters.
_REPOSITORY = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
_FORM = "lakefs://<repository>/<ref>/<path>"


@dataclass(frozen=True)
class LakeUri:
    """A parsed URI; ``ref`` and ``path`` are ``None`` when the URI stops early."""

    repository: str
    ref: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        text = f"{SCHEME}{self.repository}"
        if self.ref is not None:
            text += f"/{self.ref}"
            if self.path is not None:
                text += f"/{self.path}"
        return text

    @property
    def ref_or_fail(self) -> str:
        if not self.ref:
            raise UsageError(f"{self} names no ref: expected {SCHEME}<repository>/<ref>")
        return self.ref

    def with_path(self, path: str) -> LakeUri:
        return LakeUri(self.repository, self.ref, path)


def is_uri(text: str) -> bool:
    return text.startswith(SCHEME)


def parse_uri(text: str, *, what: str = "URI") -> LakeUri:
    """Parse ``lakefs://repository[/ref[/path]]``.

    Raises:
        UsageError: with the expected form, when ``text`` is not such a URI.
    """
    if not is_uri(text):
        raise UsageError(f"invalid {what} {text!r}: expected {_FORM}")
    rest = text[len(SCHEME) :]
    repository, _, rest = rest.partition("/")
    if not repository:
        raise UsageError(f"invalid {what} {text!r}: missing repository, expected {_FORM}")
    if not _REPOSITORY.match(repository):
        raise UsageError(
            f"invalid {what} {text!r}: repository {repository!r} must be 3-63 lower-case "
            "letters, digits or dashes"
        )
    if not rest and not text.endswith("/"):
        return LakeUri(repository)
    ref, slash, path = rest.partition("/")
    if not ref:
        raise UsageError(f"invalid {what} {text!r}: empty ref, expected {_FORM}")
    return LakeUri(repository, ref, path if slash else None)


def parse_repository(text: str) -> LakeUri:
    """A URI naming only a repository: ``lakefs://repo``."""
    uri = parse_uri(text, what="repository URI")
    if uri.ref is not None:
        raise UsageError(f"invalid repository URI {text!r}: expected lakefs://<repository>")
    return uri


def parse_ref(text: str, *, default_repository: str | None = None, what: str = "ref") -> LakeUri:
    """A URI naming a ref (branch, tag, commit, ``main~1``), without a path.

    A bare ref name is accepted when ``default_repository`` is known.
    """
    if not is_uri(text):
        if not default_repository:
            raise UsageError(
                f"invalid {what} {text!r}: expected lakefs://<repository>/<ref> "
                "(a bare ref needs another URI in the command or --repository)"
            )
        if not text or "/" in text:
            raise UsageError(f"invalid {what} {text!r}: expected a ref name such as main")
        return LakeUri(default_repository, text)
    uri = parse_uri(text, what=what)
    if uri.ref is None:
        raise UsageError(f"invalid {what} {text!r}: expected lakefs://<repository>/<ref>")
    if uri.path:
        raise UsageError(f"invalid {what} {text!r}: a ref URI takes no object path")
    return LakeUri(uri.repository, uri.ref)


def parse_path(text: str, *, require_path: bool = False) -> LakeUri:
    """A URI naming an object or a prefix: ``lakefs://repo/ref/path`` (path may be empty)."""
    uri = parse_uri(text, what="path URI")
    if uri.ref is None:
        raise UsageError(f"invalid path URI {text!r}: expected {_FORM}")
    if require_path and not uri.path:
        raise UsageError(f"invalid path URI {text!r}: missing object path, expected {_FORM}")
    return LakeUri(uri.repository, uri.ref, uri.path or "")


def parse_refs(
    texts: list[str], *, default_repository: str | None = None, what: str = "ref"
) -> list[LakeUri]:
    """Several refs of one repository; bare names take the repository of the URIs."""
    repositories = {parse_uri(t, what=what).repository for t in texts if is_uri(t)}
    if len(repositories) > 1:
        names = ", ".join(sorted(repositories))
        raise UsageError(f"{what}s must be in one repository, got: {names}")
    repository = next(iter(repositories), default_repository)
    return [parse_ref(t, default_repository=repository, what=what) for t in texts]
