"""Idealised geometries of the Land et al. (2015) cardiac mechanics benchmark.

Land S, Gurev V, Arens S, et al. (2015) "Verification of cardiac mechanics
software: benchmark problems and solutions for testing active and passive
material behaviour", Proc. R. Soc. A 471: 20150641.

* :func:`land_beam` -- problem 1, the box ``[0, 10] x [0, 1] x [0, 1]`` mm.
* :func:`lv_ellipsoid` -- problems 2 and 3, the truncated prolate ellipsoid.

and two geometries with closed-form elastic solutions (Lame's thick sphere
and thick cylinder), for verification:

* :func:`sphere_shell` -- a thick spherical shell (or its positive octant).
* :func:`tube` -- a thick-walled circular tube (or its positive quarter).

The gmsh geometries take ``order=2`` for curved, 10-node tetrahedra whose
mid-edge nodes lie on the curved surfaces (:attr:`MeshData.edge_nodes
<organfem.meshing.MeshData.edge_nodes>`): with straight-sided cells the error of
a solution near a curved wall is dominated by the O(h^2) error of the geometry,
whatever the element degree.

Lengths are in mm.  Meshes are serial :class:`~organfem.meshing.MeshData`
objects built on the calling process only (gmsh is not MPI-aware: call these on
one rank and distribute the result).  The same arguments give the same mesh.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator

import numpy as np

from ..errors import MeshError, ParameterError
from .mesh import MeshData, boundary_facets

__all__ = [
    "land_beam",
    "lv_ellipsoid",
    "sphere_shell",
    "tube",
    "BEAM_LENGTHS",
    "arostica_ellipsoid",
    "AROSTICA_ENDO",
    "AROSTICA_EPI",
    "AROSTICA_MU_BASE",
    "ADULT_LV",
]

logger = logging.getLogger(__name__)

#: An adult left ventricle as a truncated prolate ellipsoid, unloaded: keyword
#: arguments of :func:`lv_ellipsoid` [mm].  Endocardial radii 24 mm (short)
#: and 70 mm (long), a 10 mm wall (adult LV wall 6-11 mm and end-diastolic
#: diameter 42-58 mm: Lang et al. 2015, J Am Soc Echocardiogr 28:1-39,
#: table 2), base plane 10 mm above the equator; the cavity holds about
#: 102 mL unloaded and about 130 mL at an end-diastolic pressure of 9 mmHg.
ADULT_LV = dict(r_short_endo=24.0, r_long_endo=70.0, r_short_epi=34.0, r_long_epi=80.0, z_base=10.0)

#: Edge lengths of the Land et al. (2015) problem 1 beam along x, y, z [mm].
BEAM_LENGTHS = (10.0, 1.0, 1.0)

# Kuhn (Freudenthal) split of a cube into six tetrahedra sharing the diagonal
# from corner 0 to corner 7 (corner i + 2j + 4k sits at (i, j, k)): for each
# order (a, b, c) of the axes, the tetrahedron 0, e_a, e_a + e_b, 7.  Odd orders
# have their two middle vertices swapped so that every tetrahedron is
# positively oriented.  All cubes use the same split, so shared faces conform.
_KUHN = np.array(
    [
        [0, 1, 3, 7],  # x, y, z
        [0, 3, 2, 7],  # y, x, z (swapped)
        [0, 2, 6, 7],  # y, z, x
        [0, 6, 4, 7],  # z, y, x (swapped)
        [0, 4, 5, 7],  # z, x, y
        [0, 5, 1, 7],  # x, z, y (swapped)
    ]
)


# gmsh's 10-node tetrahedron -> DOLFINx order (dolfinx.io.gmsh.cell_perm_array).
# gmsh lists the edge nodes on edges (0,1), (1,2), (2,0), (3,0), (3,2), (3,1).
_GMSH_TET10 = np.array([0, 1, 2, 3, 8, 9, 5, 7, 6, 4])
# Edge-node columns after swapping vertices 2 and 3 (to fix the orientation).
_SWAP23_EDGES = np.array([0, 2, 1, 4, 3, 5])
# gmsh element types: 4- and 10-node tetrahedra, 3- and 6-node triangles.
_GMSH_TET = {1: 4, 2: 11}
_GMSH_TRIANGLE = {1: 2, 2: 9}

# Smallest accepted ratio h / (size of the geometry): finer meshes would have
# tens of millions of cells (a mistake in units, e.g. m for mm).
_MIN_RELATIVE_SIZE = 1.0 / 200.0


def _check_size(h: float) -> float:
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not math.isfinite(h) or h <= 0:
        raise ParameterError(f"mesh size h={h!r} must be a finite number > 0 [mm]")
    return float(h)


def _check_order(name: str, order: int) -> int:
    if isinstance(order, bool) or order not in (1, 2):
        raise ParameterError(
            f"{name}: order={order!r} must be 1 (straight-sided tetrahedra) or 2 (curved, "
            "10-node tetrahedra)"
        )
    return int(order)


def _check_length(name: str, label: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(f"{name}: {label}={value!r} must be a finite number [mm]")
    return float(value)


def _check_wall(name: str, inner: float, outer: float, h: float, size: float) -> None:
    """0 < inner < outer, and h not absurdly small for a body of extent ``size``."""
    if not 0 < inner < outer:
        raise ParameterError(
            f"{name}: need 0 < inner_radius < outer_radius, got inner_radius={inner:g} mm, "
            f"outer_radius={outer:g} mm"
        )
    if h < _MIN_RELATIVE_SIZE * size:
        raise ParameterError(
            f"{name}: mesh size h={h:g} mm is below {_MIN_RELATIVE_SIZE:g} of the size of the "
            f"body ({size:g} mm), which would make far too many cells; lengths are in mm"
        )


def _gmsh_options(h: float, verbose: bool) -> dict[str, float]:
    return {
        "General.Terminal": 1.0 if verbose else 0.0,
        "General.NumThreads": 1.0,  # reproducible meshes
        "Mesh.RandomSeed": 1.0,
        "Mesh.Algorithm": 6.0,  # Frontal-Delaunay surfaces
        "Mesh.Algorithm3D": 1.0,  # Delaunay volume
        "Mesh.Optimize": 1.0,
        "Mesh.ElementOrder": 1.0,  # raised by setOrder after meshing
        "Mesh.SecondOrderLinear": 0.0,  # edge nodes on the curved geometry
        "Mesh.HighOrderOptimize": 0.0,
        "Mesh.MeshSizeMin": 0.0,
        "Mesh.MeshSizeMax": h,
        "Mesh.MeshSizeFactor": 1.0,
        "Mesh.MeshSizeFromPoints": 0.0,
        "Mesh.MeshSizeFromCurvature": 0.0,
        "Mesh.MeshSizeExtendFromBoundary": 1.0,
    }


def _generate(surfaces: dict[str, list[int]], order: int) -> dict:
    """Mesh the current gmsh model and read its tetrahedra and tagged triangles.

    Call inside :func:`_gmsh_model`.  ``surfaces`` maps each facet tag name
    (tags 1, 2, ... in its order) to gmsh surface tags.
    """
    import gmsh

    gmsh.model.mesh.generate(3)
    if order == 2:
        gmsh.model.mesh.setOrder(2)
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    tets = gmsh.model.mesh.getElementsByType(_GMSH_TET[order])[1]
    facet_nodes, facet_values = [], []
    for value, tags in enumerate(surfaces.values(), start=1):
        for tag in tags:
            nodes = gmsh.model.mesh.getElementsByType(_GMSH_TRIANGLE[order], tag)[1]
            nodes = nodes.reshape(-1, 3 * order)[:, :3]  # the corners come first
            facet_nodes.append(nodes)
            facet_values.append(np.full(len(nodes), value, dtype=np.int32))
    return {
        "node_tags": node_tags,
        "coords": coords,
        "tets": tets,
        "facet_nodes": np.concatenate(facet_nodes),
        "facet_values": np.concatenate(facet_values),
    }


def _made(name: str, mesh: MeshData, h: float, order: int, start: float) -> MeshData:
    """Log what a generator made (debug level) and return it."""
    logger.debug(
        "%s(h=%g, order=%d): %d tetrahedra, %.2f s",
        name, h, order, mesh.num_cells, time.perf_counter() - start,
    )  # fmt: skip
    return mesh


def _meshdata(
    raw: dict, order: int, facet_names: dict[str, int], cell_names: dict[str, int] | None
) -> MeshData:
    """Build MeshData from :func:`_generate` output: vertices first, then edge nodes.

    Nodes used by no tetrahedron (e.g. on the seam of a revolved section) are
    dropped; every tetrahedron is made positively oriented.
    """
    node_tags = raw["node_tags"].astype(np.int64)
    lookup = np.full(int(node_tags.max()) + 1, -1, dtype=np.int64)
    lookup[node_tags] = np.arange(node_tags.size)
    nodes = lookup[raw["tets"].astype(np.int64)].reshape(-1, 4 if order == 1 else 10)
    if order == 2:
        nodes = nodes[:, _GMSH_TET10]
    vertices = np.unique(nodes[:, :4])
    mids = np.unique(nodes[:, 4:])
    renumber = np.full(node_tags.size, -1, dtype=np.int64)
    renumber[vertices] = np.arange(vertices.size)
    renumber[mids] = vertices.size + np.arange(mids.size)
    points = raw["coords"].reshape(-1, 3)[np.concatenate([vertices, mids])]
    cells = renumber[nodes[:, :4]]
    edge_nodes = renumber[nodes[:, 4:]] if order == 2 else None
    x = points[cells]
    flip = np.linalg.det(x[:, 1:] - x[:, :1]) < 0  # make every tetrahedron positive
    cells[flip] = cells[flip][:, [0, 1, 3, 2]]
    if edge_nodes is not None:
        edge_nodes[flip] = edge_nodes[flip][:, _SWAP23_EDGES]
    facets = renumber[lookup[raw["facet_nodes"].astype(np.int64)]]
    return MeshData(
        points=points,
        cells=cells,
        cell_type="tetrahedron",
        facets=facets,
        facet_values=raw["facet_values"],
        facet_names=facet_names,
        cell_names=cell_names,
        edge_nodes=edge_nodes,
    )


def _surface_samples(tag: int) -> np.ndarray:
    """Nine points of gmsh surface ``tag``, shape (9, 3) [mm]."""
    import gmsh

    lo, hi = gmsh.model.getParametrizationBounds(2, tag)
    s = np.linspace(0.2, 0.8, 3)
    uv = [(lo[0] + a * (hi[0] - lo[0]), lo[1] + b * (hi[1] - lo[1])) for a in s for b in s]
    return np.asarray(gmsh.model.getValue(2, tag, np.ravel(uv))).reshape(-1, 3)


def _classify(
    name: str,
    volume: int,
    planes: dict[str, tuple[int, float]],
    radius,
    radii: tuple[float, float],
    scale: float,
) -> dict[str, list[int]]:
    """Sort the boundary surfaces of ``volume`` into "inner", "outer" and ``planes``.

    ``planes`` maps a name to (axis, coordinate) of a plane; a surface whose
    sampled points all lie on it gets that name.  Other surfaces are "inner"
    or "outer" by the mean of ``radius(points)``, nearest of ``radii``.
    """
    import gmsh

    surfaces: dict[str, list[int]] = {"inner": [], "outer": []} | {k: [] for k in planes}
    for _, tag in gmsh.model.getBoundary([(3, volume)], oriented=False):
        x = _surface_samples(tag)
        key = next(
            (k for k, (axis, c) in planes.items() if np.allclose(x[:, axis], c, atol=1e-6 * scale)),
            None,
        )
        if key is None:
            r = float(np.mean(radius(x)))
            key = "inner" if abs(r - radii[0]) < abs(r - radii[1]) else "outer"
        surfaces[key].append(tag)
    if any(not tags for tags in surfaces.values()):
        raise MeshError(f"{name}: gmsh geometry has unexpected surfaces {surfaces}")
    return surfaces


def land_beam(*, h: float, cell_type: str = "tetrahedron") -> MeshData:
    """The beam of Land et al. (2015) problem 1: ``[0, 10] x [0, 1] x [0, 1]`` mm.

    A structured grid of ``nx = round(10 / h)`` by ``ny = nz = round(1 / h)``
    cubes (at least one each way); for tetrahedra each cube is split into six
    (Kuhn split, conforming).

    Args:
        h: target edge length [mm], > 0.
        cell_type: ``"tetrahedron"`` or ``"hexahedron"``.

    Returns:
        A mesh with cell tag ``"tissue"`` and facet tags ``"x0"``, ``"x1"``,
        ``"y0"``, ``"y1"``, ``"z0"``, ``"z1"`` (values 1-6) on the six faces
        (``"x0"`` is the clamped face x = 0, ``"z0"`` the loaded face z = 0).

    Raises:
        ParameterError: for ``h <= 0`` or an unknown ``cell_type``.
    """
    h = _check_size(h)
    if cell_type not in ("tetrahedron", "hexahedron"):
        raise ParameterError(
            f"land_beam: cell_type={cell_type!r} must be 'tetrahedron' or 'hexahedron'"
        )
    n = [max(1, round(length / h)) for length in BEAM_LENGTHS]
    axes = [np.linspace(0.0, length, k + 1) for length, k in zip(BEAM_LENGTHS, n)]
    z, y, x = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")  # x varies fastest
    points = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)

    # Hexahedra in DOLFINx tensor-product order: corner i + 2j + 4k at (i, j, k).
    iz, iy, ix = (g.ravel()[:, None] for g in np.meshgrid(*map(np.arange, n[::-1]), indexing="ij"))
    i, j, k = (np.arange(8) >> bit & 1 for bit in range(3))
    cells = (ix + i) + (n[0] + 1) * ((iy + j) + (n[1] + 1) * (iz + k))
    if cell_type == "tetrahedron":
        cells = cells[:, _KUHN].reshape(-1, 4)

    facets = boundary_facets(cells, cell_type)
    centre = points[facets].mean(axis=1)
    names = {}
    values = np.zeros(len(facets), dtype=np.int32)
    for axis, label in enumerate("xyz"):
        for side, bound in enumerate((0.0, BEAM_LENGTHS[axis])):
            tag = 2 * axis + side + 1
            names[f"{label}{side}"] = tag
            values[np.isclose(centre[:, axis], bound, rtol=0.0, atol=1e-9)] = tag
    return MeshData(
        points=points,
        cells=cells,
        cell_type=cell_type,
        facets=facets,
        facet_values=values,
        facet_names=names,
    )


@contextlib.contextmanager
def _gmsh_model(name: str, options: dict[str, float]) -> Iterator[None]:
    """A fresh current gmsh model with ``options`` set, undone on exit.

    Initialises gmsh (without reading user configuration files, without
    installing a signal handler) unless the caller already did, in which case
    the caller's current model and option values are restored afterwards.
    """
    try:
        import gmsh  # lazily: gmsh loads a large shared library
    except ImportError as err:
        raise MeshError(
            f"{name}: needs gmsh, the optional extra (GPL-2.0-or-later): "
            "pip install 'organfem[gmsh]'"
        ) from err

    owner = not gmsh.isInitialized()
    if owner:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    previous = gmsh.model.getCurrent()
    saved = {key: gmsh.option.getNumber(key) for key in options}
    try:
        for key, value in options.items():
            gmsh.option.setNumber(key, value)
        gmsh.model.add(name)
        try:
            yield
        finally:
            gmsh.model.remove()
    finally:
        if owner:
            gmsh.finalize()
        else:
            for key, value in saved.items():
                gmsh.option.setNumber(key, value)
            gmsh.model.setCurrent(previous)


def lv_ellipsoid(
    *,
    h: float,
    r_short_endo: float = 7.0,
    r_short_epi: float = 10.0,
    r_long_endo: float = 17.0,
    r_long_epi: float = 20.0,
    z_base: float = 5.0,
    order: int = 1,
    verbose: bool = False,
) -> MeshData:
    """The truncated prolate ellipsoid of Land et al. (2015) problems 2 and 3.

    The wall lies between the ellipsoids ``x = rs sin(u) cos(v)``,
    ``y = rs sin(u) sin(v)``, ``z = rl cos(u)`` with ``(rs, rl)`` =
    ``(r_short_endo, r_long_endo)`` (endocardium) and ``(r_short_epi,
    r_long_epi)`` (epicardium), cut by the base plane ``z = z_base``: the part
    ``z <= z_base`` is kept, the cavity opens at the top, the apex points are
    ``(0, 0, -r_long_endo)`` and ``(0, 0, -r_long_epi)``.

    Built with gmsh OpenCASCADE by revolving the meridian section (two exact
    ellipse arcs, the base segment, the axis segment) about the z axis, so
    boundary vertices lie exactly on the ellipsoids and both apex points are
    mesh vertices.  Tetrahedra of size about ``h`` everywhere (curvature does
    not refine the mesh); the mesh refines cleanly for ``h`` in ``[0.6, 4]``.

    Args:
        h: target edge length [mm], > 0.
        r_short_endo, r_short_epi: short (equatorial) radii [mm].
        r_long_endo, r_long_epi: long (apex-base) radii [mm]; the ellipsoids
            are prolate (``r_long >= r_short``) and the endocardium lies
            inside the epicardium.
        z_base: height of the base plane [mm], ``|z_base| < r_long_endo``.
        order: 1 for straight-sided tetrahedra, 2 for curved 10-node
            tetrahedra with their edge nodes on the ellipsoids (the same
            vertices as ``order=1``).
        verbose: let gmsh print its progress.

    Returns:
        A tetrahedral mesh with cell tag ``"tissue"`` and facet tags
        ``"endo"`` (1), ``"epi"`` (2), ``"base"`` (3).

    Raises:
        ParameterError: for inadmissible sizes or radii.
        MeshError: if gmsh does not produce the expected three surfaces.
    """
    h = _check_size(h)
    order = _check_order("lv_ellipsoid", order)
    rs = (float(r_short_endo), float(r_short_epi))
    rl = (float(r_long_endo), float(r_long_epi))
    if not 0 < rs[0] < rs[1]:
        raise ParameterError(f"lv_ellipsoid: need 0 < r_short_endo < r_short_epi, got {rs}")
    if not 0 < rl[0] < rl[1]:
        raise ParameterError(f"lv_ellipsoid: need 0 < r_long_endo < r_long_epi, got {rl}")
    if rs[0] > rl[0] or rs[1] > rl[1]:
        raise ParameterError(
            f"lv_ellipsoid: ellipsoids must be prolate (r_long >= r_short), got "
            f"short radii {rs}, long radii {rl}"
        )
    if not -rl[0] < z_base < rl[0]:
        raise ParameterError(
            f"lv_ellipsoid: z_base={z_base!r} must lie in (-r_long_endo, r_long_endo) = "
            f"({-rl[0]}, {rl[0]}) so that the base cuts both surfaces"
        )
    import gmsh

    options = _gmsh_options(h, verbose)
    start = time.perf_counter()
    with _gmsh_model("organfem_lv_ellipsoid", options):
        occ = gmsh.model.occ
        # Meridian arcs in the xz plane: the major axis along z (xAxis), the
        # ellipse plane normal along y (zAxis), so the point at angle u is
        # (rs sin u, 0, rl cos u); u runs from the base to the apex (u = pi).
        frame = {"zAxis": [0, 1, 0], "xAxis": [0, 0, 1], "angle2": math.pi}
        arcs = [
            occ.addEllipse(0, 0, 0, long, short, angle1=math.acos(z_base / long), **frame)
            for short, long in zip(rs, rl)
        ]
        occ.synchronize()
        ends = [[tag for _, tag in gmsh.model.getBoundary([(1, arc)])] for arc in arcs]
        base_line = occ.addLine(ends[0][0], ends[1][0])
        axis_line = occ.addLine(ends[1][1], ends[0][1])
        section = occ.addPlaneSurface([occ.addCurveLoop([arcs[0], base_line, arcs[1], axis_line])])
        revolved = occ.revolve([(2, section)], 0, 0, 0, 0, 0, 1, 2 * math.pi)
        volume = next(tag for dim, tag in revolved if dim == 3)
        occ.remove([(2, section), (1, axis_line)])  # leftovers of the revolution
        occ.synchronize()

        surfaces = {"endo": [], "epi": [], "base": []}
        targets = {"endo": -rl[0], "epi": -rl[1], "base": z_base}
        for _, tag in gmsh.model.getBoundary([(3, volume)], oriented=False):
            zmin = gmsh.model.getBoundingBox(2, tag)[2]
            surfaces[min(targets, key=lambda k: abs(targets[k] - zmin))].append(tag)
        if any(len(tags) != 1 for tags in surfaces.values()):
            raise MeshError(f"lv_ellipsoid: gmsh geometry has unexpected surfaces {surfaces}")

        raw = _generate(surfaces, order)
    mesh = _meshdata(raw, order, {"endo": 1, "epi": 2, "base": 3}, None)
    return _made("lv_ellipsoid", mesh, h, order, start)


def sphere_shell(
    *,
    inner_radius: float,
    outer_radius: float,
    h: float,
    octant: bool = True,
    order: int = 1,
    verbose: bool = False,
) -> MeshData:
    """A thick spherical shell ``inner_radius <= |x| <= outer_radius`` about the origin.

    The geometry of Lame's pressurised thick sphere.  Built with gmsh
    OpenCASCADE (two exact spheres, cut, and for the octant intersected with
    the box ``x, y, z >= 0``), meshed with tetrahedra of size about ``h``
    (curvature does not refine the mesh); boundary vertices lie on the spheres
    to machine precision.

    Args:
        inner_radius, outer_radius: radii [mm], ``0 < inner < outer``.
        h: target edge length [mm], > 0 and at least ``outer_radius / 200``.
        octant: keep only ``x, y, z >= 0`` (symmetric problems: fix the normal
            displacement on the planes ``"x0"``, ``"y0"``, ``"z0"``).
        order: 1 for straight-sided tetrahedra, 2 for curved 10-node
            tetrahedra whose edge nodes lie on the spheres.
        verbose: let gmsh print its progress.

    Returns:
        A tetrahedral mesh with cell tag ``"wall"`` and facet tags
        ``"inner"`` (1), ``"outer"`` (2) and, for the octant, ``"x0"`` (3),
        ``"y0"`` (4), ``"z0"`` (5) on the planes x = 0, y = 0, z = 0.

    Raises:
        ParameterError: for inadmissible radii, size or order.
        MeshError: if gmsh does not produce the expected surfaces.
    """
    h = _check_size(h)
    order = _check_order("sphere_shell", order)
    ri = _check_length("sphere_shell", "inner_radius", inner_radius)
    ro = _check_length("sphere_shell", "outer_radius", outer_radius)
    _check_wall("sphere_shell", ri, ro, h, ro)
    import gmsh

    planes = {"x0": (0, 0.0), "y0": (1, 0.0), "z0": (2, 0.0)} if octant else {}
    start = time.perf_counter()
    with _gmsh_model("organfem_sphere_shell", _gmsh_options(h, verbose)):
        occ = gmsh.model.occ
        shell, _ = occ.cut([(3, occ.addSphere(0, 0, 0, ro))], [(3, occ.addSphere(0, 0, 0, ri))])
        if octant:
            shell, _ = occ.intersect(shell, [(3, occ.addBox(0, 0, 0, 2 * ro, 2 * ro, 2 * ro))])
        occ.synchronize()
        if len(shell) != 1:
            raise MeshError(f"sphere_shell: gmsh made {len(shell)} volumes, expected one")
        surfaces = _classify(
            "sphere_shell",
            shell[0][1],
            planes,
            lambda x: np.linalg.norm(x, axis=1),
            (ri, ro),
            ro,
        )
        raw = _generate(surfaces, order)
    names = {key: value for value, key in enumerate(surfaces, start=1)}
    mesh = _meshdata(raw, order, names, {"wall": 1})
    return _made("sphere_shell", mesh, h, order, start)


def tube(
    *,
    inner_radius: float,
    outer_radius: float,
    length: float,
    h: float,
    quarter: bool = True,
    order: int = 1,
    verbose: bool = False,
) -> MeshData:
    """A thick-walled circular tube about the z axis, from z = 0 to z = ``length``.

    The geometry of Lame's pressurised thick cylinder.  Built with gmsh
    OpenCASCADE (two exact cylinders, cut), meshed with tetrahedra of size
    about ``h``; boundary vertices lie on the cylinders to machine precision.

    Args:
        inner_radius, outer_radius: radii [mm], ``0 < inner < outer``.
        length: length along z [mm], > 0.
        h: target edge length [mm], > 0 and at least 1/200 of
            ``max(outer_radius, length)``.
        quarter: keep only ``x, y >= 0`` (symmetric problems: fix the normal
            displacement on the planes ``"x0"`` and ``"y0"``).
        order: 1 for straight-sided tetrahedra, 2 for curved 10-node
            tetrahedra whose edge nodes lie on the cylinders.
        verbose: let gmsh print its progress.

    Returns:
        A tetrahedral mesh with cell tag ``"wall"`` and facet tags
        ``"inner"`` (1), ``"outer"`` (2), then for the quarter ``"x0"`` (3)
        and ``"y0"`` (4) on the planes x = 0 and y = 0, then ``"z0"`` and
        ``"z1"`` on the end planes z = 0 and z = length (values 5, 6 for the
        quarter, 3, 4 for the full tube).

    Raises:
        ParameterError: for inadmissible radii, length, size or order.
        MeshError: if gmsh does not produce the expected surfaces.
    """
    h = _check_size(h)
    order = _check_order("tube", order)
    ri = _check_length("tube", "inner_radius", inner_radius)
    ro = _check_length("tube", "outer_radius", outer_radius)
    length = _check_length("tube", "length", length)
    if length <= 0:
        raise ParameterError(f"tube: length={length:g} mm must be > 0")
    _check_wall("tube", ri, ro, h, max(ro, length))
    import gmsh

    planes = {"x0": (0, 0.0), "y0": (1, 0.0)} if quarter else {}
    planes |= {"z0": (2, 0.0), "z1": (2, length)}
    angle = math.pi / 2 if quarter else 2 * math.pi
    start = time.perf_counter()
    with _gmsh_model("organfem_tube", _gmsh_options(h, verbose)):
        occ = gmsh.model.occ
        outer = occ.addCylinder(0, 0, 0, 0, 0, length, ro, angle=angle)
        inner = occ.addCylinder(0, 0, 0, 0, 0, length, ri, angle=angle)
        wall, _ = occ.cut([(3, outer)], [(3, inner)])
        occ.synchronize()
        if len(wall) != 1:
            raise MeshError(f"tube: gmsh made {len(wall)} volumes, expected one")
        surfaces = _classify(
            "tube",
            wall[0][1],
            planes,
            lambda x: np.linalg.norm(x[:, :2], axis=1),
            (ri, ro),
            max(ro, length),
        )
        raw = _generate(surfaces, order)
    names = {key: value for value, key in enumerate(surfaces, start=1)}
    mesh = _meshdata(raw, order, names, {"wall": 1})
    return _made("tube", mesh, h, order, start)


#: Radii of the monoventricle of Arostica et al. (2025) benchmark 1 [mm]:
#: ``(r_short, r_long)`` of the endo- and the epicardium.
AROSTICA_ENDO = (25.0, 90.0)
AROSTICA_EPI = (35.0, 97.0)
#: Its base: ``mu_base = -acos(5/17)`` (endocardium), ``-acos(5/20)`` (epicardium).
AROSTICA_MU_BASE = (-math.acos(5.0 / 17.0), -math.acos(5.0 / 20.0))


def arostica_ellipsoid(
    *,
    h: float,
    order: int = 1,
    endo: tuple[float, float] = AROSTICA_ENDO,
    epi: tuple[float, float] = AROSTICA_EPI,
    mu_base: tuple[float, float] = AROSTICA_MU_BASE,
    verbose: bool = False,
) -> MeshData:
    """The monoventricle of the cardiac elastodynamics benchmark, problem 1.

    Arostica R, Nolte D, Brown A, et al. (2025) "A software benchmark for
    cardiac elastodynamics", Comput. Methods Appl. Mech. Engrg. 435: 117485.

    The long axis is x (the apex at negative x, the base at positive x).  The
    endo- and epicardium are the ellipsoids ``x = rl cos(mu)``, ``y = rs
    sin(mu) cos(theta)``, ``z = rs sin(mu) sin(theta)`` with ``(rs, rl)`` =
    ``endo`` = (25, 90) mm and ``epi`` = (35, 97) mm, for ``mu`` in ``[-pi,
    mu_base]``, ``mu_base`` = ``-acos(5/17)`` (endo, rim at ``x = 90 * 5/17 =
    26.47`` mm) and ``-acos(5/20)`` (epi, rim at ``x = 97 * 5/20 = 24.25`` mm).
    The base joins the two rims with straight meridian segments, a conical
    (not planar) surface: the construction of the benchmark's reference mesh
    generator (finsberg/cardiac_benchmark, ``geometry.py``,
    ``create_benchmark_ellipsoid_mesh_gmsh``: ``addLine(base_endo, base_epi)``
    and a revolution of the meridian section about the x axis).  It lies
    within 0.1 mm of the surface ``mu = mu_base(t)`` interpolated linearly in
    the transmural coordinate ``t``.

    Built with gmsh OpenCASCADE like :func:`lv_ellipsoid`: the meridian
    section (two exact ellipse arcs, the base segment, the axis segment)
    revolved about the x axis, so boundary vertices lie exactly on the
    ellipsoids (and with ``order=2`` the edge nodes too) and both apex points
    are mesh vertices.  Lengths in mm (the paper's SI lengths times 1000).

    Args:
        h: target edge length [mm], > 0 (about 2-10 for this 97 mm body).
        order: 1 (straight 4-node) or 2 (curved 10-node tetrahedra).
        endo, epi: ``(r_short, r_long)`` [mm]; each radius of ``epi`` larger.
        mu_base: ``(endo, epi)`` values of ``mu`` at the base [rad], in
            ``(-pi, 0)``.
        verbose: let gmsh print its progress.

    Returns:
        A tetrahedral mesh with facet tags ``"endo"`` (1), ``"epi"`` (2),
        ``"base"`` (3).

    Raises:
        ParameterError: for inadmissible sizes, radii or base angles.
        MeshError: if gmsh does not produce the expected three surfaces.
    """
    name = "arostica_ellipsoid"
    h = _check_size(h)
    order = _check_order(name, order)
    try:
        rs, rl = zip(*(tuple(float(v) for v in r) for r in (endo, epi)))
        mu = tuple(float(m) for m in mu_base)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: endo, epi, mu_base must be pairs of numbers") from None
    if len(mu) != 2 or not all(-math.pi < m < 0 for m in mu):
        raise ParameterError(f"{name}: mu_base={mu_base!r} must be two angles in (-pi, 0)")
    if not (0 < rs[0] < rs[1] and 0 < rl[0] < rl[1]):
        raise ParameterError(f"{name}: need 0 < endo < epi in both radii, got {endo}, {epi}")
    _check_wall(name, rs[0], rs[1], h, rl[1])
    import gmsh

    options = _gmsh_options(h, verbose)
    start = time.perf_counter()
    with _gmsh_model("organfem_" + name, options):
        occ = gmsh.model.occ
        # Meridian arcs in the half-plane z = 0, y >= 0 (theta = pi): the point
        # at ellipse angle phi = -mu is (rl cos phi, rs sin phi, 0); phi runs
        # from the base (-mu_base) to the apex (pi).
        arcs = [
            occ.addEllipse(0, 0, 0, long, short, angle1=-m, angle2=math.pi,
                           zAxis=[0, 0, 1], xAxis=[1, 0, 0])
            for short, long, m in zip(rs, rl, mu)
        ]  # fmt: skip
        occ.synchronize()
        ends = [[tag for _, tag in gmsh.model.getBoundary([(1, arc)])] for arc in arcs]
        base_line = occ.addLine(ends[0][0], ends[1][0])
        axis_line = occ.addLine(ends[1][1], ends[0][1])
        section = occ.addPlaneSurface([occ.addCurveLoop([arcs[0], base_line, arcs[1], axis_line])])
        revolved = occ.revolve([(2, section)], 0, 0, 0, 1, 0, 0, 2 * math.pi)
        volume = next(tag for dim, tag in revolved if dim == 3)
        occ.remove([(2, section), (1, axis_line)])
        occ.synchronize()

        surfaces = {"endo": [], "epi": [], "base": []}
        base_x = min(rl[0] * math.cos(mu[0]), rl[1] * math.cos(mu[1]))
        targets = {"endo": -rl[0], "epi": -rl[1], "base": base_x}
        for _, tag in gmsh.model.getBoundary([(3, volume)], oriented=False):
            xmin = gmsh.model.getBoundingBox(2, tag)[0]
            surfaces[min(targets, key=lambda k: abs(targets[k] - xmin))].append(tag)
        if any(len(tags) != 1 for tags in surfaces.values()):
            raise MeshError(f"{name}: gmsh geometry has unexpected surfaces {surfaces}")

        raw = _generate(surfaces, order)
    mesh = _meshdata(raw, order, {"endo": 1, "epi": 2, "base": 3}, None)
    return _made(name, mesh, h, order, start)
