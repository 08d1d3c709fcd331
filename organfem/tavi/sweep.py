"""Sizing and depth what-ifs: every device at every depth, ranked with reasons.

Under ``mpirun -n N`` the communicator is split into groups (by default one
per rank, at most one per scenario); each group deploys its share of the
scenarios on its own ranks, one after another, and rank 0 gathers the
results.  A scenario that fails (Newton stalls, the frame misses the root)
is reported as failed with its reason; the others go on.

Ranking: options that a TAVI team would rule out come last (a frame that
touches the root nowhere, a moderate or severe leak); the others are sorted
by Pareto layer on (paravalvular leak volume, CPI), the two risks that pull
in opposite directions (a bigger or deeper frame seals better but presses
more on the conduction system), then by the number of red flags (also CPI
above :data:`CPI_FLAG`, coronary clearance under :data:`CORONARY_RISK_MM`),
then by the sum of the two risks each scaled by its range.  Each row says why it stands where
it does, including what it trades away.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Sequence
from typing import Any

from .._dolfinx import MPI
from ..devices import Device, Placement
from ..errors import OrganfemError, ParameterError
from ..meshing import MeshData
from .deploy import Deployment, RootTissue, deploy, describe

__all__ = ["Scenario", "Outcome", "scenarios", "sweep", "rank", "CORONARY_RISK_MM", "CPI_FLAG"]

log = logging.getLogger(__name__)

#: Frame-to-ostium distance below which coronary obstruction is a risk [mm]
#: (valve-to-coronary distance <= 4 mm; Ribeiro et al. 2018, Eur Heart J
#: 39:687; Khan et al. 2023, JACC Cardiovasc Interv 16:415).
CORONARY_RISK_MM = 4.0
#: CPI (share of the septal band in contact) flagged as a conduction risk.
#: Rocatello et al. (2018) found CPI and peak contact pressure higher in
#: patients with new conduction abnormalities; no universal cut-off exists,
#: so this flag is a prompt to look, set at a third of the band.
CPI_FLAG = 1 / 3


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One device at one placement."""

    device: Device
    placement: Placement

    @property
    def name(self) -> str:
        """``"S3-26_4mm"`` (tilt appended when not 0)."""
        name = f"{self.device.name}_{self.placement.depth:g}mm"
        if self.placement.tilt:
            name += f"_tilt{self.placement.tilt:g}"
        return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A scenario's deployment, or why it failed; ``rank`` and ``reasons`` from :func:`rank`."""

    scenario: Scenario
    deployment: Deployment | None
    error: str | None = None
    rank: int | None = None
    reasons: str = ""

    def row(self) -> dict[str, Any]:
        """A flat row for the comparison table (units in the keys)."""
        d = self.deployment
        row: dict[str, Any] = {
            "rank": self.rank, "device": self.scenario.device.name, "depth_mm": self.scenario.placement.depth,
            "tilt_deg": self.scenario.placement.tilt, "status": "ok" if d is not None else "failed",
        }
        if d is None:
            return row | {"reasons": self.error}
        inflow = d.frame.get("inflow")
        row |= {
            "cpi_percent": 100 * d.contact.cpi,
            "septal_peak_kPa": d.contact.peak_kPa,
            "septal_mean_kPa": d.contact.mean_kPa,
            "eccentricity": None if inflow is None else inflow.eccentricity,
            "inflow_dmin_mm": None if inflow is None else inflow.d_min_mm,
            "inflow_dmax_mm": None if inflow is None else inflow.d_max_mm,
            "leak_channels": len(d.channels),
            "leak_area_mm2": d.leak_area,
            "leak_ml_per_beat": d.leak.volume_ml,
            "leak_grade": d.leak.grade,
            "annulus_peak_kPa": d.annulus_stress.peak_kPa,
            "lvot_peak_kPa": d.lvot_stress.peak_kPa,
            "left_ostium_clearance_mm": d.coronary["left"].distance_mm if "left" in d.coronary else None,
            "right_ostium_clearance_mm": d.coronary["right"].distance_mm if "right" in d.coronary else None,
            "newton_iterations": d.newton_iterations,
            "seconds": d.seconds,
            "reasons": self.reasons,
        }
        return row


def scenarios(devices: Sequence[Device], depths: Sequence[float], *, tilt: float = 0.0,
              tilt_towards: float = 0.0) -> list[Scenario]:
    """Every device at every depth [mm below the annulus]."""
    if not devices or not depths:
        raise ParameterError("scenarios: give at least one device and one depth")
    return [Scenario(d, Placement(float(z), tilt, tilt_towards)) for d in devices for z in depths]


def _major(d: Deployment) -> list[str]:
    """Flags that rule an option out: no anchoring, moderate or worse leak."""
    flags = []
    if d.contact_area <= 0:
        flags.append("the frame touches the root nowhere (no anchoring: embolisation)")
    if d.leak.grade in ("moderate", "severe"):
        flags.append(f"{d.leak.grade} paravalvular leak ({d.leak.volume_ml:.0f} mL/beat)")
    return flags


def _flags(d: Deployment) -> list[str]:
    flags = _major(d)
    if d.contact.cpi > CPI_FLAG:
        flags.append(f"CPI {100 * d.contact.cpi:.0f} % on the septal band (conduction risk)")
    for side, c in d.coronary.items():
        if c.distance_mm < CORONARY_RISK_MM:
            flags.append(f"{side} ostium {c.distance_mm:.1f} mm from the frame (coronary risk)")
    return flags


def rank(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The outcomes sorted best first, with ``rank`` and ``reasons`` set (see the module notes)."""
    done = [o for o in outcomes if o.deployment is not None]
    failed = [o for o in outcomes if o.deployment is None]
    if not done:
        return list(failed)
    leak = {id(o): o.deployment.leak.volume_ml for o in done}
    cpi = {id(o): o.deployment.contact.cpi for o in done}

    def dominated(a: Outcome, b: Outcome) -> bool:  # b dominates a
        la, lb, ca, cb = leak[id(a)], leak[id(b)], cpi[id(a)], cpi[id(b)]
        return lb <= la and cb <= ca and (lb < la or cb < ca)

    layer: dict[int, int] = {}
    left = list(done)
    k = 0
    while left:
        front = [a for a in left if not any(dominated(a, b) for b in left if b is not a)]
        for a in front:
            layer[id(a)] = k
        left = [a for a in left if id(a) not in layer]
        k += 1
    span_l = (max(leak.values()) - min(leak.values())) or 1.0
    span_c = (max(cpi.values()) - min(cpi.values())) or 1.0
    score = {id(o): (leak[id(o)] - min(leak.values())) / span_l + (cpi[id(o)] - min(cpi.values())) / span_c
             for o in done}
    ordered = sorted(done, key=lambda o: (len(_major(o.deployment)), layer[id(o)],
                                          len(_flags(o.deployment)), score[id(o)]))
    best_leak = min(leak.values())
    best_cpi = min(cpi.values())
    ranked = []
    for i, o in enumerate(ordered, start=1):
        d = o.deployment
        parts = []
        if layer[id(o)] == 0:
            parts.append("on the leak/CPI trade-off front (no option is better in both)")
        else:
            parts.append(f"dominated (front {layer[id(o)] + 1}): another option has less leak and less CPI")
        parts.append(f"leak {d.leak.volume_ml:.1f} mL/beat ({d.leak.grade})"
                     + (" - the least" if math.isclose(leak[id(o)], best_leak) else ""))
        parts.append(f"CPI {100 * d.contact.cpi:.0f} %" + (" - the least" if math.isclose(cpi[id(o)], best_cpi) else ""))
        flags = _flags(d)
        parts.append("flags: " + "; ".join(flags) if flags else "no red flags")
        ranked.append(dataclasses.replace(o, rank=i, reasons="; ".join(parts)))
    return ranked + list(failed)


def sweep(
    mesh: MeshData | None,
    cases: Sequence[Scenario],
    *,
    comm: MPI.Comm = MPI.COMM_WORLD,
    groups: int | None = None,
    out=None,
    tissue: RootTissue | None = None,
    steps: int = 8,
    inputs=None,
) -> list[Outcome] | None:
    """Deploy every scenario, ``groups`` at a time on split communicators. Collective.

    Args:
        mesh: the root on rank 0 of ``comm``.
        cases: the scenarios (:func:`scenarios`).
        groups: concurrent deployments (default: one per rank, at most one
            per scenario); each runs on ``comm.size // groups`` ranks or one more.
        out: a folder for one ``<scenario>.vtkhdf`` per deployment, or None.
        tissue, steps, inputs: as for :func:`~organfem.tavi.deploy`.

    Returns:
        On rank 0 the ranked outcomes (:func:`rank`); None on other ranks.
    """
    if not cases:
        raise ParameterError("sweep: no scenarios")
    groups = min(comm.size, len(cases)) if groups is None else int(groups)
    if not 1 <= groups <= comm.size:
        raise ParameterError(f"sweep: groups={groups} must lie in [1, {comm.size}] (the number of ranks)")
    color = comm.rank % groups
    sub = comm.Split(color, comm.rank)
    mesh = comm.bcast(mesh if comm.rank == 0 else None, root=0) if groups > 1 else mesh
    mine = []
    try:
        for i, case in enumerate(cases):
            if i % groups != color:
                continue
            results = None if out is None else f"{out}/{case.name}.vtkhdf"
            try:
                d = deploy(mesh if sub.rank == 0 else None, case.device, case.placement, comm=sub,
                           tissue=tissue, steps=steps, results=results, inputs=inputs,
                           prefix=f"tavi_{i}_")
                log.info("%s", describe(d))
                mine.append((i, d, None))
            except OrganfemError as err:
                log.warning("%s failed: %s", case.name, err)
                mine.append((i, None, str(err)))
    finally:
        sub.Free()
    gathered = comm.gather(mine if _reports(comm, groups) else [], root=0)
    if comm.rank != 0:
        return None
    by_index = {i: (d, e) for part in gathered for i, d, e in part}
    outcomes = [Outcome(case, *by_index[i]) for i, case in enumerate(cases)]
    return rank(outcomes)


def _reports(comm: MPI.Comm, groups: int) -> bool:
    """Whether this rank is the first of its group (the one that reports)."""
    return comm.rank < groups
