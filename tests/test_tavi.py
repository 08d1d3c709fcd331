"""TAVI deployments in the parametric adult root: what a clinician expects.

The closed forms of the device mechanics (a rigid frame is the growing
cylinder of the thick-tube closed form; a self-expanding frame stops where
the tube's resistance meets its radial-force law) are in test_contact.py;
the metrics' closed forms in test_tavi_metrics.py.  Here the whole pipeline
runs on the adult root (annulus 26.3 x 23.5 mm, Tops et al. 2008) at a
coarse h = 4 mm (P2, about 10k unknowns) in 6 expansion steps, and checks:

1. symmetry: a self-expanding frame centred in a circular root presses
   uniformly around the circumference and stays round;
2. monotonicity: a deeper implant raises the CPI, a larger device the
   contact pressure on the septal band (its CPI saturates once the band it
   covers is all in contact); more oversizing shrinks the leak channels; a calcium nodule raises the wall
   stress near the annulus and opens a channel beside it;
3. the command line, serial and under mpirun (the communicator split into
   one group per rank gives the serial answers), leaks no file name.

Each deployment is solved once for the module (they are the costly part).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from organfem._dolfinx import MPI
from organfem.devices import Placement, device
from organfem.io import read_results
from organfem.meshing import AorticRootGeometry, CalciumNodule, aortic_root, root_landmarks
from organfem.tavi import Outcome, deploy, rank, scenarios

H = 4.0  # mm
STEPS = 6
COMM = MPI.COMM_WORLD
pytestmark = pytest.mark.skipif(COMM.size > 1, reason="serial deployments; MPI is run in a subprocess")

# A nodule at the L-N commissure (270 deg), on the annulus, where the short
# axis of the oval annulus meets the frame first.
NODULE = CalciumNodule(angle_deg=270.0, height_mm=0.0, radius_mm=3.0, protrusion_mm=1.5)

_DONE: dict = {}


def _deployed(name: str, depth: float, *, calcium=(), circular: bool = False, results=None):
    key = (name, depth, tuple(calcium), circular)
    if key not in _DONE:
        geometry = AorticRootGeometry.circular(diameter=24.0) if circular else AorticRootGeometry()
        mesh = aortic_root(geometry, h=H, calcium=calcium)
        prefix = f"tavi_test_{len(_DONE)}_"
        _DONE[key] = deploy(mesh, device(name), Placement(depth), steps=STEPS, results=results, prefix=prefix)
    return _DONE[key]


def test_self_expanding_frame_in_a_circular_root_is_symmetric(tmp_path):
    # EV-26 (inflow 26 mm) in a 24 mm circular root: the frame is held by
    # the wall all round, so it takes the lumen's (round) shape and presses
    # with its radial-force law at one compression everywhere.  The mesh has
    # the root's 36-fold rotational pattern but is not exactly symmetric
    # (the Kuhn split of each hexahedron, the tags).  The sections cut the
    # lumen's P2 facets split into 4 flat triangles: 36 chords round a 12 mm
    # radius, whose sag R (1 - cos(pi/36)) = 0.046 mm on each side lets
    # Dmax - Dmin reach 0.09 mm for a round lumen; measured 0.085 mm
    # (eccentricity 0.0035, against ~0.1 for the oval annulus).
    path = tmp_path / "ev26.vtkhdf"
    d = _deployed("EV-26", 4.0, circular=True, results=path)
    inflow = d.frame["inflow"]
    assert inflow.d_max_mm - inflow.d_min_mm < 2 * 2 * 12.0 * (1 - math.cos(math.pi / 36)) + 0.01
    assert 24.0 < inflow.d_min_mm < 26.0  # opened the root, held back by it
    grid = read_results(path).mesh(-1)
    X = np.asarray(grid.points)  # the reference mesh; the displacement is a field on it
    p = np.asarray(grid.point_data["contact_pressure"])
    level = -4.0 + device("EV-26").skirt_height / 2  # the ring of grid nodes nearest it
    z_ring = X[np.argmin(np.abs(X[:, 2] - level)), 2]
    ring = (np.abs(X[:, 2] - z_ring) < 1e-6) & (np.abs(np.hypot(X[:, 0], X[:, 1]) - 12.0) < 1e-6)
    assert ring.sum() >= 18  # one vertex per angular cell (18 at h = 4 mm)
    assert p[ring].min() > 0
    assert p[ring].max() / p[ring].min() - 1 < 0.01
    # The pressure is the law's at the frame's compression there.
    D = inflow.d_min_mm
    assert d.radial_force["diameter_mm"] == pytest.approx(D, abs=0.05)


def test_deeper_implant_raises_cpi():
    # The septal band runs 10 mm down from the annulus below the N-R
    # commissure; a frame set deeper covers more of it.  Measured (h = 4):
    # CPI 8 % at 2 mm, 15 % at 6 mm.
    shallow, deep = _deployed("S3-26", 2.0), _deployed("S3-26", 6.0)
    assert deep.contact.cpi > shallow.contact.cpi > 0


def test_larger_device_presses_harder_and_oversizing_closes_leak_channels():
    # S3-23 is smaller than this annulus (perimeter diameter 24.9 mm): it
    # touches nothing (no anchoring) and leaves the whole gap open; S3-26
    # seals but for gaps where the frame meets the oval's long axis; S3-29
    # (16 % oversized) seals all round and presses harder on the band.
    small, medium, large = (_deployed(n, 6.0) for n in ("S3-23", "S3-26", "S3-29"))
    # The CPI saturates once all of the band the frame covers is in contact
    # (measured at h = 3 mm: 57.1 % for S3-26, 56.1 % for S3-29 at 6 mm);
    # the pressure there keeps rising with the size.
    assert large.contact.cpi >= medium.contact.cpi - 0.02
    assert large.contact.peak_kPa > 1.5 * medium.contact.peak_kPa
    assert large.contact.mean_kPa > medium.contact.mean_kPa
    assert small.contact_area == 0 and small.contact.cpi == 0
    assert small.leak_area > medium.leak_area >= large.leak_area
    assert small.leak.grade == "severe"
    # A frame that touches nothing is ruled out, whatever its CPI.
    cases = scenarios([device("S3-23"), device("S3-26")], [6.0])
    ranked = rank([Outcome(case, d) for case, d in zip(cases, (small, medium), strict=True)])
    assert ranked[0].scenario.device.name == "S3-26"
    assert "no anchoring" in ranked[-1].reasons


def test_calcium_nodule_raises_stress_and_opens_a_channel_beside_it():
    # A stiff nodule (12.6 MPa) protruding 1.5 mm into the lumen at the
    # annulus: the frame, free to move sideways on its catheter, is pushed
    # off it (without the nodule it stays put: the root is symmetric about
    # the frame but for the sinuses); the nodule holds the frame off the
    # wall around it (tenting), so the wall stress near the annulus rises,
    # peaking at the nodule, and a leak channel opens beside it.  Angles
    # are reported from the septal band (at ~30 deg), so the nodule's 270
    # deg is at ~240 deg.  Measured (h = 4 mm): offset 0.008 -> 1.84 mm;
    # annulus peak 26 -> 93 kPa, 1.1 mm from calcium; channels at 333 and
    # 152 deg (the oval's long axis), then one of 2.2 mm^2 at 234 deg, 62
    # deg wide.
    base = _deployed("S3-26", 6.0)
    calcified = _deployed("S3-26", 6.0, calcium=(NODULE,))
    assert base.offset < 0.1 < 0.5 < calcified.offset
    assert calcified.annulus_stress.peak_kPa > 2 * base.annulus_stress.peak_kPa
    assert calcified.annulus_stress.distance_to_calcium_mm < NODULE.radius_mm
    lm = root_landmarks(aortic_root(h=H, calcium=(NODULE,)))
    reference = math.degrees(math.atan2(lm.reference[1], lm.reference[0]))
    nodule = (NODULE.angle_deg - reference) % 360

    def near(channels):
        return sum(c.area_mm2 for c in channels if abs((c.angle_deg - nodule + 180) % 360 - 180) < 30)

    assert near(base.channels) == 0
    assert near(calcified.channels) > 1.0


def test_cli_serial_and_mpi_sweeps_agree_and_name_no_file(tmp_path):
    # The root under a patient-like name: no output may carry it.
    mesh = aortic_root(h=H)
    root = tmp_path / "DOE_JOHN_root.h5"
    mesh.save(root)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    command = [sys.executable, "-m", "organfem.cli", "tavi", str(root), "--devices", "S3-23,S3-26",
               "--depths", "2 mm", "--steps", str(STEPS)]
    mpiexec = Path(sys.executable).with_name("mpiexec")
    out = tmp_path / "mpi"
    run = subprocess.run([str(mpiexec), "-n", "2", *command, "--out", str(out)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((out / "tavi_summary.json").read_text())
    by_name = {s["name"]: s for s in summary["scenarios"]}
    for name, depth in (("S3-23", 2.0), ("S3-26", 2.0)):
        serial = _deployed(name, depth)
        parallel = by_name[f"{name}_{depth:g}mm"]
        assert parallel["cpi"] == pytest.approx(serial.contact.cpi, abs=1e-8)
        assert parallel["leak_area_mm2"] == pytest.approx(serial.leak_area, rel=1e-6, abs=1e-9)
        assert parallel["newton_iterations"] == serial.newton_iterations
    assert [s["rank"] for s in summary["scenarios"]] == [1, 2]
    assert summary["scenarios"][0]["device"] == "S3-26"
    for name in ("tavi_table.csv", "tavi_contact.png", "tavi_tradeoffs.png", "S3-26_2mm.vtkhdf"):
        assert (out / name).stat().st_size > 0
    for path in out.iterdir():
        data = path.read_bytes()
        assert b"DOE" not in data and b"JOHN" not in data and str(tmp_path).encode() not in data
    assert "DOE" not in run.stdout + run.stderr
