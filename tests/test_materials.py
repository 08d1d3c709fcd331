"""Materials: hand-derived stresses, autodiff consistency, frames, parameters, state.

Every expected value is a closed form derived in a comment (reference state,
uniaxial and equibiaxial stretch, simple shear), a property every admissible
law has (objectivity, symmetric tangent of a hyperelastic law, rotating the
fibre frame with the strain), or a central finite difference of the law's own
energy or stress.  Per-point parameters are checked against the same law
evaluated point by point with scalar parameters, internal variables against the
closed-form solutions of their ODEs.  Conventions: Voigt order (11, 22, 33, 23, 13, 12), strains
with engineering shears, ``R`` rows ``(f0, s0, n0)``, stresses in kPa.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from organfem.errors import ParameterError
from organfem.materials import (
    ActiveStress,
    ActiveTensionODE,
    Guccione,
    HolzapfelGasserOgden,
    HolzapfelOgden,
    InternalVariables,
    NeoHookean,
    Sum,
    VolumetricPenalty,
    advance,
    cauchy,
    evaluate,
    first_piola,
    first_piola_tangent,
    second_piola,
    voigt_stress_and_tangent,
    with_parameters,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from material_checks import (  # noqa: E402  (shared with test_cardiac_laws.py)
    E0,
    F0,
    FD_RTOL,
    H,
    Q,
    R0,
    at,
    close,
    from_voigt_strain,
    stress_voigt,
    voigt,
)

HO = HolzapfelOgden.holzapfel_ogden_2009()
TA = 60.0
KAPPA = 50.0
LAWS = {
    "neo-hookean": NeoHookean(mu=10.0, lmbda=40.0),
    "guccione": Guccione.land2015_problem1(),
    "holzapfel-ogden": HO,
    "active-reference": ActiveStress(Ta=TA),
    "active-current": ActiveStress(Ta=TA, configuration="current"),
    "penalty-quadratic": VolumetricPenalty(kappa=KAPPA, kind="quadratic"),
    "penalty-log": VolumetricPenalty(kappa=KAPPA, kind="log"),
    "penalty-simo-taylor": VolumetricPenalty(kappa=KAPPA, kind="simo-taylor"),
    "sum": HO + VolumetricPenalty(kappa=KAPPA) + ActiveStress(Ta=TA),
}
HYPERELASTIC = [name for name, law in LAWS.items() if law.hyperelastic]


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):  # thread-local, undone after each test
        yield


# --- reference state ---------------------------------------------------------


def _reference_stress(name: str) -> np.ndarray:
    f0f0 = np.outer(R0[0], R0[0])
    # NeoHookean: S = mu (I - C^-1) + lmbda ln J C^-1 = 0 at C = I.
    # Guccione: S = C/2 e^Q dQ/dE with dQ/dE linear in E: 0.
    # Penalties: S = kappa U'(J) J C^-1 = 0 since U'(1) = 0.
    # Holzapfel-Ogden: the isotropic term gives a/(2b) b e^{b(I1-3)} dI1/dE
    #   = a I at I1 = 3; the fibre terms vanish with (I4 - 1)_+ = 0, the
    #   fibre-sheet term with I8fs = 0.
    # Active stress: T_a f0 (x) f0, in the current configuration too since
    #   J / I4f = 1.
    expected = {
        "holzapfel-ogden": HO.a * np.eye(3),
        "active-reference": TA * f0f0,
        "active-current": TA * f0f0,
        "sum": HO.a * np.eye(3) + TA * f0f0,
    }
    return stress_voigt(expected.get(name, np.zeros((3, 3))))


@pytest.mark.parametrize("name", LAWS)
def test_reference_stress(name):
    S, _ = at(LAWS[name], np.zeros((1, 6)), R0)
    close(S[0], _reference_stress(name))


def test_reference_tangent_of_isotropic_laws():
    m = np.array([1.0, 1, 1, 0, 0, 0])
    # NeoHookean linearises to Hooke's law: D = lmbda m m^T + mu diag(2,2,2,1,1,1)
    # (the shear entries are mu because the strain carries engineering shears).
    law = LAWS["neo-hookean"]
    _, D = at(law, np.zeros((1, 6)))
    close(D[0], law.lmbda * np.outer(m, m) + law.mu * np.diag([2.0, 2, 2, 1, 1, 1]))
    # Penalty: d2/dE2 kappa U(J) = kappa (U''(1) dJ/dE (x) dJ/dE + U'(1) d2J/dE2)
    # = kappa m m^T, with dJ/dE = J C^-1 = I and U''(1) = 1, U'(1) = 0.
    for kind in ("quadratic", "log", "simo-taylor"):
        _, D = at(LAWS[f"penalty-{kind}"], np.zeros((1, 6)))
        close(D[0], KAPPA * np.outer(m, m))


# --- invariance --------------------------------------------------------------


@pytest.mark.parametrize("name", LAWS)
def test_objectivity(name):
    law = LAWS[name]
    F, R = jnp.asarray(F0), jnp.asarray(R0)
    P = first_piola(law, F, R)
    close(first_piola(law, Q @ F, R), Q @ P)
    close(second_piola(law, Q @ F, R), second_piola(law, F, R))


@pytest.mark.parametrize("name", ["guccione", "holzapfel-ogden"])
def test_rotating_fibres_and_strain_rotates_stress(name):
    law = LAWS[name]
    second_piola_of_E = jax.jit(lambda law, E, R: law.second_piola(E, R))  # compiled once
    S = second_piola_of_E(law, E0, R0)
    # Rotating the basis rows (f0 -> Q f0, ...) is R -> R Q^T.
    S_rot = second_piola_of_E(law, Q @ E0 @ Q.T, R0 @ Q.T)
    close(S_rot, Q @ S @ Q.T)
    # The fibres matter: rotating them alone changes the stress.
    assert not np.allclose(second_piola_of_E(law, E0, R0 @ Q.T), S)


# --- symmetry ----------------------------------------------------------------


@pytest.mark.parametrize("name", HYPERELASTIC)
def test_tangent_symmetry(name):
    law = LAWS[name]
    e = voigt(np.stack([E0, 0.5 * E0, np.diag([0.1, -0.05, 0.02])]))
    _, D = at(law, e, R0)
    close(D, np.swapaxes(D, 1, 2))
    # Major symmetry of A = dP/dF = d2 psi / dF dF.
    A = first_piola_tangent(law, jnp.asarray(F0), jnp.asarray(R0)).reshape(9, 9)
    close(A, A.T)


# --- closed forms ------------------------------------------------------------

STRETCHES = np.array([0.9, 1.05, 1.1, 1.2])


def uniaxial(lam):
    """F = diag(lam, 1, 1): E = diag((lam^2 - 1)/2, 0, 0)."""
    e = np.zeros((len(lam), 6))
    e[:, 0] = (lam**2 - 1) / 2
    return e


def equibiaxial(lam):
    """F = diag(lam, lam, 1): E = diag((lam^2 - 1)/2, (lam^2 - 1)/2, 0)."""
    e = uniaxial(lam)
    e[:, 1] = e[:, 0]
    return e


def test_neo_hookean_closed_forms():
    law = LAWS["neo-hookean"]
    mu, lm, lam = law.mu, law.lmbda, STRETCHES
    # psi = mu/2 (I1 - 3 - 2 ln J) + lmbda/2 ln^2 J, dI1/dE = 2 I,
    # d ln J/dE = C^-1, so S = mu (I - C^-1) + lmbda ln J C^-1.
    # Uniaxial: J = lam, C^-1 = diag(lam^-2, 1, 1).
    S, _ = at(law, uniaxial(lam))
    close(S[:, 0], mu * (1 - lam**-2) + lm * np.log(lam) / lam**2)
    close(S[:, 1], lm * np.log(lam))
    close(S[:, 2], lm * np.log(lam))
    close(S[:, 3:], 0.0)
    # Equibiaxial: J = lam^2, C^-1 = diag(lam^-2, lam^-2, 1).
    S, _ = at(law, equibiaxial(lam))
    close(S[:, 0], mu * (1 - lam**-2) + lm * 2 * np.log(lam) / lam**2)
    close(S[:, 1], S[:, 0])
    close(S[:, 2], lm * 2 * np.log(lam))


def test_guccione_closed_forms():
    law = LAWS["guccione"]
    C, bf, bt, lam = law.C, law.bf, law.bt, STRETCHES
    E = (lam**2 - 1) / 2
    # Uniaxial along the fibre: Q = bf E11^2, S11 = C/2 e^Q dQ/dE11
    # = C bf E11 exp(bf E11^2); the other components of dQ/dE vanish.
    S, _ = at(law, uniaxial(lam))
    close(S[:, 0], C * bf * E * np.exp(bf * E**2))
    close(S[:, 1:], 0.0)
    # Equibiaxial in the fibre-sheet plane: Q = (bf + bt) E^2,
    # S11 = C bf E e^Q, S22 = C bt E e^Q, S33 = 0.
    S, _ = at(law, equibiaxial(lam))
    eQ = np.exp((bf + bt) * E**2)
    close(S[:, 0], C * bf * E * eQ)
    close(S[:, 1], C * bt * E * eQ)
    close(S[:, 2:], 0.0)


def test_holzapfel_ogden_closed_forms():
    a, b, lam = HO.a, HO.b, STRETCHES
    d4 = lam**2 - 1  # I4 - 1 of the stretched directions
    # dpsi/dI1 dI1/dE = a e^{b(I1-3)} I; a fibre term gives
    # a_i/(2 b_i) e^{b_i d^2} 2 b_i d dI4/dE = 2 a_i d_+ e^{b_i d^2} f0 (x) f0,
    # nothing in compression (d < 0).
    fibre = 2 * HO.a_f * np.maximum(d4, 0) * np.exp(HO.b_f * d4**2)
    sheet = 2 * HO.a_s * np.maximum(d4, 0) * np.exp(HO.b_s * d4**2)
    # Uniaxial along f0: I1 - 3 = lam^2 - 1, I4f = lam^2, I4s = 1, I8fs = 0.
    S, _ = at(HO, uniaxial(lam))
    iso = a * np.exp(b * d4)
    close(S[:, 0], iso + fibre)
    close(S[:, 1], iso)
    close(S[:, 2], iso)
    close(S[:, 3:], 0.0)
    # Equibiaxial in the f0-s0 plane: I1 - 3 = 2 (lam^2 - 1), I4f = I4s = lam^2.
    S, _ = at(HO, equibiaxial(lam))
    iso = a * np.exp(2 * b * d4)
    close(S[:, 0], iso + fibre)
    close(S[:, 1], iso + sheet)
    close(S[:, 2], iso)
    # Simple shear F = I + g e1 (x) e2: C = [[1, g, 0], [g, 1 + g^2, 0], [0, 0, 1]],
    # I1 - 3 = g^2, I4f = 1, I4s = 1 + g^2, I8fs = g; E = (C - I)/2.
    # The fibre-sheet term a_fs/(2 b_fs)(e^{b_fs I8^2} - 1) with
    # dI8/dE = f0 (x) s0 + s0 (x) f0 gives S12 = a_fs g e^{b_fs g^2}.
    g = np.array([0.05, 0.1, 0.2])
    e = np.zeros((len(g), 6))
    e[:, 1], e[:, 5] = g**2 / 2, g
    S, _ = at(HO, e)
    iso = a * np.exp(b * g**2)
    close(S[:, 0], iso)
    close(S[:, 1], iso + 2 * HO.a_s * g**2 * np.exp(HO.b_s * g**4))
    close(S[:, 5], HO.a_fs * g * np.exp(HO.b_fs * g**2))


def test_holzapfel_gasser_ogden_closed_forms():
    law = HolzapfelGasserOgden.gasser_2006()
    lam = STRETCHES
    c2, s2, kappa = np.cos(np.deg2rad(law.angle)) ** 2, np.sin(np.deg2rad(law.angle)) ** 2, law.dispersion
    # Uniaxial along f0 (circumferential): C = diag(lam^2, 1, 1), J = lam.  The
    # matrix gives S = mu (I - C^-1).  Both families have I4 = c^2 lam^2 + s^2,
    # so E_i = d = (lam^2 - 1)(kappa + (1 - 3 kappa) c^2); each adds
    # 2 k1 d e^{k2 d^2} (kappa I + (1 - 3 kappa) a_i (x) a_i) for d > 0, and
    # a_+ (x) a_+ + a_- (x) a_- = 2 (c^2 f0 (x) f0 + s^2 s0 (x) s0).
    d = np.maximum((lam**2 - 1) * (kappa + (1 - 3 * kappa) * c2), 0)
    g = 4 * law.k1 * d * np.exp(law.k2 * d**2)
    S, _ = at(law, uniaxial(lam))
    close(S[:, 0], law.mu * (1 - 1 / lam**2) + g * (kappa + (1 - 3 * kappa) * c2))
    close(S[:, 1], g * (kappa + (1 - 3 * kappa) * s2))
    close(S[:, 2], g * kappa)
    close(S[:, 3:] / np.abs(S).max(), 0.0)  # collagen at 1.2 stretch: S ~ 1e8 kPa
    # Stress-free reference state (needed with a volumetric penalty).
    S, _ = at(law, np.zeros((1, 6)))
    close(S, 0.0)
    with pytest.raises(ParameterError, match="dispersion=0.4 must lie in"):
        HolzapfelGasserOgden(mu=1.0, k1=1.0, k2=1.0, dispersion=0.4)


@pytest.mark.parametrize(
    ("kind", "dU"),
    [
        ("quadratic", lambda J: J - 1),  # U = (J - 1)^2 / 2
        ("log", lambda J: np.log(J) / J),  # U = ln^2 J / 2
        ("simo-taylor", lambda J: (J - 1 / J) / 2),  # U = (J^2 - 1 - 2 ln J) / 4
    ],
)
def test_penalty_closed_forms(kind, dU):
    lam = STRETCHES
    # S = kappa U'(J) dJ/dE = kappa U'(J) J C^-1; uniaxial J = lam,
    # C^-1 = diag(lam^-2, 1, 1).
    S, _ = at(LAWS[f"penalty-{kind}"], uniaxial(lam))
    close(S[:, 0], KAPPA * dU(lam) / lam)
    close(S[:, 1], KAPPA * dU(lam) * lam)
    close(S[:, 2], KAPPA * dU(lam) * lam)


def test_active_stress_closed_forms():
    lam = STRETCHES
    # Reference configuration: S = T_a f0 (x) f0 whatever the strain.
    S, D = at(LAWS["active-reference"], uniaxial(lam))
    close(S[:, 0], TA)
    close(S[:, 1:], 0.0)
    close(D, 0.0)
    # Current configuration, uniaxial along f0: S11 = T_a J / I4f = T_a / lam,
    # and the Cauchy stress along the fibre is T_a itself.
    law = LAWS["active-current"]
    S, _ = at(law, uniaxial(lam))
    close(S[:, 0], TA / lam)
    close(S[:, 1:], 0.0)
    for value in lam:
        sigma = cauchy(law, jnp.diag(jnp.array([value, 1.0, 1.0])), jnp.eye(3))
        close(sigma, np.diag([TA, 0.0, 0.0]))


def test_sum_is_superposition():
    law = LAWS["sum"]
    assert isinstance(law, Sum) and len(law.terms) == 3
    assert law.name == "HolzapfelOgden+VolumetricPenalty+ActiveStress"
    e = voigt(E0)[None]
    S, D = at(law, e, R0)
    parts = [at(term, e, R0) for term in law.terms]
    close(S, sum(p[0] for p in parts))
    close(D, sum(p[1] for p in parts))
    E, R = jnp.asarray(E0), jnp.asarray(R0)
    close(law.energy(E, R), sum(term.energy(E, R) for term in law.terms))


# --- autodiff against finite differences -------------------------------------


@pytest.mark.parametrize("name", HYPERELASTIC)
def test_stress_is_energy_gradient(name):
    law = LAWS[name]
    e0 = voigt(E0)
    steps = H * np.eye(6)
    R = jnp.asarray(R0)
    energy = jax.vmap(lambda e: law.energy(from_voigt_strain(e), R))
    plus, minus = energy(jnp.asarray(e0 + steps)), energy(jnp.asarray(e0 - steps))
    S, _ = at(law, e0[None], R0)
    close((plus - minus) / (2 * H), S[0], rtol=FD_RTOL)


@pytest.mark.parametrize("name", LAWS)
def test_tangent_is_stress_derivative(name):
    law = LAWS[name]
    e0 = voigt(E0)
    steps = H * np.eye(6)
    S, D = at(law, np.concatenate([e0[None], e0 + steps, e0 - steps]), R0)
    fd = (S[1:7] - S[7:13]).T / (2 * H)  # column b: dS/de_b
    close(fd, D[0], rtol=FD_RTOL)


def test_parameter_gradient_matches_finite_differences():
    e, R = jnp.asarray(voigt(E0)), jnp.asarray(R0)
    outputs = [
        lambda law: law.stress(e, R) @ voigt(np.outer(R0[0], R0[0])),  # S_ff = S : f0 (x) f0
        lambda law: voigt_stress_and_tangent(law, e, R)[1][0, 0],  # D_11, through the kernel
    ]
    for output in outputs:
        gradient = jax.jit(jax.grad(output))(HO)
        output = jax.jit(output)  # the law is an argument: no recompilation
        for name in ("a", "b", "a_f", "b_f", "a_fs"):
            value = getattr(HO, name)
            step = H * value
            fd = (
                output(dataclasses.replace(HO, **{name: value + step}))
                - output(dataclasses.replace(HO, **{name: value - step}))
            ) / (2 * step)
            close(getattr(gradient, name), fd, rtol=FD_RTOL)


# --- batches -----------------------------------------------------------------


def test_evaluate_matches_pointwise():
    law = LAWS["sum"] + LAWS["active-current"]  # energy and extra stress
    rng = np.random.default_rng(7)
    n = 5
    e = 0.05 * rng.standard_normal((n, 6))
    R = Rotation.random(n, random_state=8).as_matrix()
    S, D = evaluate(law, e, R, chunk_size=2)  # three chunks, the last padded
    pointwise = jax.jit(voigt_stress_and_tangent)
    for i in range(n):
        Si, Di = pointwise(law, jnp.asarray(e[i]), jnp.asarray(R[i]))
        close(S[i], Si)
        close(D[i], Di)
    # Two worker threads share the chunks: same compiled call, same numbers.
    S2, D2 = evaluate(law, e, R, chunk_size=2, workers=2)
    np.testing.assert_array_equal(S2, S)
    np.testing.assert_array_equal(D2, D)


def test_evaluate_writes_into_out():
    law, e = LAWS["neo-hookean"], uniaxial(STRETCHES)
    out = (np.empty((len(e), 6)), np.empty((len(e), 6, 6)))
    S, D = evaluate(law, e, np.broadcast_to(np.eye(3), (len(e), 3, 3)), out=out)
    assert S is out[0] and D is out[1]
    expected = at(law, e)
    close(S, expected[0])
    close(D, expected[1])
    with pytest.raises(ValueError, match=r"out D must be a float64 NumPy array of shape"):
        evaluate(law, e, np.broadcast_to(np.eye(3), (4, 3, 3)), out=(S, np.empty((4, 36))))


def test_evaluate_shapes():
    S, D = evaluate(LAWS["neo-hookean"], np.zeros((0, 6)), np.zeros((0, 3, 3)))
    assert S.shape == (0, 6) and D.shape == (0, 6, 6)
    with pytest.raises(ValueError, match=r"e must have shape \(n, 6\)"):
        evaluate(LAWS["neo-hookean"], np.zeros((3, 3, 3)), np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match=r"R must have shape \(2, 3, 3\)"):
        evaluate(LAWS["neo-hookean"], np.zeros((2, 6)), np.zeros((3, 3, 3)))


# --- parameters --------------------------------------------------------------

VALID = {
    NeoHookean: {"mu": 1.0, "lmbda": 1.0},
    Guccione: {"C": 1.0, "bf": 1.0, "bt": 1.0, "bfs": 1.0},
    HolzapfelOgden: dict.fromkeys(("a", "b", "a_f", "b_f", "a_s", "b_s", "a_fs", "b_fs"), 1.0),
    HolzapfelGasserOgden: {"mu": 1.0, "k1": 1.0, "k2": 1.0, "dispersion": 0.1, "angle": 30.0},
    ActiveStress: {"Ta": 1.0},
    VolumetricPenalty: {"kappa": 1.0},
}
INVALID = [
    (cls, name, bad)
    for cls in VALID
    for name, bads in [
        *((name, (0.0, -1.0)) for name in cls._positive),
        *((name, (-1.0,)) for name in cls._non_negative),
    ]
    for bad in bads
]


@pytest.mark.parametrize(("cls", "name", "bad"), INVALID)
def test_invalid_parameter_is_rejected(cls, name, bad):
    with pytest.raises(ParameterError, match=rf"{cls.__name__}: parameter {name}={bad}"):
        cls(**{**VALID[cls], name: bad})


def test_invalid_options_are_rejected():
    for cls in VALID:  # zero is admissible where only >= 0 is required
        cls(**{**VALID[cls], **dict.fromkeys(cls._non_negative, 0.0)})
    with pytest.raises(ParameterError, match="configuration='deformed'"):
        ActiveStress(Ta=1.0, configuration="deformed")
    with pytest.raises(ParameterError, match="kind='cubic'"):
        VolumetricPenalty(kappa=1.0, kind="cubic")
    with pytest.raises(ParameterError, match="poisson=0.5"):
        NeoHookean.from_young(10.0, 0.5)
    with pytest.raises(NotImplementedError, match="not derived from a strain energy"):
        LAWS["active-current"].energy(jnp.asarray(E0), jnp.asarray(R0))


def test_from_young_gives_lame_constants():
    # mu = E / (2 (1 + nu)), lmbda = E nu / ((1 + nu)(1 - 2 nu)): E = 13, nu = 0.3
    # gives mu = 5, lmbda = 3.9 / 0.52 = 7.5.
    law = NeoHookean.from_young(13.0, 0.3)
    assert law.mu == pytest.approx(5.0) and law.lmbda == pytest.approx(7.5)


# --- per-point parameters ----------------------------------------------------

# A law with one scalar-only term and two per-point fields in different terms.
PER_POINT_LAW = HO + VolumetricPenalty(kappa=KAPPA) + ActiveStress(Ta=0.0)


def _per_point_state(n: int, seed: int):
    rng = np.random.default_rng(seed)
    e = 0.05 * rng.standard_normal((n, 6))
    R = Rotation.random(n, random_state=seed + 1).as_matrix()
    a = HO.a * (1 + rng.uniform(0, 4, n))  # regional stiffness [kPa]
    Ta = TA * rng.uniform(0, 1, n)  # regional activation [kPa]
    Ta[0] = 0.0  # a scar point
    return e, R, a, Ta


@pytest.mark.parametrize(("n", "chunk_size"), [(7, 3), (5, None)])
def test_per_point_parameters_match_pointwise_laws(n, chunk_size):
    # 7 points in chunks of 3: the last chunk holds one point and two padded
    # ones; the default chunk (8192 on CPU) pads 5 points to a whole chunk.
    e, R, a, Ta = _per_point_state(n, seed=11)
    law = with_parameters(PER_POINT_LAW, a=a, Ta=Ta)
    S, D = evaluate(law, e, R, chunk_size=chunk_size)
    for i in range(n):  # the source: the law with scalar parameters, point by point
        scalar = with_parameters(PER_POINT_LAW, a=a[i], Ta=Ta[i])
        Si, Di = evaluate(scalar, e[i : i + 1], R[i : i + 1])
        close(S[i], Si[0])
        close(D[i], Di[0])
    # Two worker threads share the chunks: same compiled call, same numbers.
    S2, D2 = evaluate(law, e, R, chunk_size=chunk_size, workers=2)
    np.testing.assert_array_equal(S2, S)
    np.testing.assert_array_equal(D2, D)


def test_per_point_parameters_must_have_one_value_per_point():
    e, R, a, _ = _per_point_state(4, seed=3)
    law = with_parameters(PER_POINT_LAW, a=a)
    with pytest.raises(ParameterError, match=r"terms\[0\]\.a has shape \(4,\); .* shape \(3,\)"):
        evaluate(law, e[:3], R[:3])


def test_with_parameters_replaces_in_every_term():
    law = HO + ActiveStress(Ta=0.0)
    active = with_parameters(law, Ta=TA, a_f=2.0)
    assert isinstance(active, Sum) and len(active.terms) == 2
    assert active.terms[1] == ActiveStress(Ta=TA)
    assert active.terms[0] == dataclasses.replace(HO, a_f=2.0)
    assert law.terms[1].Ta == 0.0  # the original is unchanged
    # Every term with the name gets it, nested sums included.
    twice = with_parameters(Sum((ActiveStress(Ta=1.0), Sum((HO, ActiveStress(Ta=2.0))))), Ta=TA)
    assert twice.terms[0].Ta == TA and twice.terms[1].terms[1].Ta == TA
    # A single law, and lists as per-point values.
    assert with_parameters(HO, a=[1.0, 2.0]).a.tolist() == [1.0, 2.0]


def test_with_parameters_errors():
    law = HO + ActiveStress(Ta=0.0)
    with pytest.raises(
        ParameterError, match=r"'Tb' is not a parameter of HolzapfelOgden\+ActiveStress"
    ):
        with_parameters(law, Tb=1.0)
    with pytest.raises(ParameterError, match=r"'mu', 'kind' are not parameters of HolzapfelOgden"):
        with_parameters(HO, mu=1.0, kind="log")
    # Options are not parameters, nor is the list of terms of a sum.
    with pytest.raises(ParameterError, match=r"'configuration' is not a parameter"):
        with_parameters(law, configuration="current")
    with pytest.raises(ParameterError, match=r"'terms' is not a parameter"):
        with_parameters(law, terms=())
    # New values are validated like those given at construction.
    with pytest.raises(ParameterError, match=r"ActiveStress: parameter Ta=-1.0 must be >= 0"):
        with_parameters(law, Ta=-1.0)


def test_invalid_per_point_parameter_is_rejected():
    # Two of four points are not > 0; the smallest offending value is -2.
    with pytest.raises(
        ParameterError,
        match=r"HolzapfelOgden: parameter a must be > 0 at every point; "
        r"2 of 4 points are not \(minimum -2.0\)",
    ):
        with_parameters(HO, a=np.array([1.0, -2.0, 0.0, 3.0]))
    with pytest.raises(ParameterError, match=r"parameter Ta must be >= 0 .* 1 of 3 points"):
        ActiveStress(Ta=np.array([0.0, -1.0, 1.0]))
    ActiveStress(Ta=np.zeros(3))  # zero tension is admissible everywhere


def test_with_parameters_is_differentiable():
    # S = ... + Ta f0 (x) f0 and S_ff = S : f0 (x) f0 (|f0| = 1), so dS_ff/dTa = 1
    # at every point, through with_parameters and a per-point Ta.
    e, R = jnp.asarray(voigt(E0)), jnp.asarray(R0)
    ff = voigt(np.outer(R0[0], R0[0]))

    def fibre_stress(Ta):  # sum over three points of S_ff
        law = with_parameters(PER_POINT_LAW, Ta=Ta)
        stress = jax.vmap(lambda law: law.stress(e, R), in_axes=(law_axes(law),))
        return jnp.sum(stress(law) @ ff)

    def law_axes(law):  # map the Ta leaf only
        return jax.tree.map(lambda leaf: 0 if jnp.ndim(leaf) else None, law)

    close(jax.grad(fibre_stress)(TA * np.ones(3)), np.ones(3))


# --- internal variables ------------------------------------------------------

# Activation: tau dTa/dt = Tmax s(t) - Ta, s = 1 on [t_act, t_act + duration).
TMAX = 60.0  # [kPa]
TAU = 0.05  # [s]
DT = 2.0**-9  # [s], a power of two: the times k DT are exact in binary
T_ACT = 64 * DT  # [s] = 0.125, on a step boundary


def _integrate(model, n: int, steps) -> tuple[np.ndarray, np.ndarray]:
    """Times (end of each step) and Ta (len(steps) + 1, n), from Ta = 0 at t = 0."""
    q = {key: np.asarray(value) for key, value in model.init(n).items()}
    t, times, history = 0.0, [0.0], [q["Ta"]]
    for dt in steps:
        t += dt
        q = advance(model, q, {"t": t, "stretch": np.ones(n)}, dt)
        times.append(t)
        history.append(q["Ta"])
    return np.array(times), np.array(history)


def _rise(t, t_act, Tmax=TMAX, tau=TAU):
    """Ta(t) from Ta(t_act) = 0 with the target on.

    tau dTa/dt = Tmax - Ta for t >= t_act: Ta - Tmax = (Ta(t_act) - Tmax)
    exp(-(t - t_act)/tau), so Ta = Tmax (1 - exp(-(t - t_act)/tau)); before
    t_act the target is 0 and Ta stays 0.  1 - exp(-x) = -expm1(-x).
    """
    return np.where(t >= t_act, -Tmax * np.expm1(-np.maximum(t - t_act, 0.0) / tau), 0.0)


def test_active_tension_ode_matches_closed_form():
    model = ActiveTensionODE(Tmax=TMAX, tau=TAU, t_act=T_ACT)
    assert model.sets == ("Ta",) and isinstance(model, InternalVariables)
    times, Ta = _integrate(model, 2, [DT] * 512)  # to t = 1 s = 20 tau
    np.testing.assert_allclose(Ta, _rise(times, T_ACT)[:, None] * np.ones(2), rtol=1e-12, atol=0)
    # Exact for any steps with t_act on a boundary: DT, 2 DT, DT, 2 DT, ...
    # (t_act = 64 DT = 21 (1 + 2) DT + 1 DT ends the 43rd step).
    steps = [DT * (1 + k % 2) for k in range(350)]
    assert T_ACT in np.cumsum(steps)
    times, Ta = _integrate(model, 1, steps)
    np.testing.assert_allclose(Ta[:, 0], _rise(times, T_ACT), rtol=1e-12, atol=0)


def test_active_tension_ode_per_point_parameters():
    # Three regions: early, late (both on step boundaries) and a scar (Tmax = 0).
    t_act = np.array([0.0, T_ACT, 3 * T_ACT])
    Tmax = np.array([TMAX, 2 * TMAX, 0.0])
    model = ActiveTensionODE(Tmax=Tmax, tau=TAU, t_act=t_act)
    times, Ta = _integrate(model, 3, [DT] * 512)
    for i in range(3):
        np.testing.assert_allclose(
            Ta[:, i], _rise(times, t_act[i], Tmax=Tmax[i]), rtol=1e-12, atol=0
        )
    # The state sets the law's active tension, one value per point.
    law = with_parameters(HO + ActiveStress(Ta=0.0), **model.parameters({"Ta": Ta[-1]}))
    np.testing.assert_array_equal(law.terms[1].Ta, Ta[-1])
    with pytest.raises(ParameterError, match=r"ActiveTensionODE: parameter Tmax has shape \(3,\)"):
        model.init(4)


def test_active_tension_ode_relaxes_after_duration():
    duration = 128 * DT  # [s] = 0.25, so t_end = t_act + duration is a step boundary
    t_end = T_ACT + duration
    model = ActiveTensionODE(Tmax=TMAX, tau=TAU, t_act=T_ACT, duration=duration)
    times, Ta = _integrate(model, 1, [DT] * 512)
    # Up to t_end the rise above; after it tau dTa/dt = -Ta, so
    # Ta(t) = Ta(t_end) exp(-(t - t_end)/tau) with Ta(t_end) = _rise(t_end).
    expected = np.where(
        times <= t_end,
        _rise(times, T_ACT),
        _rise(t_end, T_ACT) * np.exp(-(times - t_end) / TAU),
    )
    np.testing.assert_allclose(Ta[:, 0], expected, rtol=1e-12, atol=0)


def test_internal_variable_errors():
    with pytest.raises(ParameterError, match=r"ActiveTensionODE: parameter tau=0.0 must be > 0"):
        ActiveTensionODE(Tmax=TMAX, tau=0.0)
    with pytest.raises(ParameterError, match=r"parameter Tmax must be >= 0 .* 1 of 2 points"):
        ActiveTensionODE(Tmax=np.array([1.0, -1.0]), tau=TAU)
    model = ActiveTensionODE(Tmax=TMAX, tau=TAU)
    q = model.init(2)
    with pytest.raises(ParameterError, match=r"step dt=0.0 s must be > 0"):
        advance(model, q, {"t": 0.0}, 0.0)
    with pytest.raises(ValueError, match=r"inputs must hold 't'"):
        advance(model, q, {"stretch": np.ones(2)}, DT)


# --- packaging ---------------------------------------------------------------


def test_import_does_not_load_dolfinx():
    code = "import sys, organfem.materials; sys.exit('dolfinx' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=False)
    assert result.returncode == 0, "import organfem.materials imported dolfinx"
