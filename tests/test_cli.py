"""The organfem command and the main scenario (solvers/lv_inflation.py),
serial and under mpirun, plus unit conversion at the boundary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from organfem import units
from organfem.cli import main, scenarios
from organfem.errors import ParameterError
from organfem.io import read_results

REPO = Path(__file__).resolve().parents[1]
COARSE = ["--mesh-size", "4 mm", "--steps", "4"]


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lv")
    assert main(["run", "lv-inflation", "--out", str(out), *COARSE]) == 0
    return out


def test_help_explains_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "organfem.cli", "--help"],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    for word in ("run", "render", "info", "scenario"):
        assert word in result.stdout


def test_scenarios_are_listed(capsys):
    assert "lv-inflation" in scenarios()
    assert main(["run", "--list"]) == 0
    assert "lv-inflation" in capsys.readouterr().out


def test_unknown_scenario_is_a_clear_error(capsys):
    assert main(["run", "no-such-scenario"]) == 2
    assert "unknown scenario 'no-such-scenario'" in capsys.readouterr().err


def test_lv_inflation_writes_results_and_render(serial_run):
    results = read_results(serial_run / "lv_inflation.vtkhdf")
    assert results.times[-1] == pytest.approx(1.0)
    pressure = results.scalars["pressure_kPa"]
    volume = results.scalars["cavity_volume_mm3"]
    assert pressure[-1] == pytest.approx(2.0)
    # Passive inflation: the cavity grows with every pressure increment.
    assert np.all(np.diff(volume) > 0)
    # The reference cavity (truncated ellipsoid 7 x 7 x 17 mm cut at z = 5,
    # V = pi 7^2 (5 + 17 - (5^3 + 17^3) / (3 17^2)) = 2492.1 mm^3) grows at
    # 2 kPa; HO myocardium is stiff in the fibre direction, so by less than 2x.
    assert 2492.1 < volume[-1] < 2 * 2492.1
    assert {"displacement", "fibre_stress"} <= set(results.mesh().array_names)
    assert results.parameters["end_diastolic_pressure_kPa"] == 2.0
    assert (serial_run / "lv_inflation.png").stat().st_size > 10_000


def test_render_and_info_commands(serial_run, capsys):
    png = serial_run / "again.png"
    path = str(serial_run / "lv_inflation.vtkhdf")
    assert main(["render", path, "--out", str(png), "--field", "fibre_stress"]) == 0
    assert png.stat().st_size > 10_000
    assert main(["info", path]) == 0
    assert "cavity_volume_mm3" in capsys.readouterr().out


def test_missing_results_file_is_reported(tmp_path, caplog):
    assert main(["info", str(tmp_path / "missing.vtkhdf")]) == 1
    assert "missing.vtkhdf" in caplog.text


@pytest.mark.mpi
def test_lv_inflation_under_mpirun_matches_serial(serial_run, tmp_path):
    mpiexec = Path(sys.executable).parent / "mpiexec"
    cmd = [str(mpiexec), "-n", "2", sys.executable, str(REPO / "solvers" / "lv_inflation.py"),
           "--out", str(tmp_path), "--no-render", *COARSE]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(cmd, check=True, env=env, timeout=600, capture_output=True)
    serial = read_results(serial_run / "lv_inflation.vtkhdf").scalars["cavity_volume_mm3"]
    parallel = read_results(tmp_path / "lv_inflation.vtkhdf").scalars["cavity_volume_mm3"]
    # The same discrete problem on two partitions: equal to the Newton tolerance.
    np.testing.assert_allclose(parallel, serial, rtol=1e-7)


def _exit_code(argv: list[str]) -> int:
    """main(argv), or the code of the SystemExit that argparse raises for --help."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def test_run_help_without_a_scenario_is_runs_own(capsys):
    assert _exit_code(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: organfem run" in out and "--list" in out


@pytest.mark.parametrize("name", ["lv-inflation", "image-to-lv-inflation"])
def test_scenario_help_prints_its_options_and_defaults(name, capsys):
    assert _exit_code(["run", name, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert f"usage: organfem run {name}" in out
    for option in ("--mesh FILE", "--out", "--pressure", "--steps", "--restart"):
        assert option in out
    assert "(default: 2 kPa)" in out


def test_lv_inflation_refuses_a_mesh_that_is_not_an_lv_mesh(tmp_path, beam_mesh, caplog):
    # Files named after a (fake) patient: the messages name them by hash only.
    beam = beam_mesh.save(tmp_path / "DOE_JOHN_19600101.h5")
    assert main(["run", "lv-inflation", "--mesh", str(beam), "--out", str(tmp_path)]) == 1
    assert "no facet tag 'endo', 'epi', 'base'" in caplog.text
    assert "its facet tags are x0, x1, y0, y1, z0, z1" in caplog.text
    text = tmp_path / "DOE_JANE_19700101.h5"
    text.write_text("not a mesh")
    assert main(["run", "lv-inflation", "--mesh", str(text), "--out", str(tmp_path)]) == 1
    assert "not a mesh file written by `organfem mesh`" in caplog.text
    assert main(["run", "lv-inflation", "--mesh", str(tmp_path / "DOE_JIM.h5")]) == 1
    assert "--mesh: no such file" in caplog.text
    assert "DOE" not in caplog.text and not (tmp_path / "lv_inflation.vtkhdf").exists()


def test_an_interrupted_run_resumes_from_its_checkpoint(serial_run, tmp_path, monkeypatch,
                                                        capsys, caplog):
    import organfem.mechanics

    ramp = organfem.mechanics.ramp

    def interrupted_ramp(problem, levels, *, on_step, **options):
        """The scenario's ramp, stopped by Ctrl-C in its second step: that step
        is in the results but not yet in the checkpoint."""
        steps = []

        def step(result):
            on_step(result)
            steps.append(result)
            if len(steps) == 2:
                raise KeyboardInterrupt

        return ramp(problem, levels, on_step=step, **options)

    out = tmp_path / "run"
    argv = ["run", "lv-inflation", "--out", str(out), "--no-render", *COARSE]
    monkeypatch.setattr(organfem.mechanics, "ramp", interrupted_ramp)
    try:
        code = main(argv)
    except KeyboardInterrupt:  # or main's own message and exit code
        code = 130
    assert code != 0
    monkeypatch.undo()
    assert (out / "checkpoint" / "checkpoint.json").is_file()
    assert not (out / "lv_inflation.vtkhdf").exists()  # only the .partial file
    capsys.readouterr()

    # The same command resumes: the same results as a run never interrupted.
    assert main(argv) == 0
    assert "resuming" in capsys.readouterr().out
    resumed = read_results(out / "lv_inflation.vtkhdf")
    reference = read_results(serial_run / "lv_inflation.vtkhdf")
    np.testing.assert_allclose(resumed.times, reference.times, rtol=1e-12)
    np.testing.assert_allclose(resumed.scalars["cavity_volume_mm3"],
                               reference.scalars["cavity_volume_mm3"], rtol=1e-7)
    assert resumed.parameters == reference.parameters

    # Again once finished: nothing to do, the results as they were.
    assert main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out
    again = read_results(out / "lv_inflation.vtkhdf")
    assert again.times.tolist() == resumed.times.tolist()
    assert dict(again.attributes) == dict(resumed.attributes)

    # Other options do not resume this checkpoint: the message says what differs.
    assert main([*argv, "--pressure", "1 kPa"]) == 1
    assert "end_diastolic_pressure_kPa 2.0 -> 1.0" in caplog.text and "--restart" in caplog.text
    assert read_results(out / "lv_inflation.vtkhdf").times.tolist() == resumed.times.tolist()
    # --restart starts over with them.
    assert main([*argv, "--pressure", "1 kPa", "--restart"]) == 0
    assert "resuming" not in capsys.readouterr().out
    restarted = read_results(out / "lv_inflation.vtkhdf")
    assert restarted.scalars["pressure_kPa"][-1] == pytest.approx(1.0)
    assert "resumes" not in restarted.attributes


def test_units_at_the_boundary():
    # 1 mmHg = 133.322387415 Pa by definition of the conventional mmHg.
    assert units.pressure("15 mmHg") == pytest.approx(15 * 0.133322387415)
    assert units.pressure(2.0) == 2.0
    assert units.pressure("2000 Pa") == pytest.approx(2.0)
    assert units.length("1.5 cm") == pytest.approx(15.0)
    with pytest.raises(ParameterError, match="'15 psi'"):
        units.pressure("15 psi")
