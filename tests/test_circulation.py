"""0D circulation: Windkessel closed forms, the closed loop of Regazzoni et al.
(2022) (limit cycle, conserved blood volume, physiology), agreement with the
independent `circulation` package, batching and derivatives, 3D-0D steps.

Every run is float64 (``jax.enable_x64``, thread-local, as in
test_materials.py).  The long runs are shared by module fixtures, and runs of
one length reuse one compiled function.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import organfem.circulation as circ
from organfem.errors import ParameterError
from organfem.units import MMHG_IN_KPA as MMHG

ML = 1e3  # mm^3
PERIOD = 0.8  # s, Regazzoni et al. (2022): 75 beats/min
DT = 1e-3  # s
BEATS = 100  # beats of the long run (the limit cycle and volume checks)
SCALE = np.array([ML] * 4 + [MMHG] * 4 + [ML] * 4)  # mL, mmHg, mL/s in organfem units

needs_circulation = pytest.mark.skipif(
    importlib.util.find_spec("circulation") is None,
    reason="the `circulation` package (test extra) is not installed",
)


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):  # thread-local, undone after each test
        yield


@pytest.fixture(scope="module")
def model() -> circ.ClosedLoop:
    return circ.ClosedLoop.regazzoni_2022()


@pytest.fixture(scope="module")
def long_run(model) -> circ.Trajectory:
    """100 beats of backward Euler at dt = 1 ms (80 000 steps, about 2 s)."""
    with jax.enable_x64(True):
        run = circ.simulate(model, circ.initial_state(), BEATS * PERIOD, DT)
        return jax.block_until_ready(run)


def assert_states_close(actual, desired, rel: float) -> None:
    """States (..., 12) agree to ``rel`` of their size plus their scale (1 mL,
    1 mmHg, 1 mL/s), so that a flow through 0 is compared absolutely."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    error = np.max(np.abs(actual - desired) / (np.abs(desired) + SCALE))
    assert error <= rel, f"states differ by {error:.3g} of their size (asked {rel:g})"


def one_beat(model, y0=None):
    """One beat of backward Euler at dt = 1 ms (one compiled function for all)."""
    return circ.simulate(model, circ.initial_state() if y0 is None else y0, PERIOD, DT)


# --- import ------------------------------------------------------------------


def test_imports_without_dolfinx():
    code = "import sys, organfem.circulation; assert 'dolfinx' not in sys.modules, 'dolfinx'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- Windkessel ---------------------------------------------------------------

# Aortic Windkessel of the order of Westerhof et al. (2009): Rc = 0.05,
# R = 1 mmHg s/mL, C = 1.5 mL/mmHg (time constant R C = 1.5 s).
WK3 = dict(Rc=0.05 * MMHG / ML, R=1.0 * MMHG / ML, C=1.5 * ML / MMHG, p_out=5 * MMHG)
Q_MEAN = 80.0 * ML  # mm^3/s (4.8 L/min)


def test_windkessel2_constant_inflow_matches_closed_form():
    """RK4 with dt = RC/1500 against p(t) = QR + (p0 - QR) exp(-t/RC): RK4's
    error per step is (dt/RC)^5/120 = 1e-18 relative, so what is left is
    round-off (measured 2e-15); asked 1e-12."""
    wk = circ.Windkessel2(R=WK3["R"], C=WK3["C"])
    p0 = 60 * MMHG
    t, p = wk.simulate(lambda t: Q_MEAN + 0 * t, p0, 3.0, 1e-3)
    expected = Q_MEAN * wk.R + (p0 - Q_MEAN * wk.R) * np.exp(-np.asarray(t) / (wk.R * wk.C))
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    np.testing.assert_allclose(p, wk.constant_inflow_pressure(Q_MEAN, p0, t), rtol=1e-14)


def test_windkessel3_transient_and_steady_state():
    """The compliance pressure relaxes to Q R + p_out and the inlet pressure to
    Q (Rc + R) + p_out; the implicit steps converge at their order (backward
    Euler 1, trapezoidal 2: the error ratio when halving dt is 2 and 4)."""
    wk = circ.Windkessel3(**WK3)
    p0 = 20 * MMHG
    t, p = wk.simulate(lambda t: Q_MEAN + 0 * t, p0, 3.0, 1e-3)
    np.testing.assert_allclose(p, wk.constant_inflow_pressure(Q_MEAN, p0, t), rtol=1e-12)
    _, p_late = wk.simulate(lambda t: Q_MEAN + 0 * t, p0, 60.0, 1e-2, save_every=6000)
    # exp(-60 / 1.5) = 4e-18: the transient has gone.
    np.testing.assert_allclose(p_late[-1], wk.steady_pressure(Q_MEAN), rtol=1e-13)
    np.testing.assert_allclose(
        wk.steady_pressure(Q_MEAN), WK3["p_out"] + Q_MEAN * (WK3["Rc"] + WK3["R"]), rtol=1e-15
    )
    exact = wk.constant_inflow_pressure(Q_MEAN, p0, 1.0)
    for theta, order in ((1.0, 1), (0.5, 2)):
        errors = [
            abs(wk.simulate(lambda t: Q_MEAN + 0 * t, p0, 1.0, dt, method="implicit",
                            theta=theta, save_every=round(1.0 / dt))[1][-1] - exact)
            for dt in (1e-2, 5e-3)
        ]  # fmt: skip
        assert errors[0] / errors[1] == pytest.approx(2**order, rel=0.02)


def test_windkessel3_periodic_response_is_its_impedance():
    """Inflow Q0 + Q1 cos(w t) from the periodic state: the inlet pressure is
    p_out + Q0 Z(0) + Re(Q1 Z(w) exp(i w t)) throughout (RK4, dt = T/800,
    whose error (w dt)^4 = 4e-9 multiplies only the compliance's small share
    of the pulse: measured 1.3e-12 of the pulse, asked 1e-10)."""
    wk = circ.Windkessel3(**WK3)
    w = 2 * np.pi / PERIOD
    Q1 = 0.8 * Q_MEAN

    def inflow(t):
        return Q_MEAN + Q1 * jnp.cos(w * t)

    Zc = wk.R / (1 + 1j * w * wk.R * wk.C)  # the compliance's share
    p0 = wk.p_out + Q_MEAN * wk.R + (Q1 * Zc).real
    t, p = wk.simulate(inflow, p0, 2 * PERIOD, PERIOD / 800)
    t = np.asarray(t)
    Z = complex(wk.impedance(w))
    expected = wk.p_out + Q_MEAN * (wk.Rc + wk.R) + (Q1 * Z * np.exp(1j * w * t)).real
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-10 * Q1 * abs(Z))
    assert complex(wk.impedance(0.0)) == pytest.approx(wk.Rc + wk.R, rel=1e-15)
    assert abs(complex(wk.impedance(1e12)) - wk.Rc) < 1e-9 * wk.Rc  # |Z - Rc| ~ 1/(w C)


# --- parameters ---------------------------------------------------------------


def test_regazzoni_2022_in_organfem_units(model):
    """The table's mmHg/mL values land in kPa and mm^3."""
    assert model.period == 0.8
    assert model.AR_SYS.R == pytest.approx(0.8 * MMHG / ML, rel=1e-15)
    assert model.VEN_SYS.C == pytest.approx(60.0 * ML / MMHG, rel=1e-15)
    assert model.AR_SYS.L == pytest.approx(5e-3 * MMHG / ML, rel=1e-15)
    assert model.LV.EA == pytest.approx(2.75 * MMHG / ML, rel=1e-15)
    assert model.LV.V0 == 5.0 * ML
    assert model.AV.R_max / model.AV.R_min == pytest.approx(75006.2 / 0.0075, rel=1e-15)
    assert circ.STATE_NAMES[circ.state_index("p_AR_SYS")] == "p_AR_SYS"
    with pytest.raises(ParameterError, match="R=.*must be > 0"):
        circ.Vessel(R=-1.0, C=1.0, L=1.0)
    with pytest.raises(ParameterError, match="unknown state"):
        circ.initial_state(V_AO=1.0)
    with pytest.raises(ParameterError, match="whole number of steps"):
        circ.simulate(model, circ.initial_state(), 0.8, 3e-3)


def test_activation_is_continuous_over_many_beats(model):
    """The half-cosine activation rises from 0 to 1 over T_C and falls back to
    0 over T_R, and stays continuous at the end of the contraction even at
    times far from 0 (round-off in t once made it drop to 0 for one sample)."""
    lv = model.LV
    t = np.arange(90_000) * DT  # 112 beats, every millisecond
    phi = np.asarray(jax.vmap(lambda s: lv.activation(s, model.period))(t))
    assert phi.min() == 0.0 and phi.max() == pytest.approx(1.0, abs=1e-12)
    assert np.max(np.abs(np.diff(phi))) < np.pi / 2 * DT / lv.TR * 1.001  # steepest slope
    assert float(lv.activation(lv.tC + lv.TC, model.period)) == pytest.approx(1.0)


# --- closed loop standalone -------------------------------------------------------


def test_reaches_periodic_limit_cycle(model, long_run):
    """After 100 beats the state changes over one beat by less than 1e-7 of its
    size.  The slowest mode (blood moving between the systemic and the
    pulmonary veins) contracts by 0.84 per beat: 2e-8 after 100 beats."""
    assert circ.periodicity(long_run, model.period) < 1e-7
    first = circ.beat_window(long_run, model.period, 0)
    y = np.asarray(long_run.y)
    assert np.max(np.abs(y[first.stop - 1] - y[0]) / np.abs(y).max(axis=0)) > 0.1


def test_total_blood_volume_is_conserved(model, long_run):
    """sum(V_chambers) + sum(C p_vessels) is a linear invariant, kept by every
    Newton update (w^T J = w^T): 80 000 steps change it by round-off only.
    Measured 1e-14; 1e-12 allows a random walk of a few ulp (2e-16) per step."""
    V = np.asarray(circ.total_volume(long_run.y, model))
    assert V[0] == pytest.approx(3025.0 * ML)  # the initial state's, mL -> mm^3
    assert np.max(np.abs(V - V[0])) / V[0] < 1e-12
    parts = circ.volumes(long_run.y[-1], model)
    assert tuple(parts) == circ.VOLUME_NAMES
    assert sum(float(v) for v in parts.values()) == pytest.approx(V[-1], rel=1e-15)


def test_physiology_of_the_published_parameters(model, long_run):
    """Last beat of the limit cycle: a normal adult heart at rest (EF 60 %,
    120/79 mmHg); the figures are pinned to 0.1 %.

    Where they come from: an RK4 run of the same model at dt = 0.1 ms (this
    run is backward Euler at 1 ms; the two agree to 0.03 %), whose equations
    match the independent `circulation` package to 1e-13 and whose traces
    match its own integration within its forward-Euler error (tests below).
    So they are a regression check of the published parameters' outcome, not
    an independent benchmark: the paper's figures could not be consulted."""
    lv = circ.chamber_metrics(long_run, model.period, "LV")
    arterial = circ.arterial_pressures(long_run, model.period, "SYS")
    figures = {
        "EDV [mL]": float(lv["EDV"]) / ML,
        "ESV [mL]": float(lv["ESV"]) / ML,
        "EF": float(lv["EF"]),
        "peak p_LV [mmHg]": float(lv["peak_pressure"]) / MMHG,
        "MAP [mmHg]": float(arterial["mean"]) / MMHG,
        "systolic [mmHg]": float(arterial["systolic"]) / MMHG,
        "diastolic [mmHg]": float(arterial["diastolic"]) / MMHG,
        "CO [L/min]": float(lv["cardiac_output"]) * 60 / 1e6,
    }
    expected = {
        "EDV [mL]": 117.27, "ESV [mL]": 46.68, "EF": 0.6020,
        "peak p_LV [mmHg]": 121.0, "MAP [mmHg]": 100.45,
        "systolic [mmHg]": 120.0, "diastolic [mmHg]": 78.6, "CO [L/min]": 5.295,
    }  # fmt: skip
    assert figures == pytest.approx(expected, rel=1e-3)
    rv = circ.chamber_metrics(long_run, model.period, "RV")
    # The same blood goes round each side (to the 1 ms sampling of the extremes).
    assert float(rv["SV"]) == pytest.approx(float(lv["SV"]), rel=1e-4)


# --- the `circulation` package (Finsberg, MIT) on the same parameters -----------


def _circulation_parameters(model: circ.ClosedLoop) -> dict:
    """Our parameters in the nested dict (mmHg, mL, s) of `circulation`."""
    mmhg_ml = MMHG / ML

    def chamber(law):
        return dict(EA=law.EA / mmhg_ml, EB=law.EB / mmhg_ml, V0=law.V0 / ML,
                    tC=law.tC, TC=law.TC, TR=law.TR)  # fmt: skip

    def side(artery, vein):
        return dict(
            R_AR=artery.R / mmhg_ml, C_AR=artery.C * mmhg_ml, L_AR=artery.L / mmhg_ml,
            R_VEN=vein.R / mmhg_ml, C_VEN=vein.C * mmhg_ml, L_VEN=vein.L / mmhg_ml,
        )  # fmt: skip

    assert all(v.width == pytest.approx(MMHG / (100 * np.pi)) for v in model.valves())
    return {
        "HR": 1 / model.period,
        "chambers": {name: chamber(getattr(model, name)) for name in circ.CHAMBERS},
        "valves": {
            name: dict(Rmin=getattr(model, name).R_min / mmhg_ml,
                       Rmax=getattr(model, name).R_max / mmhg_ml)
            for name in circ.VALVES
        },  # fmt: skip
        "circulation": {
            "SYS": side(model.AR_SYS, model.VEN_SYS),
            "PUL": side(model.AR_PUL, model.VEN_PUL),
        },
    }


@pytest.fixture
def reference(model, tmp_path):
    """`circulation`'s Regazzoni2020 with our parameters and initial state."""
    from circulation.regazzoni2020 import Regazzoni2020

    y0 = np.asarray(circ.initial_state()) / SCALE
    ref = Regazzoni2020(
        parameters=_circulation_parameters(model), outdir=tmp_path,
        initial_state=dict(zip(circ.STATE_NAMES, y0, strict=True)),
    )  # fmt: skip
    return ref


@needs_circulation
def test_rhs_matches_circulation_package(model, reference):
    """Same equations: the right-hand sides agree to round-off (1e-13 relative)
    at random states and times, converted mmHg/mL <-> kPa/mm^3."""
    rng = np.random.default_rng(7)
    y0 = np.asarray(circ.initial_state())
    for _ in range(20):
        y = y0 * rng.uniform(0.5, 1.5, 12) + SCALE * rng.normal(0.0, 5.0, 12)
        t = rng.uniform(0.0, 5 * PERIOD)
        ours = np.asarray(circ.rhs(t, y, model)) / SCALE
        theirs = np.array(reference.rhs(t, y / SCALE))
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-13 * np.abs(theirs).max())


@needs_circulation
def test_lv_traces_match_circulation_package(model, reference):
    """LV pressure and volume over the second beat from the same initial state.

    Ours: RK4 at dt = 0.1 ms.  (1) `circulation`'s own solver (forward Euler at
    dt = 0.1 ms): first order, off an accurate solution by 3e-4 of the range
    in volume and 1.5e-3 in pressure (at the isovolumic upstroke, where the
    pressure rises by 2000 mmHg/s), so agreement to 1e-3 and 3e-3 of the
    traces' ranges.  (2) scipy's Radau (rtol 1e-10) on
    `circulation`'s right-hand side: agreement to 1e-6 (RK4's error is 2e-7).
    """
    from scipy.integrate import solve_ivp

    dt, beats = 1e-4, 2
    ours = circ.simulate(model, circ.initial_state(), beats * PERIOD, dt, method="rk4")
    n = round(PERIOD / dt)
    t = np.asarray(ours.t)[-n - 1 :]
    V = np.asarray(ours["V_LV"])[-n - 1 :] / ML
    p = np.asarray(ours["p_LV"])[-n - 1 :] / MMHG
    V_range, p_range = np.ptp(V), np.ptp(p)

    theirs = reference.solve(num_beats=beats, dt=dt)  # forward Euler
    np.testing.assert_allclose(theirs["time"][-n - 1 :], t, atol=1e-12)
    np.testing.assert_allclose(theirs["V_LV"][-n - 1 :], V, rtol=0, atol=1e-3 * V_range)
    np.testing.assert_allclose(theirs["p_LV"][-n - 1 :], p, rtol=0, atol=3e-3 * p_range)

    y0 = np.asarray(circ.initial_state()) / SCALE
    accurate = solve_ivp(
        lambda s, y: np.array(reference.rhs(s, y)), (0.0, beats * PERIOD), y0,
        method="Radau", rtol=1e-10, atol=1e-9, jac=reference.jac, t_eval=t,
    )  # fmt: skip
    assert accurate.success
    p_accurate = np.array([reference.p_LV(v, s) for v, s in zip(accurate.y[1], t, strict=True)])
    np.testing.assert_allclose(accurate.y[1], V, rtol=0, atol=1e-6 * V_range)
    np.testing.assert_allclose(p_accurate, p, rtol=0, atol=1e-6 * p_range)
    # The explicit run keeps the blood volume too (RK4 keeps linear invariants).
    total = np.asarray(circ.total_volume(ours.y, model))
    assert np.max(np.abs(total - total[0])) / total[0] < 1e-13


# --- batches and derivatives ------------------------------------------------------


def test_vmap_over_parameters_matches_separate_runs(model):
    """A batch of three models (all parameters scaled by 0.9, 1, 1.1) run under
    vmap gives the runs one by one (same operations: 1e-12 relative)."""
    factors = jnp.array([0.9, 1.0, 1.1])
    batch = jax.tree.map(lambda leaf: leaf * factors, model)
    runs = jax.vmap(lambda m: one_beat(m))(batch)
    for i in range(3):
        alone = one_beat(jax.tree.map(lambda leaf, i=i: leaf[i], batch))
        assert_states_close(runs.y[i], alone.y, 1e-12)
        np.testing.assert_allclose(runs.p[i], alone.p, rtol=1e-12, atol=1e-12 * MMHG)
    assert not np.allclose(runs.y[0], runs.y[2])


def test_grad_of_mean_arterial_pressure_matches_finite_differences(model):
    """d MAP / d R_AR_SYS over the second beat: reverse mode through the scan of
    Newton solves (implicit function theorem) against central differences with
    h = 1e-5 R (truncation ~1e-10, round-off ~1e-10 relative); asked 1e-7."""
    def mean_pressure(R):
        m = dataclasses.replace(model, AR_SYS=dataclasses.replace(model.AR_SYS, R=R))
        run = circ.simulate(m, circ.initial_state(), 2 * PERIOD, DT)
        return circ.arterial_pressures(run, PERIOD)["mean"]

    R = model.AR_SYS.R
    grad = float(jax.grad(mean_pressure)(R))
    h = 1e-5 * R
    fd = float(mean_pressure(R + h) - mean_pressure(R - h)) / (2 * h)
    assert grad == pytest.approx(fd, rel=1e-7)
    assert grad > 0  # a stiffer periphery raises the pressure


# --- steps for a 3D-0D coupling -----------------------------------------------------


@pytest.mark.parametrize("step", [100, 300, 500, 700])  # contraction, ejection, filling...
def test_coupling_steps_agree(model, step):
    """One backward-Euler step three ways, at several phases of the beat:
    (a) the loop with its LV elastance; (b) the LV pressure prescribed as the
    value (a) ends with (what a finite-element LV would give); (c) the LV
    volume prescribed as the value (a) ends with, the pressure solved for.
    All three give one state (1e-12) and (c) the pressure of (a) (1e-8:
    near-isovolumic phases amplify the Newton tolerance)."""
    y = one_beat(model).y[step]
    t = step * DT
    y_a, ok_a = circ.implicit_step(model, y, t, DT)
    p_lv = circ.chamber_pressures(t + DT, y_a, model)[1]
    prescribed = model.with_chamber("LV", circ.PrescribedPressure(p=p_lv))
    y_b, ok_b = circ.implicit_step(prescribed, y, t, DT)
    y_c, p_c, ok_c = circ.implicit_step_volume(model, y, t, DT, y_a[1], chamber="LV")
    assert bool(ok_a) and bool(ok_b) and bool(ok_c)
    assert_states_close(y_b, y_a, 1e-12)
    assert_states_close(y_c, y_a, 1e-12)
    assert float(p_c) == pytest.approx(float(p_lv), rel=1e-8)


def test_custom_pressures_function(model):
    """The right-hand side takes the chamber pressures as a function: one that
    returns the elastance pressures gives the default right-hand side."""
    y = one_beat(model).y[250]

    def pressures(t, y, m):
        return jnp.stack([law.elastance(t, m.period) * (y[i] - law.V0)
                          for i, law in enumerate(m.chambers())])  # fmt: skip

    np.testing.assert_allclose(
        circ.rhs(0.25, y, model, pressures), circ.rhs(0.25, y, model), rtol=1e-15
    )
