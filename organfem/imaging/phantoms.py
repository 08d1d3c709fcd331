"""Synthetic label maps with known geometry, for tests, benchmarks and demos.

:func:`lv_phantom` voxelises the truncated prolate-ellipsoid left ventricle of
Land et al. (2015, Proc R Soc A 471:20150641, problem 2 geometry, scaled):
a myocardium between two confocal-free ellipsoids of revolution, cut by a
base plane, around a blood pool.  Its exact volumes are known in closed form,
so meshes made from it can be checked against them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .image import Image

__all__ = ["LVPhantom", "lv_phantom", "truncated_ellipsoid_volume", "MMWHS_LV"]

#: Label values of the phantom: the MM-WHS codes of LV myocardium and blood cavity.
MMWHS_LV = {"lv_myocardium": 205, "lv_blood_pool": 500}


def truncated_ellipsoid_volume(radius: float, half_length: float, cut: float) -> float:
    """Volume of ``(x^2 + y^2)/a^2 + z^2/c^2 <= 1, z <= cut`` [mm^3].

    ``int_{-c}^{cut} pi a^2 (1 - z^2/c^2) dz = pi a^2 [(cut + c) - (cut^3 + c^3) / (3 c^2)]``.
    """
    a, c = radius, half_length
    cut = min(max(cut, -c), c)
    return float(np.pi * a * a * ((cut + c) - (cut**3 + c**3) / (3.0 * c * c)))


@dataclasses.dataclass(frozen=True)
class LVPhantom:
    """A voxelised LV and its exact geometry.

    Attributes:
        image: label map (MM-WHS values, see :data:`MMWHS_LV`).
        labels: label name -> value.
        myocardium_volume: exact myocardial volume [mm^3].
        cavity_volume: exact blood-pool volume [mm^3].
        centre: LPS position of the ellipsoids' centre [mm].
        axis: unit long axis, from apex towards base (LPS).
        base: distance of the base plane from the centre along ``axis`` [mm].
    """

    image: Image
    labels: dict
    myocardium_volume: float
    cavity_volume: float
    centre: np.ndarray
    axis: np.ndarray
    base: float

    def local(self, points: np.ndarray) -> np.ndarray:
        """Coordinates in the LV frame (z along the long axis, origin at the centre)."""
        frame = _frame(self.axis)
        return (np.asarray(points) - self.centre) @ frame


def _frame(axis: np.ndarray) -> np.ndarray:
    """Orthonormal columns (e1, e2, axis)."""
    axis = axis / np.linalg.norm(axis)
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(helper, axis)
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(axis, e1), axis], axis=1)


def lv_phantom(
    shape: tuple[int, int, int] = (96, 96, 96),
    *,
    spacing: tuple[float, float, float] | None = None,
    direction: np.ndarray | None = None,
    origin: np.ndarray | None = None,
    endo_radii: tuple[float, float] = (25.0, 60.0),
    epi_radii: tuple[float, float] = (35.0, 70.0),
    base: float = 10.0,
    axis: np.ndarray = (0.0, 0.0, 1.0),
) -> LVPhantom:
    """Voxelise a truncated ellipsoidal LV (myocardium 205, blood pool 500).

    The ellipsoids of revolution have (short radius, long half-axis) =
    ``endo_radii`` and ``epi_radii`` [mm] and share their centre; both are cut
    at ``base`` mm above the centre along ``axis``.  The LV is centred in the
    image.  A voxel takes the label of its centre.

    Args:
        shape: voxels along i, j, k.
        spacing: voxel size [mm]; default isotropic, just covering the LV.
        direction: image direction matrix (columns: LPS directions of i, j, k).
        origin: LPS centre of voxel (0, 0, 0); default puts the LV in the middle.
        endo_radii, epi_radii: (short radius, long half-axis) [mm].
        base: height of the base plane above the centre [mm].
        axis: LPS long axis of the LV (apex -> base).
    """
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=np.float64)
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    a_endo, c_endo = endo_radii
    a_epi, c_epi = epi_radii
    extent = np.array([2 * a_epi, 2 * a_epi, c_epi + base])  # in the LV frame
    if spacing is None:
        spacing = np.full(3, 1.1 * np.linalg.norm(extent) / (min(shape) - 1))
    spacing = np.asarray(spacing, dtype=np.float64)
    frame = _frame(axis)
    # The LV's bounding-box centre sits at the image centre.
    box_centre_local = np.array([0.0, 0.0, (base - c_epi) / 2.0])
    half_diagonal = direction @ (spacing * (np.array(shape) - 1) / 2.0)
    # Default: the image centre at the LPS origin.
    origin = -half_diagonal if origin is None else np.asarray(origin, dtype=np.float64)
    centre_of_image = origin + half_diagonal
    centre = centre_of_image - frame @ box_centre_local

    # Local coordinates of voxel centres: q = frame^T (origin + D (s * ijk) - centre).
    m = frame.T @ direction * spacing  # (3, 3): local change per index step
    q0 = frame.T @ (origin - centre)
    i, j, k = (np.arange(n, dtype=np.float64) for n in shape)
    local = [
        q0[r] + m[r, 0] * i[:, None, None] + m[r, 1] * j[None, :, None] + m[r, 2] * k[None, None, :]
        for r in range(3)
    ]
    r2 = local[0] ** 2 + local[1] ** 2
    z = local[2]
    below = z <= base
    labels = np.zeros(shape, dtype=np.uint16)
    labels[(r2 / a_epi**2 + z**2 / c_epi**2 <= 1.0) & below] = MMWHS_LV["lv_myocardium"]
    labels[(r2 / a_endo**2 + z**2 / c_endo**2 <= 1.0) & below] = MMWHS_LV["lv_blood_pool"]
    cavity = truncated_ellipsoid_volume(a_endo, c_endo, base)
    return LVPhantom(
        image=Image(labels, spacing, origin, direction),
        labels=dict(MMWHS_LV),
        myocardium_volume=truncated_ellipsoid_volume(a_epi, c_epi, base) - cavity,
        cavity_volume=cavity,
        centre=centre,
        axis=axis,
        base=float(base),
    )
