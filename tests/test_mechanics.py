"""Mechanics on DOLFINx: closed-form homogeneous solutions, cavity volumes,
JAX path against UFL path, load stepping, and errors on bad input.

Homogeneous deformations are represented exactly by P1 and P2 displacements,
so the finite-element answer equals the closed form up to the Newton
tolerance; the closed forms are derived in the comments and solved for the
stretch with a scalar root finder.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from organfem._dolfinx import MPI, dolfinx, ufl
from organfem.errors import ConvergenceError, MissingTagError, ParameterError
from organfem.materials import Guccione, NeoHookean, VolumetricPenalty
from organfem.mechanics import (
    Domain,
    Fixed,
    HyperelasticProblem,
    Pressure,
    Spring,
    cavity_volume,
    probe,
    ramp,
)
from organfem.meshing import land_beam, lv_ellipsoid

COMM = MPI.COMM_WORLD


def _box(h: float = 0.5) -> Domain:
    """The 10 x 1 x 1 mm beam; tags x0, x1, y0, y1, z0, z1."""
    return Domain.from_meshdata(land_beam(h=h) if COMM.rank == 0 else None, COMM)


@pytest.fixture(scope="module")
def box() -> Domain:
    return _box()


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


def test_neo_hookean_uniaxial_tension_matches_closed_form(box):
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
    hexes = Domain.from_meshdata(
        land_beam(h=0.5, cell_type="hexahedron") if COMM.rank == 0 else None, COMM
    )
    for domain in (box, hexes):
        for degree in (1, 2):
            prefix = f"nh_{domain.mesh.basix_cell().name}{degree}_"
            problem = _symmetric_uniaxial(domain, law, s, degree=degree, petsc_options_prefix=prefix)
            u = probe(problem.displacement(), np.array([[10.0, 1.0, 1.0]]))[0]
            np.testing.assert_allclose(u, [10 * (l1 - 1), l2 - 1, l2 - 1], rtol=1e-8)


def test_incompressible_guccione_uniaxial_matches_closed_form(box):
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
    problem = _symmetric_uniaxial(box, law, s, formulation="mixed", petsc_options_prefix="guc_")
    u = probe(problem.displacement(), np.array([[10.0, 1.0, 1.0]]))[0]
    np.testing.assert_allclose(u, [10 * (l1 - 1), l1**-0.5 - 1, l1**-0.5 - 1], rtol=1e-8)


def test_jax_and_ufl_paths_give_the_same_answer(box):
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
            box, law, constraints=[Fixed("x0")], loads=[Pressure("z0", 0.002)],
            petsc_options_prefix=f"path_{name}_",
        )  # fmt: skip
        result = ramp(problem, 4)
        answers.append((probe(problem.displacement(), tip), result.newton_iterations))
    np.testing.assert_allclose(answers[0][0], answers[1][0], rtol=1e-9)
    assert answers[0][1] == answers[1][1]
    # The tip deflects by more than its thickness: the large-deflection regime.
    assert answers[0][0][0, 2] > 1.0


def test_cavity_volume_reference_and_uniform_dilation():
    domain = Domain.from_meshdata(lv_ellipsoid(h=2.0) if COMM.rank == 0 else None, COMM)
    # Truncated ellipsoid cap, semi-axes (7, 7, 17), z <= 5:
    # V = pi rs^2 int_{-rl}^{zb} (1 - z^2/rl^2) dz = pi rs^2 (zb + rl - (zb^3 + rl^3)/(3 rl^2)).
    rs, rl, zb = 7.0, 17.0, 5.0
    exact = np.pi * rs**2 * (zb + rl - (zb**3 + rl**3) / (3 * rl**2))
    v0 = cavity_volume(domain, None, "endo", base_point=(0, 0, zb))
    # Flat facets inscribed in the ellipsoid lose volume at O(h^2): 1-5 % at h = 2 mm.
    assert 0.95 * exact < v0 < exact
    # u = a X scales every length by (1 + a): the volume by (1 + a)^3, the base
    # plane moves to z = zb (1 + a).
    a = 0.1
    V = dolfinx.fem.functionspace(domain.mesh, ("Lagrange", 1, (3,)))
    u = dolfinx.fem.Function(V)
    u.interpolate(lambda x: a * x)
    v1 = cavity_volume(domain, u, "endo", base_point=(0, 0, zb * (1 + a)))
    assert v1 == pytest.approx((1 + a) ** 3 * v0, rel=1e-12)


def test_springs_and_body_force_balance_closed_form(box):
    # A small body force b along z on the beam held only by a normal spring k
    # on z0 (and rollers in x, y): force balance b * volume = k * uz * area,
    # uz = b * 10 / (k * 10) = b / k.  The solid is 1e4 times stiffer than the
    # spring, so its own strain (~ b / mu = 1e-7) is negligible.
    from organfem.mechanics import BodyForce

    b, k = 1e-4, 2.0
    problem = HyperelasticProblem(
        box,
        NeoHookean(mu=1e4, lmbda=1e4),
        constraints=[Fixed("x0", (0,)), Fixed("y0", (1,))],
        loads=[Spring("z0", k, normal_only=True), BodyForce((0.0, 0.0, b))],
        petsc_options_prefix="spring_",
    )
    ramp(problem, 1)
    uz = probe(problem.displacement(), np.array([[5.0, 0.5, 0.5]]))[0, 2]
    assert uz == pytest.approx(b / k, rel=1e-4)


def test_missing_tag_is_named(box):
    with pytest.raises(MissingTagError, match="'endo'.*available"):
        HyperelasticProblem(box, NeoHookean(mu=1.0, lmbda=1.0), constraints=[Fixed("endo")])


def test_bad_formulation_and_degree_are_rejected(box):
    law = NeoHookean(mu=1.0, lmbda=1.0)
    with pytest.raises(ParameterError, match="formulation"):
        HyperelasticProblem(box, law, formulation="incompressible")
    with pytest.raises(ParameterError, match="degree=2"):
        HyperelasticProblem(box, law, formulation="mixed", degree=1)
    with pytest.raises(ParameterError, match="stiffness"):
        Spring("x0", 0.0)


def test_failed_newton_names_the_load_level_and_inversion():
    # A soft compressible cube crushed by a follower pressure of 100 mu in one
    # step, with no step cuts allowed: Newton's iterates invert elements.
    domain = Domain.from_meshdata(land_beam(h=0.5) if COMM.rank == 0 else None, COMM)
    problem = HyperelasticProblem(
        domain,
        NeoHookean(mu=1.0, lmbda=1.0),
        constraints=[Fixed("x0")],
        loads=[Pressure("x1", 100.0)],
        degree=1,
        petsc_options_prefix="crush_",
    )
    with pytest.raises(ConvergenceError, match=r"load level 1 from the converged level 0.*det F"):
        ramp(problem, 1, max_cuts=0)


def test_ramp_resumes_from_a_checkpoint(box, tmp_path):
    # An interrupted ramp (stopped after level 0.5) resumed from its checkpoint
    # reaches the same state as an uninterrupted one, solving only the rest.
    law, tip = NeoHookean(mu=1.0, lmbda=2.0), np.array([[10.0, 1.0, 1.0]])

    def problem(name):
        return HyperelasticProblem(
            box, law, constraints=[Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,))],
            loads=[Pressure("x1", -0.6)], petsc_options_prefix=f"resume_{name}_",
        )  # fmt: skip

    whole = problem("whole")
    ramp(whole, 4)
    ramp(problem("first"), [0.25, 0.5], checkpoint=tmp_path / "ckpt")
    resumed = problem("rest")
    result = ramp(resumed, 4, checkpoint=tmp_path / "ckpt")
    assert [s.level for s in result.steps] == [0.75, 1.0]
    np.testing.assert_allclose(
        probe(resumed.displacement(), tip), probe(whole.displacement(), tip), rtol=1e-8
    )
    other = HyperelasticProblem(_box(h=1.0), law, petsc_options_prefix="resume_other_")
    with pytest.raises(ParameterError, match="unknowns"):
        ramp(other, 4, checkpoint=tmp_path / "ckpt")
