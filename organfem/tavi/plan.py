"""The outputs of a TAVI what-if sweep: table, summary, renders.

:func:`write_plan` writes, into one folder, for the ranked outcomes of
:func:`organfem.tavi.sweep`:

- ``tavi_table.csv``: one row per scenario, units in the headers, the rank
  and the reasons for it;
- ``tavi_summary.json``: the root's landmarks, every deployment's full
  summary (:meth:`organfem.tavi.Deployment.summary`), the ranking, the
  definitions of the metrics and the provenance (input hashes, never paths);
- ``tavi_contact.png``: contact pressure on the lumen seen from the LVOT, one
  panel per scenario on a shared scale (needs the results files);
- ``tavi_tradeoffs.png``: leak against CPI, and inflow eccentricity.

Everything is written atomically.  Not collective: call on rank 0.
"""

from __future__ import annotations

import csv
import io as text_io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..io import provenance, write_atomically
from ..meshing import RootLandmarks
from .sweep import CORONARY_RISK_MM, CPI_FLAG, Outcome

__all__ = ["write_plan", "DEFINITIONS"]

#: What each metric means, stored with the summary.
DEFINITIONS = {
    "cpi": "contact pressure index: share of the septal band (lumen below the N-R commissure, "
    "where the conduction system runs) in contact with the frame (Rocatello et al. 2018, "
    "Circ Cardiovasc Interv 11:e005344); peak and mean contact pressure there in kPa",
    "eccentricity": "1 - Dmin/Dmax of the frame's inflow section (Dmin, Dmax: diameters "
    "through the frame axis, 1 deg apart)",
    "leak": "orifice model Q = Cd A sqrt(2 dP / rho) over the smallest cross-section of each gap "
    "channel through the sealing skirt; Cd = 0.7, dP = 60 mmHg, diastole 0.5 s; VARC-2 grades "
    "by regurgitant volume per beat",
    "stress": "cell-averaged von Mises stress of the wall within 3 mm of the annulus plane and "
    "in the LVOT below; calcium cells excluded; p99 volume-weighted",
    "coronary": f"shortest distance from each ostium to the frame (risk below {CORONARY_RISK_MM:g} mm), "
    "and the ostium's height above the frame's outflow end",
    "ranking": "options ruled out last (no contact anywhere, moderate or severe leak); then Pareto "
    f"layer on (leak volume, CPI), the number of red flags (CPI above {100 * CPI_FLAG:.0f} %, coronary "
    f"clearance under {CORONARY_RISK_MM:g} mm), and the sum of the two risks each scaled by its range",
}


def write_plan(
    outcomes: Sequence[Outcome],
    out: str | Path,
    *,
    landmarks: RootLandmarks,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, str | Path] | None = None,
    results: Mapping[str, str | Path] | None = None,
) -> dict[str, Path]:
    """Write the table, summary and renders of a sweep to the folder ``out``.

    Args:
        outcomes: ranked outcomes (:func:`organfem.tavi.sweep`).
        out: an existing folder.
        landmarks: the root's (:func:`organfem.meshing.root_landmarks`).
        parameters: the run's options, stored in the provenance.
        inputs: input files by role, hashed.
        results: scenario name -> its ``.vtkhdf`` (for the contact maps); None: no maps.

    Returns:
        What was written, by kind (``"table"``, ``"summary"``, ``"contact"``, ``"tradeoffs"``).
    """
    from ..viz import contact_maps, tradeoffs

    out = Path(out)
    rows = [o.row() for o in outcomes]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buffer = text_io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    text = buffer.getvalue()
    written = {"table": write_atomically(out / "tavi_table.csv", lambda t: t.write_text(text), "TAVI table")}
    summary = {
        "provenance": provenance(parameters, inputs or {}),
        "root": {
            "annulus_centre_mm": landmarks.annulus_centre.tolist(),
            "axis": landmarks.axis.tolist(),
            "annulus_dmin_mm": landmarks.annulus_dmin,
            "annulus_dmax_mm": landmarks.annulus_dmax,
            "annulus_perimeter_diameter_mm": landmarks.annulus_perimeter_diameter,
            "annulus_area_diameter_mm": landmarks.annulus_area_diameter,
            "ostia_mm": {k: v.tolist() for k, v in landmarks.ostia.items()},
        },
        "definitions": DEFINITIONS,
        "scenarios": [
            {"name": o.scenario.name, "rank": o.rank, "reasons": o.reasons, "error": o.error}
            | ({} if o.deployment is None else o.deployment.summary())
            for o in outcomes
        ],
    }
    body = json.dumps(summary, indent=2, allow_nan=False)
    written["summary"] = write_atomically(out / "tavi_summary.json", lambda t: t.write_text(body), "TAVI summary")
    if any(r["status"] == "ok" for r in rows):
        written["tradeoffs"] = tradeoffs(rows, out / "tavi_tradeoffs.png")
    if results:
        done = {f"#{o.rank} {o.scenario.device.name} @ {o.scenario.placement.depth:g} mm": results[o.scenario.name]
                for o in outcomes if o.deployment is not None and o.scenario.name in results}
        if done:
            written["contact"] = contact_maps(done, out / "tavi_contact.png", centre=landmarks.annulus_centre,
                                              axis=landmarks.axis, reference=landmarks.reference)
    return written
