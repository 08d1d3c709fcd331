"""The record of a run beside its checkpoint: resume it, or say why not.

A scenario's checkpoint folder holds ``run.json``: the run's parameters and
the SHA-256 of its inputs.  Started again with the same ones, the run
resumes from its checkpoint; with other ones it stops and names what
differs, so that a checkpoint is never continued with other physics.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from .files import write_atomically
from .provenance import sha256_input

__all__ = ["RUN_RECORD", "resume_run", "save_run", "start_run"]

#: File name of the record in the checkpoint folder.
RUN_RECORD = "run.json"


def resume_run(folder: str | Path, run: Mapping[str, Any], *, restart: bool = False
               ) -> tuple[bool, dict]:
    """Whether a run resumes the checkpoint in ``folder``, and the record saved there.

    Not collective (rank 0).

    Args:
        folder: the checkpoint folder.
        run: ``{"parameters": {...}, "inputs": {role: sha256}}`` of this run
            (JSON-serialisable).
        restart: discard the folder and start over.

    Returns:
        ``(resume, record)``: True and the saved record when the folder holds
        this run's checkpoint; False and ``{}`` (the folder removed) when it
        holds none or ``restart`` is set.

    Raises:
        ParameterError: if the folder holds the checkpoint of a run with other
            parameters or inputs (naming them), or an unreadable record.
    """
    folder = Path(folder)
    record = folder / RUN_RECORD
    if restart or not record.is_file():
        shutil.rmtree(folder, ignore_errors=True)
        return False, {}
    now = json.loads(json.dumps(run))
    try:
        before = json.loads(record.read_text())
        changed = [f"{key} {before['parameters'].get(key)!r} -> {value!r}"
                   for key, value in now["parameters"].items()
                   if before["parameters"].get(key) != value]
        changed += [f"input {role!r}" for role in sorted({*now["inputs"], *before["inputs"]})
                    if now["inputs"].get(role) != before["inputs"].get(role)]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        changed = [f"its record {folder.name}/{RUN_RECORD} is unreadable"]
    if changed:
        raise ParameterError(
            "the output folder holds the checkpoint of a run with other options ("
            + "; ".join(changed) + "): rerun with those to resume it, add --restart "
            "to start over, or choose another --out"
        )
    return True, before


def save_run(folder: str | Path, record: Mapping[str, Any]) -> None:
    """Write the run's record into ``folder`` atomically (rank 0)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=1, sort_keys=True)
    write_atomically(folder / RUN_RECORD, lambda temporary: temporary.write_text(text),
                     "run record")


def start_run(folder: str | Path, parameters: Mapping[str, Any], inputs: Mapping[str, Any], *,
              restart: bool = False) -> bool:
    """Record a run in its checkpoint ``folder``; whether it resumes the one there.

    Not collective (rank 0; with MPI, ``on_rank0`` and broadcast the answer).
    The record is the parameters and the SHA-256 of each input (``inputs``:
    role -> path), never a path (see :func:`resume_run`, :func:`save_run`).

    Raises:
        ParameterError: as :func:`resume_run`.
    """
    run = {"parameters": dict(parameters),
           "inputs": {role: sha256_input(path) for role, path in inputs.items()}}
    resume, _ = resume_run(folder, run, restart=restart)
    save_run(folder, run)
    return resume
