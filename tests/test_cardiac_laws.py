"""The laws of the cardiac elastodynamics benchmark (Arostica et al. 2025).

Passive: :class:`ModifiedHolzapfelOgden` (isochoric ``I1``, switched full
``I4f``/``I4s``, unswitched ``I8fs``) against stresses and a reference tangent
derived by hand in the comments, the switch's effect in fibre compression,
objectivity, symmetry and finite differences of its own energy and stress.
Active: :class:`BestelActiveTension` against the closed-form solutions of its
ODE where the activation is constant or piecewise constant (where the scheme
is exact), the benchmark's smooth transient against a tight ``solve_ivp``
reference with the observed order in ``dt``, and per-point activation delays;
:class:`LengthDependentActiveStress` (Frank-Starling) against its factor's
published values, its stress, tangent and energy in closed form.
Conventions as in ``test_materials.py``: Voigt order (11, 22, 33, 23, 13, 12),
engineering shears, ``R`` rows ``(f0, s0, n0)``, kPa, s.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from organfem.errors import ParameterError
from organfem.materials import (
    ActiveStress,
    BestelActiveTension,
    HolzapfelOgden,
    InternalVariables,
    LengthDependentActiveStress,
    ModifiedHolzapfelOgden,
    Sum,
    VolumetricPenalty,
    advance,
    cauchy,
    first_piola,
    first_piola_tangent,
    second_piola,
    with_parameters,
)

MHO = ModifiedHolzapfelOgden.arostica_2025()
LAND = LengthDependentActiveStress.land_2017(Ta=60.0)
LAND_CURRENT = LengthDependentActiveStress.land_2017(Ta=60.0, configuration="current")
HUNTER = LengthDependentActiveStress.hunter_1998(Ta=60.0)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from material_checks import (  # noqa: E402  (shared with test_materials.py)
    E0,
    F0,
    FD_RTOL,
    H,
    Q,
    R0,
    VOIGT,
    at,
    close,
    from_voigt_strain,
    voigt,
)


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):  # thread-local, undone after each test
        yield


def uniaxial(lam):
    """F = diag(lam, 1, 1): E = diag((lam^2 - 1)/2, 0, 0)."""
    e = np.zeros((len(lam), 6))
    e[:, 0] = (lam**2 - 1) / 2
    return e


def equibiaxial(lam):
    """F = diag(lam, lam, 1): E11 = E22 = (lam^2 - 1)/2."""
    e = uniaxial(lam)
    e[:, 1] = e[:, 0]
    return e


# --- ModifiedHolzapfelOgden: closed forms -------------------------------------
#
# psi = a/(2b) (e^{b(I1b - 3)} - 1) + sum_{i=f,s} a_i/(2b_i) chi(I4i) (e^{b_i d_i^2} - 1)
#     + a_fs/(2b_fs)(e^{b_fs I8^2} - 1),  I1b = J^{-2/3} I1,  d_i = I4i - 1,
# chi(x) = 1/(1 + e^{-k(x - 1)}), chi' = k chi (1 - chi).
# S = 2 dpsi/dC with dI1b/dC = J^{-2/3} (I - I1/3 C^-1), dI4i/dC = e_i (x) e_i,
# dI8/dC = sym(f0 (x) s0):
#   S = a e^{b(I1b-3)} J^{-2/3} (I - I1/3 C^-1)
#     + sum_i g_i(I4i) e_i (x) e_i + a_fs I8 e^{b_fs I8^2} (f0 (x) s0 + s0 (x) f0),
#   g_i = 2 dpsi/dI4i = a_i/b_i chi'(I4i) (e^{b_i d^2} - 1) + 2 a_i chi(I4i) d e^{b_i d^2}.


def _chi(I4, k=MHO.k):
    return 1 / (1 + np.exp(-k * (I4 - 1)))


def _g(a, b, I4, k=MHO.k):
    d, chi = I4 - 1, _chi(I4, k)
    return a / b * k * chi * (1 - chi) * np.expm1(b * d**2) + 2 * a * chi * d * np.exp(b * d**2)


def _iso(I1, J, Cinv_diag):
    """Diagonal of the isotropic stress for diagonal C (basis = identity)."""
    I1b = J ** (-2 / 3) * I1
    scale = MHO.a * np.exp(MHO.b * (I1b - 3)) * J ** (-2 / 3)
    return scale[:, None] * (1 - I1[:, None] / 3 * Cinv_diag)


STRETCHES = np.array([0.9, 0.95, 1.05, 1.1, 1.2])


def test_reference_state():
    # At C = I: I - I1/3 C^-1 = 0, so the isochoric term gives no stress
    # (unlike HolzapfelOgden's a I); g_i(1) = 0 with d = 0 and
    # e^{b d^2} - 1 = 0; I8 = 0.  So S = 0, in any fibre frame.
    S, D = at(MHO, np.zeros((1, 6)), R0)
    close(S[0], np.zeros(6))
    # Tangent at C = I (basis = identity).  Isochoric term: I1b - 3
    # = 2 E:E - 2/3 (tr E)^2 + O(E^3) and dI1b/dE = 0 there, so
    # D = dpsi/dI1b d2I1b/dE2 = a/2 (4 II - 4/3 I (x) I), in Voigt with
    # engineering shears a diag(2, 2, 2, 1, 1, 1) - 2a/3 m m^T (shear modulus a).
    # Fibre: d2psi/dI4^2 = a_f/(2 b_f) chi(1) 2 b_f = a_f/2 at d = 0 (the chi'
    # terms carry d or e^{b d^2} - 1), and dI4/dE11 = 2: D11 += 4 a_f/2 = 2 a_f,
    # half the one-sided 4 a_f of the kinked law.  Sheet: D22 += 2 a_s.
    # Fibre-sheet: d2psi/dI8^2 = a_fs at I8 = 0 with I8 = e_12: D_66 += a_fs.
    m = np.array([1.0, 1, 1, 0, 0, 0])
    expected = MHO.a * np.diag([2.0, 2, 2, 1, 1, 1]) - 2 * MHO.a / 3 * np.outer(m, m)
    expected += np.diag([2 * MHO.a_f, 2 * MHO.a_s, 0, 0, 0, MHO.a_fs])
    _, D = at(MHO, np.zeros((1, 6)))
    close(D[0], expected)


def test_uniaxial_and_equibiaxial_closed_forms():
    lam = STRETCHES
    # Uniaxial along f0: C = diag(lam^2, 1, 1), J = lam, I1 = lam^2 + 2,
    # I4f = lam^2, I4s = 1 (g_s(1) = 0), I8 = 0.
    S, _ = at(MHO, uniaxial(lam))
    iso = _iso(lam**2 + 2, lam, np.stack([lam**-2, np.ones_like(lam), np.ones_like(lam)], 1))
    close(S[:, :3], iso + np.stack([_g(MHO.a_f, MHO.b_f, lam**2), 0 * lam, 0 * lam], 1))
    close(S[:, 3:], 0.0)
    # Equibiaxial in the f0-s0 plane: C = diag(lam^2, lam^2, 1), J = lam^2,
    # I1 = 2 lam^2 + 1, I4f = I4s = lam^2.
    S, _ = at(MHO, equibiaxial(lam))
    iso = _iso(2 * lam**2 + 1, lam**2, np.stack([lam**-2, lam**-2, np.ones_like(lam)], 1))
    fibres = np.stack([_g(MHO.a_f, MHO.b_f, lam**2), _g(MHO.a_s, MHO.b_s, lam**2), 0 * lam], 1)
    close(S[:, :3], iso + fibres)
    close(S[:, 3:], 0.0)


def test_simple_shear_closed_form():
    # F = I + g e1 (x) e2: C = [[1, g, 0], [g, 1 + g^2, 0], [0, 0, 1]], J = 1,
    # I1 = 3 + g^2, C^-1 = [[1 + g^2, -g, 0], [-g, 1, 0], [0, 0, 1]],
    # I4f = 1 (g_f = 0), I4s = 1 + g^2, I8fs = g.
    g = np.array([0.05, 0.1, 0.2])
    e = np.zeros((len(g), 6))
    e[:, 1], e[:, 5] = g**2 / 2, g
    S, _ = at(MHO, e)
    iso = MHO.a * np.exp(MHO.b * g**2)
    I1 = 3 + g**2
    close(S[:, 0], iso * (1 - I1 / 3 * (1 + g**2)))
    close(S[:, 1], iso * (1 - I1 / 3) + _g(MHO.a_s, MHO.b_s, 1 + g**2))
    close(S[:, 2], iso * (1 - I1 / 3))
    # S12 = a e^{...} I1/3 g (from -C^-1_12 = g) + a_fs g e^{b_fs g^2}: the
    # fibre-sheet term is not switched.
    close(S[:, 5], iso * I1 / 3 * g + MHO.a_fs * g * np.exp(MHO.b_fs * g**2))
    close(S[:, 3:5], 0.0)


def test_switch_leaves_compressed_fibres_unloaded():
    # Fibre part of S11 under uniaxial stretch: S11 minus the isotropic part.
    lam = np.array([0.8, 0.9, 1.1, 1.2])
    S, _ = at(MHO, uniaxial(lam))
    iso = _iso(lam**2 + 2, lam, np.stack([lam**-2, np.ones_like(lam), np.ones_like(lam)], 1))
    fibre = S[:, 0] - iso[:, 0]
    # chi(I4 = 0.81) = 1/(1 + e^19) = 5.6e-9 and chi(0.64) = 2.3e-16: the
    # compressed fibre carries < 1e-6 kPa (|g_f(0.81)| = 4.3e-7 kPa) ...
    assert _chi(0.81) < 6e-9 and _chi(0.64) < 3e-16
    assert np.all(np.abs(fibre[:2]) < 1e-6)
    # ... while in tension the switch is 1 to 1e-9 (chi(1.21) = 1 - e^-21) and
    # the fibre term is the kinked HolzapfelOgden's 2 a_f d e^{b_f d^2}.
    d = lam[2:] ** 2 - 1
    kinked = 2 * MHO.a_f * d * np.exp(MHO.b_f * d**2)
    np.testing.assert_allclose(fibre[2:], kinked, rtol=1e-8)
    assert fibre[2] > 15.0  # 15.7 kPa at 10 % fibre stretch
    ho = HolzapfelOgden.holzapfel_ogden_2009()
    S_ho, _ = at(ho, uniaxial(lam))
    np.testing.assert_allclose(fibre[2:], S_ho[2:, 0] - ho.a * np.exp(ho.b * d), rtol=1e-8)


# --- ModifiedHolzapfelOgden: invariance and autodiff -------------------------


def test_objectivity_and_frame():
    law = MHO + VolumetricPenalty.arostica_2025()
    F, R = jnp.asarray(F0), jnp.asarray(R0)
    P = first_piola(law, F, R)
    close(first_piola(law, Q @ F, R), Q @ P)
    close(second_piola(law, Q @ F, R), second_piola(law, F, R))
    # Rotating strain and fibre frame together rotates the stress.
    S_of_E = jax.jit(lambda law, E, R: law.second_piola(E, R))
    S = S_of_E(law, E0, R0)
    close(S_of_E(law, Q @ E0 @ Q.T, R0 @ Q.T), Q @ S @ Q.T)
    assert not np.allclose(S_of_E(law, E0, R0 @ Q.T), S)


@pytest.mark.parametrize("name", ["mho", "land", "land-compressed", "hunter", "land-current"])
def test_autodiff_against_finite_differences(name):
    law, E = {
        "mho": (MHO, E0),
        "land": (LAND, E0),  # lambda_f = 1.077: on the beta0 branch
        "land-compressed": (LAND, R0.T @ np.diag([-0.12, 0.05, 0.03]) @ R0),  # 0.872 .. knee
        "hunter": (HUNTER, E0),
        "land-current": (LAND_CURRENT, E0),
    }[name]
    e0 = voigt(E)
    steps = H * np.eye(6)
    S, D = at(law, np.concatenate([e0[None], e0 + steps, e0 - steps]), R0)
    close((S[1:7] - S[7:13]).T / (2 * H), D[0], rtol=FD_RTOL)  # D = dS/de
    if law.hyperelastic:  # S = dpsi/de, D symmetric
        R = jnp.asarray(R0)
        psi = jax.vmap(lambda e: law.energy(from_voigt_strain(e), R))
        fd = (psi(jnp.asarray(e0 + steps)) - psi(jnp.asarray(e0 - steps))) / (2 * H)
        close(fd, S[0], rtol=FD_RTOL)
        close(D[0], D[0].T)
        A = first_piola_tangent(law, jnp.asarray(F0), R).reshape(9, 9)
        close(A, A.T)


def test_published_parameters():
    # Arostica et al. (2025): a = 59 Pa, b = 8.023, a_f = 18472 Pa,
    # b_f = 16.026, a_s = 2481 Pa, b_s = 11.12, a_fs = 216 Pa, b_fs = 11.436,
    # k = 100; kappa = 1e6 Pa; in kPa here.
    pa = {"a": 59.0, "a_f": 18472.0, "a_s": 2481.0, "a_fs": 216.0}
    for name, value in pa.items():
        assert getattr(MHO, name) == pytest.approx(value / 1e3, rel=1e-15)
    exponents = {"b": 8.023, "b_f": 16.026, "b_s": 11.12, "b_fs": 11.436, "k": 100.0}
    for name, value in exponents.items():
        assert getattr(MHO, name) == value
    penalty = VolumetricPenalty.arostica_2025()
    assert penalty.kappa == 1e3 and penalty.kind == "simo-taylor"
    with pytest.raises(ParameterError, match=r"HolzapfelOgden: parameter k=0.0 must be > 0"):
        ModifiedHolzapfelOgden(a=1.0, b=1.0, a_f=1.0, b_f=1.0, k=0.0)
    with pytest.raises(ParameterError, match=r"parameter a_s=-1.0 must be >= 0"):
        ModifiedHolzapfelOgden(a=1.0, b=1.0, a_f=1.0, b_f=1.0, a_s=-1.0)


def test_benchmark_law_with_per_point_tension():
    # The benchmark's material: passive + penalty + active stress, with
    # tau per point from the Bestel model plugged in as Ta.
    law = MHO + VolumetricPenalty.arostica_2025() + ActiveStress(Ta=0.0)
    assert isinstance(law, Sum) and law.invariants == ("I1", "I3", "I4f", "I4s", "I8fs")
    Ta = np.array([0.0, 30.0, 150.0])
    law_now = with_parameters(law, Ta=Ta)
    e = np.zeros((3, 6))
    S, _ = at(law_now, e, R0)
    # In the reference state only the active stress remains: Ta f0 (x) f0.
    ff = np.outer(R0[0], R0[0])
    close(S, Ta[:, None] * np.stack([ff[i, j] for i, j in VOIGT])[None])


# --- BestelActiveTension ------------------------------------------------------

DT = 2.0**-9  # [s]; powers of two: the times k DT are exact in binary
SIGMA0 = 150.0  # [kPa]


def _run(model, n, steps, q0=None):
    """Times (ends of steps) and Ta (len(steps) + 1, n), from q0 (0 by default) at t = 0."""
    q = model.init(n) if q0 is None else q0
    q = {key: np.asarray(value) for key, value in q.items()}
    t, times, history = 0.0, [0.0], [q["Ta"]]
    for dt in steps:
        t += dt
        q = advance(model, q, {"t": t, "stretch": np.ones(n)}, dt)
        times.append(t)
        history.append(q["Ta"])
    return np.array(times), np.array(history)


def test_constant_activation_closed_form():
    # alpha_max = alpha_min = a0 makes a(t) = a0 whatever f.  For a0 > 0:
    # dtau/dt = a0 (sigma0 - tau), tau(0) = 0, so tau = sigma0 (1 - e^{-a0 t})
    # = -sigma0 expm1(-a0 t); exact for any steps (here uneven ones).
    rng = np.random.default_rng(5)
    steps = DT * rng.uniform(0.2, 3.0, 200)
    rising = BestelActiveTension(
        sigma0=SIGMA0, alpha_max=5.0, alpha_min=5.0, t_sys=0.16, t_dias=0.484, gamma=0.005
    )
    assert rising.sets == ("Ta",) and isinstance(rising, InternalVariables)
    times, tau = _run(rising, 2, steps)
    expected = -SIGMA0 * np.expm1(-5.0 * times)
    np.testing.assert_allclose(tau, expected[:, None] * np.ones(2), rtol=1e-12)
    # a0 < 0: dtau/dt = -|a0| tau, |a0|_+ = 0: tau = tau0 e^{-|a0| t}.
    decaying = BestelActiveTension(
        sigma0=SIGMA0, alpha_max=-30.0, alpha_min=-30.0, t_sys=0.16, t_dias=0.484, gamma=0.005
    )
    times, tau = _run(decaying, 1, steps, q0={"Ta": np.array([80.0])})
    np.testing.assert_allclose(tau[:, 0], 80.0 * np.exp(-30.0 * times), rtol=1e-12)
    # a0 = 0: dtau/dt = 0 (no 0/0 in the step as |a| -> 0).
    frozen = BestelActiveTension(
        sigma0=SIGMA0, alpha_max=0.0, alpha_min=0.0, t_sys=0.16, t_dias=0.484, gamma=0.005
    )
    _, tau = _run(frozen, 1, steps[:10], q0={"Ta": np.array([80.0])})
    np.testing.assert_array_equal(tau[:, 0], 80.0)


T_SYS, T_DIAS = 81 * DT, 249 * DT  # [s] = 0.158, 0.486: on the boundaries of the steps below


def _piecewise(t, alpha_max=5.0, alpha_min=-30.0, sigma0=SIGMA0):
    """tau(t) for a = alpha_min, alpha_max, alpha_min on [0, t_sys), [t_sys, t_dias), after.

    Before t_sys a < 0 and tau(0) = 0: tau = 0.  During systole tau =
    sigma0 (1 - e^{-alpha_max (t - t_sys)}).  After t_dias
    tau = tau(t_dias) e^{-|alpha_min| (t - t_dias)}.
    """
    systole = -sigma0 * np.expm1(-alpha_max * (np.clip(t, T_SYS, T_DIAS) - T_SYS))
    return np.where(t <= T_DIAS, systole, systole * np.exp(alpha_min * (t - T_DIAS)))


def test_piecewise_constant_activation_is_exact():
    # gamma = 1e-9 s: at a step's middle |t - t_sys| >= DT/2, so
    # tanh(+-1e6) = +-1 exactly and f is 0 or 1: a is piecewise constant and
    # the exponential step is the exact solution when t_sys and t_dias are
    # step boundaries, here of steps DT, 2 DT, DT, 2 DT, ... (whose ends are
    # the multiples of DT not 2 mod 3: 81 and 249 are 0 mod 3).
    model = BestelActiveTension(
        sigma0=SIGMA0, alpha_max=5.0, alpha_min=-30.0, t_sys=T_SYS, t_dias=T_DIAS, gamma=1e-9
    )
    steps = [DT * (1 + k % 2) for k in range(400)]  # to t = 1.17 s
    ends = np.cumsum(steps)
    assert T_SYS in ends and T_DIAS in ends
    times, tau = _run(model, 1, steps)
    np.testing.assert_allclose(tau[:, 0], _piecewise(times), rtol=1e-12, atol=0)
    assert tau[:, 0].max() == pytest.approx(SIGMA0 * -np.expm1(-5.0 * (T_DIAS - T_SYS)))


def _reference_transient(times):
    """The benchmark's tau(t) by DOP853 at rtol 1e-13, steps <= 1 ms (gamma = 5 ms).

    Radau at rtol 1e-12 agrees with it to 2e-11 kPa on these times.
    """

    def a(t):
        f = 0.25 * (1 + np.tanh((t - 0.16) / 0.005)) * (1 - np.tanh((t - 0.484) / 0.005))
        return 5.0 * f - 30.0 * (1 - f)

    def rhs(t, tau):
        return -abs(a(t)) * tau + SIGMA0 * max(a(t), 0.0)

    sol = solve_ivp(
        rhs, (0.0, times[-1]), [0.0], method="DOP853", rtol=1e-13, atol=1e-12,
        t_eval=times, max_step=1e-3,
    )  # fmt: skip
    return sol.y[0]


def _scan(model, dt, steps):
    """Ta at the times k dt, k = 0 .. steps, from 0 at one point: ``model.advance``
    (the rule :func:`advance` compiles) in one compiled loop, for many steps."""

    def step(q, t):
        q = model.advance(q, {"t": t}, dt)
        return q, q["Ta"][0]

    ends = dt * np.arange(1, steps + 1)  # exact: dt is a power of two
    _, history = jax.jit(lambda q: jax.lax.scan(step, q, ends))(model.init(1))
    return np.concatenate([[0.0], np.asarray(history)])


def test_benchmark_transient_converges_at_second_order():
    # The smooth activation of Arostica et al. (2025) to t = 0.8 s: the peak
    # (about 115 kPa near t = 0.48 s) and relaxation.  Errors at the times
    # j / 64 s against the reference, for dt = 2^-11 .. 2^-16 s.
    model = BestelActiveTension.arostica_2025()
    times = np.arange(0, 52) / 64
    reference = _reference_transient(times)
    assert 110.0 < reference.max() < 120.0 and reference[-1] < 0.05
    levels = np.arange(11, 17)
    errors = []
    for k in levels:
        dt = 2.0**-k
        tau = _scan(model, dt, int(times[-1] / dt))
        errors.append(np.abs(tau[:: 2 ** (k - 6)] - reference).max())
    errors = np.array(errors)
    # The compiled loop is the public advance's rule: same numbers step by step.
    _, tau = _run(model, 1, [2.0**-11] * 64)
    np.testing.assert_array_equal(tau[:, 0], _scan(model, 2.0**-11, 64))
    # The switch of |a| at a = 0 falls anywhere inside a step, so the error
    # constant wanders (errors / dt^2 between 1.0e4 and 2.8e4 kPa s^-2) and
    # pairwise orders scatter (1.2 .. 3.5); the least-squares slope over the
    # six levels is the order: 2.00.
    order = np.polyfit(np.log2(2.0**-levels), np.log2(errors), 1)[0]
    assert 1.9 < order < 2.1, (order, errors)
    assert np.all(errors < 3e4 * (2.0**-levels) ** 2), errors
    assert errors[-1] < 1e-5  # kPa, at dt = 15 us


def test_activation_delays_shift_the_transient():
    # The activation map: delays of 0, 16 and 64 steps.  A delay of m steps
    # evaluates a at exactly the same (binary) times as the undelayed point m
    # steps earlier, and tau stays exactly 0 before activation (a < 0 there,
    # so target 0 and tau e^{...} = 0), so the curves are shifted copies.
    dt = 2.0**-10
    delay = np.array([0.0, 16 * dt, 64 * dt])
    model = BestelActiveTension.arostica_2025(delay=delay)
    _, tau = _run(model, 3, [dt] * 900)
    for i, m in ((1, 16), (2, 64)):
        np.testing.assert_array_equal(tau[:m, i], 0.0)
        np.testing.assert_array_equal(tau[m:, i], tau[:-m, 0])
    # A delay is the same as moving both switching times.
    moved = BestelActiveTension(
        sigma0=SIGMA0, alpha_max=5.0, alpha_min=-30.0,
        t_sys=0.16 + delay, t_dias=0.484 + delay, gamma=0.005,
    )  # fmt: skip
    _, tau_moved = _run(moved, 3, [dt] * 900)
    np.testing.assert_allclose(tau_moved, tau, rtol=1e-10, atol=1e-10)
    # The state sets Ta of the active stress law, one value per point.
    law = with_parameters(MHO + ActiveStress(Ta=0.0), **model.parameters({"Ta": tau[400]}))
    np.testing.assert_array_equal(law.terms[1].Ta, tau[400])
    with pytest.raises(ParameterError, match=r"parameter delay has shape \(3,\)"):
        model.init(4)


def test_bestel_parameters():
    model = BestelActiveTension.arostica_2025()
    values = dict(sigma0=150.0, alpha_max=5.0, alpha_min=-30.0, t_sys=0.16, t_dias=0.484)
    for name, value in values.items():
        assert getattr(model, name) == value
    assert model.gamma == 0.005 and model.delay == 0.0
    # a = alpha_max f + alpha_min (1 - f): at t = t_sys, S+(0) = 1/2 and
    # S-(t_sys - t_dias) = (1 - tanh(-64.8))/2 = 1 (to 1e-56), so f = 1/2 and
    # a = (5 - 30)/2; mid-systole (t = 0.3 s) f = 1 to 1e-24 and a = 5.
    assert float(model.activation(0.16)) == pytest.approx(-12.5, abs=1e-12)
    assert float(model.activation(0.3)) == pytest.approx(5.0, abs=1e-12)
    with pytest.raises(ParameterError, match=r"BestelActiveTension: parameter gamma=0.0 must"):
        BestelActiveTension(
            sigma0=1.0, alpha_max=5.0, alpha_min=-30.0, t_sys=0.1, t_dias=0.4, gamma=0.0
        )
    with pytest.raises(ParameterError, match=r"parameter sigma0 must be >= 0 .* 1 of 2 points"):
        BestelActiveTension(
            sigma0=np.array([1.0, -1.0]), alpha_max=5.0, alpha_min=-30.0,
            t_sys=0.1, t_dias=0.4, gamma=0.005,
        )  # fmt: skip


# --- LengthDependentActiveStress ---------------------------------------------


def test_length_factor_values():
    lam = np.array([0.6, 0.7, 0.8, 0.87, 0.9, 1.0, 1.1, 1.2, 1.3])
    # Land et al. (2017): h = max(0, 1 + 2.3 (l + min(l, 0.87) - 1.87)),
    # l = min(lambda, 1.2): 0.8 -> 1 + 2.3 (1.6 - 1.87) = 0.379,
    # 0.87 -> 1 - 2.3 * 0.13 = 0.701, 0.9 -> 1 - 0.23 = 0.77, 1.1 -> 1.23,
    # 1.2 and beyond -> 1.46; zero below (1.87 - 1/2.3)/2 = 0.71761.
    expected = [0.0, 0.0, 0.379, 0.701, 0.77, 1.0, 1.23, 1.46, 1.46]
    close(LAND.factor(lam), expected, rtol=1e-14)
    assert float(LAND.slack_stretch) == pytest.approx((1.87 - 1 / 2.3) / 2, rel=1e-15)
    # Hunter et al. (1998): 1 + 1.45 (lambda - 1), zero below 1 - 1/1.45 = 0.3103.
    close(HUNTER.factor(lam), 1 + 1.45 * (lam - 1), rtol=1e-14)
    close(HUNTER.factor(np.array([0.3, 0.2])), [0.0, 0.0])
    assert float(HUNTER.slack_stretch) == pytest.approx(1 - 1 / 1.45, rel=1e-15)


def test_length_dependent_stress_closed_forms():
    lam = np.array([0.7, 0.8, 0.9, 1.0, 1.1, 1.15, 1.3])
    Ta = LAND.Ta
    h = LAND.factor(lam)
    # Reference configuration, uniaxial along f0: S = Ta h(lambda) f0 (x) f0,
    # and with lambda^2 = 1 + 2 E11, dS11/dE11 = Ta h'(lambda) / lambda:
    # h' = 0 below the slack and above the cap, 2 beta0 between slack and
    # knee, beta0 between knee and cap.
    S, D = at(LAND, uniaxial(lam))
    close(S[:, 0], Ta * h)
    close(S[:, 1:], 0.0)
    slope = np.array([0.0, 2 * 2.3, 2.3, 2.3, 2.3, 2.3, 0.0])  # 0.8 < knee < 0.9
    close(D[:, 0, 0], Ta * slope / lam)
    close(D[:, 1:, :], 0.0)
    # At lambda = 1 the law is ActiveStress (S = Ta f0 (x) f0), plus the slope.
    S_plain, _ = at(ActiveStress(Ta=Ta), np.zeros((1, 6)), R0)
    S, _ = at(LAND, np.zeros((1, 6)), R0)
    close(S, S_plain)
    # Energy Ta int_1^lambda h(l) l dl; at 1.1 (knee < l < cap, h = 1 + beta0 (l - 1)):
    # int_1^1.1 l dl + beta0 int_1^1.1 (l^2 - l) dl = 0.105 + 2.3 (0.331/3 - 0.105)
    # = 0.105 + 2.3 * 0.016/3.
    E = jnp.diag(jnp.array([(1.1**2 - 1) / 2, 0.0, 0.0]))
    close(LAND.energy(E, jnp.eye(3)), Ta * (0.105 + 2.3 * 0.016 / 3))
    # Current configuration: S11 = Ta h J / I4f = Ta h / lambda, and the
    # Cauchy stress along the fibre is Ta h itself.
    S, _ = at(LAND_CURRENT, uniaxial(lam))
    close(S[:, 0], Ta * h / lam)
    for value, factor in zip(lam, h, strict=True):
        sigma = cauchy(LAND_CURRENT, jnp.diag(jnp.array([value, 1.0, 1.0])), jnp.eye(3))
        close(sigma, np.diag([Ta * factor, 0.0, 0.0]))


def test_length_dependent_law_parameters():
    law = MHO + LengthDependentActiveStress.land_2017()
    tau = np.array([0.0, 50.0, 120.0])
    law_now = with_parameters(law, Ta=tau)  # the Bestel state plugs in as for ActiveStress
    e = uniaxial(np.array([1.1, 1.1, 1.1]))
    S, _ = at(law_now, e)
    S_passive, _ = at(MHO, e)
    close(S[:, 0] - S_passive[:, 0], tau * 1.23)
    with pytest.raises(ParameterError, match=r"parameter beta0=0.0 must be > 0"):
        LengthDependentActiveStress(Ta=1.0, beta0=0.0)
    with pytest.raises(ParameterError, match="configuration='deformed'"):
        LengthDependentActiveStress(Ta=1.0, beta0=1.0, configuration="deformed")


# -- in a finite-element solve ----------------------------------------------------


def test_bestel_tension_drives_a_fem_contraction_with_a_delayed_region(beam):
    """The benchmark's laws in the DOLFINx path: the Bestel tension of each
    quadrature point equals the pointwise model advanced alone (the solve
    only passes time to it), a delayed region lags by its delay, and the
    beam contracts along its fibres."""
    from organfem.materials import ActiveStress, BestelActiveTension, NeoHookean, advance
    from organfem.mechanics import (
        Fixed,
        HyperelasticProblem,
        Material,
        Model,
        QuasiStatic,
        simulate,
    )

    dt, steps, delay = 0.01, 25, 0.05  # s: to t = 0.25 s, past t_sys = 0.16 s
    # The benchmark's activation with sigma0 = 5 kPa (150 kPa would crush a free
    # beam: its fibres in compression have only the matrix's 0.059 kPa against
    # it); cells with x > 5 mm activate 50 ms later (an activation map given as
    # a function of position).
    bestel = dict(sigma0=5.0, alpha_max=5.0, alpha_min=-30.0, t_sys=0.16, t_dias=0.484,
                  gamma=0.005)
    internal = BestelActiveTension(**bestel,
                                   delay=lambda x: np.where(x[:, 0] > 5.0, delay, 0.0))
    law = NeoHookean(mu=10.0, lmbda=10.0) + ActiveStress(Ta=0.0)
    model = Model(Material(law, internal=internal), Fixed("x0", (0,)), Fixed("y0", (1,)),
                  Fixed("z0", (2,)))
    problem = HyperelasticProblem(beam, model, integrator=QuasiStatic(),
                                  petsc_options_prefix="bestel_fem_")
    try:
        simulate(problem, steps * dt, dt)
        ta = problem.internal_variable("Ta").x.array
        # The pointwise model alone, for an early and a delayed point.
        alone = {}
        for d in (0.0, delay):
            model_d = BestelActiveTension(**bestel, delay=d)
            q = model_d.init(1)
            for k in range(steps):
                q = advance(model_d, q, {"t": np.array((k + 1) * dt)}, dt)
            alone[d] = float(q["Ta"][0])
        assert alone[0.0] > alone[delay] > 0.0  # the delayed region lags
        values = np.unique(np.round(ta[np.isfinite(ta)], 9))
        for expected in alone.values():
            assert np.min(np.abs(values - expected)) < 1e-9 * max(expected, 1.0)
        tip = problem.displacement().x.array.reshape(-1, 3)[:, 0].min()
        assert tip < 0.0  # contraction along the fibres (x)
    finally:
        problem.close()


def test_a_period_repeats_the_activation_every_beat():
    # Heartbeats: a(t) = a((t - delay) mod period).  With period = 1 s (a power
    # of two, so t mod 1 is exact at binary times) the transient of beat 2 is
    # that of beat 1 started from the tension left at t = 1 s; the benchmark's
    # relaxation (alpha_min = -30 /s after 0.484 s) leaves 150 e^{-30 * 0.516}
    # = 3e-5 kPa of it, so beat 2 repeats beat 1 to that.
    dt = 2.0**-9
    single = BestelActiveTension.arostica_2025()
    beating = dataclasses.replace(single, period=1.0)
    t = np.array([0.1, 0.3, 0.5, 0.9])
    with jax.enable_x64(True):
        np.testing.assert_array_equal(beating.activation(t + 1.0), beating.activation(t))
        np.testing.assert_array_equal(beating.activation(t), single.activation(t))
    _, tau = _run(beating, 1, [dt] * 1024)
    first, second = tau[:513, 0], tau[512:, 0]
    assert first.max() > 100.0 and first[-1] < 1e-4
    np.testing.assert_allclose(second, first, atol=1e-4, rtol=0)
    with pytest.raises(ParameterError, match="period"):
        dataclasses.replace(single, period=-1.0)
