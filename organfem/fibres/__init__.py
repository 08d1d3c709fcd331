"""Fibre fields: orthonormal bases with rows (fibre, sheet, normal).

The analytic fields (:mod:`.analytic`) are plain numpy, evaluated at any
points (mesh vertices or quadrature points).  The rule-based fields
(:mod:`.ldrb`) are computed once per cell of a :class:`~organfem.meshing.MeshData`
with two Laplace solves (DOLFINx, imported only when called) and stored with
``mesh.with_fibres(...)``.  :func:`helix_angle` measures any field's helix
angle about a long axis (:mod:`.angles`).
"""

from .analytic import (
    arostica_fibres,
    constant_fibres,
    ellipsoid_coordinates,
    ellipsoid_helix_fibres,
    land2015_fibres,
    vessel_fibres,
)
from .angles import LongAxis, helix_angle, lv_long_axis, wall_normals
from .ldrb import LaplaceCoordinates, helix_angles, ldrb_coordinates, ldrb_fibres
from .lv import LV_TAGS, load_lv_mesh

__all__ = [
    "land2015_fibres",
    "ellipsoid_helix_fibres",
    "arostica_fibres",
    "vessel_fibres",
    "constant_fibres",
    "ellipsoid_coordinates",
    "ldrb_fibres",
    "ldrb_coordinates",
    "helix_angles",
    "helix_angle",
    "lv_long_axis",
    "wall_normals",
    "LongAxis",
    "LaplaceCoordinates",
    "LV_TAGS",
    "load_lv_mesh",
]
