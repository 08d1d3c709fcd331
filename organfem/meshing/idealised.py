"""Idealised geometries of the Land et al. (2015) cardiac mechanics benchmark.

Land S, Gurev V, Arens S, et al. (2015) "Verification of cardiac mechanics
software: benchmark problems and solutions for testing active and passive
material behaviour", Proc. R. Soc. A 471: 20150641.

* :func:`land_beam` -- problem 1, the box ``[0, 10] x [0, 1] x [0, 1]`` mm.
* :func:`lv_ellipsoid` -- problems 2 and 3, the truncated prolate ellipsoid.

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

__all__ = ["land_beam", "lv_ellipsoid", "BEAM_LENGTHS"]

logger = logging.getLogger(__name__)

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


def _check_size(h: float) -> float:
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not math.isfinite(h) or h <= 0:
        raise ParameterError(f"mesh size h={h!r} must be a finite number > 0 [mm]")
    return float(h)


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
        verbose: let gmsh print its progress.

    Returns:
        A tetrahedral mesh with cell tag ``"tissue"`` and facet tags
        ``"endo"`` (1), ``"epi"`` (2), ``"base"`` (3).

    Raises:
        ParameterError: for inadmissible sizes or radii.
        MeshError: if gmsh does not produce the expected three surfaces.
    """
    h = _check_size(h)
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

    options = {
        "General.Terminal": 1.0 if verbose else 0.0,
        "General.NumThreads": 1.0,  # reproducible meshes
        "Mesh.RandomSeed": 1.0,
        "Mesh.Algorithm": 6.0,  # Frontal-Delaunay surfaces
        "Mesh.Algorithm3D": 1.0,  # Delaunay volume
        "Mesh.Optimize": 1.0,
        "Mesh.ElementOrder": 1.0,
        "Mesh.MeshSizeMin": 0.0,
        "Mesh.MeshSizeMax": h,
        "Mesh.MeshSizeFactor": 1.0,
        "Mesh.MeshSizeFromPoints": 0.0,
        "Mesh.MeshSizeFromCurvature": 0.0,
        "Mesh.MeshSizeExtendFromBoundary": 1.0,
    }
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

        gmsh.model.mesh.generate(3)
        node_tags, coords, _ = gmsh.model.mesh.getNodes()
        tet_tags = gmsh.model.mesh.getElementsByType(4)[1]  # 4-node tetrahedra
        names = {"endo": 1, "epi": 2, "base": 3}
        facet_nodes, facet_values = [], []
        for key, tag in names.items():
            nodes = gmsh.model.mesh.getElementsByType(2, surfaces[key][0])[1]  # 3-node triangles
            facet_nodes.append(nodes)
            facet_values.append(np.full(nodes.size // 3, tag, dtype=np.int32))

    # gmsh node tags -> contiguous indices of the vertices used by tetrahedra
    # (drops the nodes of free curves, e.g. the revolved section's seam).
    lookup = np.full(int(node_tags.max()) + 1, -1, dtype=np.int64)
    lookup[node_tags.astype(np.int64)] = np.arange(node_tags.size)
    cells = lookup[tet_tags.astype(np.int64)].reshape(-1, 4)
    used, cells = np.unique(cells, return_inverse=True)
    cells = cells.reshape(-1, 4)
    renumber = np.full(node_tags.size, -1, dtype=np.int64)
    renumber[used] = np.arange(used.size)
    facets = renumber[lookup[np.concatenate(facet_nodes).astype(np.int64)]].reshape(-1, 3)
    points = coords.reshape(-1, 3)[used]
    x = points[cells]
    flip = np.linalg.det(x[:, 1:] - x[:, :1]) < 0  # make every tetrahedron positive
    cells[flip] = cells[flip][:, [0, 1, 3, 2]]
    elapsed = time.perf_counter() - start
    logger.debug("lv_ellipsoid(h=%g): %d tetrahedra, %.2f s", h, len(cells), elapsed)
    return MeshData(
        points=points,
        cells=cells,
        cell_type="tetrahedron",
        facets=facets,
        facet_values=np.concatenate(facet_values),
        facet_names=names,
    )
