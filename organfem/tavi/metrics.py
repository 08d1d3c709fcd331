"""Clinical metrics of a transcatheter aortic valve (TAVI) deployment.

Everything here is serial numpy, computed on rank 0 from quantities gathered
after the solve: the deformed lumen surface (current node positions and
linear triangles), the contact pressure at its nodes, and per-cell stresses.

The device frame is described by its axis (a unit vector), ``origin`` (the
centre of the frame's inflow, ventricular, end), its height ``H`` and radius
``R_f``, and a ``reference`` unit vector perpendicular to the axis that
defines angle 0; angles increase counterclockwise about the axis (right-hand
rule), i.e. the direction at angle ``theta`` is
``cos(theta) reference + sin(theta) (axis x reference)``.

Metrics:

- :func:`surface_triangles`: linear triangles of tagged facets (curved P2
  facets split in four through their edge nodes).
- :func:`section_radii` and :func:`frame_shape`: the cross-section of a
  surface at a level along the axis, as radii on rays, and the diameters,
  eccentricity, area and perimeter of a section.
- :func:`leak_channels` and :func:`orifice_leak`: paravalvular leak channels
  between the lumen and the frame, and the regurgitant volume through an
  orifice of that area (Bernoulli/Torricelli orifice model, VARC-2 grading).
- :func:`contact_pressure_index`: share of a region (the membranous septum)
  in contact with the device, after Rocatello et al. 2018.
- :func:`coronary_clearance`: height of a coronary ostium above the frame and
  its distance to the frame's cylinder.
- :func:`stress_summary`: peak and volume-weighted 99th percentile of a
  per-cell stress, and the distance from the peak to calcium.

Units: mm, kPa, s at the boundary unless a name says otherwise (``_mmHg``,
``_m_s``, ``_ml``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence

import numpy as np

from ..errors import MeshError, ParameterError
from ..meshing.mesh import TET_EDGES, MeshData, tag_value
from ..units import MMHG_IN_KPA

__all__ = [
    "surface_triangles",
    "section_radii",
    "FrameShape",
    "frame_shape",
    "Channel",
    "leak_channels",
    "Leak",
    "orifice_leak",
    "LEAK_GRADES",
    "DISCHARGE_COEFFICIENT",
    "BLOOD_DENSITY",
    "ContactIndex",
    "contact_pressure_index",
    "Clearance",
    "coronary_clearance",
    "StressSummary",
    "stress_summary",
]

log = logging.getLogger(__name__)

#: Discharge coefficient of a paravalvular orifice (effective / anatomic area).
#: Flachskampf et al. 1990, J Am Coll Cardiol 15:1173-1180, measured 0.675-0.93
#: for sharp-edged orifices of 0.3-2.5 cm^2 (lower for smaller and more
#: eccentric, slit-like orifices, higher with a tapering inlet); paravalvular
#: gaps are small crescents, hence a value near the bottom of that range.
DISCHARGE_COEFFICIENT = 0.7

#: Density of whole blood [kg/m^3], the value used throughout cardiovascular
#: fluid mechanics (about 1050-1060 kg/m^3; e.g. Caro et al., The Mechanics of
#: the Circulation, 2nd ed. 2012).
BLOOD_DENSITY = 1060.0

#: Paravalvular regurgitation grades by regurgitant volume per beat [mL]:
#: mild < 30, moderate 30-59, severe >= 60 (VARC-2: Kappetein et al. 2012,
#: Eur Heart J 33:2403-2418, after the ASE recommendations of
#: Zoghbi et al. 2009, J Am Soc Echocardiogr 22:975).  ``"none"``: no flow.
LEAK_GRADES = ("none", "mild", "moderate", "severe")
_MODERATE_ML = 30.0  # VARC-2 / ASE, as above
_SEVERE_ML = 60.0  # VARC-2 / ASE, as above

# Largest accepted |axis . reference| for a reference direction "perpendicular"
# to the axis (both normalised first); the remainder is projected out.
_PERPENDICULAR_TOLERANCE = 1e-6


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


def _real_array(name: str, value, shape: tuple[int | None, ...]) -> np.ndarray:
    """A float64 copy of ``value`` with ``shape`` (None: any length), all finite."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"{name}: cannot be read as an array of numbers ({err})") from None
    if array.ndim != len(shape) or any(
        want is not None and have != want for have, want in zip(array.shape, shape, strict=True)
    ):
        expected = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise ParameterError(f"{name}: expected shape {expected}, got {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        first = np.argwhere(bad)[0].tolist()
        raise ParameterError(f"{name}: {int(bad.sum())} entries are NaN or inf, first at {first}")
    return array


def _real(
    name: str,
    value,
    unit: str,
    *,
    minimum: float | None = None,
    strict: bool = False,
    maximum: float | None = None,
) -> float:
    """A finite float, optionally bounded below (strictly or not) and above."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name}: expected a number in {unit}, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ParameterError(f"{name}: expected a finite number in {unit}, got {x}")
    if minimum is not None and (x < minimum or (strict and x == minimum)):
        relation = ">" if strict else ">="
        raise ParameterError(f"{name} = {x:g} {unit}: expected {relation} {minimum:g} {unit}")
    if maximum is not None and x > maximum:
        raise ParameterError(f"{name} = {x:g} {unit}: expected <= {maximum:g} {unit}")
    return x


def _unit_vector(name: str, value) -> np.ndarray:
    vector = _real_array(name, value, (3,))
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise ParameterError(f"{name}: expected a nonzero direction vector, got {vector.tolist()}")
    return vector / norm


def _frame(axis, reference) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orthonormal (axis, u = reference, v = axis x reference)."""
    a = _unit_vector("axis", axis)
    u = _unit_vector("reference", reference)
    dot = float(a @ u)
    if abs(dot) > _PERPENDICULAR_TOLERANCE:
        raise ParameterError(
            f"reference: must be perpendicular to the axis, got |axis . reference| = "
            f"{abs(dot):.3g} (after normalising both; tolerance {_PERPENDICULAR_TOLERANCE:g})"
        )
    u = u - dot * a
    u /= np.linalg.norm(u)
    return a, u, np.cross(a, u)


def _triangles(name: str, value, num_points: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ParameterError(f"{name}: expected shape (k, 3) of point indices, got {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ParameterError(f"{name}: expected integer point indices, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= num_points):
        bad = int(array.min() if array.min() < 0 else array.max())
        raise ParameterError(
            f"{name}: point index {bad} out of range [0, {num_points}) "
            f"(there are {num_points} points)"
        )
    return array


def _count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------
# surfaces and sections
# --------------------------------------------------------------------------


def surface_triangles(mesh: MeshData, tags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Linear triangles covering the facets that carry the named tags.

    Straight tetrahedra give their triangular facets as they are;
    hexahedra split each quadrilateral (tensor-product order) into two
    triangles ``(0, 1, 3)`` and ``(0, 3, 2)``.  For curved second-order
    tetrahedra (``mesh.edge_nodes`` not None) each 6-node facet is split into
    four triangles through its edge nodes (found through the cells' edge
    nodes, :data:`~organfem.meshing.TET_EDGES` order): with corners
    ``v0, v1, v2`` and edge nodes ``m01, m12, m20``, the triangles
    ``(v0, m01, m20), (m01, v1, m12), (m20, m12, v2), (m01, m12, m20)``.
    Every triangle keeps the orientation (vertex cycle) of its facet.

    Args:
        mesh: the mesh; use current node positions ``points`` with the
            returned indices for the deformed surface.
        tags: facet tag names, e.g. ``("inner",)``; a single string is read
            as one name.

    Returns:
        ``(triangles, facet)``: indices into ``mesh.points``, shape (k, 3),
        int64; and the row in ``mesh.facets`` each triangle comes from,
        shape (k,), int64.  Facets are taken in the order of ``mesh.facets``.

    Raises:
        ParameterError: for no tag names.
        MissingTagError: for a name that is not a facet tag of the mesh.
    """
    names = (tags,) if isinstance(tags, str) else tuple(tags)
    if not names:
        raise ParameterError("tags: expected at least one facet tag name, got none")
    values = [tag_value(mesh.facet_names, name, "facet") for name in names]
    rows = np.flatnonzero(np.isin(mesh.facet_values, values))
    facets = np.asarray(mesh.facets)[rows]
    if mesh.cell_type == "hexahedron":
        triangles = np.stack([facets[:, [0, 1, 3]], facets[:, [0, 3, 2]]], axis=1)
        return triangles.reshape(-1, 3), np.repeat(rows, 2)
    if mesh.edge_nodes is None:
        return facets.astype(np.int64, copy=True), rows.astype(np.int64)

    # Curved: the node on each facet edge, looked up through the cells' edges.
    n = mesh.points.shape[0]
    cell_edges = np.sort(np.asarray(mesh.cells)[:, np.array(TET_EDGES)].reshape(-1, 2), axis=1)
    keys, first = np.unique(cell_edges[:, 0] * n + cell_edges[:, 1], return_index=True)
    nodes = np.asarray(mesh.edge_nodes).reshape(-1)[first]
    facet_edges = np.stack([facets[:, [0, 1]], facets[:, [1, 2]], facets[:, [2, 0]]], axis=1)
    facet_edges = np.sort(facet_edges, axis=2)
    wanted = facet_edges[..., 0] * n + facet_edges[..., 1]  # (f, 3)
    where = np.clip(np.searchsorted(keys, wanted), 0, max(keys.size - 1, 0))
    if keys.size == 0 or (keys[where] != wanted).any():
        raise MeshError("surface_triangles: a tagged facet edge is not an edge of any cell")
    m01, m12, m20 = (nodes[where[:, i]] for i in range(3))
    v0, v1, v2 = facets[:, 0], facets[:, 1], facets[:, 2]
    triangles = np.stack(
        [
            np.stack([v0, m01, m20], axis=1),
            np.stack([m01, v1, m12], axis=1),
            np.stack([m20, m12, v2], axis=1),
            np.stack([m01, m12, m20], axis=1),
        ],
        axis=1,
    )
    return triangles.reshape(-1, 3).astype(np.int64), np.repeat(rows, 4).astype(np.int64)


# Segments tested against all rays at once, per chunk (bounds memory to about
# 3 arrays of _CHUNK x n_angles float64).
_CHUNK = 4096


def _plane_segments(points, triangles, origin, a, u, v, level) -> np.ndarray:
    """Segments where the triangles cross the plane ``a.(x - origin) = level``.

    Returns their end points in the plane coordinates (u, v), shape (m, 2, 2).
    A vertex on the plane counts as above it (``s >= 0``), so every triangle
    crossed gives exactly two edge crossings and a shared edge gives one point.
    """
    rel = points - origin
    s = rel @ a - level  # signed height of each point above the plane
    st = s[triangles]  # (k, 3)
    above = st >= 0.0
    crossed = above.any(axis=1) & ~above.all(axis=1)
    if not crossed.any():
        return np.zeros((0, 2, 2))
    tri = triangles[crossed]
    st, above = st[crossed], above[crossed]
    xy = np.stack([rel @ u, rel @ v], axis=1)[tri]  # (m, 3, 2)
    ends = []
    for i, j in ((0, 1), (1, 2), (2, 0)):
        cut = above[:, i] != above[:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(cut, st[:, i] / (st[:, i] - st[:, j]), 0.0)
        ends.append((cut, xy[:, i] + t[:, None] * (xy[:, j] - xy[:, i])))
    # Exactly two of the three edges are cut: take them in edge order.
    cuts = np.stack([c for c, _ in ends], axis=1)  # (m, 3)
    pts = np.stack([p for _, p in ends], axis=1)  # (m, 3, 2)
    order = np.argsort(~cuts, axis=1, kind="stable")[:, :2]  # the two cut edges
    return np.take_along_axis(pts, order[:, :, None], axis=1)


def section_radii(
    points,
    triangles,
    *,
    origin,
    axis,
    reference,
    level: float,
    n_angles: int = 360,
) -> np.ndarray:
    """Radii of the section of a surface by a plane across the axis, on rays.

    The plane is ``axis . (x - origin) = level``.  Its intersection with the
    triangles is a set of segments (a polyline); for each angle
    ``theta_j = 2 pi j / n_angles`` the ray from the axis in direction
    ``cos(theta_j) u + sin(theta_j) v`` (``u = reference``,
    ``v = axis x reference``) is intersected with every segment and the
    nearest crossing is kept.  For a lumen surface around the axis this is
    the lumen radius at that angle; for a convex polygonal section it is the
    polygon's radial function (e.g. a cylinder of radius R with n flat facets
    gives radii between ``R cos(pi/n)`` and ``R``).

    Vectorised over segments x rays (in chunks); only the triangles that the
    plane cuts take part, so 20k triangles x 360 rays take milliseconds.

    Args:
        points: current node positions [mm], shape (n, 3).
        triangles: linear triangles, point indices, shape (k, 3).
        origin: a point on the axis [mm], shape (3,).
        axis: axis direction, shape (3,) (normalised here).
        reference: direction of angle 0, perpendicular to ``axis``, shape (3,).
        level: position of the plane along the axis from ``origin`` [mm].
        n_angles: number of rays, >= 3.

    Returns:
        Distance from the axis to the nearest crossing on each ray [mm],
        shape (n_angles,); NaN where the ray crosses nothing (a hole in the
        surface, or a plane outside it).

    Raises:
        ParameterError: naming the argument for a wrong shape, non-finite
            values, out-of-range indices, a zero or non-perpendicular
            direction, or too few angles.
    """
    pts = _real_array("points", points, (None, 3))
    tri = _triangles("triangles", triangles, pts.shape[0])
    o = _real_array("origin", origin, (3,))
    a, u, v = _frame(axis, reference)
    lev = _real("level", level, "mm")
    n = _count("n_angles", n_angles, 3)

    theta = 2.0 * np.pi * np.arange(n) / n
    d = np.stack([np.cos(theta), np.sin(theta)], axis=1)  # (n, 2)
    radii = np.full(n, np.inf)
    segments = _plane_segments(pts, tri, o, a, u, v, lev)
    for start in range(0, segments.shape[0], _CHUNK):
        p = segments[start : start + _CHUNK, 0]  # (m, 2)
        e = segments[start : start + _CHUNK, 1] - p  # (m, 2)
        # r d = p + t e  =>  r = (p x e) / (d x e),  t = (p x d) / (d x e).
        denom = d[None, :, 0] * e[:, None, 1] - d[None, :, 1] * e[:, None, 0]  # (m, n)
        pxe = (p[:, 0] * e[:, 1] - p[:, 1] * e[:, 0])[:, None]
        pxd = p[:, None, 0] * d[None, :, 1] - p[:, None, 1] * d[None, :, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = pxe / denom
            t = pxd / denom
        # A small tolerance on t keeps rays through a polyline vertex.
        hit = (denom != 0.0) & (t >= -1e-12) & (t <= 1.0 + 1e-12) & (r >= 0.0)
        radii = np.minimum(radii, np.where(hit, r, np.inf).min(axis=0))
    radii[np.isinf(radii)] = np.nan
    return radii


@dataclasses.dataclass(frozen=True)
class FrameShape:
    """Shape of one cross-section (of the frame or of the lumen).

    Attributes:
        d_min_mm: smallest diameter through the axis [mm].
        d_max_mm: largest diameter through the axis [mm].
        eccentricity: ``1 - d_min / d_max`` (0 for a circle), as in the TAVI
            literature (e.g. Schultz et al. 2016, EuroIntervention 11:1044).
        area_mm2: enclosed area ``1/2 sum r^2 dtheta`` [mm^2].
        perimeter_mm: perimeter of the polygon through the ray points [mm].
    """

    d_min_mm: float
    d_max_mm: float
    eccentricity: float
    area_mm2: float
    perimeter_mm: float


def frame_shape(radii) -> FrameShape:
    """Diameters, eccentricity, area and perimeter of a section given on rays.

    With ``r_j`` at ``theta_j = 2 pi j / n`` (as from :func:`section_radii`),
    the diameter through the axis at angle ``theta`` is
    ``D(theta) = r(theta) + r(theta + pi)``; the area is the polar sum
    ``1/2 sum r_j^2 dtheta`` (``dtheta = 2 pi / n``; the trapezoid rule of
    the polar area integral, spectrally accurate for smooth sections) and
    the perimeter that of the closed polygon through the points
    ``r_j (cos theta_j, sin theta_j)``.

    Args:
        radii: radii [mm], shape (n,), n even and >= 4, finite, >= 0
            (a section with holes, NaN, has no shape).

    Returns:
        The :class:`FrameShape`.

    Raises:
        ParameterError: for an odd or too small n, NaN or negative radii, or
            a zero largest diameter.
    """
    r = _real_array("radii", radii, (None,))
    if r.shape[0] < 4 or r.shape[0] % 2:
        raise ParameterError(
            f"radii: expected shape (n,) with n even and >= 4 (rays in opposite pairs), "
            f"got shape {r.shape}"
        )
    if (r < 0).any():
        raise ParameterError(f"radii: expected radii >= 0 mm, got minimum {r.min():g} mm")
    n = r.shape[0]
    diameters = r[: n // 2] + r[n // 2 :]
    d_min, d_max = float(diameters.min()), float(diameters.max())
    if d_max == 0.0:
        raise ParameterError("radii: all zero; a section has a positive diameter")
    theta = 2.0 * np.pi * np.arange(n) / n
    xy = r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    perimeter = float(np.linalg.norm(np.roll(xy, -1, axis=0) - xy, axis=1).sum())
    return FrameShape(
        d_min_mm=d_min,
        d_max_mm=d_max,
        eccentricity=1.0 - d_min / d_max,
        area_mm2=float(0.5 * np.sum(r**2) * 2.0 * np.pi / n),
        perimeter_mm=perimeter,
    )


# --------------------------------------------------------------------------
# paravalvular leak
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Channel:
    """One paravalvular leak channel between the lumen and the frame.

    Attributes:
        area_mm2: smallest cross-section of the channel over the band's
            levels [mm^2] (the narrowest section limits the flow).
        angle_deg: circular mean of the channel's angles at that narrowest
            level, in [0, 360) [deg]; NaN if the channel goes all the way
            round there (no direction).
        width_deg: angular width of the channel at that level [deg].
        min_gap_mm, max_gap_mm: smallest and largest gap (lumen radius minus
            frame radius) over all the channel's cells [mm].
    """

    area_mm2: float
    angle_deg: float
    width_deg: float
    min_gap_mm: float
    max_gap_mm: float


def _periodic_labels(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected component labels of a (rows, angles) mask, periodic in angle."""
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]))
    if count == 0 or mask.shape[1] < 2:
        return labels, count
    # Join the components that meet across the angle wrap (union-find).
    parent = np.arange(count + 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first, last = labels[:, 0], labels[:, -1]
    for x, y in zip(first[(first > 0) & (last > 0)], last[(first > 0) & (last > 0)], strict=True):
        rx, ry = root(int(x)), root(int(y))
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    roots = np.array([root(i) for i in range(count + 1)])
    unique, relabel = np.unique(roots, return_inverse=True)  # 0 stays 0
    return relabel[labels], unique.size - 1


def leak_channels(lumen_radii, frame_radii, *, min_gap: float = 0.05) -> tuple[Channel, ...]:
    """Paravalvular leak channels through a sealing band between lumen and frame.

    The band is sampled at ``n_levels`` sections across the axis (rows, from
    the inflow to the outflow end) and ``n_angles`` rays (as from
    :func:`section_radii`, of the lumen surface and of the frame's outer
    surface).  The gap is ``g = lumen - frame`` [mm]; a cell (level, angle)
    is open where ``g > min_gap``.  A channel is a connected component of
    open cells (4-connected, periodic in angle) that touches both the first
    and the last row: a path for blood from the aorta to the ventricle.

    Its cross-section at a row is the annular-sector area
    ``1/2 sum (r_lumen^2 - r_frame^2) dtheta`` over its cells in that row;
    the channel's area is the smallest cross-section over the rows (a dead-end
    branch of the component still counts at its row, so this is an upper
    bound of the flow-limiting section).  The angle is the circular mean of
    the cell angles at that narrowest row, the width their number times
    ``dtheta``.

    NaN lumen radii (a ray that crosses no lumen surface: a hole in the
    surface such as a coronary ostium, or a band beyond the surface) count
    as closed, not as gaps: the gap there is unknown, and a hole in the wall
    is not a path between the aorta and the ventricle.  Choose the band
    inside the tissue surface; NaNs are counted in a logged warning.

    Args:
        lumen_radii: lumen radii [mm], shape (n_levels, n_angles), NaN allowed.
        frame_radii: frame radii [mm], same shape, finite.
        min_gap: smallest gap that opens a cell [mm], >= 0 (below it blood
            does not pass: the fabric skirt and tissue roughness seal it).

    Returns:
        The channels, by decreasing area (empty if the band seals).

    Raises:
        ParameterError: for mismatched or wrong shapes, non-finite frame
            radii or a negative ``min_gap``.
    """
    lumen = np.array(lumen_radii, dtype=np.float64)
    if lumen.ndim != 2 or lumen.shape[0] < 1 or lumen.shape[1] < 3:
        raise ParameterError(
            f"lumen_radii: expected shape (n_levels, n_angles) with n_angles >= 3, "
            f"got {lumen.shape}"
        )
    if np.isinf(lumen).any():
        raise ParameterError("lumen_radii: infinite entries (NaN marks a ray without surface)")
    frame = _real_array("frame_radii", frame_radii, lumen.shape)
    gap_min = _real("min_gap", min_gap, "mm", minimum=0.0)
    missing = int(np.isnan(lumen).sum())
    if missing:
        log.warning(
            "leak_channels: %d of %d lumen radii are NaN (no lumen surface on the ray); "
            "counted as closed",
            missing,
            lumen.size,
        )
    gap = lumen - frame
    open_ = np.nan_to_num(gap, nan=-np.inf) > gap_min
    labels, count = _periodic_labels(open_)
    if count == 0:
        return ()
    n_angles = lumen.shape[1]
    dtheta = 2.0 * np.pi / n_angles
    theta = dtheta * np.arange(n_angles)
    through = np.intersect1d(labels[0][labels[0] > 0], labels[-1][labels[-1] > 0])
    cell_area = np.where(open_, 0.5 * (lumen**2 - frame**2) * dtheta, 0.0)
    channels = []
    for label in through:
        cells = labels == label
        sections = np.where(cells, cell_area, 0.0).sum(axis=1)
        row = int(np.argmin(sections))
        at_row = theta[cells[row]]
        width = at_row.size * dtheta
        mean = np.array([np.cos(at_row).sum(), np.sin(at_row).sum()])
        if at_row.size == n_angles or np.hypot(*mean) < 1e-9 * at_row.size:
            angle = math.nan
        else:
            angle = float(np.degrees(np.arctan2(mean[1], mean[0])) % 360.0)
        channels.append(
            Channel(
                area_mm2=float(sections[row]),
                angle_deg=angle,
                width_deg=float(np.degrees(width)),
                min_gap_mm=float(gap[cells].min()),
                max_gap_mm=float(gap[cells].max()),
            )
        )
    return tuple(sorted(channels, key=lambda c: -c.area_mm2))


@dataclasses.dataclass(frozen=True)
class Leak:
    """Regurgitant flow through a paravalvular orifice in diastole.

    Attributes:
        orifice_area_mm2: anatomic orifice area A [mm^2].
        effective_area_mm2: effective regurgitant orifice area ``Cd A`` [mm^2].
        pressure_difference_mmHg: aorta-ventricle pressure difference [mmHg].
        velocity_m_s: jet velocity ``sqrt(2 dP / rho)`` [m/s].
        flow_ml_s: regurgitant flow ``Cd A v`` [mL/s].
        diastole_s: duration of diastole [s].
        volume_ml: regurgitant volume per beat, flow x diastole [mL].
        grade: one of :data:`LEAK_GRADES`.
    """

    orifice_area_mm2: float
    effective_area_mm2: float
    pressure_difference_mmHg: float
    velocity_m_s: float
    flow_ml_s: float
    diastole_s: float
    volume_ml: float
    grade: str


def orifice_leak(
    area_mm2: float,
    *,
    pressure_difference_mmHg: float = 60.0,
    discharge_coefficient: float = DISCHARGE_COEFFICIENT,
    diastole_s: float = 0.5,
    density: float = BLOOD_DENSITY,
) -> Leak:
    """Regurgitant volume through an orifice, and its VARC-2 grade.

    The orifice (Torricelli/Bernoulli) model of Gorlin & Gorlin 1951
    (Am Heart J 41:1-29): the jet leaves the orifice at
    ``v = sqrt(2 dP / rho)`` through the contracted (effective) area
    ``Cd A``, so ``Q = Cd A sqrt(2 dP / rho)``.  With A in mm^2 and v in
    m/s, ``Q`` in mL/s is simply ``Cd A v`` (1 mm^2 m/s = 1 mL/s).  The
    pressure difference is taken constant over diastole, so the volume per
    beat is ``Q x diastole_s``; the grade follows the VARC-2 volume
    thresholds (:data:`LEAK_GRADES`), ``"none"`` for zero volume.

    Defaults: 60 mmHg, a mean diastolic aortic pressure of about 70-80 mmHg
    less a left-ventricular diastolic pressure of 10-20 mmHg; 0.5 s, the
    diastole of a beat at about 70 /min (cycle 0.86 s, diastole ~60% of it).

    Args:
        area_mm2: orifice area [mm^2], >= 0 (e.g. the sum of
            :attr:`Channel.area_mm2`).
        pressure_difference_mmHg: pressure difference [mmHg], >= 0.
        discharge_coefficient: ``Cd`` in (0, 1]; default
            :data:`DISCHARGE_COEFFICIENT`.
        diastole_s: diastole duration [s], > 0.
        density: blood density [kg/m^3], > 0.

    Returns:
        The :class:`Leak`.

    Raises:
        ParameterError: naming the argument, its value and unit and the range.
    """
    area = _real("area_mm2", area_mm2, "mm^2", minimum=0.0)
    dp = _real("pressure_difference_mmHg", pressure_difference_mmHg, "mmHg", minimum=0.0)
    cd = _real(
        "discharge_coefficient", discharge_coefficient, "(-)", minimum=0.0, strict=True, maximum=1.0
    )
    duration = _real("diastole_s", diastole_s, "s", minimum=0.0, strict=True)
    rho = _real("density", density, "kg/m^3", minimum=0.0, strict=True)
    velocity = math.sqrt(2.0 * dp * MMHG_IN_KPA * 1e3 / rho)  # m/s, dP in Pa
    flow = cd * area * velocity  # mm^2 * m/s = 1e-6 m^3/s = mL/s
    volume = flow * duration
    if volume == 0.0:
        grade = "none"
    elif volume < _MODERATE_ML:
        grade = "mild"
    elif volume < _SEVERE_ML:
        grade = "moderate"
    else:
        grade = "severe"
    return Leak(
        orifice_area_mm2=area,
        effective_area_mm2=cd * area,
        pressure_difference_mmHg=dp,
        velocity_m_s=velocity,
        flow_ml_s=flow,
        diastole_s=duration,
        volume_ml=volume,
        grade=grade,
    )


# --------------------------------------------------------------------------
# contact with the membranous septum
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ContactIndex:
    """Contact between the device and a region of interest (membranous septum).

    Attributes:
        cpi: contact pressure index, the share of the region's area in
            contact (pressure > 0), 0-1 (Rocatello et al. report it in %).
        peak_kPa: largest contact pressure at the region's vertices [kPa]
            (0 without contact).
        mean_kPa: contact force / contact area over the region [kPa]
            (0 without contact).
        band_area_mm2: area of the region [mm^2].
        contact_area_mm2: area of the region in contact [mm^2].
    """

    cpi: float
    peak_kPa: float
    mean_kPa: float
    band_area_mm2: float
    contact_area_mm2: float


def contact_pressure_index(points, triangles, pressure, in_band) -> ContactIndex:
    """Contact pressure index of a region: the share of its area in contact.

    After Rocatello et al. 2018 (Circ Cardiovasc Interv 11:e005344): the
    contact pressure index (CPI) is the percentage of the membranous-septum
    region of interest subjected to contact pressure; here a share 0-1.
    The pressure is interpolated linearly on each triangle and the exact area
    where it is positive is counted (a triangle with one positive vertex
    ``i`` contributes the fraction ``t_j t_k``, ``t_j = p_i / (p_i - p_j)``;
    with two, one minus the same product for its non-positive vertex), so
    the index converges with mesh refinement rather than with vertex counts.
    The contact force is the exact integral of ``max(p, 0)`` of that
    interpolant, and the mean pressure is force / contact area.

    Args:
        points: current node positions [mm], shape (n, 3).
        triangles: linear triangles, shape (k, 3).
        pressure: contact pressure at the points [kPa], shape (n,), finite
            (values <= 0: no contact).
        in_band: which triangles form the region of interest, shape (k,), bool.

    Returns:
        The :class:`ContactIndex`.

    Raises:
        ParameterError: for wrong shapes, non-finite values, a non-boolean
            mask or a region of zero area.
    """
    pts = _real_array("points", points, (None, 3))
    tri = _triangles("triangles", triangles, pts.shape[0])
    p = _real_array("pressure", pressure, (pts.shape[0],))
    band = np.asarray(in_band)
    if band.shape != (tri.shape[0],) or band.dtype != np.bool_:
        raise ParameterError(
            f"in_band: expected a boolean array of shape ({tri.shape[0]},) (one per "
            f"triangle), got dtype {band.dtype} and shape {band.shape}"
        )
    tri = tri[band]
    x = pts[tri]
    area = 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)
    band_area = float(area.sum())
    if band_area <= 0.0:
        raise ParameterError(
            f"in_band: the region has zero area ({int(band.sum())} triangles selected); "
            f"expected at least one non-degenerate triangle"
        )
    pv = p[tri]  # (k, 3)
    positive = pv > 0.0
    count = positive.sum(axis=1)
    # The vertex whose sign differs from the other two (for 1 or 2 positive).
    odd = np.where(count == 1, np.argmax(positive, axis=1), np.argmax(~positive, axis=1))
    pi = np.take_along_axis(pv, odd[:, None], axis=1)[:, 0]
    pj = np.take_along_axis(pv, ((odd + 1) % 3)[:, None], axis=1)[:, 0]
    pk = np.take_along_axis(pv, ((odd + 2) % 3)[:, None], axis=1)[:, 0]
    mixed = (count == 1) | (count == 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        corner = np.where(mixed, pi / (pi - pj) * pi / (pi - pk), 0.0)  # odd corner's share
    fraction = np.select([count == 3, count == 1, count == 2], [1.0, corner, 1.0 - corner], 0.0)
    # Integral of max(p, 0) over the triangle / its area.
    mean_p = (pi + pj + pk) / 3.0
    force_density = np.select(
        [count == 3, count == 1, count == 2],
        [mean_p, corner * pi / 3.0, mean_p - corner * pi / 3.0],
        0.0,
    )
    contact_area = float((fraction * area).sum())
    force = float((force_density * area).sum())
    peak = max(float(pv.max()), 0.0)
    return ContactIndex(
        cpi=contact_area / band_area,
        peak_kPa=peak,
        mean_kPa=force / contact_area if contact_area > 0.0 else 0.0,
        band_area_mm2=band_area,
        contact_area_mm2=contact_area,
    )


# --------------------------------------------------------------------------
# coronary clearance
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Clearance:
    """Clearance of a coronary ostium from the frame.

    Attributes:
        height_above_frame_mm: height of the ostium above the frame's outflow
            end along the axis [mm]; negative: the frame reaches above it.
        distance_mm: shortest distance from the ostium to the frame's
            cylindrical surface [mm]; 0 if the ostium is inside the frame.
    """

    height_above_frame_mm: float
    distance_mm: float


def coronary_clearance(
    ostium, *, origin, axis, frame_height: float, frame_radius: float
) -> Clearance:
    """Height of a coronary ostium above the frame and its distance to the frame.

    The frame is the open cylinder (a tube, no lids) of radius
    ``frame_radius`` from ``origin`` to ``origin + frame_height axis``.  The
    distance is to that lateral surface: ``rho - R`` beside it, the distance
    to its rim above or below it, and 0 inside it.

    Without native leaflets in the model this is the distance from the
    ostium to the frame, i.e. the virtual transcatheter valve-to-coronary
    distance (VTC) of planning CT, a lower bound of the risk: displaced
    native leaflets are what obstruct the ostium.  VTC < 4 mm predicted
    coronary obstruction in valve-in-valve TAVI (Ribeiro et al. 2018,
    Eur Heart J 39:687-695, VIVID registry) and, with a leaflet longer than
    the coronary height, in native aortic stenosis (Khan et al. 2023,
    JACC Cardiovasc Interv 16:415-425).

    Args:
        ostium: centre of the coronary ostium [mm], shape (3,).
        origin: centre of the frame's inflow end [mm], shape (3,).
        axis: frame axis, inflow to outflow, shape (3,) (normalised here).
        frame_height: frame height H [mm], > 0.
        frame_radius: frame (outer) radius [mm], > 0.

    Returns:
        The :class:`Clearance`.

    Raises:
        ParameterError: naming the argument for a wrong shape, non-finite
            values, a zero axis or a non-positive size.
    """
    x = _real_array("ostium", ostium, (3,))
    o = _real_array("origin", origin, (3,))
    a = _unit_vector("axis", axis)
    height = _real("frame_height", frame_height, "mm", minimum=0.0, strict=True)
    radius = _real("frame_radius", frame_radius, "mm", minimum=0.0, strict=True)
    rel = x - o
    h = float(rel @ a)
    rho = float(np.linalg.norm(rel - h * a))
    beyond = max(h - height, -h, 0.0)  # axial distance outside [0, H]
    if beyond == 0.0:
        distance = max(rho - radius, 0.0)
    else:
        distance = math.hypot(beyond, rho - radius)
    return Clearance(height_above_frame_mm=h - height, distance_mm=distance)


# --------------------------------------------------------------------------
# stress
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class StressSummary:
    """Peak and high percentile of a per-cell stress in the tissue.

    Attributes:
        peak_kPa: largest value [kPa].
        p99_kPa: volume-weighted 99th percentile [kPa] (robust to single
            distorted cells).
        peak_location: centroid of the cell with the peak [mm], shape (3,).
        distance_to_calcium_mm: distance from the peak's location to the
            nearest calcium cell centroid [mm]; None without calcium.
    """

    peak_kPa: float
    p99_kPa: float
    peak_location: np.ndarray
    distance_to_calcium_mm: float | None


def stress_summary(values, centroids, volumes, *, calcium_centroids=None) -> StressSummary:
    """Peak, volume-weighted 99th percentile and location of a per-cell stress.

    The percentile is that of the volume distribution (the inverted
    cumulative distribution): the smallest value ``s`` such that cells with
    values ``<= s`` hold at least 99% of the volume.  With equal volumes it
    equals ``numpy.percentile(values, 99, method="inverted_cdf")``.

    Args:
        values: stress per cell, e.g. von Mises [kPa], shape (m,), finite.
        centroids: cell centroids [mm], shape (m, 3).
        volumes: cell volumes [mm^3], shape (m,), >= 0 with a positive sum.
        calcium_centroids: centroids of the calcium cells [mm], shape (c, 3);
            None or empty: no calcium, distance None.

    Returns:
        The :class:`StressSummary` (``peak_location`` read-only).

    Raises:
        ParameterError: naming the argument for wrong shapes, non-finite
            values, negative volumes or a zero total volume.
    """
    s = _real_array("values", values, (None,))
    m = s.shape[0]
    if m == 0:
        raise ParameterError("values: expected at least one cell, got none")
    c = _real_array("centroids", centroids, (m, 3))
    w = _real_array("volumes", volumes, (m,))
    if (w < 0).any() or w.sum() <= 0.0:
        raise ParameterError(
            f"volumes: expected volumes >= 0 mm^3 with a positive sum, got minimum "
            f"{w.min():g} and sum {w.sum():g} mm^3"
        )
    order = np.argsort(s, kind="stable")
    cumulative = np.cumsum(w[order])
    # Relative tolerance: 0.99 * total may round just above an exact partial sum.
    index = int(np.searchsorted(cumulative, 0.99 * cumulative[-1] * (1.0 - 1e-12)))
    p99 = float(s[order[min(index, m - 1)]])
    peak_cell = int(np.argmax(s))
    location = c[peak_cell].copy()
    location.setflags(write=False)
    distance = None
    if calcium_centroids is not None:
        calcium = _real_array("calcium_centroids", calcium_centroids, (None, 3))
        if calcium.shape[0]:
            distance = float(np.linalg.norm(calcium - location, axis=1).min())
    return StressSummary(
        peak_kPa=float(s[peak_cell]),
        p99_kPa=p99,
        peak_location=location,
        distance_to_calcium_mm=distance,
    )
