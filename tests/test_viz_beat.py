"""Per-beat outputs: the PV-loop plot and its figures, and the animation of a results file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from organfem.errors import ParameterError
from organfem.units import MMHG_IN_KPA
from organfem.viz import BeatMetrics, animate, beat_metrics, pv_loop


def _non_blank(image: Image.Image) -> bool:
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    return float(pixels.std()) > 5.0 and (pixels < 200).any(axis=2).mean() > 0.01


def _elliptic_loop(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Volume 50 to 120 mL, pressure 5 to 125 mmHg; the largest volume at angle 0."""
    angle = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return 85.0 + 35.0 * np.cos(angle), 65.0 + 60.0 * np.sin(angle) - 40.0 * np.cos(angle) / 4


def test_pv_loop_of_an_analytic_loop(tmp_path):
    volume, pressure = _elliptic_loop()
    out, figures = pv_loop(volume, pressure, tmp_path / "loop.png", time=np.linspace(0, 0.8, 200))
    assert isinstance(figures, BeatMetrics)
    assert figures.edv_ml == 120.0 and figures.esv_ml == 50.0
    assert figures.sv_ml == pytest.approx(70.0) and figures.ef == pytest.approx(70.0 / 120.0)
    assert figures.edp_mmhg == pytest.approx(55.0)  # 65 - 40/4 at the largest volume
    assert figures.peak_pressure_mmhg == pytest.approx(pressure.max())
    assert figures.cardiac_output_l_per_min == pytest.approx(70.0 / 0.8 * 0.06)
    assert out == tmp_path / "loop.png" and out.stat().st_size > 10_000
    assert not list(tmp_path.glob(".*partial*"))
    with Image.open(out) as image:
        assert image.size == (960, 720)
        assert _non_blank(image)


def test_pv_loop_rejects_bad_input(tmp_path):
    volume, pressure = _elliptic_loop()
    with pytest.raises(ParameterError, match="png"):
        pv_loop(volume, pressure, tmp_path / "loop.jpg")
    with pytest.raises(ParameterError, match="samples"):
        pv_loop(volume, pressure[:-1], tmp_path / "loop.png")
    with pytest.raises(ParameterError, match="increase"):
        beat_metrics(volume, pressure, time=np.zeros_like(volume))


def test_pv_loop_of_the_closed_loop_matches_chamber_metrics(tmp_path):
    import jax

    from organfem import circulation as circ

    with jax.enable_x64(True):
        model = circ.ClosedLoop.regazzoni_2022()
        period = float(model.period)
        run = circ.simulate(model, circ.initial_state(), t_end=4 * period, dt=1e-3)
        reference = {k: float(v) for k, v in circ.chamber_metrics(run, period).items()}
        window = circ.beat_window(run, period)
        volume = np.asarray(run["V_LV"][window]) / 1000.0  # mm^3 -> mL
        pressure = np.asarray(run["p_LV"][window]) / MMHG_IN_KPA  # kPa -> mmHg
        time = np.asarray(run.t[window])
    out, figures = pv_loop(volume, pressure, tmp_path / "lv.png", time=time,
                           metrics={"aortic systolic [mmHg]": 120.0})  # fmt: skip
    assert figures.edv_ml == pytest.approx(reference["EDV"] / 1000.0, rel=1e-12)
    assert figures.esv_ml == pytest.approx(reference["ESV"] / 1000.0, rel=1e-12)
    assert figures.sv_ml == pytest.approx(reference["SV"] / 1000.0, rel=1e-12)
    assert figures.ef == pytest.approx(reference["EF"], rel=1e-12)
    assert figures.peak_pressure_mmhg == pytest.approx(
        reference["peak_pressure"] / MMHG_IN_KPA, rel=1e-12
    )
    # mm^3/s -> L/min
    assert figures.cardiac_output_l_per_min == pytest.approx(
        reference["cardiac_output"] * 60e-6, rel=1e-9
    )
    assert 0.4 <= figures.ef <= 0.8
    # End diastole is the foot of isovolumic contraction, not any sample at EDV.
    at_edv = volume >= volume.max() - 1e-4 * (volume.max() - volume.min())
    assert at_edv.sum() > 10 and figures.edp_mmhg == pytest.approx(pressure[at_edv].min())
    assert 2.0 < figures.edp_mmhg < 25.0
    with Image.open(out) as image:
        assert _non_blank(image)


@pytest.fixture(scope="module")
def results_file(tmp_path_factory):
    from organfem.cli import main

    folder = tmp_path_factory.mktemp("lv_inflation")
    args = ["run", "lv-inflation", "--out", str(folder), "--steps", "3", "--mesh-size", "6 mm"]
    assert main([*args, "--no-render"]) == 0
    (path,) = folder.glob("*.vtkhdf")
    return path


def test_animation_has_a_frame_per_step(results_file, tmp_path):
    from organfem.io import read_results

    steps = read_results(results_file).times.shape[0]
    out = animate(results_file, tmp_path / "beat.gif", window_size=(400, 300))
    assert out == tmp_path / "beat.gif" and not list(tmp_path.glob(".*partial*"))
    frames = []
    with Image.open(out) as image:
        assert image.n_frames == steps and image.size == (400, 300)
        for i in range(image.n_frames):
            image.seek(i)
            frames.append(np.asarray(image.convert("RGB"), dtype=float))
    for frame in frames:
        assert frame.std() > 5.0
    for first, second in zip(frames, frames[1:], strict=False):
        assert np.abs(first - second).mean() > 0.1  # the body deforms and changes colour


def test_animation_of_chosen_steps(results_file, tmp_path):
    # All steps named in order give the default GIF, frame for frame; every
    # second step (a beat's steps, thinned) gives one frame per step chosen.
    from organfem.io import read_results

    count = read_results(results_file).times.shape[0]

    def frames(path):
        with Image.open(path) as image:
            out = []
            for i in range(image.n_frames):
                image.seek(i)
                out.append(np.asarray(image.convert("RGB")))
            return out

    every = frames(animate(results_file, tmp_path / "all.gif", window_size=(400, 300)))
    named = frames(animate(results_file, tmp_path / "named.gif", window_size=(400, 300),
                           steps=range(count)))
    assert len(named) == len(every) == count
    for a, b in zip(every, named, strict=True):
        np.testing.assert_array_equal(a, b)
    chosen = list(range(1, count, 2))
    some = frames(animate(results_file, tmp_path / "some.gif", window_size=(400, 300), steps=chosen))
    assert len(some) == len(chosen)
    with pytest.raises(ParameterError, match="steps must be indices"):
        animate(results_file, tmp_path / "bad.gif", steps=[count])
    with pytest.raises(ParameterError, match="steps must be indices"):
        animate(results_file, tmp_path / "bad.gif", steps=[])


def test_animation_rejects_bad_input(results_file, tmp_path):
    with pytest.raises(ParameterError, match="gif"):
        animate(results_file, tmp_path / "beat.mp4")
    with pytest.raises(ParameterError, match="not in the data"):
        animate(results_file, tmp_path / "beat.gif", field="nonsense")
