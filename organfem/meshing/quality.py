"""Element quality of tetrahedral meshes, and the checks that make a mesh usable.

The measures are the usual ones of the meshing literature (Shewchuk 2002,
"What is a good linear finite element?"):

* **dihedral angles** between the faces of each tetrahedron; a small minimum
  angle (a sliver or a needle) spoils conditioning, a large one interpolation;
* the **radius ratio** ``3 r_in / R_circ`` (1 for the regular tetrahedron,
  0 for a degenerate one);
* edge lengths and the total volume, compared with the volume of the label the
  mesh was made from.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import MeshQualityError
from .mesh import MeshData

__all__ = ["MeshQuality", "QualityThresholds", "mesh_quality", "tet_measures"]

#: Local vertex pairs of the six edges of a tetrahedron.
_EDGES = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])
#: Faces opposite each vertex.
_FACES = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])


def tet_measures(points: np.ndarray, tets: np.ndarray) -> dict[str, np.ndarray]:
    """Per-tetrahedron measures.

    Args:
        points: vertex coordinates [mm], shape (n, 3).
        tets: vertex indices, shape (m, 4).

    Returns:
        ``volume`` (signed, [mm^3]), ``min_edge``/``max_edge``/``mean_edge`` [mm],
        ``min_dihedral``/``max_dihedral`` [degrees] and ``radius_ratio``
        (``3 r_in / R_circ``), each of shape (m,).
    """
    x = np.asarray(points, dtype=np.float64)[np.asarray(tets)]
    a, b, c = x[:, 1] - x[:, 0], x[:, 2] - x[:, 0], x[:, 3] - x[:, 0]
    six_v = np.einsum("ij,ij->i", a, np.cross(b, c))
    edges = np.linalg.norm(x[:, _EDGES[:, 1]] - x[:, _EDGES[:, 0]], axis=2)

    # Outward face normals; the dihedral angle at the edge shared by faces p and
    # q is pi minus the angle between their outward normals.
    centre = x.mean(axis=1)
    normals, areas = [], []
    for face in _FACES:
        p = x[:, face]
        n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        area = np.linalg.norm(n, axis=1)
        n = n / np.maximum(area, 1e-300)[:, None]
        n *= np.sign(np.einsum("ij,ij->i", n, p[:, 0] - centre))[:, None]
        normals.append(n)
        areas.append(area / 2.0)
    angles = np.stack(
        [
            np.pi - np.arccos(np.clip(np.einsum("ij,ij->i", normals[p], normals[q]), -1.0, 1.0))
            for p in range(4)
            for q in range(p + 1, 4)
        ],
        axis=1,
    )
    # r_in = 3 V / surface area; R_circ = |a^2 (b x c) + b^2 (c x a) + c^2 (a x b)| / (12 V).
    volume = six_v / 6.0
    r_in = 3.0 * np.abs(volume) / np.maximum(np.sum(areas, axis=0), 1e-300)
    w = (
        np.einsum("ij,ij->i", a, a)[:, None] * np.cross(b, c)
        + np.einsum("ij,ij->i", b, b)[:, None] * np.cross(c, a)
        + np.einsum("ij,ij->i", c, c)[:, None] * np.cross(a, b)
    )
    r_circ = np.linalg.norm(w, axis=1) / np.maximum(2.0 * np.abs(six_v), 1e-300)
    return {
        "volume": volume,
        "min_edge": edges.min(axis=1),
        "max_edge": edges.max(axis=1),
        "mean_edge": edges.mean(axis=1),
        "min_dihedral": np.degrees(angles.min(axis=1)),
        "max_dihedral": np.degrees(angles.max(axis=1)),
        "radius_ratio": 3.0 * r_in / np.maximum(r_circ, 1e-300),
    }


@dataclasses.dataclass(frozen=True)
class QualityThresholds:
    """Limits a usable mesh must meet (see :meth:`MeshQuality.check`).

    Attributes:
        min_dihedral_deg: smallest dihedral angle allowed [degrees].
        max_volume_error: largest relative difference between the mesh volume
            and the reference (label) volume, e.g. 0.02 for 2 %.
        sliver_dihedral_deg: a tetrahedron whose smallest dihedral angle is
            below this is counted as a sliver in the report [degrees].
    """

    min_dihedral_deg: float = 5.0
    max_volume_error: float = 0.05
    sliver_dihedral_deg: float = 10.0


@dataclasses.dataclass(frozen=True)
class MeshQuality:
    """Quality report of a tetrahedral mesh.

    Attributes:
        num_points: vertices.
        num_cells: tetrahedra.
        min_edge: shortest edge [mm].
        max_edge: longest edge [mm].
        mean_edge: mean edge length [mm] (over the edges of all cells).
        min_dihedral_deg: smallest dihedral angle [degrees].
        max_dihedral_deg: largest dihedral angle [degrees].
        radius_ratio_percentiles: radius ratio ``3 r_in / R_circ`` at the
            0, 1, 5, 50 percentiles (1 is the regular tetrahedron).
        inverted: cells with non-positive volume.
        slivers: cells whose smallest dihedral angle is below
            ``thresholds.sliver_dihedral_deg``.
        volume: mesh volume [mm^3].
        reference_volume: volume the mesh should have (the label's voxel
            volume) [mm^3], or None.
        thresholds: the limits used by :meth:`check`.
    """

    num_points: int
    num_cells: int
    min_edge: float
    max_edge: float
    mean_edge: float
    min_dihedral_deg: float
    max_dihedral_deg: float
    radius_ratio_percentiles: dict[str, float]
    inverted: int
    slivers: int
    volume: float
    reference_volume: float | None
    thresholds: QualityThresholds

    @property
    def volume_error(self) -> float | None:
        """``(volume - reference_volume) / reference_volume``, or None."""
        if self.reference_volume is None:
            return None
        return (self.volume - self.reference_volume) / self.reference_volume

    def problems(self) -> list[str]:
        """What fails the thresholds, one line each (empty if the mesh is usable)."""
        t = self.thresholds
        out = []
        if self.inverted:
            out.append(f"{self.inverted} inverted or degenerate tetrahedra")
        if self.min_dihedral_deg < t.min_dihedral_deg:
            out.append(
                f"minimum dihedral angle {self.min_dihedral_deg:.2f} deg < "
                f"{t.min_dihedral_deg:g} deg ({self.slivers} cells below "
                f"{t.sliver_dihedral_deg:g} deg)"
            )
        error = self.volume_error
        if error is not None and abs(error) > t.max_volume_error:
            out.append(
                f"volume {self.volume:.1f} mm^3 differs from the label volume "
                f"{self.reference_volume:.1f} mm^3 by {100 * error:+.2f} % "
                f"(limit {100 * t.max_volume_error:g} %)"
            )
        return out

    def check(self, source: str = "mesh") -> MeshQuality:
        """Return self if usable, else raise.

        Args:
            source: what the mesh was made from, for the message (a file name).

        Raises:
            MeshQualityError: listing every failed threshold with its value.
        """
        problems = self.problems()
        if problems:
            raise MeshQualityError(
                f"{source}: the tetrahedral mesh is not usable: "
                + "; ".join(problems)
                + ". Try a smaller --size, more smoothing, or check the label for thin or "
                "self-touching parts."
            )
        return self

    def as_dict(self) -> dict:
        """JSON-ready summary."""
        out = dataclasses.asdict(self)
        out["volume_error"] = self.volume_error
        return out

    def __str__(self) -> str:
        rr = self.radius_ratio_percentiles
        lines = [
            f"points             {self.num_points:>12,d}",
            f"tetrahedra         {self.num_cells:>12,d}",
            f"edge length [mm]   min {self.min_edge:.3f}  mean {self.mean_edge:.3f}  "
            f"max {self.max_edge:.3f}",
            f"dihedral [deg]     min {self.min_dihedral_deg:.2f}  max {self.max_dihedral_deg:.2f}",
            "radius ratio       " + "  ".join(f"p{k} {v:.3f}" for k, v in rr.items()),
            f"inverted           {self.inverted:>12,d}",
            f"slivers (<{self.thresholds.sliver_dihedral_deg:g} deg) {self.slivers:>9,d}",
            f"volume [mm^3]      {self.volume:>12.1f}",
        ]
        if self.reference_volume is not None:
            lines.append(
                f"label volume       {self.reference_volume:>12.1f}  "
                f"(error {100 * self.volume_error:+.3f} %)"
            )
        return "\n".join(lines)


def mesh_quality(
    mesh: MeshData,
    *,
    reference_volume: float | None = None,
    thresholds: QualityThresholds | None = None,
) -> MeshQuality:
    """Measure a tetrahedral :class:`MeshData`.

    Args:
        mesh: the mesh.
        reference_volume: the volume it should have [mm^3] (for example the
            voxel volume of the label it was made from).
        thresholds: limits for :meth:`MeshQuality.check` and the sliver count.
    """
    if mesh.cell_type != "tetrahedron":
        raise MeshQualityError(f"mesh_quality: tetrahedra only, got {mesh.cell_type}")
    thresholds = thresholds or QualityThresholds()
    m = tet_measures(mesh.points, mesh.cells)
    return MeshQuality(
        num_points=mesh.num_points,
        num_cells=mesh.num_cells,
        min_edge=float(m["min_edge"].min()),
        max_edge=float(m["max_edge"].max()),
        mean_edge=float(m["mean_edge"].mean()),  # every cell has six edges
        min_dihedral_deg=float(m["min_dihedral"].min()),
        max_dihedral_deg=float(m["max_dihedral"].max()),
        radius_ratio_percentiles={
            str(p): float(np.percentile(m["radius_ratio"], p)) for p in (0, 1, 5, 50)
        },
        inverted=int(np.count_nonzero(m["volume"] <= 0)),
        slivers=int(np.count_nonzero(m["min_dihedral"] < thresholds.sliver_dihedral_deg)),
        volume=float(m["volume"].sum()),
        reference_volume=None if reference_volume is None else float(reference_volume),
        thresholds=thresholds,
    )
