"""Which way up a render is: anatomical cameras for ventricles and for the body.

Two default views, both in the patient coordinates of :mod:`organfem.imaging`
(LPS: +x towards the patient's left, +y posterior, +z superior, in mm):

* A **ventricle** (:func:`organfem.viz.mesh_view` says which meshes are
  ventricles; a results grid is one if its boundary has one flat face, its
  base: :func:`find_base`) is shown with its long axis vertical, **base up
  and apex down**, seen from the anterior side (the camera in front of the chest, on the side of -y made
  orthogonal to the long axis) and raised :data:`LV_ELEVATION` degrees
  towards the base, so that the base ring and the cavity through it are in
  view.  When the long axis is within about 17 degrees of the
  anterior-posterior direction, it is seen from the patient's left instead.
  The long axis is the normal of the base plane, the apex the point farthest
  from it (:func:`organfem.fibres.lv_long_axis`); without a base, the
  principal axis of the points (:func:`principal_view`).
* Anything else (vessels, whole-heart label meshes, a beam) is shown the way
  a radiologist's **coronal** view looks: seen from anterior (the camera at
  -y, looking towards +y), superior (+z) up, the patient's right (-x) on the
  left of the image.  Letters S, I, R, L mark the image's edges.

Both add a small triad of the L, P, S axes in the lower left corner and a
line of text under the title that says which view it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from organfem.errors import ParameterError
from organfem.fibres import lv_long_axis

__all__ = [
    "View",
    "LV_ELEVATION",
    "lv_view",
    "principal_view",
    "coronal_view",
    "find_base",
    "principal_axis",
]

#: Angle [deg] between a ventricle's viewing direction and its short-axis
#: plane, on the side of the base: enough to see into the cavity, little
#: enough that the long axis still runs from the top to the bottom.
LV_ELEVATION = 30.0

_ANTERIOR = np.array([0.0, -1.0, 0.0])  # LPS: -y points to the front of the body
_LEFT = np.array([1.0, 0.0, 0.0])  # LPS: +x points to the patient's left
_SUPERIOR = np.array([0.0, 0.0, 1.0])
_MIN_HORIZONTAL = 0.3  # |anterior made orthogonal to the axis| below which the view turns
_DISTANCE = 4.0  # camera distance in extents of the mesh (reset_camera refits it)
_SKEW_MIN = 0.05  # |skewness| along the principal axis below which it gives no direction
# Flat-face detection: normals within _FLAT_ANGLE, offsets within _FLAT_OFFSET
# times the extent; a face is "the" base if it is at least _UNIQUE times the
# area of any other flat face and _MIN_FRACTION of the boundary's area.
_FLAT_ANGLE = 3.0  # deg
_FLAT_OFFSET = 2e-3
_UNIQUE = 3.0
_MIN_FRACTION = 0.01


@dataclasses.dataclass(frozen=True, eq=False)
class View:
    """A camera: where it looks from, which way is up, and what to say about it.

    Attributes:
        direction: unit vector from the object towards the camera, shape (3,).
        up: unit vector pointing to the top of the image, orthogonal to
            ``direction``, shape (3,).
        vertical: the anatomical axis drawn upright: the long axis (apex to
            base) of a ventricle, or superior (+z) for the coronal view; the
            clip plane of ``render_mesh(clip=True)`` contains it.
        label: one line that says what the view is, for the image.
        markers: letters for the image's (top, bottom, left, right) edges,
            or ``None``.
        apex, base_centre: a ventricle's apex and the centre of its base
            [mm], shape (3,), or ``None`` for the coronal view.
    """

    direction: np.ndarray
    up: np.ndarray
    vertical: np.ndarray
    label: str
    markers: tuple[str, str, str, str] | None = None
    apex: np.ndarray | None = None
    base_centre: np.ndarray | None = None

    @property
    def right(self) -> np.ndarray:
        """Unit vector pointing to the right of the image, shape (3,)."""
        return np.cross(-self.direction, self.up)

    @property
    def section_normal(self) -> np.ndarray:
        """The part of ``direction`` orthogonal to ``vertical``, unit: the normal
        of a cut that contains the vertical axis and faces the camera."""
        normal = self.direction - (self.direction @ self.vertical) * self.vertical
        return normal / np.linalg.norm(normal)

    def camera_position(self, points: np.ndarray) -> list[tuple[float, float, float]]:
        """PyVista's ``[position, focal_point, view_up]`` for a body of ``points``.

        The focal point is the centroid of the points; ``Plotter.reset_camera``
        afterwards fits the distance to what is drawn and keeps the direction.
        """
        points = np.asarray(points, dtype=float)
        centre = points.mean(axis=0)
        extent = float(np.ptp(points, axis=0).max()) or 1.0
        position = centre + _DISTANCE * extent * self.direction
        return [tuple(map(float, position)), tuple(map(float, centre)), tuple(map(float, self.up))]


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def lv_view(
    points: np.ndarray, base_points: np.ndarray, *, elevation: float = LV_ELEVATION
) -> View:
    """Base up, apex down, seen from anterior and ``elevation`` degrees above.

    Args:
        points: the ventricle's points [mm] (LPS), shape (n, 3).
        base_points: points of its base [mm], shape (k, 3) (e.g. the vertices
            of the ``base`` facets).
        elevation: angle between the viewing direction and the short-axis
            plane [deg], in [0, 90): 0 looks at the wall side-on, larger
            values look down into the base.

    Raises:
        ParameterError: for a bad elevation or points that define no axis.
    """
    axis = lv_long_axis(points, base_points)
    view = _upright(axis.direction, "base up, apex down", elevation)
    return dataclasses.replace(view, apex=axis.apex, base_centre=axis.base_centre)


def principal_view(points: np.ndarray, *, elevation: float = LV_ELEVATION) -> View:
    """Like :func:`lv_view`, with the principal axis (:func:`principal_axis`) upright.

    For a ventricle whose base is neither tagged nor found: the thin end of
    the vertex distribution (an apex) goes down.  The image says "long axis
    up" rather than naming a base and an apex it did not find.
    """
    return _upright(principal_axis(points), "long (principal) axis up", elevation)


def _upright(vertical: np.ndarray, what: str, elevation: float) -> View:
    if not 0.0 <= float(elevation) < 90.0:
        raise ParameterError(f"elevation={elevation!r}: expected an angle in [0, 90) degrees")
    side, side_name = _ANTERIOR, "anterior"
    horizontal = side - (side @ vertical) * vertical
    if np.linalg.norm(horizontal) < _MIN_HORIZONTAL:
        side, side_name = _LEFT, "the left"
        horizontal = side - (side @ vertical) * vertical
    horizontal = _unit(horizontal)
    angle = np.deg2rad(float(elevation))
    direction = np.cos(angle) * horizontal + np.sin(angle) * vertical
    up = -np.sin(angle) * horizontal + np.cos(angle) * vertical
    label = (
        f"{what}; seen from {side_name}, {float(elevation):g} deg above the short-axis plane"
    )
    return View(direction=direction, up=up, vertical=vertical, label=label)


def coronal_view() -> View:
    """The radiologist's coronal view in LPS: from anterior, superior up, patient's right left."""
    return View(
        direction=_ANTERIOR.copy(),
        up=_SUPERIOR.copy(),
        vertical=_SUPERIOR.copy(),
        label="coronal: seen from anterior, superior up, patient's right on the left",
        markers=("S", "I", "R", "L"),
    )


def principal_axis(points: np.ndarray) -> np.ndarray:
    """The principal axis of largest variance of ``points``, unit, shape (3,).

    Signed so that the thin tail of the distribution along it (skewness < 0:
    the apex of a ventricle, whose vertices thin out there) lies at its
    negative end, or, for a symmetric distribution, so that its largest
    component is positive.
    """
    x = np.asarray(points, dtype=float)
    x = x - x.mean(axis=0)
    _, vectors = np.linalg.eigh(x.T @ x)
    w = vectors[:, -1]
    along = x @ w
    spread = float(np.sqrt(np.mean(along**2)))
    skew = float(np.mean(along**3)) / spread**3 if spread > 0 else 0.0
    if abs(skew) > _SKEW_MIN:
        return w if skew < 0 else -w
    return w if w[np.argmax(np.abs(w))] > 0 else -w


def _flat_face(
    centroids: np.ndarray, normals: np.ndarray, areas: np.ndarray, extent: float
) -> np.ndarray:
    """Mask of the facets of the largest flat face (coplanar within tolerance)."""
    # Sign-free normals: the largest component positive.
    flip = np.take_along_axis(normals, np.argmax(np.abs(normals), axis=1)[:, None], 1) < 0
    normals = np.where(flip, -normals, normals)
    bins = np.round(normals / np.sin(np.deg2rad(_FLAT_ANGLE))).astype(np.int64)
    offsets = np.round(np.einsum("ij,ij->i", centroids, normals) / (_FLAT_OFFSET * extent * 10))
    keys = np.column_stack([bins, offsets.astype(np.int64)])
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.ravel()
    best = int(np.argmax(np.bincount(group, weights=areas)))
    chosen = group == best
    normal = _unit((normals[chosen] * areas[chosen, None]).sum(axis=0))
    offset = float(np.median(centroids[chosen] @ normal))
    return (np.abs(normals @ normal) > np.cos(np.deg2rad(_FLAT_ANGLE))) & (
        np.abs(centroids @ normal - offset) < _FLAT_OFFSET * extent
    )


def find_base(grid: Any) -> np.ndarray | None:
    """Points of the one flat face of a body's boundary, or ``None``.

    A ventricle cut at its base (an idealised or an image-derived LV) has a
    single flat face, the base; a vessel cut at both ends has two, a box six,
    a smooth organ none.  The largest flat face (facets coplanar within 3
    degrees and 0.2 % of the extent) counts as a base if its area is at
    least 3 times that of any other flat face and 1 % of the boundary's.

    Args:
        grid: a PyVista dataset (e.g. a step of a results file).

    Returns:
        The vertices of the base facets [mm], shape (k, 3), or ``None``.
    """
    surface = grid.extract_surface(algorithm=None).triangulate()
    if surface.n_cells < 4:
        return None
    faces = np.asarray(surface.regular_faces)
    points = np.asarray(surface.points, dtype=float)
    corners = points[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    areas = 0.5 * np.linalg.norm(cross, axis=1)
    keep = areas > 0
    if keep.sum() < 4:
        return None
    faces, corners, cross, areas = faces[keep], corners[keep], cross[keep], areas[keep]
    normals = cross / (2.0 * areas[:, None])
    centroids = corners.mean(axis=1)
    extent = float(np.ptp(points, axis=0).max())
    if not extent > 0:
        return None
    first = _flat_face(centroids, normals, areas, extent)
    rest = ~first
    second = np.zeros_like(first)
    if rest.sum() >= 1:
        second[rest] = _flat_face(centroids[rest], normals[rest], areas[rest], extent)
    first_area, second_area = areas[first].sum(), areas[second].sum()
    if second_area * _UNIQUE > first_area:
        return None  # a second flat face about as large (both ends of a vessel, a box)
    if first_area < _MIN_FRACTION * areas.sum() or first.sum() < 3:
        return None
    return points[np.unique(faces[first])]



def _add_text(
    plotter: Any, text: str, x: float, y: float, size: int, justify: str, valign: str = "centre"
) -> None:
    """Text of ``size`` pixels anchored at pixel (x, y) of the window."""
    actor = plotter.add_text(text, position=(x, y), font_size=size, color="black")
    prop = actor.GetTextProperty()
    {"left": prop.SetJustificationToLeft, "centre": prop.SetJustificationToCentered,
     "right": prop.SetJustificationToRight}[justify]()  # fmt: skip
    {"top": prop.SetVerticalJustificationToTop, "centre": prop.SetVerticalJustificationToCentered,
     "bottom": prop.SetVerticalJustificationToBottom}[valign]()  # fmt: skip


def _annotate(
    plotter: Any,
    title: str,
    view: View | None,
    window_size: Sequence[int],
    *,
    bar: bool,
) -> None:
    """The title, the view's line of text under it, its edge letters, the L/P/S triad.

    Text sizes scale with the window's height (the title's is 1/50 of it).
    ``bar`` says whether a colour bar takes the bottom of the image (the
    bottom letter goes above it).
    """
    width, height = window_size
    size = max(7, round(height / 50))
    small = max(6, round(0.7 * size))
    _add_text(plotter, title, width / 2, height - 0.3 * size, size, "centre", "top")
    if view is not None:
        y = height - 2.4 * size
        _add_text(plotter, view.label, width / 2, y, small, "centre", "top")
        if view.markers is not None:
            top, bottom, left, right = view.markers
            y_bottom = (0.2 if bar else 0.03) * height
            _add_text(plotter, top, width / 2, y - 1.6 * small, small, "centre", "top")
            _add_text(plotter, bottom, width / 2, y_bottom, small, "centre", "bottom")
            _add_text(plotter, left, 0.01 * width, height / 2, small, "left")
            _add_text(plotter, right, 0.99 * width, height / 2, small, "right")
    # The patient axes (LPS): +x to the left, +y posterior, +z superior.
    plotter.add_axes(xlabel="L", ylabel="P", zlabel="S", line_width=3, color="black",
                     viewport=(0.0, 0.0, 0.16, 0.16 * width / height))  # fmt: skip
