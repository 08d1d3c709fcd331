"""Fibre fields: per-point orthonormal bases with rows (fibre, sheet, normal).

The analytic fields here are plain numpy (no DOLFINx); evaluate them at mesh
vertices or quadrature points.
"""

from .analytic import constant_fibres, ellipsoid_coordinates, land2015_fibres

__all__ = ["land2015_fibres", "constant_fibres", "ellipsoid_coordinates"]
