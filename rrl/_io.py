"""Files that appear complete or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success it replaces ``path``.

    A failure while writing leaves neither a half-written target nor a stray
    temporary file. ``mode`` is ``"w"`` (UTF-8 text) or ``"wb"``.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:  # name the user's path, not the temporary file's
        raise OSError(error.errno, error.strerror, str(target)) from None
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(handle, mode, encoding=encoding) as stream:
            yield stream
        # mkstemp creates the file private (0600); give it the permissions of a normal file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, target)
    except OSError as error:
        Path(temp).unlink(missing_ok=True)
        if error.filename == temp:
            raise OSError(error.errno, error.strerror, str(target)) from None
        raise
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through :func:`atomic_file`."""
    with atomic_file(path) as stream:
        stream.write(text)
