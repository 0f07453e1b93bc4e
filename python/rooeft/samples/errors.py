"""The one exception of :mod:`rooeft.samples` and the helper that says where a problem is.

>>> str(SampleError("weights are NaN", file="a.root", tree="Events", branch="weight"))
"weights are NaN [file 'a.root', tree 'Events', branch 'weight']"
"""

from __future__ import annotations

__all__ = ["SampleError", "location"]


def location(*, file: object = None, tree: str | None = None, branch: str | None = None) -> str:
    """Format ``[file '...', tree '...', branch '...']`` from the parts that are known.

    >>> location(file="x.root", branch="w_sm")
    "[file 'x.root', branch 'w_sm']"
    >>> location()
    ''
    """
    parts = []
    if file is not None:
        parts.append(f"file '{file}'")
    if tree is not None:
        parts.append(f"tree '{tree}'")
    if branch is not None:
        parts.append(f"branch '{branch}'")
    return f"[{', '.join(parts)}]" if parts else ""


class SampleError(ValueError):
    """Refused sample input: the message names the file, tree and branch concerned.

    The parts are also kept as attributes ``file``, ``tree`` and ``branch`` (``None`` when not
    applicable), so callers can add context with :meth:`where`.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: object = None,
        tree: str | None = None,
        branch: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = None if file is None else str(file)
        self.tree = tree
        self.branch = branch
        where = location(file=self.file, tree=tree, branch=branch)
        super().__init__(f"{reason} {where}" if where else reason)

    def where(self, *, file: object = None, tree: str | None = None, branch: str | None = None) -> SampleError:
        """A copy with missing location parts filled in (existing parts are kept).

        >>> e = SampleError("bad", branch="w_sm").where(file="f.root", tree="Events")
        >>> str(e)
        "bad [file 'f.root', tree 'Events', branch 'w_sm']"
        """
        return SampleError(
            self.reason,
            file=self.file if self.file is not None else file,
            tree=self.tree if self.tree is not None else tree,
            branch=self.branch if self.branch is not None else branch,
        )
