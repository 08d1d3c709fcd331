"""The unloaded reference of an imaged, pressurised organ (prestress by unloading).

An image shows a ventricle or a vessel loaded by its blood pressure (an LV at
end-diastole, say).  Mechanics needs the configuration without that load, so
that inflating it to the measured pressure gives back what the image shows.
:func:`unload` finds it with the backward-displacement fixed point of Bols et
al. (2013) (Sellier 2011): starting from the imaged geometry
``X_0 = x_img``, inflate ``X_k`` to the pressure, giving the displacement
``u_k`` at the mesh points, and set ::

    X_{k+1} = x_img - u_k(X_k),

until the inflated reference ``X_k + u_k`` is within ``tol`` [mm] of
``x_img`` at every point.  The reference returned is the last ``X_k``, the
one whose inflation was checked, so the tolerance is what a re-inflation
gives (to the Newton tolerance).  Each iteration is a full quasi-static
inflation of a new mesh, built by the caller's function on a new
:class:`~organfem.mechanics.Domain`, so any model can be unloaded.

Optionally the steps are relaxed with Aitken's dynamic factor (Irons & Tuck
1969, in the vector form of Kuettler & Wall 2008).

References:
    Bols J, Degroote J, Trachet B, Verhegghe B, Segers P, Vierendeels J
    (2013). A computational method to assess the in vivo stresses and
    unloaded configuration of patient-specific blood vessels. J. Comput.
    Appl. Math. 246:10-17.

    Sellier M (2011). An iterative method for the inverse elasto-static
    problem. J. Fluids Struct. 27:1461-1470.

    Irons BM, Tuck RC (1969). A version of the Aitken accelerator for
    computer iteration. Int. J. Numer. Methods Eng. 1:275-277.

    Kuettler U, Wall WA (2008). Fixed-point fluid-structure interaction
    solvers with dynamic relaxation. Comput. Mech. 43:61-72.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from .._dolfinx import MPI, dolfinx
from ..errors import (
    ConvergenceError,
    InvertedElementError,
    MeshError,
    OrganfemError,
    ParameterError,
)
from ..meshing.mesh import MeshData
from .domain import Domain
from .problem import HyperelasticProblem
from .stepping import ramp

__all__ = ["UnloadResult", "unload"]

log = logging.getLogger(__name__)

#: A function of a domain and a displacement (None: the reference) giving a
#: cavity volume [mm^3], e.g. ``functools.partial(cavity_volume, tag="endo", ...)``.
VolumeFunction = Callable[[Domain, "dolfinx.fem.Function | None"], float]


@dataclasses.dataclass(frozen=True)
class UnloadResult:
    """The unloaded reference and how the fixed point got there.

    Attributes:
        mesh: the unloaded :class:`~organfem.meshing.MeshData` on the root
            rank (None on the others): the imaged mesh with new points, the
            same cells, tags and per-cell fibres.  Fibres stored per cell are
            kept as they are (the bases of the imaged geometry, not rotated
            back with the unloading).
        iterations: inflations done (the reference returned is that of the
            last one).
        errors: geometric error of each iterate, ``max_i |X_k + u_k - x_img|``
            [mm] at the mesh points, shape (iterations,), the same on all ranks.
        newton_iterations: Newton iterations of each inflation.
        warm_starts: whether each inflation started from the last one's
            solution (see ``warm_start`` of :func:`unload`).
        reference_volumes, loaded_volumes: the cavity volume [mm^3] of each
            iterate ``X_k`` and of its inflation, shape (iterations,), if a
            ``volume`` function was given, else empty.
        imaged_volume: the cavity volume of the imaged geometry [mm^3] (NaN
            without a ``volume`` function).
        seconds: wall time of each iteration (mesh distribution, problem
            set-up and inflation) [s].
    """

    mesh: MeshData | None
    iterations: int
    errors: np.ndarray
    newton_iterations: tuple[int, ...]
    warm_starts: tuple[bool, ...]
    reference_volumes: np.ndarray
    loaded_volumes: np.ndarray
    imaged_volume: float
    seconds: tuple[float, ...]

    @property
    def error(self) -> float:
        """The geometric error of the reference returned [mm]."""
        return float(self.errors[-1])

    @property
    def rates(self) -> np.ndarray:
        """Ratios of successive errors ``e_{k+1} / e_k``, shape (iterations - 1,)."""
        return self.errors[1:] / self.errors[:-1]


def _point_values(domain: Domain, u: dolfinx.fem.Function, num_points: int, *, root: int = 0):
    """A vector field at the points of the MeshData ``domain`` was built from.

    The field is interpolated into the space of the coordinate element (its
    degrees of freedom are the geometry nodes: the vertices, and the edge
    nodes of curved cells), and each rank sends the values at the nodes it
    owns, with their input indices
    (``mesh.geometry.input_global_indices``), to ``root``.  Collective.

    Args:
        domain: a domain made by :meth:`Domain.from_meshdata`.
        u: a vector function on ``domain`` (e.g. the displacement [mm]).
        num_points: the number of points of the MeshData.
        root: the rank that gets the values.

    Returns:
        On ``root``: ``(values, found)``, values of shape (num_points, 3) in
        the order of the MeshData's points, and a boolean mask, shape
        (num_points,), of the points that are geometry nodes (points in no
        cell are not; their values are 0).  None on other ranks.
    """
    mesh = domain.mesh
    geometry = mesh.geometry
    Q = dolfinx.fem.functionspace(mesh, ("Lagrange", domain.geometry_degree, (3,)))
    q = dolfinx.fem.Function(Q)
    q.interpolate(u)
    # Geometry node -> block dof of Q: both number each cell's nodes the same way.
    nodes = geometry.dofmaps[0]
    node_to_dof = np.empty(geometry.x.shape[0], dtype=np.int64)
    node_to_dof[nodes.reshape(-1)] = Q.dofmap.list.reshape(-1)
    owned = geometry.index_map().size_local
    inputs = np.asarray(geometry.input_global_indices, dtype=np.int64)[:owned]
    local = q.x.array.reshape(-1, 3)[node_to_dof[:owned]]
    parts = mesh.comm.gather((inputs, local), root=root)
    if mesh.comm.rank != root:
        return None
    values = np.zeros((num_points, 3))
    found = np.zeros(num_points, dtype=bool)
    for index, value in parts:
        values[index] = value
        found[index] = True
    return values, found


def _with_points(mesh: MeshData, points: np.ndarray) -> MeshData:
    return dataclasses.replace(mesh, points=points)


def _layout(problem: HyperelasticProblem) -> tuple[np.ndarray, np.ndarray]:
    """This rank's cells (input numbers) and their dofs: equal for two
    problems when a state of one is a state of the other."""
    mesh = problem.domain.mesh
    cells = mesh.topology.index_map(mesh.topology.dim)
    num_cells = cells.size_local + cells.num_ghosts
    original = np.asarray(mesh.topology.original_cell_index, dtype=np.int64)[:num_cells]
    return original, np.asarray(problem.W.dofmap.list)


def _inflate(problem: HyperelasticProblem, levels, previous):
    """Ramp ``problem`` to pseudo-time 1, from the converged state of the
    last iterate if ``previous`` is given and the layouts agree.  Collective.

    The iterates share their cells and differ in their points by about the
    geometric error, so the last solution (displacement and, mixed, the
    pressure) is a good Newton guess at the full load.  If the solve from it
    fails, the problem starts again from rest and ramps over ``levels``.

    Returns:
        ``(ramp result, (layout, state) for the next call, warm)``, ``warm``
        true when the warm start converged.
    """
    layout = _layout(problem)
    comm = problem.domain.comm
    same = previous is not None and all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(layout, previous[0])
    )
    if comm.allreduce(bool(same), op=MPI.LAND):
        state = previous[1].copy()
        state.time, state.step, state.dt = 0.0, 0, 0.0
        state.fields["w_prev"] = state.fields["w"].copy()
        state.multipliers_prev = state.multipliers.copy()
        rest = problem.state
        problem.restore(state)
        try:
            run = ramp(problem, [1.0], max_cuts=2)
            return run, (layout, problem.state), True
        except (ConvergenceError, InvertedElementError) as err:
            log.info("warm start failed (%s); ramping from rest", err)
            problem.restore(rest)
    run = ramp(problem, levels)
    return run, (layout, problem.state), False


def unload(
    mesh: MeshData | None,
    problem: Callable[[Domain], HyperelasticProblem],
    *,
    levels: Sequence[float] | int = 4,
    tol: float = 1e-3,
    max_iterations: int = 20,
    aitken: bool = False,
    warm_start: bool = True,
    volume: VolumeFunction | None = None,
    comm: MPI.Comm = MPI.COMM_WORLD,
    root: int = 0,
) -> UnloadResult:
    """The unloaded reference of an imaged mesh at its measured load.

    Backward-displacement fixed point (Bols et al. 2013; Sellier 2011): from
    ``X_0 = x_img``, inflate ``X_k`` (a :func:`~organfem.mechanics.ramp`
    over ``levels``) to the displacement ``u_k`` at the mesh points, and set
    ``X_{k+1} = x_img - u_k`` (with ``aitken``:
    ``X_{k+1} = X_k + w_k (x_img - u_k - X_k)`` with Aitken's dynamic factor
    ``w_k`` of Kuettler & Wall 2008) until ``max |X_k + u_k - x_img| < tol``.
    Near the solution the error falls by a constant factor per iteration,
    about the size of the displacement gradient (measured 0.31-0.37, once
    0.59, for the coarse Land LV at 1 kPa: 9 inflations from 6.9 mm to
    1e-3 mm, see ``tests/test_unloading.py``); the distance of ``X_k`` to
    the exact unloaded reference is then at most ``error_k / (1 - rate)``.
    The fixed point fails when the load is so high that an iterate inverts
    cells; Aitken's factor may help then (it saved one of 9 inflations in
    the test case, so it is off by default).

    Every iteration builds a new :class:`Domain` from the iterate and calls
    ``problem(domain)`` for the loaded problem on it; the problem is closed
    after its inflation, so the same ``petsc_options_prefix`` serves every
    iteration.  Fibres the function takes from ``domain.fibres`` (stored per
    cell) follow their cells unchanged; a fibre function of position is
    evaluated at the iterate's points.  Boundary conditions and loads are
    found by their tags, which the iterates keep.  Points of the mesh that
    belong to no cell stay where they are.

    Collective on ``comm``.  Only ``root`` needs ``mesh`` (others may pass
    None), as for :meth:`Domain.from_meshdata`.

    Args:
        mesh: the imaged :class:`~organfem.meshing.MeshData` [mm], loaded.
        problem: builds the loaded problem (material, fibres, constraints, the
            measured pressure at pseudo-time 1) on a domain; the ramp goes
            from pseudo-time 0 (no load) to 1.
        levels: the ramp's pseudo-times or number of equal steps.
        tol: geometric tolerance [mm] on the inflated reference.
        max_iterations: inflations allowed.
        aitken: relax the steps with Aitken's dynamic factor (starting
            from 1).
        warm_start: start an inflation from the last one's solution, at the
            full load in one step, when the iterate moved by less than half
            the largest displacement (the iterates share their cells and
            dofs); if that fails, ramp from rest over ``levels``.  The answer
            is the same to the Newton tolerance (measured 5e-13 mm); the time
            is not (2-8 Newton iterations instead of 36-40, under 1 s instead
            of 5-10 s, for the coarse Land LV at 1 kPa).
        volume: optional ``volume(domain, u)`` [mm^3] of the cavity
            (``u=None``: the reference), recorded for every iterate.
        comm: the communicator.
        root: the rank holding ``mesh`` and, on return, the unloaded mesh.

    Returns:
        An :class:`UnloadResult`; its ``mesh`` is on ``root`` only.

    Raises:
        ParameterError: for a non-positive ``tol`` or ``max_iterations``.
        ConvergenceError: naming the loads (cavity pressures in kPa and
            mmHg), the iteration and the geometric error reached [mm], when
            ``max_iterations`` pass without meeting ``tol``, when an iterate
            has inverted cells (the load is too high for the fixed point;
            try ``aitken=True``), or when an inflation fails (the error of
            the ramp, with a note on the iteration).
    """
    if not tol > 0:
        raise ParameterError(f"unload: tol={tol!r} mm must be positive")
    if not (isinstance(max_iterations, int) and max_iterations >= 1):
        raise ParameterError(
            f"unload: max_iterations={max_iterations!r} must be a positive integer"
        )
    is_root = comm.rank == root
    imaged = np.array(mesh.points, dtype=np.float64) if is_root else None
    num_points = comm.bcast(imaged.shape[0] if is_root else None, root=root)

    X = imaged.copy() if is_root else None
    current = mesh if is_root else None
    errors: list[float] = []
    newton: list[int] = []
    seconds: list[float] = []
    reference_volumes: list[float] = []
    loaded_volumes: list[float] = []
    imaged_volume = float("nan")
    residual_old = None
    omega = 1.0
    loads = ""
    previous = None  # (layout, committed state) of the last inflation, for a warm start
    warm: list[bool] = []
    close_by = False  # whether the last solution is a good guess for this iterate
    for k in range(max_iterations):
        start = time.perf_counter()
        domain = Domain.from_meshdata(current, comm, root=root)
        loaded = problem(domain)
        try:
            try:
                run, previous, hot = _inflate(loaded, levels, previous if close_by else None)
            except OrganfemError as err:
                err.add_note(
                    f"while inflating unloading iterate {k}"
                    + (f" (geometric error so far {errors[-1]:.3g} mm)" if errors else "")
                )
                raise
            warm.append(hot)
            loads = loaded.describe_loads() or "the given loads"
            u = loaded.displacement()
            if volume is not None:
                v_ref, v_loaded = volume(domain, None), volume(domain, u)
                reference_volumes.append(v_ref)
                loaded_volumes.append(v_loaded)
                if k == 0:
                    imaged_volume = v_ref
            gathered = _point_values(domain, u, num_points, root=root)
        finally:
            loaded.close()
        del loaded, domain

        # The residual of the fixed point, X_k + u_k - x_img, on root.
        status = None
        if is_root:
            values, found = gathered
            residual = np.where(found[:, None], X + values - imaged, 0.0)
            error = float(np.linalg.norm(residual, axis=1).max())
            if error >= tol:
                if aitken and residual_old is not None:
                    change = residual - residual_old
                    denominator = float(np.vdot(change, change))
                    if denominator > 0:
                        omega = -omega * float(np.vdot(residual_old, change)) / denominator
                residual_old = residual
                step = X - omega * residual
                try:
                    current = _with_points(mesh, step)
                    X = step
                except MeshError as err:
                    status = str(err)
            # The last solution is a fair guess if the iterate moved by less
            # than half the displacement (not after the first inflation,
            # which moves it by the whole displacement).
            moved = float(np.abs(omega) * error)
            status = (error, status, moved < 0.5 * float(np.linalg.norm(values, axis=1).max()))
        error, inverted, close_by = comm.bcast(status, root=root)
        close_by = close_by and warm_start
        errors.append(error)
        newton.append(run.newton_iterations)
        seconds.append(time.perf_counter() - start)
        log.info("unloading iteration %d: geometric error %.3g mm (%d Newton iterations, %.1f s)",
                 k, error, newton[-1], seconds[-1])
        if error < tol:
            break
        if inverted is not None:
            raise ConvergenceError(
                f"unloading at {loads}: the next reference geometry (iteration {k + 1}) has "
                f"inverted cells, with the inflated reference still {error:.3g} mm from the "
                f"imaged geometry (tol {tol:g} mm); the load is too high for the fixed point "
                f"(try aitken=True or a finer mesh). The mesh said: {inverted}"
            )
    else:
        history = ", ".join(f"{e:.3g}" for e in errors)
        raise ConvergenceError(
            f"unloading at {loads} did not converge in {max_iterations} "
            f"iteration{'s' if max_iterations > 1 else ''}: the "
            f"inflated reference is still {errors[-1]:.3g} mm from the imaged geometry "
            f"(tol {tol:g} mm); geometric errors by iteration [mm]: {history}"
        )
    return UnloadResult(
        mesh=current if is_root else None,
        iterations=len(errors),
        errors=np.array(errors),
        newton_iterations=tuple(newton),
        warm_starts=tuple(warm),
        reference_volumes=np.array(reference_volumes),
        loaded_volumes=np.array(loaded_volumes),
        imaged_volume=imaged_volume,
        seconds=tuple(seconds),
    )
