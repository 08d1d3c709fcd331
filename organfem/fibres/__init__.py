"""Fibre fields: orthonormal bases with rows (fibre, sheet, normal).

The analytic fields (:mod:`.analytic`) are plain numpy, evaluated at any
points (mesh vertices or quadrature points).  The rule-based fields
(:mod:`.ldrb`) are computed once per cell of a :class:`~organfem.meshing.MeshData`
with two Laplace solves (DOLFINx, imported only when called) and stored with
``mesh.with_fibres(...)``.
"""

from .analytic import constant_fibres, ellipsoid_coordinates, land2015_fibres
from .ldrb import LaplaceCoordinates, helix_angles, ldrb_coordinates, ldrb_fibres

__all__ = [
    "land2015_fibres",
    "constant_fibres",
    "ellipsoid_coordinates",
    "ldrb_fibres",
    "ldrb_coordinates",
    "helix_angles",
    "LaplaceCoordinates",
]
