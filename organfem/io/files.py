"""Writing an output file atomically: complete, or not at all."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from organfem.errors import OutputError

__all__ = ["write_atomically"]


def write_atomically(path: str | Path, write: Callable[[Path], None], what: str) -> Path:
    """Write a file beside ``path`` with ``write(temporary)``, then move it onto ``path``.

    A failure (a full disk, no permission, a folder in the way) leaves a file
    already at ``path`` as it was and no temporary file behind.  The
    temporary file is named ``.<stem>.<pid>.partial<suffix>`` (the suffix
    kept, for writers that choose the format by it), so it is created with
    the umask, as ``path`` will be.

    Args:
        path: the output file.
        write: writes the whole file to the path it is given.
        what: the kind of output for the message (``"render"``, ``"report"``).

    Returns:
        ``path``.

    Raises:
        OutputError: naming ``what`` and the file (not its folder, which may
            name the patient), why it cannot be written, and what is kept.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as err:
        kept = f"the {what} already there is unchanged" if path.is_file() else "nothing was written"
        raise OutputError(f"cannot write {what} {path.name}: {OutputError.reason(err)}; {kept}"
                          ) from None
    finally:
        temporary.unlink(missing_ok=True)
    return path
