"""The beating LV: 3D-0D coupling (organfem.mechanics.Circulation) and the
heart-cycle scenario (solvers/heart_cycle.py).

The coupling is checked on its own equations: every converged step's 0D
state is one implicit step of the loop with the LV pressure the mechanics
found, the FE cavity holds the 0D LV volume, blood is conserved, the
isovolumic phases keep the volume, and a rollback or restart continues
exactly.  The scenario is checked for reaching a periodic state, its
periodic beat against physiological ranges (the issue's: EF 55-75 %, peak
LV pressure 100-140 mmHg, EDP 4-12 mmHg, SV 60-110 mL, EDV 100-190 mL),
and for the same answer under ``mpirun -n 2`` as in serial.  Runs are coarse (h = 12-14 mm,
dt = 10 ms) to keep the suite short; benchmarks/heart_cycle.py measures
the default sizes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import organfem.circulation as circ
from organfem.errors import ParameterError
from organfem.fibres import land2015_fibres
from organfem.materials import ActiveStress, BestelActiveTension, HolzapfelOgden, VolumetricPenalty
from organfem.mechanics import (
    Chamber,
    Circulation,
    Domain,
    GeneralisedAlpha,
    HyperelasticProblem,
    Inertia,
    Material,
    Model,
    Spring,
    ViscousDamping,
    cavity_volume,
    simulate,
)
from organfem.meshing import lv_ellipsoid
from organfem.units import MMHG_IN_KPA as MMHG

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "solvers" / "heart_cycle.py"
GEOMETRY = dict(r_short_endo=24.0, r_long_endo=70.0, r_short_epi=34.0, r_long_epi=80.0, z_base=10.0)
COARSE = ["--mesh-size", "12 mm", "--dt", "10 ms", "--no-render"]
BEATS = 4  # the serial run's beats: the fourth is periodic (see test_the_beats_reach_a_periodic_state)


# --- the coupling's own equations ---------------------------------------------


@pytest.fixture(scope="module")
def coupled():
    """An adult-sized LV (h = 14 mm) coupled to the closed loop, from the end of
    diastole (t = 0.7 s) through isovolumic contraction and into ejection."""
    domain = Domain.from_meshdata(lv_ellipsoid(h=14.0, **GEOMETRY))
    fibres = partial(land2015_fibres, alpha_endo=-60.0, alpha_epi=60.0, t_tol=0.5,
                     endo=(24.0, 70.0), epi=(34.0, 80.0))  # fmt: skip
    law = HolzapfelOgden.holzapfel_ogden_2009() + VolumetricPenalty.arostica_2025() + ActiveStress(Ta=0.0)
    active = BestelActiveTension(sigma0=140.0, alpha_max=5.0, alpha_min=-30.0, t_sys=0.03, t_dias=0.35,
                                 gamma=0.005, period=0.8)  # fmt: skip
    loop = circ.ClosedLoop.regazzoni_2022()
    term = Circulation(loop, {"LV": Chamber("endo", axis=(0, 0, 1), base_point=(0, 0, 10.0))})
    model = Model(
        Material(law, fibres=fibres, internal=active),
        Inertia(1e-6),
        ViscousDamping(0.1),
        Spring("base", stiffness=100.0, normal_only=True),
        Spring("base", stiffness=0.1, damping=5e-3),
        Spring("epi", stiffness=0.1, damping=5e-3, normal_only=True),
        term,
    )
    problem = HyperelasticProblem(domain, model, integrator=GeneralisedAlpha(rho_inf=0.5),
                                  petsc_options_prefix="test_heart_coupled_")
    problem.initial_conditions(time=0.7)
    coupling = problem.term_output(term)
    records = [(problem.time, problem.scalars(), problem.state)]
    simulate(problem, 0.95, 0.01,
             on_step=lambda step: records.append((step.time, problem.scalars(), problem.state)))
    yield problem, coupling, loop, records
    problem.close()


def test_each_step_is_the_0d_step_at_the_lv_pressure_found(coupled):
    problem, coupling, loop, records = coupled
    # y_{n+1} = implicit_step(loop with p_LV given, y_n): recomputed here from
    # the recorded states, to the 0D Newton tolerance (1e-10 relative).
    with jax.enable_x64(True):
        for (t0, s0, _), (t1, s1, _) in zip(records, records[1:]):
            y0 = jnp.asarray([s0[f"circulation_{n}_{_unit(n)}"] for n in circ.STATE_NAMES])
            given = loop.with_chamber("LV", circ.PrescribedPressure(p=s1["LV_pressure_kPa"]))
            y1, converged = circ.implicit_step(given, y0, t0, t1 - t0)
            assert bool(converged)
            expected = np.array([s1[f"circulation_{n}_{_unit(n)}"] for n in circ.STATE_NAMES])
            scale = np.array([1e3] * 4 + [MMHG] * 4 + [1e3] * 4)  # 1 mL, 1 mmHg, 1 mL/s
            assert np.all(np.abs(np.asarray(y1) - expected) <= 1e-9 * (np.abs(expected) + scale))


def _unit(name: str) -> str:
    return circ.STATE_UNITS[name[0]].replace("^", "").replace("/", "_per_")


def test_cavity_holds_the_0d_volume_and_blood_is_conserved(coupled):
    problem, _, _, records = coupled
    blood = np.array([s["blood_volume_mm3"] for _, s, _ in records])
    for _, s, _ in records:
        # The volume row of Newton's system; SNES stops at a residual norm
        # below 1e-8 of the first (solver presets), so within 1e-6 mm^3 here.
        assert s["LV_volume_mm3"] == pytest.approx(s["circulation_V_LV_mm3"], abs=1e-6)
    # Every flow leaves one compartment and enters another in the same
    # implicit step: the total is constant to round-off (3 L, 1e-12 relative).
    assert np.ptp(blood) <= 1e-12 * blood[0] + 1e-6


def test_the_run_contracts_isovolumically_then_ejects(coupled):
    _, _, _, records = coupled
    t = np.array([r[0] for r in records])
    s = {k: np.array([r[1][k] for r in records]) for k in records[-1][1]}
    q_mv, q_av = s["circulation_Q_MV_mm3_per_s"], s["circulation_Q_AV_mm3_per_s"]
    closed = (q_mv <= 1.0) & (q_av <= 1.0)  # both valves shut (leak < 1 mm^3/s)
    assert closed.any() and (q_av > 1e4).any()  # an isovolumic phase, then ejection (> 10 mL/s)
    first, last = np.flatnonzero(closed)[[0, -1]]
    assert closed[first : last + 1].all() and last < len(t) - 1  # one phase, then the valve opens
    v = s["LV_volume_mm3"][first : last + 1]
    # While both valves are shut the volume changes only by the leak through
    # R_max (1e4 mmHg s/mL): below 1e-3 mL over the phase.
    assert np.ptp(v) < 1.0
    p = s["LV_pressure_kPa"][first : last + 1]
    assert np.all(np.diff(p) > 0)  # the pressure rises monotonically: no chatter
    opened = np.flatnonzero(q_av > 1.0)  # forward flow through the aortic valve
    assert opened[0] == last + 1 and np.all(np.diff(opened) == 1)  # it opens once and stays open
    assert s["LV_pressure_kPa"][opened[0]] >= s["circulation_p_AR_SYS_kPa"][opened[0]]


def test_rollback_and_restore_continue_exactly(coupled):
    problem, coupling, _, records = coupled
    t_mid, _, state = records[len(records) // 2]
    later = [(t, s) for t, s, _ in records if t > t_mid][:3]
    problem.restore(state)
    again = []
    simulate(problem, later[-1][0], 0.01, on_step=lambda step: again.append((step.time, problem.scalars())))
    for (t1, s1), (t2, s2) in zip(later, again, strict=True):
        assert t2 == pytest.approx(t1, abs=1e-12)
        for key in ("LV_pressure_kPa", "LV_volume_mm3", "circulation_p_AR_SYS_kPa", "circulation_V_LA_mm3"):
            assert s2[key] == pytest.approx(s1[key], rel=1e-10, abs=1e-10), key
    np.testing.assert_array_equal(coupling.arrays()["y"], problem.state.internal[
        next(k for k in problem.state.internal if k.endswith("_y"))])


def test_the_reference_volume_replaces_the_0d_lv_volume(coupled):
    problem, _, _, records = coupled
    reference = cavity_volume(problem.domain, None, "endo", axis=(0, 0, 1), base_point=(0, 0, 10.0))
    assert records[0][1]["circulation_V_LV_mm3"] == pytest.approx(reference, rel=1e-12)
    assert 95e3 < reference < 110e3  # the adult-sized cavity: about 102 mL unloaded


def test_two_coupled_chambers_get_their_cross_derivatives():
    # LV and RV both finite-element chambers (a biventricular mesh): the
    # targets of one step are the 0D step's two volumes, and the Jacobian block
    # is their 2 x 2 derivative by both pressures, including the coupling
    # through the loop (an RV pressure moves the LV volume only through the
    # circulation: small, not zero).  Against central differences of the
    # public implicit_step with both pressures prescribed, h = 1e-4 kPa: the
    # error is O(h^2) times the third derivative, far below the 1e-6 asserted.
    from organfem.mechanics.circulation import _chamber_step

    loop = circ.ClosedLoop.regazzoni_2022()
    with jax.enable_x64(True):
        y = circ.initial_state(V_LV=130e3, V_RV=140e3)
        t, dt = 0.85, 0.005
        p = jnp.asarray([12.0, 2.5])  # kPa: LV above the aorta's 10.7 (ejecting), RV below the PA's 4.7

        def volumes(p):
            model = loop.with_chamber("LV", circ.PrescribedPressure(p=p[0]))
            model = model.with_chamber("RV", circ.PrescribedPressure(p=p[1]))
            y1, _ = circ.implicit_step(model, y, t, dt)
            return np.asarray(y1[jnp.asarray([1, 3])])

        values, slope, _, converged = _chamber_step(loop, y, t, dt, p, names=("LV", "RV"))
        assert bool(converged)
        slope = np.asarray(slope)
        np.testing.assert_allclose(np.asarray(values), volumes(p), rtol=1e-14)
        h = 1e-4
        numeric = np.stack([(volumes(p + h * e) - volumes(p - h * e)) / (2 * h) for e in np.eye(2)], axis=1)
    np.testing.assert_allclose(slope, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())
    assert slope[0, 0] < -1e3  # the open aortic valve: mm^3 per kPa over the step
    assert slope[0, 1] != 0.0


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(chambers={}), "at least one chamber"),
        (dict(chambers={"AO": Chamber("endo")}), "unknown chamber 'AO'"),
        (dict(chambers={"LV": "endo"}), "must be a Chamber"),
        (dict(chambers={"LV": Chamber("endo")}, initial=np.zeros(3)), "12 finite states"),
    ],
)
def test_bad_couplings_are_refused(kwargs, words):
    with pytest.raises(ParameterError, match=words):
        Circulation(circ.ClosedLoop.regazzoni_2022(), **kwargs)


# --- the scenario ---------------------------------------------------------------


def _run_scenario(out: Path, *, ranks: int = 1, beats: int = 1) -> list[dict]:
    command = [sys.executable, str(SCENARIO), "--out", str(out), *COARSE, "--beats", str(beats)]
    if ranks > 1:
        beside = Path(sys.executable).parent / "mpiexec"
        mpiexec = str(beside) if beside.exists() else shutil.which("mpiexec")
        if mpiexec is None:
            pytest.skip("no mpiexec found")
        command = [mpiexec, "-n", str(ranks), *command]
    run = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                         text=True, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads((out / "beats.json").read_text())["beats"]


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    """The scenario through BEATS beats at the coarse size: (beats.json rows, folder)."""
    out = tmp_path_factory.mktemp("heart_cycle_serial")
    return _run_scenario(out, beats=BEATS), out


@pytest.fixture(scope="module")
def serial_beat(serial_run):
    """The last, periodic beat."""
    return serial_run[0][-1]


def test_the_beats_reach_a_periodic_state(serial_run):
    # From rest the arteries and veins fill over the first beats (the systemic
    # venous compliance, 60 mL/mmHg, equilibrates slowly): measured at this
    # size, peak LV pressure 110.5, 118.5, 121.6, 122.9 mmHg and EDV 129.6,
    # 128.4, 128.0, 127.9 mL over beats 1-4, 123.4 / 127.9 at beat 5.  The
    # changes shrink beat by beat, and the fourth differs from the third by
    # under 1.5 mmHg and 0.2 mL.
    beats = serial_run[0]
    assert [b["beat"] for b in beats] == list(range(1, BEATS + 1))
    peak = np.array([b["peak_lv_mmHg"] for b in beats])
    edv = np.array([b["EDV_mL"] for b in beats])
    assert np.all(np.abs(np.diff(peak))[1:] < np.abs(np.diff(peak))[:-1])
    assert abs(peak[-1] - peak[-2]) < 1.5 and abs(edv[-1] - edv[-2]) < 0.2


def test_a_healthy_beat_lands_in_physiological_ranges(serial_beat):
    beat = serial_beat
    assert 100 <= beat["EDV_mL"] <= 190
    assert 0.55 <= beat["EF"] <= 0.75
    assert 100 <= beat["peak_lv_mmHg"] <= 140
    assert 4 <= beat["edp_mmHg"] <= 12
    assert 60 <= beat["SV_mL"] <= 110
    # The coupled loop conserves blood (see the coupling tests): 3 L to 1e-9 mL.
    assert beat["blood_volume_drift_mL"] < 1e-6
    # The fibres shorten in systole and the wall thickens (in vivo about 15-20 %
    # fibre shortening and 30-60 % wall thickening).
    assert 0.75 < beat["fibre_stretch_ES_over_ED"] < 0.95
    assert 0.15 < beat["wall_thickening"] < 0.6


def test_a_mesh_imaged_under_pressure_is_unloaded_then_beats(tmp_path):
    # A user's label map (the phantom LV, cavity 98 mL, in MM-WHS codes) meshed
    # by `organfem mesh`, said to be imaged at 8 mmHg: the scenario unloads it
    # first (organfem.mechanics.unload) and beats from the unloaded reference,
    # which it keeps with its checkpoint for a resumed run.
    from organfem.cli import main
    from organfem.imaging import write_image
    from organfem.imaging.phantoms import lv_phantom

    phantom = lv_phantom((72, 72, 72), spacing=(1.9, 1.7, 2.1))
    labels = tmp_path / "DOE_JANE_labels.nii.gz"  # a patient-named file: never in outputs
    write_image(phantom.image, labels)
    assert main(["mesh", str(labels), "--labels", "mmwhs", "--size", "10 mm",
                 "--out", str(tmp_path / "DOE_JANE_lv.h5")]) == 0  # fmt: skip
    out = tmp_path / "run"
    command = [sys.executable, str(SCENARIO), "--mesh", str(tmp_path / "DOE_JANE_lv.h5"),
               "--mesh-pressure", "8 mmHg", "--out", str(out), *COARSE, "--beats", "1"]  # fmt: skip
    run = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                         text=True, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    found = re.search(r"unloaded: cavity ([\d.]+) mL \(imaged ([\d.]+) mL at 8.0 mmHg\) after (\d+) "
                      r"inflations; .* within ([\d.e-]+) mm", run.stdout)  # fmt: skip
    assert found, run.stdout[-3000:]
    unloaded, imaged, error = float(found[1]), float(found[2]), float(found[4])
    assert error <= 0.05  # the scenario's tolerance on the re-inflated points [mm]
    assert imaged == pytest.approx(phantom.cavity_volume / 1e3, rel=0.05)  # meshed at 10 mm
    assert unloaded < 0.9 * imaged  # 8 mmHg fills a soft wall by far more than 10 %
    beat = json.loads((out / "beats.json").read_text())["beats"][-1]
    # The passive relation is monotonic: the end-diastolic volume lies above the
    # imaged one exactly when the end-diastolic pressure lies above 8 mmHg.
    assert (beat["EDV_mL"] > imaged) == (beat["edp_mmHg"] > 8.0)
    assert 0.4 < beat["EF"] < 0.8 and beat["blood_volume_drift_mL"] < 1e-6
    # Run again: the run is complete, so it resumes at its end, from the
    # unloaded reference it kept, and its figures stay as they were.
    again = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                           text=True, timeout=900)  # fmt: skip
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "unloaded reference: the one this run computed before" in again.stdout
    assert json.loads((out / "beats.json").read_text())["beats"][-1] == beat
    text = run.stdout + run.stderr + again.stdout + again.stderr + (out / "beats.json").read_text()
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".vtkhdf", ".h5"):
            text += path.read_bytes().decode("latin-1")
    assert "DOE" not in text and "JANE" not in text


@pytest.mark.mpi
def test_the_scenario_under_mpirun_gives_the_serial_answer(serial_run, tmp_path):
    # One beat on two ranks against the first beat of the serial run (the same
    # steps: the later beats do not change the earlier ones).
    (parallel,) = _run_scenario(tmp_path / "mpi", ranks=2)
    for key, value in serial_run[0][0].items():
        # The same discrete problem: to the Newton tolerance (measured below 1e-9).
        assert parallel[key] == pytest.approx(value, rel=1e-6, abs=1e-8), key


def test_the_report_shows_the_last_beat(serial_run):
    # The report's figures and PV loop are of the steps of the last beat
    # (ReportSpec figures and plots with ``since``), as beats.json.
    from organfem.io import read_results
    from organfem.report import report_content

    beats, out = serial_run
    beat = beats[-1]
    content = report_content(out / "heart_cycle.vtkhdf")
    figures = {label: float(value) for label, value, _ in content.figures}
    assert figures["end-diastolic volume"] == pytest.approx(beat["EDV_mL"], rel=1e-3)
    assert figures["end-systolic volume"] == pytest.approx(beat["ESV_mL"], rel=1e-3)
    assert figures["peak LV pressure"] == pytest.approx(beat["peak_lv_mmHg"], rel=1e-3)
    times = np.asarray(read_results(out / "heart_cycle.vtkhdf").times)
    loop = next(p for p in content.plots if p.title.startswith("pressure-volume loop"))
    assert len(loop.x) == np.count_nonzero(times >= BEATS * 0.8 - 1e-9) < len(times)
    whole = next(p for p in content.plots if p.title == "LV volume")
    assert len(whole.x) == len(times)


def test_scenario_help_and_bad_options(capsys):
    from organfem.cli import main

    with pytest.raises(SystemExit) as done:
        main(["run", "heart-cycle", "--help"])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "usage: organfem run heart-cycle" in out
    for option in ("--mesh FILE", "--mesh-pressure", "--beats", "--dt", "--contractility", "--restart",
                   "(default: 140 kPa)", "(default: 5 ms)", "(default: 5)"):  # fmt: skip
        assert option in out, option
    for argv, words in ((["--beats", "0"], "give at least 1 beat"),
                        (["--mesh-pressure", "8 mmHg"], "with --mesh")):  # fmt: skip
        with pytest.raises(SystemExit):
            main(["run", "heart-cycle", *argv])
        assert words in capsys.readouterr().err
