"""Deploy a transcatheter valve frame in an aortic root and measure the result.

The root (a :class:`~organfem.meshing.MeshData` with the tags of
:func:`organfem.meshing.aortic_root`: parametric or from images) is a
hyperelastic wall on Robin springs (the surrounding tissue) with both cut
ends held.  The frame (:mod:`organfem.devices`) is an obstacle of the
mechanics core (:class:`organfem.mechanics.Frame`) that expands, in pseudo
time, from just inside the lumen to its nominal profile; penalty contact
acts on the whole blood-facing surface.  A balloon-expandable frame is rigid
at nominal size; a self-expanding one pushes with at most its chronic
outward force and otherwise follows the tissue.

The clinical metrics (:mod:`organfem.tavi.metrics`) are computed on rank 0
from the deformed lumen and the frame:

- contact pressure index (CPI) on the septal band below the N-R commissure,
  where the conduction system runs (Rocatello et al. 2018): the share of
  its area within :data:`CONTACT_TOLERANCE` of the frame, with the peak and
  mean contact pressure there;
- frame shape at inflow, mid-height and outflow (Dmin, Dmax, eccentricity
  ``1 - Dmin/Dmax``, area): the frame's radius at each angle is the nominal
  radius where it is free or rigid, and the tissue's where a self-expanding
  frame yields to it;
- gaps between frame and lumen over the sealing skirt, leak channels that
  run from below the skirt to above it, and an orifice estimate of the
  paravalvular regurgitation at a diastolic pressure difference;
- von Mises stress of the wall near the annulus (within 3 mm of its plane)
  and in the LVOT below, peak and volume-weighted 99th percentile, and the
  peak's distance from calcium;
- clearance of each coronary ostium from the frame.

Everything is in :class:`Deployment`, whose :meth:`Deployment.summary` is
plain JSON; :func:`deploy` also writes it into the results file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._dolfinx import MPI, dolfinx
from ..devices import Device, Placement, frame_pose
from ..errors import ConvergenceError, ParameterError
from ..io import ResultsWriter
from ..materials import HolzapfelGasserOgden, VolumetricPenalty
from ..mechanics import (
    Contact,
    Domain,
    Fixed,
    Frame,
    HyperelasticProblem,
    Material,
    Model,
    Regions,
    Spring,
    on_rank0,
    Table,
    preset,
    simulate,
)
from ..meshing import LUMEN_TAGS, MeshData, root_landmarks
from . import metrics

__all__ = ["RootTissue", "Deployment", "deploy", "describe", "SECTION_ANGLES"]

log = logging.getLogger(__name__)

#: Rays per section (1 degree).
SECTION_ANGLES = 360
#: Half-width of the annulus region for wall stress [mm] along the axis.
ANNULUS_BAND = 3.0
#: Levels of the sealing skirt sampled for leak channels.
SKIRT_LEVELS = 9
#: Lateral stiffness of the delivery catheter holding a centring frame
#: [mN/mm]: small against the tissue's contact stiffness (eps x area ~ 1e6
#: mN/mm), so the frame finds its own position, but it fixes the position
#: before the frame touches anything.
CATHETER_STIFFNESS = 1.0
#: Lumen within this distance of the frame counts as in contact [mm]: the
#: penalty lets tissue into a rigid frame by p/eps (~0.005 mm at 100 kPa),
#: and between the nodes that the frame holds a P2 wall bows out by up to
#: ~0.05 mm at h = 3-4 mm (measured), which a pressure > 0 test would count
#: as gaps, speckling the contact patch.
CONTACT_TOLERANCE = 0.1


@dataclasses.dataclass(frozen=True)
class RootTissue:
    """Materials and support of the root.

    Attributes:
        wall: law of the aortic wall and of the LVOT below the annulus (its
            fibrous part, the aorto-mitral curtain and membranous septum,
            is what a frame touches).  Default: Gasser, Ogden & Holzapfel
            (2006), Table 1; families at +/- 49.98 deg from the circumference.
        bulk_modulus: volumetric penalty of wall and LVOT [kPa]; 1e4 kPa is
            about 10 times the collagen's small-strain stiffness
            (~4 k1 (1 - 3 kappa) cos^2(gamma) ~ 0.6 MPa for the default), so
            volume changes stay at about 1 % under contact.
        calcium_young, calcium_poisson: calcified nodules, linear-elastic
            limit of a neo-Hookean solid: 12.6 MPa and 0.3 (Wang, Sirois &
            Sun 2012, J. Biomech. 45:1965, as used in TAVI simulations since).
        support: Robin stiffness of the surrounding tissue on the outer wall
            [kPa/mm]: a Winkler foundation ``k ~ E_s / L`` for fat and
            myocardium of ``E_s ~ 20-50 kPa`` over ``L ~ 10-20 mm``.
        contact_modulus: stiffness ``E`` [kPa] that sets the contact penalty,
            ``eps = penalty_factor E / h`` (see :mod:`organfem.mechanics.contact`).
        penalty_factor: ``c`` in that rule.
    """

    wall: HolzapfelGasserOgden = dataclasses.field(default_factory=HolzapfelGasserOgden.gasser_2006)
    bulk_modulus: float = 1.0e4
    calcium_young: float = 12.6e3
    calcium_poisson: float = 0.3
    support: float = 2.0
    contact_modulus: float = 1.0e3
    penalty_factor: float = 100.0

    def __post_init__(self) -> None:
        for name in ("bulk_modulus", "calcium_young", "support", "contact_modulus", "penalty_factor"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ParameterError(f"RootTissue: {name}={value!r} must be a positive number")
        if not -1.0 < self.calcium_poisson < 0.5:
            raise ParameterError(f"RootTissue: calcium_poisson={self.calcium_poisson!r} must lie in (-1, 0.5)")

    def material(self, cell_names: Mapping[str, int], fibres) -> Material:
        """One law for the whole root with per-region parameters."""
        law = self.wall + VolumetricPenalty(kappa=self.bulk_modulus)
        E, nu = self.calcium_young, self.calcium_poisson
        mu_ca = E / (2 * (1 + nu))
        kappa_ca = E / (3 * (1 - 2 * nu))
        fields = {}
        if "calcium" in cell_names:
            # Calcium: the neo-Hookean matrix alone (k1 = 0), bulk modulus E/(3(1-2nu)).
            fields = {
                "mu": Regions({"calcium": mu_ca}, default=self.wall.mu),
                "k1": Regions({"calcium": 0.0}, default=self.wall.k1),
                "kappa": Regions({"calcium": kappa_ca}, default=self.bulk_modulus),
            }
        return Material(law, fibres=fibres, fields=fields)


@dataclasses.dataclass(frozen=True)
class Deployment:
    """A deployed frame and its clinical metrics (see the module notes).

    Attributes:
        device: catalogue name; ``kind`` its type.
        placement: depth and tilt.
        contact: the CPI on the septal band.
        frame: ``"inflow"``, ``"mid"``, ``"outflow"`` -> shape of the frame
            there (None where the section leaves the mesh).
        annulus_stress, lvot_stress: wall von Mises stress summaries.
        channels: leak channels through the sealing skirt, largest first.
        leak: the orifice estimate for the channels' total area.
        coronary: ``"left"``/``"right"`` -> clearance of the ostium.
        radial_force: self-expanding frames: ``{"diameter_mm", "cof_N",
            "rrf_N"}`` at the inflow's mean final diameter; None otherwise.
        unknowns, newton_iterations, steps, seconds: the solve.
        max_penetration: largest penetration of the lumen into the frame [mm].
        contact_area: lumen area in contact with the frame [mm^2]; 0 means the
            frame holds nowhere (it would embolise).
        offset: how far a centring frame moved sideways from where it was
            placed [mm].
    """

    device: str
    kind: str
    placement: Placement
    contact: metrics.ContactIndex
    frame: Mapping[str, metrics.FrameShape | None]
    annulus_stress: metrics.StressSummary
    lvot_stress: metrics.StressSummary
    channels: tuple[metrics.Channel, ...]
    leak: metrics.Leak
    coronary: Mapping[str, metrics.Clearance]
    radial_force: Mapping[str, float | None] | None
    unknowns: int
    newton_iterations: int
    steps: int
    seconds: float
    max_penetration: float
    contact_area: float
    offset: float

    @property
    def eccentricity(self) -> float | None:
        """Eccentricity of the frame's inflow, ``1 - Dmin/Dmax``."""
        shape = self.frame.get("inflow")
        return None if shape is None else shape.eccentricity

    @property
    def leak_area(self) -> float:
        """Total cross-section of the leak channels [mm^2]."""
        return float(sum(c.area_mm2 for c in self.channels))

    def summary(self) -> dict[str, Any]:
        """Plain JSON (units in the keys; no NaN: missing values are null)."""

        def clean(value):
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            if isinstance(value, np.ndarray):
                return clean(value.tolist())
            if isinstance(value, float | np.floating):
                return float(value) if math.isfinite(value) else None
            if isinstance(value, np.integer):
                return int(value)
            return value

        def fields(obj):
            return None if obj is None else {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

        return clean({
            "device": self.device,
            "kind": self.kind,
            "depth_mm": self.placement.depth,
            "tilt_deg": self.placement.tilt,
            "tilt_towards_deg": self.placement.tilt_towards,
            "cpi": self.contact.cpi,
            "septal_band": fields(self.contact),
            "eccentricity": self.eccentricity,
            "frame": {k: fields(v) for k, v in self.frame.items()},
            "annulus_stress": fields(self.annulus_stress),
            "lvot_stress": fields(self.lvot_stress),
            "leak_area_mm2": self.leak_area,
            "channels": [fields(c) for c in self.channels],
            "leak": fields(self.leak),
            "coronary": {k: fields(v) for k, v in self.coronary.items()},
            "radial_force": None if self.radial_force is None else dict(self.radial_force),
            "max_penetration_mm": self.max_penetration,
            "contact_area_mm2": self.contact_area,
            "offset_mm": self.offset,
            "unknowns": self.unknowns,
            "newton_iterations": self.newton_iterations,
            "steps": self.steps,
            "seconds": self.seconds,
        })


def _mesh_size(mesh: MeshData, triangles: np.ndarray) -> float:
    """Mean edge length of the lumen's triangles [mm] (P2: twice the sub-triangles')."""
    p = mesh.points[triangles]
    edges = np.linalg.norm(p - np.roll(p, 1, axis=1), axis=2)
    return float(edges.mean()) * (2 if mesh.order == 2 else 1)


def _start_expansion(frame: Frame, points: np.ndarray, clearance: float) -> float:
    """Largest expansion at which the frame still clears every lumen point
    within its height by ``clearance`` [mm] (nothing happens before it)."""
    local = frame.evaluate(points, 0.0, 1.0)
    inside = (local["axial"] > -clearance) & (local["axial"] < frame.height + clearance)
    if not inside.any():
        raise ParameterError(
            "deploy: the frame does not overlap the root's lumen; check the implant depth "
            "(mm below the annulus) against the mesh's LVOT length"
        )
    r_c = 0.5 * frame.crimped_diameter
    room = (local["rho"][inside] - clearance - r_c) / (local["nominal_radius"][inside] - r_c)
    start = float(np.clip(room.min(), 0.0, 0.95))
    if local["rho"][inside].min() <= r_c:
        raise ParameterError(
            f"deploy: the crimped frame (diameter {frame.crimped_diameter:g} mm) already touches "
            f"the lumen (narrowest {2 * local['rho'][inside].min():.1f} mm across); check depth and tilt"
        )
    return start


def _point_values(domain: Domain, u: dolfinx.fem.Function, num_points: int) -> np.ndarray | None:
    """Values of ``u`` at the mesh's input points, on rank 0 (None elsewhere).

    Exact when the space's nodes are the geometry's (P2 on curved cells, P1
    on straight ones).  Collective.
    """
    mesh = domain.mesh
    V = u.function_space
    comm = domain.comm
    tdim = mesh.topology.dim
    cells = mesh.topology.index_map(tdim).size_local
    if V.element.basix_element.degree != domain.geometry_degree:
        raise ParameterError("deploy: the displacement degree must equal the geometry degree")
    geometry = mesh.geometry.dofmaps[0][:cells]
    dofs = V.dofmap.list[:cells]
    index = np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)[geometry.ravel()]
    bs = V.dofmap.index_map_bs
    values = u.x.array.reshape(-1, bs)[dofs.ravel()]
    gathered = comm.gather((index, values), root=0)
    if comm.rank != 0:
        return None
    out = np.full((num_points, bs), np.nan)
    for idx, val in gathered:
        out[idx] = val
    return out


def _cell_values(domain: Domain, f: dolfinx.fem.Function, num_cells: int) -> np.ndarray | None:
    """A DG0 field in the mesh's input cell order, on rank 0. Collective."""
    mesh = domain.mesh
    owned = mesh.topology.index_map(mesh.topology.dim).size_local
    original = np.asarray(mesh.topology.original_cell_index[:owned], dtype=np.int64)
    gathered = domain.comm.gather((original, f.x.array[:owned].copy()), root=0)
    if domain.comm.rank != 0:
        return None
    out = np.full(num_cells, np.nan)
    for idx, val in gathered:
        out[idx] = val
    return out


def _cell_volumes(mesh: MeshData) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (m, 3) and straight-sided volumes (m,) of the tetrahedra."""
    p = mesh.points[mesh.cells]
    volumes = np.abs(np.linalg.det(p[:, 1:] - p[:, :1])) / 6
    return p.mean(axis=1), volumes


def _frame_radii(frame: Frame, lumen: np.ndarray, origin, axis, reference, level: float,
                 penalty: float, offset) -> np.ndarray:
    """The frame's radius at each angle of a section [mm].

    The nominal radius where the frame is free (no tissue on the ray, or a
    gap), and the tissue's radius plus the penetration ``p / eps`` where
    they touch: equal to the nominal radius for a rigid frame, less for a
    self-expanding frame held back by the tissue.
    """
    a = np.asarray(axis)
    u = np.asarray(reference) - (np.asarray(reference) @ a) * a
    u /= np.linalg.norm(u)
    v = np.cross(a, u)
    theta = 2 * np.pi * np.arange(lumen.size) / lumen.size
    r = np.where(np.isfinite(lumen), lumen, 0.0)
    x = np.asarray(origin) + level * a + r[:, None] * (np.cos(theta)[:, None] * u + np.sin(theta)[:, None] * v)
    local = frame.evaluate(x, 1.0, penalty, offset)
    nominal = local["nominal_radius"]
    held = np.where(np.isfinite(lumen), lumen + local["pressure"] / penalty, np.inf)
    return np.minimum(nominal, held)


def _measure(mesh: MeshData, device: Device, frame: Frame, penalty: float,
             u_points: np.ndarray, von_mises: np.ndarray, landmarks, surface, offset) -> dict[str, Any]:
    """The clinical metrics from the final state (rank 0, numpy); ``surface``
    is the lumen's ``(triangles, facet)`` (:func:`metrics.surface_triangles`),
    ``offset`` the frame's lateral offset along ``frame.lateral_directions()`` [mm]."""
    triangles, facet = surface
    x = mesh.points + u_points
    local = frame.evaluate(x, 1.0, penalty, offset)
    shift = np.asarray(offset) @ frame.lateral_directions()
    band = "septal_band" in mesh.facet_names
    in_band = (mesh.facet_values[facet] == mesh.facet_names["septal_band"]) if band else np.zeros(len(facet), bool)
    if not in_band.any():
        raise ParameterError("deploy: the root has no 'septal_band' facets; the CPI needs them")
    used = np.zeros(len(x), bool)
    used[triangles] = True
    pressure = np.where(used, local["pressure"], 0.0)
    # In contact: along the frame and within CONTACT_TOLERANCE of it.
    along = (local["axial"] >= 0) & (local["axial"] <= frame.height)
    touching = np.where(used & along, np.maximum(CONTACT_TOLERANCE - local["gap"], 0.0), 0.0)
    band_touch = metrics.contact_pressure_index(x, triangles, touching, in_band)
    band_load = metrics.contact_pressure_index(x, triangles, pressure, in_band)
    contact = dataclasses.replace(band_touch, peak_kPa=band_load.peak_kPa, mean_kPa=band_load.mean_kPa)
    anchoring = metrics.contact_pressure_index(x, triangles, touching, np.ones(len(facet), bool))
    origin, axis = np.asarray(frame.origin) + shift, np.asarray(frame.axis)
    # Angle 0 of the sections: the septal band's direction, in the plane
    # normal to the (possibly tilted) frame axis.
    reference = landmarks.reference - (landmarks.reference @ axis) * axis
    reference = reference / np.linalg.norm(reference)

    def section(level: float) -> tuple[np.ndarray, np.ndarray]:
        lumen = metrics.section_radii(x, triangles, origin=origin, axis=axis, reference=reference,
                                      level=level, n_angles=SECTION_ANGLES)
        return lumen, _frame_radii(frame, lumen, origin, axis, reference, level, penalty, offset)

    inset = 0.5  # mm inside each end of the frame
    shapes = {}
    for name, level in (("inflow", inset), ("mid", frame.height / 2), ("outflow", frame.height - inset)):
        lumen, radii = section(level)
        shapes[name] = metrics.frame_shape(radii) if np.isfinite(lumen).mean() > 0.5 else None

    levels = np.linspace(inset, device.skirt_height, SKIRT_LEVELS)
    sections = [section(level) for level in levels]
    lumen = np.array([s[0] for s in sections])
    frame_r = np.array([s[1] for s in sections])
    channels = metrics.leak_channels(lumen, frame_r)
    leak = metrics.orifice_leak(float(sum(c.area_mm2 for c in channels)))

    centroids, volumes = _cell_volumes(mesh)
    centre, root_axis = landmarks.annulus_centre, landmarks.axis
    height = (centroids - centre) @ root_axis
    calcium = mesh.cell_names.get("calcium")
    is_calcium = mesh.cell_values == calcium if calcium is not None else np.zeros(len(height), bool)
    calcium_centroids = centroids[is_calcium] if is_calcium.any() else None
    tissue = ~is_calcium & np.isfinite(von_mises)
    near = tissue & (np.abs(height) <= ANNULUS_BAND)
    below = tissue & (height < -ANNULUS_BAND)
    stresses = []
    for region, what in ((near, "annulus"), (below, "LVOT")):
        if not region.any():
            raise ParameterError(f"deploy: the root has no wall cells in the {what} region")
        stresses.append(metrics.stress_summary(von_mises[region], centroids[region], volumes[region],
                                               calcium_centroids=calcium_centroids))

    coronary = {}
    for side in landmarks.ostia:
        patch = mesh.facets[mesh.facet_values == mesh.facet_names[f"{side}_ostium"]]
        ostium = x[np.unique(patch)].mean(axis=0)
        s = float((ostium - np.asarray(origin)) @ np.asarray(axis))
        radius = 0.5 * device.diameter_at(float(np.clip(s, 0.0, device.height)))
        coronary[side] = metrics.coronary_clearance(ostium, origin=origin, axis=axis,
                                                    frame_height=frame.height, frame_radius=radius)
    radial = None
    if device.radial_force is not None and shapes["inflow"] is not None:
        diameter = 2 * math.sqrt(shapes["inflow"].area_mm2 / math.pi)
        cof, rrf = device.radial_force.at(diameter)
        radial = {"diameter_mm": diameter, "cof_N": cof, "rrf_N": rrf}
    pushed = used & (local["pressure"] > 0)
    penetration = float(np.maximum(-local["gap"][pushed], 0.0).max()) if pushed.any() else 0.0
    return dict(offset=float(np.linalg.norm(shift)), contact=contact, frame=shapes, annulus_stress=stresses[0], lvot_stress=stresses[1],
                channels=channels, leak=leak, coronary=coronary, radial_force=radial,
                max_penetration=penetration, contact_area=anchoring.contact_area_mm2)


def deploy(
    mesh: MeshData | None,
    device: Device,
    placement: Placement,
    *,
    comm: MPI.Comm = MPI.COMM_WORLD,
    tissue: RootTissue | None = None,
    steps: int = 8,
    centring: bool = True,
    results: str | Path | None = None,
    inputs: Mapping[str, str | Path] | None = None,
    prefix: str = "tavi_",
    petsc_options: Mapping[str, Any] | None = None,
) -> Deployment:
    """Deploy ``device`` at ``placement`` in the root ``mesh``. Collective.

    Args:
        mesh: the root on rank 0 of ``comm`` (other ranks may pass None),
            with the tags of :func:`organfem.meshing.aortic_root`.
        device: the frame (:data:`organfem.devices.CATALOGUE`).
        placement: implant depth and tilt.
        comm: the ranks that solve this deployment.
        tissue: materials and support (default :class:`RootTissue`).
        steps: pseudo-time steps of the expansion (cut and regrown as needed).
        centring: let a balloon-expandable frame move sideways to where the
            tissue's lateral push on it balances (a balloon on a flexible
            catheter; see :data:`CATHETER_STIFFNESS`); False holds its axis
            where it was placed, as for self-expanding frames always.
        results: a ``.vtkhdf`` file for the deformation, contact pressure and
            wall stress at every step, with the summary; None: none.
        inputs: input files by role, hashed into the results' provenance.
        prefix: PETSc options prefix (unique per concurrent deployment).
        petsc_options: PETSc options over the defaults (Newton with MUMPS and
            the backtracking line search that contact needs).

    Returns:
        The :class:`Deployment`, on every rank of ``comm``.

    Raises:
        ParameterError: a mesh without the root's tags, a frame that misses
            the lumen or starts touching it.
        ConvergenceError: the expansion failed; it names the expansion
            reached.
    """
    start_clock = time.perf_counter()
    tissue = RootTissue() if tissue is None else tissue
    if not (isinstance(steps, int) and steps >= 1):
        raise ParameterError(f"deploy: steps={steps!r} must be a positive integer")
    landmarks = surface = None  # rank 0's, for the metrics

    def prepare():
        nonlocal landmarks, surface
        landmarks = root_landmarks(mesh)
        origin, axis = frame_pose(placement, annulus_centre=landmarks.annulus_centre,
                                  axis=landmarks.axis, reference=landmarks.reference)
        tags = [t for t in LUMEN_TAGS if t in mesh.facet_names]
        surface = metrics.surface_triangles(mesh, tags)
        triangles = surface[0]
        h = _mesh_size(mesh, triangles)
        probe_frame = Frame(heights=device.heights, diameters=device.diameters,
                            crimped_diameter=device.crimped_diameter, origin=tuple(origin), axis=tuple(axis))
        start = _start_expansion(probe_frame, mesh.points[np.unique(triangles)], clearance=0.25 * h)
        return tuple(map(float, origin)), tuple(map(float, axis)), h, start, tags

    origin, axis, h, start, tags = comm.bcast(on_rank0(comm, prepare), root=0)
    frame = Frame(
        heights=device.heights, diameters=device.diameters, crimped_diameter=device.crimped_diameter,
        expansion=Table([0.0, 1.0], [start, 1.0]), origin=origin, axis=axis,
        radial_pressure=device.radial_pressure(),
        # A self-expanding frame conforms to the root; with its offset free
        # Newton stalled on the oval root (its lateral stiffness is only its
        # radial-force law's): its axis stays where it is placed.
        lateral_stiffness=CATHETER_STIFFNESS if centring and device.radial_force is None else None,
    )
    penalty = tissue.penalty_factor * tissue.contact_modulus / h
    domain = Domain.from_meshdata(mesh, comm)
    contact = Contact(tuple(tags), frame, penalty=penalty, name="frame")
    model = Model(
        tissue.material(domain.cell_names, domain.fibres),
        Spring("outer", tissue.support),
        Fixed("inlet"),
        Fixed("outlet"),
        contact,
    )
    problem = HyperelasticProblem(
        domain, model, degree=domain.geometry_degree,
        petsc_options={**preset("newton-mumps"), **Contact.petsc_options, **(petsc_options or {})},
        petsc_options_prefix=prefix,
    )
    recording = contextlib.nullcontext()
    if results is not None:
        recording = ResultsWriter(
            results, domain.mesh,
            parameters={"device": device.name, "depth_mm": placement.depth, "tilt_deg": placement.tilt,
                        "tilt_towards_deg": placement.tilt_towards, "steps": steps,
                        "tissue": dataclasses.asdict(tissue) | {"wall": repr(tissue.wall)}},
            inputs=inputs or {}, static={"region": domain.cell_tags},
        )
    output = problem.term_output(contact)
    try:
        with recording as writer:

            def on_step(result) -> None:
                if writer is not None:
                    writer.write(problem.time, {
                        "displacement": problem.displacement(),
                        "contact_pressure": output.field(),
                        "von_mises_stress": problem.von_mises_stress(),
                    }, problem.scalars())

            try:
                run = simulate(problem, 1.0, 1.0 / steps, on_step=on_step)
            except ConvergenceError as err:
                reached = start + (1.0 - start) * problem.time
                diameter = device.crimped_diameter + reached * (device.nominal_diameter - device.crimped_diameter)
                raise ConvergenceError(
                    f"{device.name} at {placement.depth:g} mm below the annulus: the expansion stopped "
                    f"with the inflow at {diameter:.1f} of {device.nominal_diameter:g} mm ({err})"
                ) from None
            num_points = mesh.num_points if comm.rank == 0 else 0
            num_cells = mesh.num_cells if comm.rank == 0 else 0
            u_points = _point_values(domain, problem.displacement(), num_points)
            stress = _cell_values(domain, problem.von_mises_stress(), num_cells)
            values = problem.multipliers()
            offset = tuple(values.get(f"frame_offset_{i}", 0.0) for i in (1, 2))
            measured = None
            if comm.rank == 0:
                try:
                    measured = _measure(mesh, device, frame, penalty, u_points, stress, landmarks, surface,
                                        offset)
                except ParameterError as err:
                    measured = err
            measured = comm.bcast(measured, root=0)
            if isinstance(measured, Exception):
                raise measured
            seconds = comm.allreduce(time.perf_counter() - start_clock, op=MPI.MAX)
            deployment = Deployment(
                device=device.name, kind=device.kind, placement=placement, unknowns=problem.num_dofs,
                newton_iterations=run.newton_iterations, steps=len(run.steps), seconds=seconds, **measured,
            )
            if writer is not None:
                writer.write_summary(deployment.summary())
        return deployment
    finally:
        problem.close()


def describe(deployment: Deployment) -> str:
    """One line for logs and the CLI."""
    ecc = deployment.eccentricity
    return (
        f"{deployment.device} at {deployment.placement.depth:g} mm: CPI {100 * deployment.contact.cpi:.0f} %"
        f" (peak {deployment.contact.peak_kPa:.0f} kPa), eccentricity "
        f"{'n/a' if ecc is None else f'{ecc:.3f}'}, leak area {deployment.leak_area:.1f} mm^2 "
        f"({deployment.leak.volume_ml:.1f} mL/beat, {deployment.leak.grade}), "
        f"{deployment.newton_iterations} Newton iterations, {deployment.seconds:.0f} s"
    )
