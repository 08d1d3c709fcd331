"""The helix angle of a fibre field about a long axis, from geometry alone.

:func:`organfem.fibres.helix_angles` measures the angle in the frame of the
Laplace coordinates that made an LDRB field (it needs
:func:`~organfem.fibres.ldrb_coordinates`, hence DOLFINx).  :func:`helix_angle`
needs only the long axis and, optionally, the wall's normal, so it measures
any field (analytic, LDRB, read from a file or a results file), e.g. to
colour a render by it.

Convention (the one of :func:`~organfem.fibres.ldrb_fibres`, Bayer et al.
2012): at a point of the wall, with

* ``e_l0`` the long axis, a unit vector pointing from the apex to the base,
* ``e_t`` the transmural direction (the wall's normal, endo- to epicardium),
* ``e_c = e_l0 x e_t / |e_l0 x e_t|``, the circumferential direction,
  right-handed about the apex-to-base axis, and
* ``e_l = e_t x e_c``, the longitudinal direction in the wall's tangent
  plane, pointing towards the base,

the helix angle of a fibre ``f`` is the angle of its projection on the
tangent plane ``(e_c, e_l)``, measured from ``e_c`` towards ``e_l``:
``atan2(f . e_l, f . e_c)``, folded to [-90, 90) degrees (``f`` and ``-f`` are
the same fibre).  So ``ldrb_fibres(mesh, alpha_endo=60, alpha_epi=-60)``
measures about +60 degrees at the endocardium and -60 at the epicardium, and
``land2015_fibres(x, alpha_endo=a, alpha_epi=b)`` measures ``-a`` and ``-b``
(Land et al. measure the angle the other way round).  Circumferential fibres
are at 0 degrees, longitudinal ones at -90 (the same as +90).

:func:`lv_long_axis` finds the axis of a ventricle from its base, and
:func:`wall_normals` the transmural direction from its tagged endo- and
epicardium, so that for an LV mesh with ``endo``, ``epi`` and ``base`` tags::

    axis = lv_long_axis(mesh.points, mesh.points[np.unique(mesh.facets_of("base"))])
    centroids = mesh.points[mesh.cells].mean(axis=1)
    angle = helix_angle(centroids, mesh.fibres, axis.direction, axis.base_centre,
                        transmural=wall_normals(mesh, centroids))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ParameterError
from ..meshing.mesh import MeshData

__all__ = ["helix_angle", "LongAxis", "lv_long_axis", "wall_normals"]

# A projection (or a cross product of unit vectors) shorter than this has no direction.
_TINY = 1e-9


def _vectors(name: str, value, n: int | None) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.ndim != 2 or array.shape[1] != 3 or (n is not None and array.shape[0] != n):
        rows = "n" if n is None else str(n)
        raise ParameterError(f"{name}: expected shape ({rows}, 3), got {array.shape}")
    if not np.isfinite(array).all():
        raise ParameterError(f"{name}: contains NaN or inf")
    return array


def _vector(name: str, value) -> np.ndarray:
    try:
        vector = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        vector = np.full(1, np.nan)
    if vector.shape != (3,) or not np.isfinite(vector).all():
        raise ParameterError(f"{name}={value!r}: expected a finite 3-vector")
    return vector


def helix_angle(
    points: np.ndarray,
    fibres: np.ndarray,
    long_axis,
    centre,
    *,
    transmural: np.ndarray | None = None,
) -> np.ndarray:
    """Helix angle [deg] of fibres about a long axis (convention: module docstring).

    Args:
        points: where the fibres are (e.g. cell centroids) [mm], shape (n, 3).
        fibres: fibre directions, shape (n, 3), or bases with rows
            ``(f0, s0, n0)``, shape (n, 3, 3) (``f0`` is used); any length.
        long_axis: the long axis, pointing from the apex to the base, shape
            (3,), any non-zero length.
        centre: a point on the long axis [mm], shape (3,).
        transmural: the wall's normal at each point (from the endo- to the
            epicardium), shape (n, 3), any length.  Default: the direction
            from the long axis to the point, orthogonal to the axis (the
            cylindrical approximation, exact for a wall parallel to the
            axis; near the apex, where the wall turns, pass the normal).

    Returns:
        The helix angles in [-90, 90) degrees, shape (n,); NaN where the
        angle is undefined: a point on the axis (default ``transmural``), a
        normal along the axis (the tip of the apex), or a fibre along the
        normal (no projection on the tangent plane).

    Raises:
        ParameterError: for malformed or non-finite input, or a zero axis.
    """
    points = _vectors("points", points, None)
    n = points.shape[0]
    fibres = np.asarray(fibres, dtype=float)
    if fibres.ndim == 3 and fibres.shape[1:] == (3, 3):
        fibres = fibres[:, 0]
    fibres = _vectors("fibres", fibres, n)
    axis = _vector("long_axis", long_axis)
    if not np.linalg.norm(axis) > 0:
        raise ParameterError(f"long_axis={long_axis!r} must be non-zero")
    axis = axis / np.linalg.norm(axis)
    centre = _vector("centre", centre)
    if transmural is None:
        radial = points - centre
        e_t = radial - (radial @ axis)[:, None] * axis
    else:
        e_t = _vectors("transmural", transmural, n)
    # |axis x e_t| = |e_t| sin(angle between e_t and the axis): 0 on the axis
    # (no radial direction) or where the normal is along the axis.
    length_t = np.linalg.norm(e_t, axis=1)
    e_c = np.cross(axis, e_t)
    size = np.linalg.norm(e_c, axis=1)
    defined = size > _TINY * length_t
    e_c = e_c / np.where(defined, size, 1.0)[:, None]
    e_t = e_t / np.where(defined, length_t, 1.0)[:, None]
    e_l = np.cross(e_t, e_c)
    along_c = np.einsum("ni,ni->n", fibres, e_c)
    along_l = np.einsum("ni,ni->n", fibres, e_l)
    defined &= np.hypot(along_c, along_l) > _TINY * np.linalg.norm(fibres, axis=1)
    angle = (np.rad2deg(np.arctan2(along_l, along_c)) + 90.0) % 180.0 - 90.0
    return np.where(defined, angle, np.nan)


class LongAxis(NamedTuple):
    """The long axis of a ventricle (see :func:`lv_long_axis`).

    Attributes:
        direction: unit vector from the apex to the base, shape (3,).
        apex: the apex: the point farthest from the base plane [mm], shape (3,).
        base_centre: the mean of the base points [mm], shape (3,); on the axis.
    """

    direction: np.ndarray
    apex: np.ndarray
    base_centre: np.ndarray


def lv_long_axis(points: np.ndarray, base_points: np.ndarray) -> LongAxis:
    """The long axis of a ventricle: the normal of its base plane, towards the base.

    The base plane is the best fit (least squares) to ``base_points`` (e.g.
    the vertices of the ``base`` facets); the apex is the point of
    ``points`` farthest from it, and the axis is the plane's normal pointed
    from the apex's side to the base.  This is the rule of
    :func:`~organfem.fibres.ldrb_coordinates` for its default apex.

    Args:
        points: the ventricle's points [mm], shape (n, 3).
        base_points: points of the base [mm], shape (k, 3), k >= 3, not on a line.

    Returns:
        The axis, apex and base centre.

    Raises:
        ParameterError: for malformed points, fewer than three base points,
            base points on a line, or all points on the base plane.
    """
    points = _vectors("points", points, None)
    base_points = _vectors("base_points", base_points, None)
    if len(base_points) < 3:
        raise ParameterError(f"base_points: need at least 3 points, got {len(base_points)}")
    centre = base_points.mean(axis=0)
    singular, vectors = np.linalg.svd(base_points - centre, full_matrices=False)[1:]
    if not singular[1] > 1e-9 * max(singular[0], 1e-300):
        raise ParameterError("base_points lie on a line: they define no base plane")
    normal = vectors[-1]
    height = (points - centre) @ normal
    apex = int(np.argmax(np.abs(height)))
    if not abs(height[apex]) > 1e-9 * float(np.ptp(points, axis=0).max()):
        raise ParameterError("all points lie on the base plane: the ventricle has no apex")
    direction = -normal if height[apex] > 0 else normal
    return LongAxis(direction, points[apex].copy(), centre)


def _facet_normals(points: np.ndarray, facets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroids and unit normals (unoriented) of triangles or tensor-order quadrilaterals."""
    corners = points[facets]
    if facets.shape[1] == 3:
        normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    else:  # diagonals 0-3 and 1-2 of a tensor-product quadrilateral
        normal = np.cross(corners[:, 3] - corners[:, 0], corners[:, 2] - corners[:, 1])
    length = np.linalg.norm(normal, axis=1)
    return corners.mean(axis=1), normal / np.where(length > 0, length, 1.0)[:, None]


def wall_normals(
    mesh: MeshData,
    points: np.ndarray,
    *,
    endo: str = "endo",
    epi: str = "epi",
    neighbours: int = 4,
) -> np.ndarray:
    """The transmural direction (endo- to epicardium) at points of a ventricle's wall.

    Each tagged facet's normal is pointed away from the other surface's
    side: an endocardial facet's towards its nearest epicardial facet, an
    epicardial facet's away from its nearest endocardial facet.  At a point
    the normals of the ``neighbours`` nearest facets of each surface are
    averaged, and the two averages blended by the point's relative distance
    to the surfaces (the endocardial one at the endocardium, the epicardial
    one at the epicardium), the way a transmural coordinate would.

    The helix angle measured with these normals errs by the square of their
    error (a tilt of the tangent plane changes the projected angle to second
    order), so the facets of a coarse mesh are enough.

    Args:
        mesh: the ventricle, with facet tags ``endo`` and ``epi``.
        points: where to evaluate [mm], shape (n, 3), e.g. cell centroids.
        endo, epi: names of the endo- and epicardial facet tags.
        neighbours: facets of each surface averaged at a point, >= 1.

    Returns:
        Unit vectors, shape (n, 3).

    Raises:
        MissingTagError: if a tag is absent.
        ParameterError: for malformed points or ``neighbours``.
    """
    from scipy.spatial import cKDTree

    points = _vectors("points", points, None)
    if isinstance(neighbours, bool) or not isinstance(neighbours, int | np.integer):
        raise ParameterError(f"neighbours={neighbours!r}: expected an integer >= 1")
    if neighbours < 1:
        raise ParameterError(f"neighbours={neighbours!r}: expected an integer >= 1")
    surfaces = []
    for name in (endo, epi):
        facets = mesh.facets_of(name)
        if len(facets) == 0:
            raise ParameterError(f"wall_normals: the {name!r} facets are empty")
        surfaces.append(_facet_normals(mesh.points, facets))
    (endo_c, endo_n), (epi_c, epi_n) = surfaces
    trees = cKDTree(endo_c), cKDTree(epi_c)
    # Endo normals towards the epicardium, epi normals away from the endocardium.
    towards = epi_c[trees[1].query(endo_c)[1]] - endo_c
    endo_n = endo_n * np.where(np.einsum("ij,ij->i", endo_n, towards) < 0, -1.0, 1.0)[:, None]
    away = epi_c - endo_c[trees[0].query(epi_c)[1]]
    epi_n = epi_n * np.where(np.einsum("ij,ij->i", epi_n, away) < 0, -1.0, 1.0)[:, None]
    blended = []
    distances = []
    for tree, normals in zip(trees, (endo_n, epi_n)):
        k = min(int(neighbours), tree.n)
        distance, index = tree.query(points, k=k)
        distance, index = distance.reshape(len(points), k), index.reshape(len(points), k)
        blended.append(normals[index].mean(axis=1))
        distances.append(distance[:, 0])
    total = distances[0] + distances[1]
    phi = np.where(total > 0, distances[0] / np.where(total > 0, total, 1.0), 0.5)[:, None]
    normal = (1.0 - phi) * blended[0] + phi * blended[1]
    length = np.linalg.norm(normal, axis=1)
    return normal / np.where(length > 0, length, 1.0)[:, None]
