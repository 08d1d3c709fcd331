"""Arostica et al. (2025) cardiac elastodynamics benchmark, problem 1, at the
coarse level over short windows, against the curves recorded by
``benchmarks/cardiac_elastodynamics.py`` in
``benchmarks/cardiac_elastodynamics_reference.json``; the endocardial pressure
ODE against its closed forms; the ``--json`` layout.

Tolerances (each number below says where it comes from):

* Same mesh (h = 9.5 mm), same dt (2 ms), same code: the run reproduces its
  own recorded curve up to Newton's tolerance (``newton-mumps``: residual
  below 1e-9 absolute or relative); on the machine that recorded the JSON a
  rerun matched it to 4e-14 mm.  REPRODUCE_MM = 1e-4 mm (5e-5 of the ~2 mm
  reached in the windows) leaves room for another BLAS or MUMPS ordering
  without hiding a change of the discretisation, which moves the curves by
  the level differences recorded in the JSON (0.15-0.18 mm at p0 in these
  windows, see below).
* Against the finest recorded curve (h = 7 mm at the same dt): the coarse
  curve differs from it by the recorded level difference over the window,
  computed here from the two recorded curves; the test allows that difference
  plus 50 % (as ``test_land2015.py`` does), so a change that moves the coarse
  answer by more than half its discretisation error fails.  The time-step
  error is smaller by an order of magnitude (recorded at h = 9.5 mm, dt 2 vs
  1 ms over the whole beat: 0.025 mm at p0 in step 0A, 0.031 mm in step 1,
  against 0.25 mm between the meshes), so both curves are taken at dt = 2 ms.

Cost: the two windows (the module fixture) take about 20 s (0A, nearly free
before t_sys) and 40 s (step 1) on one core; the whole file about 70 s.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "cardiac_elastodynamics", REPO / "benchmarks" / "cardiac_elastodynamics.py"
)
bench = importlib.util.module_from_spec(_spec)
sys.modules["cardiac_elastodynamics"] = bench  # dataclasses look their module up
_spec.loader.exec_module(bench)

REFERENCE = json.loads((REPO / "benchmarks" / "cardiac_elastodynamics_reference.json").read_text())
COARSE_H, DT = 9.5, 0.002  # the coarse level and dt of the recorded runs [mm], [s]
WINDOW = {"0A": 0.18, "1": 0.18}  # s: through the onset of systole (t_sys = 0.16 s)
REPRODUCE_MM = 1e-4  # see the module docstring


def _recorded(step: str, h: float, dt: float) -> dict:
    for r in REFERENCE[f"step_{step}"]["runs"]:
        if abs(r["h"] - h) < 1e-9 and abs(r["dt"] - dt) < 1e-12:
            return r
    raise KeyError(f"no recorded run h={h} dt={dt} for step {step}")


def _window(curve, t, t_end):
    n = int(np.searchsorted(np.asarray(t), t_end + 1e-9))
    return np.asarray(curve)[:n]


@pytest.fixture(scope="module")
def runs():
    # 0A costs almost nothing before t_sys (no load: Newton stops at once);
    # step 1 is step 0B until t_sys (the Bestel tension is exactly 0 while
    # a(t) < 0), so its window covers the inflation and the onset of systole.
    return {step: bench.run(step, COARSE_H, DT, t_end=t_end) for step, t_end in WINDOW.items()}


# -- the pressure ODE --------------------------------------------------------------


def test_pressure_in_diastole_matches_closed_form():
    # Before t_sys_pre: f_pre = S+(t - 0.17) <= e^-28 (t <= 0.1), g_pre = 1 - O(e^-150),
    # so b = -30 + 5 + 1 = -24, |b|_+ = 0 and dp/dt = -24 p + 7 (the terms summed:
    # a product of them would give p = 0), p = 7/24 (1 - exp(-24 t)).
    table = bench.endo_pressure(0.1)
    t = np.linspace(0.0, 0.1, 337)  # between the table's samples too
    p = np.array([table(x) for x in t])
    exact = 7.0 / 24.0 * (1.0 - np.exp(-24.0 * t))
    # Linear interpolation over 0.05 ms: |p''| <= 24^2 * 7/24 = 168 kPa/s^2, error
    # <= 168 (5e-5)^2 / 8 = 5.3e-8 kPa; the integrator's rtol 1e-11 adds less.
    np.testing.assert_allclose(p, exact, rtol=0, atol=1e-7)
    at = table.times[table.times <= 0.1]  # at the samples: the integrator's own accuracy
    np.testing.assert_allclose(table.values[: at.size], 7 / 24 * -np.expm1(-24 * at), rtol=0, atol=1e-9)


def test_pressure_in_systole_and_relaxation_match_closed_forms():
    table = bench.endo_pressure(1.0)
    # Systole, 0.25..0.40 s: f_pre = g_pre = 1 up to e^-32, b = 5 + 5 + 1 = 11 > 0:
    # dp/dt = -11 p + 16 * 11 + 7, p -> 16 + 7/11 with rate 11.
    p_inf, t0 = 16.0 + 7.0 / 11.0, 0.25
    for t in (0.3, 0.35, 0.4):
        exact = p_inf + (table(t0) - p_inf) * math.exp(-11.0 * (t - t0))
        assert table(t) == pytest.approx(exact, abs=1e-6)
    # Relaxation, t >= 0.56 s: g_pre <= e^-30, f_pre likewise, b = -30 + 1 = -29.
    t0 = 0.56
    for t in (0.6, 0.7):
        assert table(t) == pytest.approx(table(t0) * math.exp(-29.0 * (t - t0)), rel=1e-6, abs=1e-12)
    assert max(table.values) == pytest.approx(p_inf, rel=0.05)  # peaks near the systolic target


def test_pressure_rate_is_the_published_sum():
    # At t = 0.17 s (t_sys_pre): f_pre = 1/2 * S-(-0.314/0.005) = 1/2, a_pre = (5 - 30)/2 = -12.5,
    # g_pre = 1, b = -12.5 + 5 + 1 = -6.5 < 0: dp/dt = -6.5 p + 7 * 1.
    assert bench.endo_pressure_rate(0.17, 2.0) == pytest.approx(-6.5 * 2.0 + 7.0, rel=1e-12)
    # At t = 0.3 s: b = 11: dp/dt = -11 p + 16 * 11 + 7.
    assert bench.endo_pressure_rate(0.3, 2.0) == pytest.approx(-22.0 + 176.0 + 7.0, rel=1e-9)


# -- the solid, coarse level -------------------------------------------------------


@pytest.mark.parametrize("step", list(WINDOW))
def test_coarse_run_reproduces_recorded_curves(runs, step):
    run, rec = runs[step], _recorded(step, COARSE_H, DT)
    assert run.t == _window(rec["t"], rec["t"], WINDOW[step]).tolist()
    for name in ("p0", "p1"):
        np.testing.assert_allclose(getattr(run, name), _window(rec[name], rec["t"], WINDOW[step]),
                                   rtol=0, atol=REPRODUCE_MM)  # fmt: skip
    # Volume [mm^3]: the same relative tolerance on ~1.7e5 mm^3.
    np.testing.assert_allclose(run.volume, _window(rec["volume"], rec["t"], WINDOW[step]), rtol=1e-6)


@pytest.mark.parametrize("step", list(WINDOW))
def test_coarse_run_is_within_the_recorded_level_difference(runs, step):
    run = runs[step]
    coarse, fine = _recorded(step, COARSE_H, DT), _recorded(step, min(REFERENCE["levels_mm"]), DT)
    for name in ("p0", "p1"):
        c = _window(coarse[name], coarse["t"], WINDOW[step])
        f = _window(fine[name], fine["t"], WINDOW[step])
        level_difference = np.linalg.norm(c - f, axis=1).max()
        # Recorded over the 0.18 s windows: 0.15 / 0.006 mm (0A, p0 / p1) and 0.18 / 0.016 mm
        # (1) -- at least 60 times REPRODUCE_MM, so this test is not the one above again.
        assert level_difference > 10 * REPRODUCE_MM
        error = np.linalg.norm(np.asarray(getattr(run, name)) - f, axis=1).max()
        assert error <= 1.5 * level_difference + 1e-9, (name, error, level_difference)


def test_physics_of_the_windows(runs):
    active, both = runs["0A"], runs["1"]
    t = np.asarray(active.t)
    # 0A: no load before the tension rises: at rest exactly until ~t_sys = 0.16 s
    # (tau = 0 while a(t) < 0, the Bestel integrator's target is 0).
    assert np.abs(np.asarray(active.p0)[t < 0.15]).max() < 1e-9
    # then it contracts: the cavity loses volume (recorded at h = 9.5 mm: 168.3 -> 161.0 mL,
    # -4.3 %, by 0.18 s, and -20 % by 0.2 s; -2 % is asserted).
    assert active.volume[-1] < 0.98 * active.volume[0]
    # 1: the pressure inflates it first (recorded: to 172.6 mL at 0.16 s), then the
    # contraction takes volume back (166.2 mL at 0.18 s, 149.6 mL at 0.2 s).
    v = np.asarray(both.volume)
    k = int(np.argmax(v))
    assert v[k] > v[0] and 0.15 <= t[k] <= 0.17 and v[-1] < v[k]


def test_json_layout(tmp_path):
    out = tmp_path / "out.json"
    assert bench.main(["--levels", str(COARSE_H), "--dt", str(DT), "--t-end", str(2 * DT),
                       "--json", str(out), "--quiet"]) == 0  # fmt: skip
    report = json.loads(out.read_text())
    for step in ("0A", "0B", "1"):
        entry = report[f"step_{step}"]
        assert len(entry["t"]) == len(entry["p0"]) == len(entry["p1"]) == len(entry["volume"]) == 1
        assert len(entry["p0"][0]) == 3 and entry["t"] == [0.0]
        assert {"runs", "differences", "h", "dt"} <= set(entry)
        assert {"cells", "dofs", "step_s_median", "newton_mean"} <= set(entry["runs"][0])
    assert {"levels_mm", "dt_s", "provenance"} <= set(report)
    # The recorded reference has the published layout: 101 samples every 10 ms to T = 1 s.
    for step in ("0A", "0B", "1"):
        entry = REFERENCE[f"step_{step}"]
        assert len(entry["t"]) == 101 and entry["t"][-1] == pytest.approx(1.0)
        assert np.asarray(entry["p0"]).shape == (101, 3)
