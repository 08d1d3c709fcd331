"""Write the example results file of ``tests/test_io.py``, serially or under MPI.

Usage: ``mpiexec -n 2 python tests/mpi_io_check.py OUT_DIR`` writes
``OUT_DIR/results.vtkhdf``; ``tests/test_io.py`` imports :func:`write_example`
to write the same file in one process and compares the two.  Options give the
step times (``--times 0.5,1,1.5``), resume the file (``--resume``, with
``--discard-after T``) or kill the process with SIGKILL after the last step
(``--kill``), as a run killed between steps would be.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from organfem._dolfinx import MPI, dolfinx
from organfem.io import ResultsWriter

__all__ = ["TIMES", "displacement", "pressure", "write_example"]

TIMES = (0.5, 1.0)


def displacement(t: float, x: np.ndarray) -> np.ndarray:
    """Analytic displacement u = (0.1 t x, 0, -0.05 t y) in mm; linear, so P1 is exact."""
    return np.stack([0.1 * t * x[0], np.zeros_like(x[1]), -0.05 * t * x[1]])


def pressure(t: float) -> float:
    """Cavity pressure of the example in kPa: 2 t."""
    return 2.0 * t


def write_example(
    path: Path,
    comm: MPI.Comm,
    *,
    inputs: dict[str, Path] | None = None,
    times: Sequence[float] = TIMES,
    resume: bool = False,
    discard_after: float | None = None,
    kill: bool = False,
) -> None:
    """Write steps of analytic fields on a 3 x 2 x 2 tetrahedral box.  Collective.

    The steps are at ``times`` (by default :data:`TIMES`); with ``resume`` the
    writer continues an existing file, first dropping the steps after
    ``discard_after`` if given; with ``kill`` the process kills itself with
    SIGKILL after the last step, before the writer is closed.  The parameters
    recorded are ``{"mu_kPa": 0.5, "steps": len(times)}``.

    Point data: ``displacement`` (P2 vector, :func:`displacement`).  Cell data:
    ``cell_x`` (DG0: x of the cell midpoint times t) and the static ``region``
    (1 for cells with midpoint x < 1.5, 2 otherwise, as (cells, values) tags).
    Scalars: ``pressure`` (:func:`pressure`).
    """
    mesh = dolfinx.mesh.create_box(
        comm, [[0.0, 0.0, 0.0], [3.0, 2.0, 2.0]], [3, 2, 2], dolfinx.mesh.CellType.tetrahedron
    )
    tdim = mesh.topology.dim
    num_cells = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    cells = np.arange(num_cells, dtype=np.int32)
    midpoints = dolfinx.mesh.compute_midpoints(mesh, tdim, cells)
    region = np.where(midpoints[:, 0] < 1.5, 1, 2).astype(np.int32)

    u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 2, (3,))))
    cell_x = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0)))
    with ResultsWriter(
        path,
        mesh,
        parameters={"mu_kPa": 0.5, "steps": len(times)},
        inputs=inputs or {},
        static={"region": (cells, region)},
        resume=resume,
    ) as out:
        if discard_after is not None:
            out.discard_after(discard_after)
        for t in times:
            u.interpolate(lambda x, t=t: displacement(t, x))
            cell_x.interpolate(lambda x, t=t: t * x[0])
            out.write(t, {"displacement": u, "cell_x": cell_x}, {"pressure": pressure(t)})
        if kill:
            os.kill(os.getpid(), signal.SIGKILL)


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--times", type=lambda text: [float(t) for t in text.split(",")])
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--discard-after", type=float)
    parser.add_argument("--kill", action="store_true")
    args = parser.parse_args()
    write_example(
        args.out_dir / "results.vtkhdf",
        MPI.COMM_WORLD,
        times=TIMES if args.times is None else args.times,
        resume=args.resume,
        discard_after=args.discard_after,
        kill=args.kill,
    )


if __name__ == "__main__":
    _main()
