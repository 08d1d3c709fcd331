"""Work done on one rank, errors seen by all."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..errors import OrganfemError

__all__ = ["on_rank0"]

T = TypeVar("T")


def on_rank0(comm, work: Callable[[], T]) -> T | None:
    """Run ``work()`` on rank 0 only; if it raises an organfem error, raise it on every rank.

    Collective.  Meshing, reading a file or preparing an output folder happen
    on one rank; without this, an error there would leave the other ranks
    waiting in the next collective call.

    Returns:
        ``work()``'s result on rank 0, None on the other ranks.
    """
    result, error = None, None
    if comm.rank == 0:
        try:
            result = work()
        except OrganfemError as err:
            error = err
    error = comm.bcast(error, root=0)
    if error is not None:
        raise error
    return result
