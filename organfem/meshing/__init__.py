"""Meshes with tagged boundaries, without DOLFINx.

:class:`MeshData` is the hand-off between meshing and mechanics.  The
idealised geometries of the Land et al. (2015) benchmark and the verification
geometries :func:`sphere_shell` and :func:`tube` (optionally with curved,
second-order cells: ``order=2``) build it with numpy and gmsh;
:func:`lv_mesh`, :func:`vessel_mesh` and :func:`labels_mesh` build it from
label maps (:mod:`organfem.meshing.from_image`), and :func:`mesh_quality`
reports on any tetrahedral mesh (for curved cells: on their corners).
"""

from .aortic_root import (
    LUMEN_TAGS,
    ROOT_CELL_TAGS,
    ROOT_FACET_TAGS,
    AorticRootGeometry,
    CalciumNodule,
    RootLandmarks,
    aortic_root,
    root_landmarks,
)
from .root_from_image import (
    CALCIUM_THRESHOLD_HU,
    RootImageMesh,
    annulus_plane,
    aortic_root_mesh,
)
from .from_image import (
    ImageMesh,
    WallRepair,
    estimated_cells,
    labels_mesh,
    long_axis,
    lv_mesh,
    valve_plane,
    vessel_end_caps,
    vessel_mesh,
)
from .idealised import (
    ADULT_LV,
    AROSTICA_ENDO,
    AROSTICA_EPI,
    AROSTICA_MU_BASE,
    BEAM_LENGTHS,
    arostica_ellipsoid,
    land_beam,
    lv_ellipsoid,
    sphere_shell,
    tube,
)
from .mesh import CELL_TYPES, TET_EDGES, MeshData, boundary_facets
from .quality import MeshQuality, QualityThresholds, mesh_quality, tet_measures
from .surface import LabelSurface, Plane, label_surface
from .tetra import MESHERS, available_mesher, tetrahedralize

__all__ = [
    "MeshData",
    "CELL_TYPES",
    "TET_EDGES",
    "boundary_facets",
    "land_beam",
    "lv_ellipsoid",
    "ADULT_LV",
    "arostica_ellipsoid",
    "AROSTICA_ENDO",
    "AROSTICA_EPI",
    "AROSTICA_MU_BASE",
    "sphere_shell",
    "tube",
    "BEAM_LENGTHS",
    "ImageMesh",
    "WallRepair",
    "estimated_cells",
    "long_axis",
    "vessel_end_caps",
    "lv_mesh",
    "vessel_mesh",
    "labels_mesh",
    "valve_plane",
    "MeshQuality",
    "QualityThresholds",
    "mesh_quality",
    "tet_measures",
    "LabelSurface",
    "Plane",
    "label_surface",
    "MESHERS",
    "available_mesher",
    "tetrahedralize",
    "AorticRootGeometry",
    "CalciumNodule",
    "aortic_root",
    "aortic_root_mesh",
    "annulus_plane",
    "RootImageMesh",
    "CALCIUM_THRESHOLD_HU",
    "RootLandmarks",
    "root_landmarks",
    "ROOT_FACET_TAGS",
    "ROOT_CELL_TAGS",
    "LUMEN_TAGS",
]
