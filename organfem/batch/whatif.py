"""What-if batches: many passive inflations of one ventricle, in one call.

Each row of a what-if table is a scenario: an end-diastolic pressure, a
multiplier of the passive stiffness, a multiplier inside a scar region and
the fibres' helix angles.  :func:`run_whatifs` solves them all as one batch
(:class:`Solver`) and returns each scenario's pressure-volume curve and
end-diastolic figures.  :func:`read_whatifs` reads the table from CSV, with
the pressure's unit in its header (``pressure [mmHg]``)::

    name,pressure [mmHg],stiffness,scar_stiffness,helix_endo [deg],helix_epi [deg]
    baseline,10,1.0,1.0,60,-60
    stiff,10,1.5,1.0,60,-60
    infarct,10,1.0,5.0,60,-60

Helix angles follow Bayer et al. (2012), the convention of
:func:`organfem.fibres.ldrb_fibres`: about +60 degrees at the endocardium and
-60 at the epicardium in a healthy ventricle.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ParameterError
from ..materials import HolzapfelOgden, Law, VolumetricPenalty, with_parameters
from ..meshing import MeshData
from ..units import MMHG_IN_KPA, pressure as to_kpa
from .problem import Cavity, Fixed, Problem, Scenario
from .solve import Solver
from .space import Space

__all__ = ["WhatIf", "WhatIfResults", "read_whatifs", "run_whatifs", "lv_problem", "default_law"]

log = logging.getLogger(__name__)

#: The stiffness parameters a what-if's multipliers scale (HO 2009 names).
STIFFNESSES = ("a", "a_f", "a_s", "a_fs")


def default_law() -> Law:
    """Holzapfel-Ogden (2009) passive myocardium with the penalty of the
    cardiac benchmark (Arostica et al. 2025, kappa = 1 MPa), as the heart-cycle
    scenario."""
    return HolzapfelOgden.holzapfel_ogden_2009() + VolumetricPenalty.arostica_2025()


@dataclasses.dataclass(frozen=True)
class WhatIf:
    """One scenario of a what-if batch.

    Args:
        name: a label for tables and plots.
        pressure: end-diastolic cavity pressure [kPa], > 0.
        stiffness: multiplier of the passive stiffnesses (a, a_f, a_s, a_fs), > 0.
        scar_stiffness: a further multiplier inside the scar region, > 0.
        helix_endo, helix_epi: fibre helix angles [deg] (Bayer et al. 2012).
    """

    name: str
    pressure: float
    stiffness: float = 1.0
    scar_stiffness: float = 1.0
    helix_endo: float = 60.0
    helix_epi: float = -60.0

    def __post_init__(self) -> None:
        for field in ("pressure", "stiffness", "scar_stiffness"):
            value = getattr(self, field)
            if not (np.isfinite(value) and value > 0):
                unit = " kPa" if field == "pressure" else ""
                raise ParameterError(f"what-if {self.name!r}: {field}={value!r}{unit} must be > 0")
        for field in ("helix_endo", "helix_epi"):
            value = getattr(self, field)
            if not (np.isfinite(value) and -90 <= value <= 90):
                raise ParameterError(
                    f"what-if {self.name!r}: {field}={value!r} deg must lie in [-90, 90] deg"
                )


#: Columns of a what-if table (the fields of :class:`WhatIf`).
_COLUMNS = ("name", "pressure", "stiffness", "scar_stiffness", "helix_endo", "helix_epi")


def _header(cell: str) -> tuple[str, str | None]:
    """``"pressure [mmHg]"`` -> ``("pressure", "mmHg")``."""
    text = cell.strip()
    if text.endswith("]") and "[" in text:
        name, unit = text[:-1].split("[", 1)
        return name.strip(), unit.strip()
    return text, None


def read_whatifs(path: str | Path) -> list[WhatIf]:
    """Read a what-if table (CSV with a header row; see the module docstring).

    Columns: ``name`` and ``pressure [unit]`` (kPa, mmHg, ...) are required;
    ``stiffness``, ``scar_stiffness`` (multipliers), ``helix_endo [deg]``
    and ``helix_epi [deg]`` are optional (defaults 1, 1, 60, -60).

    Raises:
        ParameterError: naming the file (its base name only), the row and the
            column of a missing column, a bad number or unit, a duplicate name.
    """
    path = Path(path)
    label = path.name
    try:
        with path.open(newline="") as handle:
            rows = [r for r in csv.reader(handle) if any(c.strip() for c in r)]
    except OSError as error:
        raise ParameterError(f"what-if table {label}: cannot read it ({error.strerror})") from None
    if len(rows) < 2:
        raise ParameterError(f"what-if table {label}: needs a header row and at least one scenario")
    header = [_header(c) for c in rows[0]]
    names = [h[0] for h in header]
    unknown = [n for n in names if n not in _COLUMNS]
    if unknown:
        raise ParameterError(
            f"what-if table {label}: unknown column(s) {unknown}; expected {list(_COLUMNS)}"
        )
    for required in ("name", "pressure"):
        if required not in names:
            raise ParameterError(f"what-if table {label}: no {required!r} column")
    units = dict(header)
    if units["pressure"] is None:
        raise ParameterError(
            f"what-if table {label}: the pressure column needs its unit, e.g. 'pressure [mmHg]'"
        )
    for angle in ("helix_endo", "helix_epi"):
        if angle in units and units[angle] not in (None, "deg"):
            raise ParameterError(f"what-if table {label}: {angle} is in degrees: '{angle} [deg]'")
    out: list[WhatIf] = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(names):
            raise ParameterError(
                f"what-if table {label}, row {line}: {len(row)} values for {len(names)} columns"
            )
        values: dict = {}
        for (column, unit), cell in zip(header, row, strict=True):
            cell = cell.strip()
            if column == "name":
                values["name"] = cell or f"scenario {line - 1}"
                continue
            try:
                if column == "pressure":
                    values["pressure"] = to_kpa(f"{cell} {unit}")
                else:
                    values[column] = float(cell)
            except (ParameterError, ValueError):
                raise ParameterError(
                    f"what-if table {label}, row {line}, column {column!r}: {cell!r} is not a "
                    f"number{' in ' + unit if unit else ''}"
                ) from None
        out.append(WhatIf(**values))
    seen: set[str] = set()
    for w in out:
        if w.name in seen:
            raise ParameterError(f"what-if table {label}: the name {w.name!r} appears twice")
        seen.add(w.name)
    return out


@dataclasses.dataclass(frozen=True)
class WhatIfResults:
    """The outputs of a what-if batch.

    Attributes:
        whatifs: the scenarios.
        pressures: cavity pressures along each inflation [kPa], (N, K).
        volumes: cavity volumes at those pressures [mL], (N, K).
        unloaded_volume: the cavity volume of the mesh [mL].
        apex_shift: long-axis displacement of the epicardial apex at end-
            diastole [mm], positive towards the base, (N,).
        fibre_stretch: volume-weighted mean fibre stretch at end-diastole (N,).
        iterations: Newton iterations per scenario (N,).
        errors: per scenario, None or why its solve failed (its figures are NaN).
        seconds: wall time of the batch [s].
        unknowns: displacement unknowns of the mesh.
    """

    whatifs: tuple[WhatIf, ...]
    pressures: np.ndarray
    volumes: np.ndarray
    unloaded_volume: float
    apex_shift: np.ndarray
    fibre_stretch: np.ndarray
    iterations: np.ndarray
    seconds: float
    unknowns: int
    errors: tuple = ()

    def rows(self) -> list[dict]:
        """One dict per scenario, keys with their units (for CSV and printing)."""
        out = []
        for i, w in enumerate(self.whatifs):
            p, v = self.pressures[i], self.volumes[i]
            # Compliance at end-diastole: the slope of the last segment.
            compliance = (v[-1] - v[-2]) / ((p[-1] - p[-2]) / MMHG_IN_KPA) if len(v) > 1 else float("nan")
            out.append({
                "name": w.name,
                "EDP_mmHg": float(p[-1] / MMHG_IN_KPA),
                "stiffness": float(w.stiffness),
                "scar_stiffness": float(w.scar_stiffness),
                "helix_endo_deg": float(w.helix_endo),
                "helix_epi_deg": float(w.helix_epi),
                "EDV_mL": float(v[-1]),
                "filling_mL": float(v[-1] - self.unloaded_volume),
                "ED_compliance_mL_per_mmHg": float(compliance),
                "apex_shift_mm": float(self.apex_shift[i]),
                "mean_fibre_stretch": float(self.fibre_stretch[i]),
                "newton_iterations": int(self.iterations[i]),
                "status": "solved" if not self.errors or self.errors[i] is None else "failed",
            })  # fmt: skip
        return out


def lv_problem(mesh: MeshData, *, degree: int = 2) -> Problem:
    """The LV problem of a what-if batch: base held, pressure on ``endo``,
    the cavity closed by the base plane (``MeshData.plane_of("base")``)."""
    plane, _ = mesh.plane_of("base")
    space = Space.from_meshdata(mesh, degree)
    cavity = Cavity("endo", axis=tuple(plane.normal), base_point=tuple(plane.point))
    return Problem(space, fixed=[Fixed("base")], pressure="endo", cavity=cavity)


def run_whatifs(
    mesh: MeshData,
    whatifs: Sequence[WhatIf],
    *,
    law: Law | None = None,
    fibres: Callable[[float, float], np.ndarray] | None = None,
    scar: np.ndarray | None = None,
    degree: int = 2,
    levels: int = 6,
    steps: int = 8,
    solver: Solver | None = None,
) -> WhatIfResults:
    """Inflate the LV of ``mesh`` once per what-if, all in one batch.

    Args:
        mesh: an LV with facet tags ``endo``, ``epi`` and ``base``, in its
            unloaded configuration.
        whatifs: the scenarios.
        law: the passive law (default :func:`default_law`); the multipliers
            scale its parameters named in :data:`STIFFNESSES`.
        fibres: ``fibres(helix_endo, helix_epi)`` -> per-cell bases (m, 3, 3)
            (e.g. ``ldrb_fibres`` with those angles); None keeps the mesh's
            fibres (then every what-if must have the default angles).
        scar: cells of the scar region, boolean (m,); None: no scar (then
            every ``scar_stiffness`` must be 1).
        degree: displacement degree (1 or 2).
        levels: pressures recorded along each inflation (the curve).
        steps: nominal load increments.
        solver: a :class:`Solver` to reuse (its problem from :func:`lv_problem`).

    Raises:
        ParameterError: no what-ifs, a scar stiffness without a scar region,
            helix angles without a fibre rule, or a law without the stiffnesses.
    """
    whatifs = tuple(whatifs)
    if not whatifs:
        raise ParameterError("run_whatifs: no what-if scenarios")
    if (solver.problem.space.degree if solver else degree) == 1:
        log.warning(
            "what-if on P1 tetrahedra: with a nearly incompressible wall they lock (the adult "
            "LV at 18 mm filled 8.6 mL at 12 mmHg on P1 against 47.5 mL on P2); prefer degree 2"
        )
    law = default_law() if law is None else law
    solver = solver or Solver(lv_problem(mesh, degree=degree))
    problem = solver.problem
    m = problem.space.num_cells
    if scar is None and any(w.scar_stiffness != 1.0 for w in whatifs):
        raise ParameterError("run_whatifs: a scar_stiffness other than 1 needs a scar region")
    if fibres is None and any((w.helix_endo, w.helix_epi) != (60.0, -60.0) for w in whatifs):
        raise ParameterError(
            "run_whatifs: helix angles other than the mesh's need a fibre rule (fibres=...)"
        )
    if scar is not None:
        scar = np.asarray(scar, dtype=bool)
        if scar.shape != (m,):
            raise ParameterError(f"run_whatifs: scar has shape {scar.shape}; expected ({m},), one per cell")
    base = {name: getattr(t, name) for t in _terms(law) for name in STIFFNESSES if hasattr(t, name)}
    if not base:
        raise ParameterError(f"run_whatifs: the law {law.name} has none of the stiffnesses {STIFFNESSES}")
    bases: dict = {}
    scenarios = []
    for w in whatifs:
        factor = w.stiffness if scar is None else w.stiffness * np.where(scar, w.scar_stiffness, 1.0)
        scaled = with_parameters(law, **{n: v * factor for n, v in base.items()})
        if fibres is not None:
            key = (w.helix_endo, w.helix_epi)
            if key not in bases:
                bases[key] = np.asarray(fibres(*key), dtype=np.float64)
            scenarios.append(Scenario(scaled, pressure=w.pressure, fibres=bases[key]))
        else:
            scenarios.append(Scenario(scaled, pressure=w.pressure))
    fractions = np.arange(1, levels + 1) / levels
    start = time.perf_counter()
    result = solver.solve(scenarios, levels=fractions, steps=steps, strict=False)
    seconds = time.perf_counter() - start
    volumes = solver.volumes(result) / 1e3
    pressures = np.array([w.pressure for w in whatifs])[:, None] * fractions[None, :]
    # The apex: the epicardial vertex farthest from the base plane.
    plane, _ = mesh.plane_of("base")
    epi = np.unique(problem.space.facet_vertices("epi"))
    apex = epi[np.argmax((mesh.points[epi] - plane.point) @ -np.asarray(plane.normal))]
    shift = solver.probe(result, mesh.points[apex][None])[:, -1, 0] @ np.asarray(plane.normal)
    stretch = _fibre_stretch(solver, result, scenarios)
    return WhatIfResults(
        whatifs=whatifs,
        pressures=pressures,
        volumes=volumes,
        unloaded_volume=solver.reference_volume() / 1e3,
        apex_shift=shift,
        fibre_stretch=stretch,
        iterations=result.iterations,
        seconds=seconds,
        unknowns=problem.num_free,
        errors=result.errors,
    )


def _fibre_stretch(solver: Solver, result, scenarios) -> np.ndarray:
    """Volume-weighted mean of ``|F f0|`` at end-diastole per scenario."""
    problem = solver.problem
    out = []
    with jax.enable_x64(True):
        for i, s in enumerate(scenarios):
            R = solver.data["fibres"] if s.fibres is None else jnp.asarray(s.fibres)
            out.append(float(problem.fibre_stretch(solver.data, jnp.asarray(result.u[i, -1]), R)))
    return np.array(out)


def _terms(law: Law):
    terms = getattr(law, "terms", None)
    if terms is None:
        return (law,)
    return tuple(t for term in terms for t in _terms(term))
