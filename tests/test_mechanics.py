"""Mechanics on DOLFINx: closed-form homogeneous solutions, cavity volumes,
JAX path against UFL path, pseudo-time paths with checkpoints, and errors
on bad input.

Homogeneous deformations are represented exactly by P1 and P2 displacements,
so the finite-element answer equals the closed form up to the Newton
tolerance; the closed forms are derived in the comments and solved for the
stretch with a scalar root finder.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from organfem._dolfinx import dolfinx, ufl
from organfem.errors import ConvergenceError, MissingTagError, ParameterError
from organfem.io import ResultsWriter, load_checkpoint, read_results
from organfem.materials import Guccione, NeoHookean, VolumetricPenalty
from organfem.mechanics import (
    Displacement,
    Fixed,
    HyperelasticProblem,
    Material,
    Model,
    Pressure,
    Regions,
    Spring,
    cavity_volume,
    probe,
    ramp,
)

# The meshes (the 10 x 1 x 1 mm beam ``beam`` with tags x0, x1, y0, y1, z0,
# z1, in hexahedra ``hex_beam``, coarser ``coarse_beam``; the LV ellipsoid
# ``lv_coarse_domain``) are session fixtures of conftest.py.


def _symmetric_uniaxial(domain, law, traction, **kw) -> HyperelasticProblem:
    """Roller supports on x0, y0, z0; follower traction ``traction`` [kPa] on x1.

    A negative pressure is a tensile Cauchy traction.
    """
    problem = HyperelasticProblem(
        domain,
        law,
        constraints=[Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,))],
        loads=[Pressure("x1", -traction)],
        **kw,
    )
    ramp(problem, 4)
    return problem


def test_neo_hookean_uniaxial_tension_matches_closed_form(beam, hex_beam):
    # On tetrahedra (P1, P2) and hexahedra (Q1, Q2).
    # Neo-Hookean: sigma = mu/J (B - I) + lmbda ln(J)/J I, B = diag(l1^2, l2^2, l2^2).
    # Lateral faces free: sigma22 = 0  =>  mu (l2^2 - 1) + lmbda ln J = 0, J = l1 l2^2.
    # Axial: sigma11 = s  =>  mu (l1^2 - l2^2) = s J  (subtracting the two).
    mu, lmbda, s = 1.0, 2.0, 0.6
    law = NeoHookean(mu=mu, lmbda=lmbda)

    def lateral(l1):
        return brentq(lambda l2: mu * (l2**2 - 1) + lmbda * np.log(l1 * l2**2), 0.2, 1.5)

    l1 = brentq(lambda l1: mu * (l1**2 - lateral(l1) ** 2) - s * l1 * lateral(l1) ** 2, 1.0, 3.0)
    l2 = lateral(l1)
    for domain in (beam, hex_beam):
        for degree in (1, 2):
            prefix = f"nh_{domain.mesh.basix_cell().name}{degree}_"
            problem = _symmetric_uniaxial(domain, law, s, degree=degree, petsc_options_prefix=prefix)
            u = probe(problem.displacement(), np.array([[10.0, 1.0, 1.0]]))[0]
            np.testing.assert_allclose(u, [10 * (l1 - 1), l2 - 1, l2 - 1], rtol=1e-8)


def test_prescribed_displacement_stretches_to_the_closed_form(beam):
    # The end x1 pulled along x by Displacement, ramped from 0 to d = 2 mm over
    # the pseudo-time (rollers on x0, y0, z0): homogeneous uniaxial stretch
    # l1 = 1 + d / L, with the lateral stretch l2 of the closed form above,
    # mu (l2^2 - 1) + lmbda ln(l1 l2^2) = 0; and under the mixed
    # (incompressible) formulation l2 = l1^(-1/2).
    mu, lmbda, d = 1.0, 2.0, 2.0
    l1 = 1 + d / 10.0
    l2 = brentq(lambda l2: mu * (l2**2 - 1) + lmbda * np.log(l1 * l2**2), 0.2, 1.5)
    problem = HyperelasticProblem(
        beam,
        NeoHookean(mu=mu, lmbda=lmbda),
        constraints=[Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,)),
                     Displacement("x1", (d, None, None))],
        petsc_options_prefix="pulled_",
    )  # fmt: skip
    halfway = []
    ramp(problem, [0.5, 1.0], on_step=lambda s: halfway.append(probe(problem.displacement(), [[10, 1, 1]])[0, 0]))
    assert halfway[0] == pytest.approx(d / 2, rel=1e-12)  # ramped: d t
    u = probe(problem.displacement(), np.array([[10.0, 1.0, 1.0]]))[0]
    np.testing.assert_allclose(u, [d, l2 - 1, l2 - 1], rtol=1e-8)
    mixed = HyperelasticProblem(
        beam,
        NeoHookean(mu=mu, lmbda=0.0),
        constraints=[Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,)),
                     Displacement("x1", (d, None, None))],
        formulation="mixed",
        petsc_options_prefix="pulled_mixed_",
    )  # fmt: skip
    ramp(mixed, 2)
    u = probe(mixed.displacement(), np.array([[10.0, 1.0, 1.0]]))[0]
    np.testing.assert_allclose(u, [d, l1**-0.5 - 1, l1**-0.5 - 1], rtol=1e-8)


def test_incompressible_guccione_uniaxial_matches_closed_form(beam):
    # Isotropic Guccione (bf = bt = bfs = 1): psi = C/2 (exp(E:E) - 1), S = C exp(E:E) E.
    # Incompressible uniaxial: l2 = l1^(-1/2); lateral sigma22 = 0 fixes p, so
    # s = sigma11 - sigma22 = l1^2 S11 - l2^2 S22 with E11 = (l1^2-1)/2, E22 = (l2^2-1)/2.
    C, s = 10.0, 5.0

    def axial(l1):
        l2sq = 1 / l1
        E11, E22 = (l1**2 - 1) / 2, (l2sq - 1) / 2
        k = C * np.exp(E11**2 + 2 * E22**2)
        return l1**2 * k * E11 - l2sq * k * E22 - s

    l1 = brentq(axial, 1.0, 2.0)
    law = Guccione.land2015_problem2() + VolumetricPenalty(kappa=50.0, kind="log")
    problem = _symmetric_uniaxial(beam, law, s, formulation="mixed", petsc_options_prefix="guc_")
    u = probe(problem.displacement(), np.array([[10.0, 1.0, 1.0]]))[0]
    np.testing.assert_allclose(u, [10 * (l1 - 1), l1**-0.5 - 1, l1**-0.5 - 1], rtol=1e-8)


def test_jax_and_ufl_paths_give_the_same_answer(beam):
    # The same compressible neo-Hookean law, once through the JAX kernel at
    # quadrature points and once written in UFL: identical discrete problems.
    mu, lmbda = 1.0, 2.0

    def neo_hookean_ufl(E, R):
        C = ufl.Identity(3) + 2 * E
        lnJ = 0.5 * ufl.ln(ufl.det(C))
        return 0.5 * mu * (ufl.tr(C) - 3 - 2 * lnJ) + 0.5 * lmbda * lnJ**2

    tip = np.array([[10.0, 0.5, 1.0]])
    answers = []
    for name, law in (("jax", NeoHookean(mu=mu, lmbda=lmbda)), ("ufl", neo_hookean_ufl)):
        problem = HyperelasticProblem(
            beam, law, constraints=[Fixed("x0")], loads=[Pressure("z0", 0.002)],
            petsc_options_prefix=f"path_{name}_",
        )  # fmt: skip
        result = ramp(problem, 4)
        answers.append((probe(problem.displacement(), tip), result.newton_iterations))
    np.testing.assert_allclose(answers[0][0], answers[1][0], rtol=1e-9)
    assert answers[0][1] == answers[1][1]
    # The tip deflects by more than its thickness: the large-deflection regime.
    assert answers[0][0][0, 2] > 1.0


def test_cavity_volume_reference_and_uniform_dilation(lv_coarse_domain):
    domain = lv_coarse_domain
    # Truncated ellipsoid cap, semi-axes (7, 7, 17), z <= 5:
    # V = pi rs^2 int_{-rl}^{zb} (1 - z^2/rl^2) dz = pi rs^2 (zb + rl - (zb^3 + rl^3)/(3 rl^2)).
    rs, rl, zb = 7.0, 17.0, 5.0
    exact = np.pi * rs**2 * (zb + rl - (zb**3 + rl**3) / (3 * rl**2))
    v0 = cavity_volume(domain, None, "endo", base_point=(0, 0, zb))
    # Flat facets inscribed in the ellipsoid lose volume at O(h^2): 1.6 % at
    # h = 2 mm, 3.2 % at h = 3 mm (measured).
    assert 0.95 * exact < v0 < exact
    # u = a X scales every length by (1 + a): the volume by (1 + a)^3, the base
    # plane moves to z = zb (1 + a).
    a = 0.1
    V = dolfinx.fem.functionspace(domain.mesh, ("Lagrange", 1, (3,)))
    u = dolfinx.fem.Function(V)
    u.interpolate(lambda x: a * x)
    v1 = cavity_volume(domain, u, "endo", base_point=(0, 0, zb * (1 + a)))
    assert v1 == pytest.approx((1 + a) ** 3 * v0, rel=1e-12)


def test_springs_and_body_force_balance_closed_form(beam):
    # A small body force b along z on the beam held only by a normal spring k
    # on z0 (and rollers in x, y): force balance b * volume = k * uz * area,
    # uz = b * 10 / (k * 10) = b / k.  The solid is 1e4 times stiffer than the
    # spring, so its own strain (~ b / mu = 1e-7) is negligible.
    from organfem.mechanics import BodyForce

    b, k = 1e-4, 2.0
    problem = HyperelasticProblem(
        beam,
        NeoHookean(mu=1e4, lmbda=1e4),
        constraints=[Fixed("x0", (0,)), Fixed("y0", (1,))],
        loads=[Spring("z0", k, normal_only=True), BodyForce((0.0, 0.0, b))],
        petsc_options_prefix="spring_",
    )
    ramp(problem, 1)
    uz = probe(problem.displacement(), np.array([[5.0, 0.5, 0.5]]))[0, 2]
    assert uz == pytest.approx(b / k, rel=1e-4)


def test_missing_tag_is_named(beam):
    with pytest.raises(MissingTagError, match="'endo'.*available"):
        HyperelasticProblem(
            beam, NeoHookean(mu=1.0, lmbda=1.0), constraints=[Fixed("endo")],
            petsc_options_prefix="missing_tag_",
        )  # fmt: skip


def test_bad_formulation_degree_and_prefix_are_rejected(beam):
    law = NeoHookean(mu=1.0, lmbda=1.0)
    with pytest.raises(ParameterError, match="formulation"):
        HyperelasticProblem(beam, law, formulation="incompressible", petsc_options_prefix="bad_f_")
    with pytest.raises(ParameterError, match="degree=2"):
        HyperelasticProblem(beam, law, formulation="mixed", degree=1, petsc_options_prefix="bad_d_")
    with pytest.raises(ParameterError, match="stiffness"):
        Spring("x0", 0.0)
    # The options prefix is required, and unique among live problems.
    with pytest.raises(TypeError, match="petsc_options_prefix"):
        HyperelasticProblem(beam, law)
    with pytest.raises(ParameterError, match="non-empty string"):
        HyperelasticProblem(beam, law, petsc_options_prefix="")
    first = HyperelasticProblem(beam, law, degree=1, petsc_options_prefix="taken_")
    with pytest.raises(ParameterError, match="'taken_' is already used by a live problem"):
        HyperelasticProblem(beam, law, degree=1, petsc_options_prefix="taken_")
    first.close()  # frees the prefix
    HyperelasticProblem(beam, law, degree=1, petsc_options_prefix="taken_").close()


def test_failed_newton_names_the_pseudo_time_pressure_and_inversion(beam):
    # A soft compressible beam crushed by a follower pressure of 100 mu in one
    # step, with no step cuts allowed: Newton's iterates invert elements.  The
    # message names the pseudo-times and the pressures there in kPa and mmHg
    # (100 kPa = 750.06 mmHg; the ramp starts from 0).
    problem = HyperelasticProblem(
        beam,
        NeoHookean(mu=1.0, lmbda=1.0),
        constraints=[Fixed("x0")],
        loads=[Pressure("x1", 100.0)],
        degree=1,
        petsc_options_prefix="crush_",
    )
    expected = (
        r"Newton failed to reach pseudo-time 1 from the converged pseudo-time 0 after 0 step "
        r"cuts \(last step 1\): \w+, residual norm [-+.\de]+; det F = -[.\de]+ <= 0 at the last "
        r"iterate \(inverted elements\)\. Target: x1 pressure 100 kPa \(750\.1 mmHg\); "
        r"last converged: x1 pressure 0 kPa \(0 mmHg\)"
    )
    with pytest.raises(ConvergenceError, match=expected):
        ramp(problem, 1, max_cuts=0)
    # The failed step was rolled back: the problem is still at pseudo-time 0.
    assert problem.time == 0.0
    assert np.all(problem.displacement().x.array == 0.0)


def test_ramp_resumes_from_a_checkpoint(beam, coarse_beam, tmp_path):
    # An interrupted ramp (stopped after pseudo-time 0.5) resumed from its
    # checkpoint reaches the same state as an uninterrupted one, solving only
    # the rest.
    law, tip = NeoHookean(mu=1.0, lmbda=2.0), np.array([[10.0, 1.0, 1.0]])

    def problem(name, domain=beam):
        return HyperelasticProblem(
            domain, law, constraints=[Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,))],
            loads=[Pressure("x1", -0.6)], petsc_options_prefix=f"resume_{name}_",
        )  # fmt: skip

    whole = problem("whole")
    ramp(whole, 4)
    ckpt, path = tmp_path / "ckpt", tmp_path / "ramp.vtkhdf"

    def writer_of(p):
        out = ResultsWriter(path, beam.mesh, resume=True)
        return out, lambda s: out.write(s.time, {"displacement": p.displacement()})

    first = problem("first")
    out, write = writer_of(first)
    ramp(first, [0.25, 0.5], checkpoint=ckpt, results=out, on_step=write)
    out.__exit__(RuntimeError, RuntimeError("interrupted"), None)  # leaves the .partial file
    # The checkpoint is organfem.io's, holding the committed state at 0.5.
    arrays, record = load_checkpoint(ckpt, beam.comm)
    assert record["time"] == 0.5 and record["step"] == 2
    assert "field_w" in arrays
    resumed = problem("rest")
    out, write = writer_of(resumed)
    with out:
        result = ramp(resumed, 4, checkpoint=ckpt, results=out, on_step=write)
    # The results file keeps the steps written before the interruption.
    assert list(read_results(path).times) == [0.25, 0.5, 0.75, 1.0]
    assert [s.time for s in result.steps] == [0.75, 1.0]
    assert [s.level for s in result.steps] == [0.75, 1.0]  # the old name of the pseudo-time
    assert resumed.time == 1.0 and resumed.state.step == 4
    np.testing.assert_allclose(
        probe(resumed.displacement(), tip), probe(whole.displacement(), tip), rtol=1e-8
    )
    # A checkpoint (or a state) of another mesh is refused.
    other = problem("other", coarse_beam)
    with pytest.raises(ParameterError, match="unknowns"):
        ramp(other, 4, checkpoint=ckpt)
    with pytest.raises(ParameterError, match="another mesh"):
        other.restore(whole.state)


def test_state_restores_a_problem_to_an_earlier_time(beam):
    # problem.state is a copy of the committed state; restore() makes it the
    # committed state again, and the path continues from there as before.
    law, tip = NeoHookean(mu=1.0, lmbda=2.0), np.array([[10.0, 1.0, 1.0]])
    problem = HyperelasticProblem(
        beam, law, constraints=[Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,))],
        loads=[Pressure("x1", -0.6)], degree=1, petsc_options_prefix="state_",
    )  # fmt: skip
    ramp(problem, [0.5])
    half = problem.state
    u_half = probe(problem.displacement(), tip)
    ramp(problem, [1.0], start=0.5)
    u_end = probe(problem.displacement(), tip)
    assert half.time == 0.5 and problem.time == 1.0
    assert not np.allclose(u_half, u_end)
    problem.restore(half)
    assert problem.time == 0.5
    np.testing.assert_array_equal(probe(problem.displacement(), tip), u_half)
    ramp(problem, [1.0], start=0.5)
    np.testing.assert_allclose(probe(problem.displacement(), tip), u_end, rtol=1e-10)


def test_per_point_parameters_from_regions_and_positions(beam):
    # A law parameter given per point (Regions by cell tag, or a callable of
    # position) enters the same kernel as a scalar: with the same value
    # everywhere the answer is the scalar law's to round-off; with a stiffer
    # half the beam stretches less (a real per-point field).
    def stretched(law, **material):
        problem = HyperelasticProblem(
            beam,
            Model(Material(law, **material), Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,)),
                  Pressure("x1", -0.3)),
            petsc_options_prefix=f"fields_{next(_FIELDS)}_",
        )  # fmt: skip
        ramp(problem, 2)
        return probe(problem.displacement(), np.array([[10.0, 1.0, 1.0]]))[0, 0]

    scalar = stretched(NeoHookean(mu=2.0, lmbda=1.0))
    by_tag = stretched(NeoHookean(mu=1.0, lmbda=1.0), fields={"mu": Regions({"tissue": 2.0})})
    by_position = stretched(NeoHookean(mu=1.0, lmbda=1.0), fields={"mu": lambda x: 2.0 + 0.0 * x[:, 0]})
    assert by_tag == pytest.approx(scalar, rel=1e-12)
    assert by_position == pytest.approx(scalar, rel=1e-12)
    # mu = 2 on x < 5, 4 beyond: under the same (small) traction each half
    # stretches about in inverse proportion to its stiffness, so the tip moves
    # between the all-4 and the all-2 answers, near their mean.
    stiff = stretched(NeoHookean(mu=4.0, lmbda=1.0))
    halves = stretched(NeoHookean(mu=1.0, lmbda=1.0), fields={"mu": lambda x: np.where(x[:, 0] < 5, 2.0, 4.0)})
    assert stiff < halves < scalar
    assert halves == pytest.approx((stiff + scalar) / 2, rel=0.05)
    with pytest.raises(ParameterError, match="no cell tag 'scar'"):
        stretched(NeoHookean(mu=1.0, lmbda=1.0), fields={"mu": Regions({"scar": 2.0})})


_FIELDS = iter(range(10**6))
