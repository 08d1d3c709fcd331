"""Transcatheter valve planning: three sizes at three implant depths, ranked.

This literate script asks what a TAVI team asks before the procedure, on the
parametric adult aortic root or on a patient's root meshed from CT::

    python solvers/tavi_planning.py --out results/tavi_planning
    mpirun -n 2 python solvers/tavi_planning.py --out results/tavi_planning
    organfem run tavi-planning --devices "S3-23,S3-26,S3-29" --depths "2,4,6 mm"
    organfem run tavi-planning --mesh root.h5   # from `organfem mesh --anatomy aortic-root`
    organfem run tavi-planning --help           # every option, with its default

Each balloon-expandable frame (SAPIEN 3-like, rigid at nominal size) or
self-expanding frame (Evolut-like, pushing with its radial force) is
expanded by contact mechanics in the root at each depth below the annulus,
free to centre itself on its catheter.  For each deployment: the contact
pressure index on the septal band below the N-R commissure (where the
conduction system runs), the frame's shape at inflow, mid-height and
outflow, the gaps between frame and lumen along the sealing skirt with the
leak channels and an orifice estimate of the paravalvular regurgitation,
the wall stress near the annulus and in the LVOT, and the distance of each
coronary ostium from the frame.  It writes to ``--out``:
``tavi_table.csv`` (one row per scenario, ranked, with the reasons),
``tavi_summary.json`` (everything, with the definitions and the run's
provenance: input hashes, never a path), ``tavi_contact.png`` (contact
pressure seen from the LVOT, one panel per scenario), ``tavi_tradeoffs.png``
(leak against CPI; inflow eccentricity) and one ``<scenario>.vtkhdf`` per
deployment (deformation, contact pressure and wall stress at every step).
Under ``mpirun -n N`` N deployments run at once, each on its own rank.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from organfem import units
from organfem._dolfinx import MPI
from organfem.io import input_label
from organfem.mechanics import on_rank0

# 1. The root: the parametric adult root (oval annulus 26.3 x 23.5 mm and
#    coronary ostia 14.4 / 17.2 mm above it, Tops et al. 2008; sinuses, STJ;
#    every dimension cited in organfem/meshing/aortic_root.py), or the
#    user's root mesh with the same tags (lumen, septal_band, ostia, outer,
#    inlet, outlet; cells lvot, aortic_wall, calcium).
from organfem.meshing import CalciumNodule, MeshData, aortic_root, root_landmarks

# 2. The devices and where they go: a catalogue of frames, implant depth
#    below the annulus (and tilt).
from organfem.devices import devices

# 3-5. Deployment (Holzapfel-Gasser-Ogden wall, calcium 12.6 MPa, Robin
#    springs for the surrounding tissue, cut ends held; the frame as a
#    contact obstacle), metrics, and the sweep over split communicators.
from organfem.tavi import scenarios, sweep, write_plan


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="organfem run tavi-planning",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", default="tavi_planning", help="output folder")
    p.add_argument("--mesh", help="a root mesh (.h5) with the aortic-root tags; default: the parametric root")
    p.add_argument("--size", default="3 mm", help="element size of the parametric root")
    p.add_argument("--devices", default="S3-23,S3-26,S3-29", help="comma-separated device names")
    p.add_argument("--depths", default="2,4,6 mm", help="implant depths below the annulus")
    p.add_argument("--calcium", action="append", metavar="ANGLE,HEIGHT",
                   help="parametric root: a calcium nodule at this angle [deg] and height above the "
                   "annulus [mm] (3 mm radius, 1.5 mm into the lumen); repeat for several")
    p.add_argument("--steps", type=int, default=8, help="expansion steps of each deployment")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    comm = MPI.COMM_WORLD
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    out = Path(args.out)
    size = units.length(args.size)
    nodules = []
    for text in args.calcium or ():
        angle, height = (float(v) for v in text.split(","))
        nodules.append(CalciumNodule(angle_deg=angle, height_mm=height))

    # --- 1. the root (rank 0 meshes or reads; errors reach every rank) -------
    def root():
        out.mkdir(parents=True, exist_ok=True)
        if args.mesh:
            return MeshData.load(args.mesh), input_label(args.mesh, "root mesh")
        return aortic_root(h=size, calcium=nodules), f"parametric adult root, h = {size:g} mm"

    mesh, label = on_rank0(comm, root) or (None, None)
    label = comm.bcast(label, root=0)
    say(f"root:   {label}")

    # --- 2. devices x depths -------------------------------------------------
    cases = scenarios(devices(args.devices), units.lengths(args.depths))
    say(f"cases:  {len(cases)} ({args.devices} at {args.depths}) on {comm.size} rank(s)")

    # --- 3-5. deploy every case, gather, rank ---------------------------------
    inputs = {"root": args.mesh} if args.mesh else {}
    outcomes = sweep(mesh, cases, comm=comm, out=out, steps=args.steps, inputs=inputs)

    # --- 6. table, summary, renders (rank 0) -----------------------------------
    if comm.rank == 0:
        parameters = {"devices": args.devices, "depths": args.depths, "steps": args.steps,
                      "root": "user mesh" if args.mesh else label,
                      "calcium": [dataclasses.asdict(n) for n in nodules]}
        written = write_plan(outcomes, out, landmarks=root_landmarks(mesh), parameters=parameters,
                             inputs=inputs, results={c.name: out / f"{c.name}.vtkhdf" for c in cases})
        for o in outcomes:
            row = o.row()
            if o.deployment is None:
                say(f"  --  {o.scenario.name:<12} failed: {o.error}")
            else:
                say(f"  #{o.rank}  {o.scenario.name:<12} CPI {row['cpi_percent']:5.1f} %  leak "
                    f"{row['leak_ml_per_beat']:5.1f} mL/beat ({row['leak_grade']})  {o.reasons}")
        for kind, path in written.items():
            say(f"{kind}: {path}")
    failed = comm.bcast(sum(o.deployment is None for o in outcomes) if comm.rank == 0 else 0, root=0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
