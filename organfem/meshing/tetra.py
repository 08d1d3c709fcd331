"""Closed triangle surfaces to quality tetrahedral meshes.

Two meshers, chosen by ``mesher``:

* ``"gmsh"`` (GPL-2.0-or-later, the optional extra ``organfem[gmsh]``):
  Delaunay refinement inside the given surface triangles, which it keeps
  unchanged, then gmsh's and Netgen's optimisers.  Fast (seconds for 1e5
  tetrahedra) with minimum dihedral angles near 20 degrees.
* ``"ftetwild"`` (fTetWild, MPL-2.0, through ``pytetwild``; always
  installed): robust to imperfect input and gives excellent angles, but it
  moves the boundary within a small envelope and takes tens of seconds for
  meshes that gmsh does in a few.

``"auto"`` takes gmsh when it is installed and fTetWild otherwise.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import tempfile

import numpy as np

from ..errors import MeshError, ParameterError
from .surface import LabelSurface, _components

__all__ = ["MESHERS", "tetrahedralize", "available_mesher"]

log = logging.getLogger(__name__)

MESHERS = ("auto", "gmsh", "ftetwild")


def available_mesher(mesher: str = "auto") -> str:
    """The mesher ``mesher`` resolves to on this installation.

    Raises:
        ParameterError: for an unknown name, or gmsh asked for but missing.
    """
    if mesher not in MESHERS:
        raise ParameterError(f"mesher {mesher!r} is not one of {MESHERS}")
    has_gmsh = importlib.util.find_spec("gmsh") is not None
    if mesher == "gmsh" and not has_gmsh:
        raise ParameterError(
            "mesher 'gmsh' is not installed: pip install 'organfem[gmsh]' (GPL-2.0-or-later), "
            "or use mesher='ftetwild'"
        )
    if mesher == "auto":
        return "gmsh" if has_gmsh else "ftetwild"
    return mesher


def _orient(points: np.ndarray, tets: np.ndarray) -> np.ndarray:
    x = points[tets]
    six_v = np.einsum("ij,ij->i", x[:, 1] - x[:, 0], np.cross(x[:, 2] - x[:, 0], x[:, 3] - x[:, 0]))
    tets = tets.copy()
    tets[six_v < 0] = tets[six_v < 0][:, [0, 2, 1, 3]]
    return tets


def _gmsh(surface: LabelSurface, size: float, threads: int) -> tuple[np.ndarray, np.ndarray]:
    from .idealised import _gmsh_model
    import gmsh

    options = {
        "Mesh.Algorithm3D": 1,  # Delaunay: keeps the given surface triangles
        "Mesh.MeshSizeMax": size,
        "Mesh.MeshSizeMin": 0.25 * size,
        "Mesh.MeshSizeExtendFromBoundary": 1,
        "Mesh.Optimize": 1,
        "Mesh.OptimizeNetgen": 1,
        "General.NumThreads": threads,
        "General.Terminal": 0,
    }
    with _gmsh_model("organfem-image", options):
        comp = _components(surface.triangles, surface.points.shape[0])
        loops = []
        # gmsh node tags are 1-based; all nodes go to the first entity.
        node_entity = None
        extents = []
        for c in np.unique(comp):
            tris = surface.triangles[comp == c]
            tag = gmsh.model.addDiscreteEntity(2)
            if node_entity is None:
                node_entity = tag
                gmsh.model.mesh.addNodes(
                    2, tag, np.arange(1, surface.points.shape[0] + 1), surface.points.ravel()
                )
            gmsh.model.mesh.addElementsByType(tag, 2, [], (tris + 1).ravel())
            loops.append(gmsh.model.geo.addSurfaceLoop([tag]))
            x = surface.points[np.unique(tris)]
            extents.append(np.prod(x.max(axis=0) - x.min(axis=0)))
        # The outer shell encloses the others (cavities of a closed chamber).
        order = np.argsort(extents)[::-1]
        gmsh.model.geo.addVolume([loops[i] for i in order])
        gmsh.model.geo.synchronize()
        try:
            gmsh.model.mesh.generate(3)
        except Exception as err:  # gmsh raises plain Exception
            raise MeshError(f"gmsh could not tetrahedralise the surface: {err}") from err
        tags, coords, _ = gmsh.model.mesh.getNodes()
        types, _, nodes = gmsh.model.mesh.getElements(3)
    if 4 not in list(types):
        raise MeshError("gmsh produced no tetrahedra (is the surface closed?)")
    tets = np.asarray(nodes[list(types).index(4)], dtype=np.int64).reshape(-1, 4)
    index = np.full(int(tags.max()) + 1, -1, dtype=np.int64)
    index[tags] = np.arange(tags.size)
    points = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    tets = index[tets]
    used, tets = np.unique(tets, return_inverse=True)
    return points[used], tets.reshape(-1, 4)


def _ftetwild(surface: LabelSurface, size: float, threads: int) -> tuple[np.ndarray, np.ndarray]:
    import pytetwild

    # fTetWild writes a debug file (__tracked_surface.stl) into the working
    # folder; run it in a temporary one so nothing is left behind.
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        points, tets = pytetwild.tetrahedralize(
            surface.points,
            surface.triangles.astype(np.int32),
            edge_length_abs=size,
            num_threads=threads,
            quiet=True,
        )
    return np.asarray(points, dtype=np.float64), np.asarray(tets, dtype=np.int64)


def tetrahedralize(
    surface: LabelSurface, size: float, *, mesher: str = "auto", threads: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Fill a closed, outward-oriented surface with tetrahedra of edge about ``size``.

    Args:
        surface: the boundary (one outer shell, possibly with inner shells).
        size: target edge length [mm].
        mesher: ``"auto"``, ``"gmsh"`` or ``"ftetwild"`` (see the module docstring).
        threads: threads for the mesher; 0 lets it choose.

    Returns:
        Points (n, 3) [mm] and positively oriented tetrahedra (m, 4).

    Raises:
        MeshError: if the mesher fails.
    """
    if not size > 0:
        raise ParameterError(f"size must be a positive length in mm, got {size}")
    name = available_mesher(mesher)
    points, tets = (_gmsh if name == "gmsh" else _ftetwild)(surface, size, threads)
    if tets.shape[0] == 0:
        raise MeshError(f"{name} produced no tetrahedra")
    return points, _orient(points, tets)
