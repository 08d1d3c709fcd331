"""Meshes with tagged boundaries, without DOLFINx.

:class:`MeshData` is the hand-off between meshing and mechanics; the
idealised geometries of the Land et al. (2015) benchmark build it with numpy
and gmsh.
"""

from .idealised import BEAM_LENGTHS, land_beam, lv_ellipsoid
from .mesh import CELL_TYPES, MeshData, boundary_facets

__all__ = [
    "MeshData",
    "CELL_TYPES",
    "boundary_facets",
    "land_beam",
    "lv_ellipsoid",
    "BEAM_LENGTHS",
]
