"""Rule-based fibres: the Laplace-Dirichlet rule-based (LDRB) method for one ventricle.

Bayer JD, Blake RC, Plank G, Trayanova NA (2012) "A novel rule-based
algorithm for assigning myocardial fiber orientation to computational heart
models", Ann Biomed Eng 40: 2243-2254.

Two Laplace problems on the mesh (P1, solved with DOLFINx on one process)
give a transmural coordinate ``phi`` (0 on the endocardium, 1 on the
epicardium, natural on the base) and an apico-basal one ``psi`` (1 on the
base, 0 at the apex vertex, natural elsewhere).  Their gradients, constant on
each tetrahedron, span a local frame in which the fibre is rotated by a helix
angle that varies linearly through the wall.  With a single ventricle Bayer's
blend (bislerp) of an endocardial and an epicardial frame reduces to this:
both frames share their axes, and interpolating between two rotations about
one axis interpolates the angle linearly.

Sign convention (Bayer et al. 2012): ``f0 = cos(alpha) e_c + sin(alpha) e_l``
with ``e_l`` pointing from the apex to the base and ``e_c = e_l x e_t``
(``e_t`` transmural, outward), so a positive helix angle is a right-handed
helix about the apex-to-base axis: the physiological default +60 degrees at
the endocardium and -60 at the epicardium gives the right-handed endocardial
and left-handed epicardial fibres of Streeter's measurements.
:func:`organfem.fibres.land2015_fibres` follows the formula of Land et al.
(2015) instead, which measures the angle the other way round: the same field
there needs the negated angles (``land2015_fibres(alpha_endo=-60,
alpha_epi=60)``).  For the +/-90 degree fields of the Land benchmark the two
are mirror images with the same apex displacement.

Only :func:`ldrb_fibres` and :func:`ldrb_coordinates` need DOLFINx, and they
import it when called, so ``import organfem.fibres`` stays light.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math

import numpy as np

from ..errors import ConvergenceError, MeshError, ParameterError
from ..meshing.mesh import MeshData

__all__ = ["LaplaceCoordinates", "ldrb_coordinates", "ldrb_fibres", "helix_angles"]

log = logging.getLogger(__name__)

# Conjugate gradients with algebraic multigrid: a few iterations and linear
# cost for a P1 Laplacian, where a direct factorisation of a 1e5-1e6 vertex
# 3D mesh costs seconds to minutes and gigabytes.
_SOLVER_OPTIONS = {
    "ksp_type": "cg",
    "pc_type": "gamg",
    "ksp_rtol": 1e-10,
    "ksp_atol": 1e-14,
    "ksp_max_it": 2000,
}
_prefixes = itertools.count()

# Vertices on both endo- and epicardium (a wall pinched to zero thickness, as
# image-derived meshes can have at a few points of the base ring) get no
# Dirichlet value.  More than this fraction of either surface shared means
# the tags are wrong (e.g. the base named as the epicardium), not the mesh.
_MAX_SHARED = 0.05

# A gradient shorter than this times the median over the cells has no direction.
_DEGENERATE = 1e-6


@dataclasses.dataclass(frozen=True, eq=False)
class LaplaceCoordinates:
    """The two Laplace solutions of the LDRB method and the local frame per cell.

    Attributes:
        phi: transmural coordinate at the vertices, shape (n,): 0 on the
            endocardium, 1 on the epicardium (NaN at points no cell uses).
        psi: apico-basal coordinate at the vertices, shape (n,): 0 at the
            apex, 1 on the base (NaN at points no cell uses).
        apex: index of the apex vertex.
        cell_phi: ``phi`` at each cell's centroid, clipped to [0, 1], shape (m,).
        frame: unit vectors per cell, shape (m, 3, 3), rows ``(e_c, e_l,
            e_t)``: circumferential ``e_t x e_l``, longitudinal (``-grad psi``,
            from base to apex) and transmural (``grad phi`` made orthogonal to
            ``e_l``, from endo- to epicardium); a right-handed orthonormal basis.
    """

    phi: np.ndarray
    psi: np.ndarray
    apex: int
    cell_phi: np.ndarray
    frame: np.ndarray

    def __post_init__(self) -> None:
        for name in ("phi", "psi", "cell_phi", "frame"):
            array = np.array(getattr(self, name), dtype=np.float64, copy=True)
            array.setflags(write=False)
            object.__setattr__(self, name, array)


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``v`` normalised, and their lengths (rows of length 0 stay 0)."""
    norm = np.linalg.norm(v, axis=1)
    safe = np.where(norm > 0, norm, 1.0)
    return v / safe[:, None], norm


def _any_orthogonal(e: np.ndarray) -> np.ndarray:
    """A unit vector orthogonal to each unit row of ``e`` (shape (k, 3))."""
    axis = np.eye(3)[np.argmin(np.abs(e), axis=1)]
    return _unit(np.cross(e, axis))[0]


def _apex_vertex(mesh: MeshData, epi: str, base: str, apex) -> int:
    """The apex vertex: the given point's nearest vertex, else the epicardial
    vertex farthest from the best-fit plane of the base."""
    if apex is not None:
        try:
            point = np.asarray(apex, dtype=float)
        except (TypeError, ValueError):
            point = np.full(1, np.nan)
        if point.shape != (3,) or not np.isfinite(point).all():
            raise ParameterError(f"apex={apex!r}: expected a finite point (x, y, z) in mm")
        used = np.unique(mesh.cells)
        distance = np.linalg.norm(mesh.points[used] - point, axis=1)
        index = int(used[np.argmin(distance)])
        log.info("apex: vertex %d, %.3g mm from the given point", index, distance.min())
        return index
    base_vertices = mesh.points[np.unique(mesh.facets_of(base))]
    centre = base_vertices.mean(axis=0)
    normal = np.linalg.svd(base_vertices - centre, full_matrices=False)[2][-1]
    epi_vertices = np.unique(mesh.facets_of(epi))
    height = np.abs((mesh.points[epi_vertices] - centre) @ normal)
    index = int(epi_vertices[np.argmax(height)])
    log.info("apex: epicardial vertex %d, %.4g mm from the base plane", index, height.max())
    return index


def _solve_laplace(V, bcs, name: str):
    """Solve -div grad u = 0 with the Dirichlet conditions ``bcs`` (P1, serial)."""
    from .._dolfinx import PETSc, dolfinx, ufl

    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    zero = dolfinx.fem.Constant(V.mesh, PETSc.ScalarType(0.0))
    problem = dolfinx.fem.petsc.LinearProblem(
        ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx,
        zero * v * ufl.dx,
        bcs=bcs,
        petsc_options_prefix=f"organfem_ldrb{next(_prefixes)}_{name}_",
        petsc_options=_SOLVER_OPTIONS,
    )
    solution = problem.solve()
    for bc in bcs:  # exact boundary values (CG meets them only to its tolerance)
        bc.set(solution.x.array)
    reason = problem.solver.getConvergedReason()
    iterations = problem.solver.getIterationNumber()
    if reason <= 0:
        raise ConvergenceError(
            f"ldrb: the Laplace solve for {name} did not converge (KSP reason {reason} after "
            f"{iterations} iterations)"
        )
    log.info("ldrb: %s solved in %d CG iterations", name, iterations)
    return solution


def ldrb_coordinates(
    mesh: MeshData,
    *,
    endo: str = "endo",
    epi: str = "epi",
    base: str = "base",
    apex=None,
) -> LaplaceCoordinates:
    """Transmural and apico-basal Laplace coordinates and the frame per cell.

    Solves, with P1 elements on ``MPI.COMM_SELF`` (a meshing-time step: call
    it on one rank), ``div grad phi = 0`` with ``phi = 0`` on ``endo``,
    ``phi = 1`` on ``epi`` and zero flux elsewhere (the base), and ``div grad
    psi = 0`` with ``psi = 1`` on ``base``, ``psi = 0`` at the apex vertex and
    zero flux elsewhere.  Gradients and ``phi`` are then taken at each cell's
    centroid (exactly: P1 gradients are constant on a tetrahedron).

    A cell whose gradient has no direction (``grad phi = 0`` on a cell with
    all its vertices on one surface, common at the surface of image-derived
    meshes, or ``grad phi`` parallel to ``grad psi``) takes the
    volume-weighted sum of the gradients of the cells around its vertices,
    with a warning; if even that vanishes the frame is completed arbitrarily.

    Args:
        mesh: the ventricle, with facet tags ``endo``, ``epi`` and ``base``.
        endo, epi, base: names of the endocardial, epicardial and base facet tags.
        apex: a point [mm] whose nearest mesh vertex is the apex; default the
            epicardial vertex farthest from the best-fit plane of the base.

    Returns:
        The coordinates and frame, see :class:`LaplaceCoordinates`.

    Raises:
        MissingTagError: if a named facet tag is absent.
        MeshError: if the endo- and epicardium share more than 5 % of their
            vertices (fewer shared vertices, where the wall pinches to zero
            thickness, are left without a Dirichlet value, with a warning),
            or the apex is on the base.
        ParameterError: for a malformed ``apex``.
        ConvergenceError: if a linear solve fails.
    """
    from .._dolfinx import MPI, basix, dolfinx, ufl

    endo_vertices = np.unique(mesh.facets_of(endo))
    epi_vertices = np.unique(mesh.facets_of(epi))
    base_vertices = np.unique(mesh.facets_of(base))
    shared = np.intersect1d(endo_vertices, epi_vertices)
    if shared.size > _MAX_SHARED * min(endo_vertices.size, epi_vertices.size):
        raise MeshError(
            f"ldrb: the {endo!r} and {epi!r} facets share {shared.size} of their "
            f"{endo_vertices.size} and {epi_vertices.size} vertices (first {shared[0]} at "
            f"{mesh.points[shared[0]].tolist()} mm): are these the endo- and epicardium, and "
            f"is the base between them tagged {base!r}?"
        )
    if shared.size:  # the wall pinches to nothing there: let the Laplace equation decide
        log.warning(
            "ldrb: %d vertices lie on both %r and %r (zero wall thickness, %d of them on %r); "
            "phi is left free there", shared.size, endo, epi,
            np.isin(shared, base_vertices).sum(), base,
        )  # fmt: skip
        endo_vertices = np.setdiff1d(endo_vertices, shared)
        epi_vertices = np.setdiff1d(epi_vertices, shared)
    apex_vertex = _apex_vertex(mesh, epi, base, apex)
    if apex_vertex in set(base_vertices.tolist()):
        raise MeshError(
            f"ldrb: the apex vertex {apex_vertex} at {mesh.points[apex_vertex].tolist()} lies "
            f"on the {base!r} facets; psi cannot be 0 and 1 there"
        )

    element = basix.ufl.element("Lagrange", mesh.cell_type, 1, shape=(3,))
    dmesh = dolfinx.mesh.create_mesh(MPI.COMM_SELF, mesh.cells, ufl.Mesh(element), mesh.points)
    V = dolfinx.fem.functionspace(dmesh, ("Lagrange", 1))
    # Input vertex -> P1 dof: geometry node i is input point input_global_indices[i],
    # and the P1 space numbers each cell's vertices in the geometry's local order.
    node_to_dof = np.empty(dmesh.geometry.x.shape[0], dtype=np.int64)
    node_to_dof[dmesh.geometry.dofmaps[0].reshape(-1)] = V.dofmap.list.reshape(-1)
    nodes = np.asarray(dmesh.geometry.input_global_indices, dtype=np.int64)
    vertex_to_dof = np.full(mesh.num_points, -1, dtype=np.int64)
    vertex_to_dof[nodes] = node_to_dof

    def dirichlet(vertices: np.ndarray, value: float):
        dofs = np.sort(vertex_to_dof[vertices]).astype(np.int32)
        return dolfinx.fem.dirichletbc(np.float64(value), dofs, V)

    phi = _solve_laplace(
        V, [dirichlet(endo_vertices, 0.0), dirichlet(epi_vertices, 1.0)], "phi"
    )
    psi = _solve_laplace(
        V, [dirichlet(base_vertices, 1.0), dirichlet(np.array([apex_vertex]), 0.0)], "psi"
    )

    centroid = basix.geometry(dmesh.basix_cell()).mean(axis=0, keepdims=True)
    expression = dolfinx.fem.Expression(
        ufl.as_vector([phi, *ufl.grad(phi), *ufl.grad(psi)]), centroid
    )
    num_cells = dmesh.topology.index_map(dmesh.topology.dim).size_local
    values = expression.eval(dmesh, np.arange(num_cells, dtype=np.int32)).reshape(num_cells, 7)
    per_cell = np.empty_like(values)
    per_cell[np.asarray(dmesh.topology.original_cell_index, dtype=np.int64)] = values

    vertex_phi = np.full(mesh.num_points, np.nan)
    vertex_psi = np.full(mesh.num_points, np.nan)
    vertex_phi[nodes] = phi.x.array[node_to_dof]
    vertex_psi[nodes] = psi.x.array[node_to_dof]
    long_axis = mesh.points[apex_vertex] - mesh.points[base_vertices].mean(axis=0)
    frame = _frame(per_cell[:, 1:4], per_cell[:, 4:7], mesh.cells, mesh.cell_volumes(), long_axis)
    return LaplaceCoordinates(
        phi=vertex_phi,
        psi=vertex_psi,
        apex=apex_vertex,
        cell_phi=np.clip(per_cell[:, 0], 0.0, 1.0),
        frame=frame,
    )


def _vertex_patch_sum(values: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Per cell, the sum of ``values`` (m, k) over the cells that share a vertex with it
    (each counted once per shared vertex)."""
    per_vertex = np.stack(
        [
            np.bincount(cells.ravel(), weights=np.repeat(values[:, k], cells.shape[1]))
            for k in range(values.shape[1])
        ],
        axis=1,
    )
    return per_vertex[cells].sum(axis=1)


def _directions(
    vectors: np.ndarray, cells: np.ndarray, volumes: np.ndarray, normal: np.ndarray | None = None
) -> tuple[np.ndarray, int, np.ndarray]:
    """Unit vectors along ``vectors`` (m, 3), made orthogonal to ``normal`` if given.

    A cell whose vector is shorter than 1e-6 times the median (e.g. ``grad
    phi = 0`` on a cell with all four vertices on one surface) takes the
    volume-weighted sum over the cells around its vertices instead.

    Returns:
        The unit vectors, the number of cells that took their neighbours'
        direction, and a mask of the cells that have none even so (left 0).
    """

    def project(v, n):
        return v if n is None else v - np.einsum("mi,mi->m", v, n)[:, None] * n

    e, size = _unit(project(vectors, normal))
    scale = float(np.median(size))
    lacking = size <= _DEGENERATE * scale
    if not lacking.any():
        return e, 0, lacking
    patch = _vertex_patch_sum(np.column_stack([vectors * volumes[:, None], volumes]), cells)
    sub = None if normal is None else normal[lacking]
    e_patch, size_patch = _unit(project(patch[lacking, :3], sub))
    e[lacking] = e_patch
    still = np.zeros_like(lacking)
    still[lacking] = size_patch <= _DEGENERATE * scale * patch[lacking, 3]
    return e, int(lacking.sum()), still


def _frame(
    grad_phi: np.ndarray,
    grad_psi: np.ndarray,
    cells: np.ndarray,
    volumes: np.ndarray,
    long_axis: np.ndarray,
) -> np.ndarray:
    """Rows ``(e_c, e_l, e_t)`` per cell from the two gradients (shapes (m, 3))."""
    e_l, patched_l, none_l = _directions(grad_psi, cells, volumes)
    e_l[none_l] = -long_axis / np.linalg.norm(long_axis)  # long_axis: base -> apex
    e_t, patched_t, none_t = _directions(grad_phi, cells, volumes, normal=e_l)
    if none_t.any():
        e_t[none_t] = _any_orthogonal(e_l[none_t])
    if patched_l or patched_t:
        log.warning(
            "ldrb: %d (longitudinal) and %d (transmural) of %d cells have no gradient direction "
            "of their own and use their neighbours'; %d have none at all (completed arbitrarily)",
            patched_l, patched_t, len(e_l), int(np.count_nonzero(none_l | none_t)),
        )  # fmt: skip
    e_c = np.cross(e_l, e_t)
    return np.stack([e_c, e_l, e_t], axis=1)


def _angle(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ParameterError(f"{name}={value!r}: expected an angle in degrees")
    value = float(value)
    if not math.isfinite(value) or abs(value) > 180.0:
        raise ParameterError(f"{name}={value!r}: expected a finite angle in [-180, 180] degrees")
    return value


def ldrb_fibres(
    mesh: MeshData,
    *,
    alpha_endo: float = 60.0,
    alpha_epi: float = -60.0,
    beta_endo: float = 0.0,
    beta_epi: float = 0.0,
    endo: str = "endo",
    epi: str = "epi",
    base: str = "base",
    apex=None,
    coordinates: LaplaceCoordinates | None = None,
) -> np.ndarray:
    """Per-cell fibre, sheet and sheet-normal directions of a left ventricle (LDRB).

    With the frame ``(e_c, e_l, e_t)`` and ``d`` = ``phi`` at the centroid of
    each cell (see :func:`ldrb_coordinates`):

    * helix angle ``alpha = alpha_endo (1 - d) + alpha_epi d``, fibre
      ``f0 = cos(alpha) e_c + sin(alpha) e_l`` (``e_c`` turned by ``alpha``
      in the wall's tangent plane: the convention of
      :func:`~organfem.fibres.land2015_fibres`, see the module docstring);
    * sheet angle ``beta = beta_endo (1 - d) + beta_epi d``, sheet
      ``s0 = cos(beta) e_t + sin(beta) f0 x e_t`` (the transmural direction
      turned by ``beta`` about ``f0``);
    * ``n0 = f0 x s0``.

    Call it on one rank when preparing the mesh, store the result with
    ``mesh.with_fibres(...)``, and :meth:`organfem.mechanics.Domain.from_meshdata`
    carries the fibres to every rank.

    Args:
        mesh: the ventricle, with facet tags ``endo``, ``epi`` and ``base``.
        alpha_endo, alpha_epi: helix angles at endo- and epicardium [deg].
        beta_endo, beta_epi: sheet angles at endo- and epicardium [deg].
        endo, epi, base: names of the facet tags.
        apex: a point [mm] marking the apex (its nearest vertex); default the
            epicardial vertex farthest from the best-fit plane of the base.
        coordinates: reuse the result of :func:`ldrb_coordinates` for this
            mesh (the tag names and ``apex`` are then ignored).

    Returns:
        Right-handed orthonormal bases, shape (m, 3, 3), rows ``(f0, s0, n0)``,
        one per cell in the order of ``mesh.cells``.

    Raises:
        MissingTagError: if a named facet tag is absent.
        MeshError: for a mesh whose tags cannot define the coordinates.
        ParameterError: for bad angles, a bad ``apex`` or mismatched ``coordinates``.
        ConvergenceError: if a linear solve fails.
    """
    angles = {
        name: _angle(name, value)
        for name, value in (
            ("alpha_endo", alpha_endo),
            ("alpha_epi", alpha_epi),
            ("beta_endo", beta_endo),
            ("beta_epi", beta_epi),
        )
    }
    if coordinates is None:
        coordinates = ldrb_coordinates(mesh, endo=endo, epi=epi, base=base, apex=apex)
    elif coordinates.frame.shape != (mesh.num_cells, 3, 3):
        raise ParameterError(
            f"coordinates are for {coordinates.frame.shape[0]} cells, the mesh has "
            f"{mesh.num_cells}"
        )
    d = coordinates.cell_phi
    e_c, e_l, e_t = (coordinates.frame[:, i] for i in range(3))
    alpha = np.deg2rad(angles["alpha_endo"] * (1 - d) + angles["alpha_epi"] * d)[:, None]
    beta = np.deg2rad(angles["beta_endo"] * (1 - d) + angles["beta_epi"] * d)[:, None]
    f0 = np.cos(alpha) * e_c + np.sin(alpha) * e_l
    s0 = np.cos(beta) * e_t + np.sin(beta) * np.cross(f0, e_t)
    n0 = np.cross(f0, s0)
    return np.stack([f0, s0, n0], axis=1)


def helix_angles(fibres: np.ndarray, coordinates: LaplaceCoordinates) -> np.ndarray:
    """Helix angle of each cell's fibre [deg], in [-90, 90).

    The angle of the fibre's projection on the wall's tangent plane, measured
    from ``e_c`` towards ``e_l`` (the convention of :func:`ldrb_fibres`, so
    ``ldrb_fibres(..., alpha_endo=a)`` gives ``a`` at the endocardium); the
    fibre's sign does not matter.

    Args:
        fibres: bases per cell, shape (m, 3, 3), rows ``(f0, s0, n0)``.
        coordinates: the frame of the same mesh (:func:`ldrb_coordinates`).

    Raises:
        ParameterError: if the shapes disagree.
    """
    fibres = np.asarray(fibres, dtype=float)
    if fibres.shape != coordinates.frame.shape:
        raise ParameterError(
            f"fibres: expected shape {coordinates.frame.shape} to match the coordinates, "
            f"got {fibres.shape}"
        )
    f0 = fibres[:, 0]
    along_c = np.einsum("mi,mi->m", f0, coordinates.frame[:, 0])
    along_l = np.einsum("mi,mi->m", f0, coordinates.frame[:, 1])
    return (np.rad2deg(np.arctan2(along_l, along_c)) + 90.0) % 180.0 - 90.0
