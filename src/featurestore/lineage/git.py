"""The git commit of the caller's working directory, recorded with every model run.

Best effort by design: outside a git work tree, without a ``git`` executable, or when git
fails or hangs, the commit is simply unknown (``None``); logging a run never fails because
of git.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["git_commit"]

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def git_commit(cwd: str | Path | None = None, *, timeout: float = 5.0) -> str | None:
    """Return ``HEAD``'s commit of the git work tree containing ``cwd``, else ``None``.

    A work tree with uncommitted changes to tracked files gets the suffix ``-dirty``, so a
    recorded commit never claims code it did not run.

    Args:
        cwd: Where to look (default: the current directory).
        timeout: Seconds to wait for each git call.

    Example:
        >>> import tempfile
        >>> git_commit(tempfile.mkdtemp()) is None
        True
    """
    executable = shutil.which("git")
    if executable is None:
        return None
    where = str(cwd) if cwd is not None else None
    head = _run([executable, "rev-parse", "--verify", "--quiet", "HEAD"], where, timeout)
    if head is None or not _SHA.match(head):
        return None
    status = _run([executable, "status", "--porcelain", "--untracked-files=no"], where, timeout)
    return f"{head}-dirty" if status else head


def _run(args: list[str], cwd: str | None, timeout: float) -> str | None:
    try:
        done = subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip()
