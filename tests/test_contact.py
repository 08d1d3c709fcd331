"""Penalty contact with rigid obstacles: closed forms, convergence, obstacles.

1. A stent in a vessel: a rigid cylinder of growing radius pushes out a thick
   incompressible neo-Hookean tube (a quarter, in plane strain).  The contact
   pressure, force, area and outer radius have a closed form (derived below).
2. Convergence: refining the mesh together with the penalty (eps ~ 1/h)
   drives the pressure error down; at a fixed mesh the penetration is p/eps.
3. A rigid plane compressing a block: homogeneous uniaxial compression, exact
   in P1, so the contact pressure equals the closed-form stress at the
   penalised stretch to the Newton tolerance.
4. The same cylinder written as a SignedDistance gives the Cylinder's answer.
5. A valve frame (organfem.mechanics.Frame): rigid and longer than the tube,
   it is the growing cylinder (same answer, so the closed form and the mesh
   and penalty convergence above hold for it); self-expanding, its outward
   pressure capped by a radial-force law, it stops where the tube's
   resistance meets the law (a semi-analytic root of the closed form).

Solver note (measured): the default line search "cp" looks for a zero of
F(x + a d) . d, which assumes a symmetric positive-definite Jacobian; on the
mixed (u, p) saddle point at the onset of contact it stalls at a ~ 1e-3 (22
Newton iterations at h = 1.5 mm).  These tests use backtracking ("bt"): 11-13
iterations at the onset step, 2 per step after it.  "bt" evaluates F into a
work vector, so the tests also cover that path of the residual callback.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from organfem._dolfinx import MPI, ufl
from organfem.materials import NeoHookean
from organfem.mechanics import (
    Contact,
    Cylinder,
    Domain,
    Fixed,
    Frame,
    HyperelasticProblem,
    Material,
    Model,
    Plane,
    SignedDistance,
    Table,
    preset,
    probe,
    simulate,
)
from organfem.meshing import land_beam, tube

COMM = MPI.COMM_WORLD
OPTIONS = {**preset("newton-mumps"), "snes_linesearch_type": "bt"}

# The tube: inner radius Ri, outer Ro, length H [mm], shear modulus mu [kPa];
# the cylinder's radius grows linearly from Ri (touching) to RC at t = 1.
RI, RO, H, MU, RC = 10.0, 13.0, 2.0, 10.0, 11.5
C_PENALTY = 100.0  # eps = C mu / h, within the 10 E/h .. 1000 E/h of contact.py


def tube_contact_pressure(rc: float) -> float:
    """Contact pressure [kPa] that holds the tube's inner radius at ``rc``.

    Incompressible plane strain maps R -> r with r dr = R dR, so
    r^2 = R^2 + A, A = rc^2 - Ri^2.  Stretches: lambda_theta = r/R = lambda,
    lambda_r = 1/lambda, lambda_z = 1.  Neo-Hookean sigma = -p I + mu B:
    sigma_tt - sigma_rr = mu (lambda^2 - lambda^-2).  Radial equilibrium
    d sigma_rr/dr + (sigma_rr - sigma_tt)/r = 0 with sigma_rr(ro) = 0
    (ro^2 = Ro^2 + A) gives
        p_c = -sigma_rr(rc) = int_rc^ro mu (lambda^2 - lambda^-2) dr/r.
    With s = r^2 (dr/r = ds/2s, R^2 = s - A, lambda^2 = s/(s - A)) the
    integrand is mu/2 [1/(s - A) - 1/s + A/s^2] ds, so
        p_c = mu/2 [ln(Ro^2/ro^2) - A/ro^2 - ln(Ri^2/rc^2) + A/rc^2].
    """
    A = rc**2 - RI**2
    ro2 = RO**2 + A
    return MU / 2 * (math.log(RO**2 / ro2) - A / ro2 - math.log(RI**2 / rc**2) + A / rc**2)


def penalised_tube_pressure(eps: float) -> float:
    """The continuum answer of the penalised problem: the surface penetrates
    the cylinder by p/eps, so p = p_c(RC - p/eps) (a contraction: dp_c/drc
    = 0.48 kPa/mm << eps)."""
    p = tube_contact_pressure(RC)
    for _ in range(20):
        p = tube_contact_pressure(RC - p / eps)
    return p


PC = tube_contact_pressure(RC)  # 0.94241 kPa
DPC_DRC = (tube_contact_pressure(RC + 1e-6) - tube_contact_pressure(RC - 1e-6)) / 2e-6  # 0.4758 kPa/mm


def _tube(h: float, obstacle, c: float = C_PENALTY, steps: int = 4) -> dict:
    mesh = tube(inner_radius=RI, outer_radius=RO, length=H, h=h, order=2) if COMM.rank == 0 else None
    domain = Domain.from_meshdata(mesh, COMM)
    eps = c * MU / h
    contact = Contact("inner", obstacle, penalty=eps)
    model = Model(
        Material(NeoHookean(mu=MU, lmbda=0.0)),
        Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,)), Fixed("z1", (2,)),  # plane strain
        contact,
    )  # fmt: skip
    kind = type(obstacle).__name__
    problem = HyperelasticProblem(
        domain, model, formulation="mixed", degree=2, petsc_options=OPTIONS,
        petsc_options_prefix=f"contact_{kind}_{h:g}_{c:g}_",
    )  # fmt: skip
    result = simulate(problem, 1.0, 1.0 / steps)
    out = problem.term_output(contact)
    report = out.report()
    # Outer surface, probed just inside it (a curved P2 cell's edge may bulge
    # past the exact circle): reference radius R -> r = sqrt(R^2 + A).
    R = RO - 0.1
    angles = np.linspace(0, np.pi / 2, 7)
    points = np.column_stack([R * np.cos(angles), R * np.sin(angles), np.full(7, H / 2)])
    current = points + probe(problem.displacement(), points)
    field = out.field()
    x = field.function_space.tabulate_dof_coordinates()[: field.x.index_map.size_local]
    on_inner = np.abs(np.hypot(x[:, 0], x[:, 1]) - RI) < 1e-8
    solved = {
        "eps": eps,
        "report": report,
        "force": math.hypot(report.force[0], report.force[1]),
        "force_z": report.force[2],
        "R": R,
        "outer_r": np.hypot(current[:, 0], current[:, 1]),
        "field_inner": field.x.array[: len(x)][on_inner],
        "field_elsewhere": field.x.array[: len(x)][~on_inner],
        "u": problem.displacement().x.array.copy(),
        "iterations": result.newton_iterations,
    }
    problem.close()
    return solved


def _mean_pressure(s: dict) -> float:
    # On a quarter cylinder of current radius r the pressure's resultant has
    # |F| = p r H sqrt(2) and the area is (pi/2) r H: p = |F| pi / (2 sqrt(2) area).
    return s["force"] * math.pi / (2 * math.sqrt(2) * s["report"].area)


_SOLVED: dict = {}


def _cylinder_tube(h: float, c: float = C_PENALTY) -> dict:
    """Solved once per (h, c) for the whole module (they are the costly part)."""
    key = (h, c)
    if key not in _SOLVED:
        _SOLVED[key] = _tube(h, Cylinder(radius=Table([0, 1], [RI, RC])), c)
    return _SOLVED[key]


def test_stent_in_vessel_matches_closed_form():
    # h = 1.5 mm, P2/P1 on curved tetrahedra, eps = 100 mu/h = 667 kPa/mm.
    s = _cylinder_tube(1.5)
    r, eps = s["report"], s["eps"]
    # The penalty lets the surface into the cylinder by delta = p/eps, so the
    # inner radius is RC - delta: the penalised continuum answer differs from
    # p_c by -(dp_c/drc) p_c/eps = -0.071 % here.  Measured (h = 1.5):
    # mean pressure -0.069 % from p_c, +0.002 % from the penalised answer.
    p_pen = penalised_tube_pressure(eps)
    delta = p_pen / eps
    p_mean = _mean_pressure(s)
    assert p_mean == pytest.approx(p_pen, rel=2e-4)
    penalty_shift = p_pen / PC - 1
    assert penalty_shift == pytest.approx(-DPC_DRC * PC / eps / PC, rel=0.01)
    assert abs(p_mean / PC - 1) < 1.5 * abs(penalty_shift)
    # The largest nodal pressure is eps times the largest nodal penetration,
    # and the P2 radial displacement at a vertex is off by ~1e-4 mm, i.e.
    # ~0.1 kPa of pressure: measured -0.40 % (h = 1.5), +0.25 / -1.6 / +0.85 %
    # at h = 3 / 2 / 1; 2 % bounds it.
    assert r.max_pressure == pytest.approx(PC, rel=0.02)
    # Force and area on the current surface of radius RC - delta; measured
    # -0.082 % and -0.012 % from the rigid-contact values.
    assert s["force"] == pytest.approx(PC * RC * H * math.sqrt(2), rel=2e-3)
    assert s["force"] == pytest.approx(p_pen * (RC - delta) * H * math.sqrt(2), rel=2e-4)
    assert abs(s["force_z"]) < 1e-9 * s["force"]  # frictionless, radial
    assert r.area == pytest.approx(math.pi / 2 * RC * H, rel=5e-4)
    assert r.area == pytest.approx(math.pi / 2 * (RC - delta) * H, rel=2e-5)
    # Outer radius: r = sqrt(R^2 + A), measured -7.5e-5 relative with
    # A = RC^2 - Ri^2 (-8e-5 expected from delta) and within 1e-5 with
    # A = (RC - delta)^2 - Ri^2.
    rigid = math.sqrt(s["R"] ** 2 + RC**2 - RI**2)
    np.testing.assert_allclose(s["outer_r"], rigid, rtol=2e-4)
    np.testing.assert_allclose(s["outer_r"], math.sqrt(s["R"] ** 2 + (RC - delta) ** 2 - RI**2), rtol=2e-5)
    # The penetration is p_c/eps: measured 0.996 p_c/eps.
    assert r.max_penetration * eps / PC == pytest.approx(1.0, abs=0.02)
    # The P1 pressure field: ~p_c on the inner surface (every node there is in
    # contact; nodal values 0.86-0.996 p_c, for the reason given above),
    # exactly zero at every other node.
    inner = s["field_inner"]
    assert inner.min() > 0.8 * PC and inner.max() < 1.05 * PC
    assert np.mean(inner) == pytest.approx(PC, rel=0.05)
    assert np.all(s["field_elsewhere"] == 0.0)


def test_refining_mesh_and_penalty_together_converges():
    # eps = 100 mu/h: the penalty error -(dp_c/drc) p/eps is ~ h, and the
    # discretisation error of the mean pressure is smaller (see above).
    # Measured |error| of the mean pressure: 0.122, 0.088, 0.069 % at h = 3,
    # 2, 1.5: monotone, rate log(0.122/0.069)/log 2 = 0.82 (expected 1).
    hs = (3.0, 2.0, 1.5)
    errors = [abs(_mean_pressure(_cylinder_tube(h)) / PC - 1) for h in hs]
    assert errors[0] > errors[1] > errors[2]
    rate = math.log(errors[0] / errors[-1]) / math.log(hs[0] / hs[-1])
    assert 0.6 < rate < 1.4


def test_penetration_scales_like_one_over_penalty():
    # Same mesh (h = 3), eps x 4.  The penetration is measured geometrically:
    # the contact area is that of the current inner surface, (pi/2)(RC -
    # delta) H, so delta = RC - 2 area/(pi H) (the area is accurate to ~2e-5
    # relative, see above).  The pressure is set by the tube's elasticity
    # (it moves by (dp_c/drc) delta, < 0.6 %), so delta = p/eps drops
    # fourfold.  Measured delta eps/p_c = 0.9944 (eps = 25 mu/h), 0.9986
    # (100 mu/h), 0.9996 (400 mu/h); each within 2e-4 of p_mean/p_c.
    deltas, eps = [], []
    for c in (C_PENALTY / 4, C_PENALTY):
        s = _cylinder_tube(3.0, c)
        delta = RC - 2 * s["report"].area / (math.pi * H)
        assert delta * s["eps"] == pytest.approx(_mean_pressure(s), rel=1e-3)
        assert delta * s["eps"] == pytest.approx(PC, rel=0.01)
        # The largest nodal penetration is p/eps to the nodal error (see the
        # closed-form test): measured 1.0045 and 1.0025 p_c/eps.
        assert s["report"].max_penetration * s["eps"] == pytest.approx(PC, rel=0.03)
        deltas.append(delta)
        eps.append(s["eps"])
    assert deltas[0] / deltas[1] == pytest.approx(eps[1] / eps[0], rel=0.01)  # measured 3.983


def test_signed_distance_equals_cylinder():
    # The same growing cylinder written in UFL: g = sqrt(x^2 + y^2) - r(t),
    # r(t) = Ri + (RC - Ri) t, i.e. the Cylinder's Table([0, 1], [Ri, RC]).
    obstacle = SignedDistance(lambda x, t: ufl.sqrt(x[0] ** 2 + x[1] ** 2) - (RI + (RC - RI) * t))
    s, ref = _tube(3.0, obstacle), _cylinder_tube(3.0)
    for name in ("max_pressure", "max_penetration", "area"):
        assert getattr(s["report"], name) == pytest.approx(getattr(ref["report"], name), rel=1e-10)
    np.testing.assert_allclose(s["report"].force, ref["report"].force, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s["u"], ref["u"], rtol=0, atol=1e-10 * np.abs(ref["u"]).max())


def _frame(radial_pressure=None) -> Frame:
    # Nominal diameter 2 RC, crimped 2 Ri, expansion 0 -> 1: the radius
    # Ri + (RC - Ri) t of the Cylinder above; from z = -5 to 7 mm, so its
    # ends lie far beyond the tube's 0 <= z <= 2.
    return Frame(heights=[0.0, 12.0], diameters=[2 * RC, 2 * RC], crimped_diameter=2 * RI,
                 expansion=Table([0, 1], [0, 1]), origin=(0.0, 0.0, -5.0), radial_pressure=radial_pressure)


def test_rigid_frame_is_the_growing_cylinder():
    # Beside the frame its gap is rho - R(t) exactly, as the Cylinder's.
    s, ref = _tube(3.0, _frame()), _cylinder_tube(3.0)
    for name in ("max_pressure", "max_penetration", "area"):
        assert getattr(s["report"], name) == pytest.approx(getattr(ref["report"], name), rel=1e-10)
    np.testing.assert_allclose(s["u"], ref["u"], rtol=0, atol=1e-10 * np.abs(ref["u"]).max())


def test_self_expanding_frame_stops_where_tube_meets_its_radial_force():
    # Outward pressure capped by p_r(c) = k c, c = D_nom - 2 rho the frame's
    # compression (k = 0.5 kPa/mm; a chronic outward force falling linearly
    # to 0 at the nominal diameter 2 RC).  The frame opens until the tube's
    # resistance p_c(r) (closed form above) equals the law: p_c(r) = k (2 RC
    # - 2 r), a root in (Ri, RC); the contact pressure there is the cap, so
    # the penalty plays no part.  Measured (h = 1.5 mm): mean pressure
    # within 1.1e-5 of the root's 0.61570 kPa, nodal maximum within 2e-4.
    k = 0.5
    r = brentq(lambda r: tube_contact_pressure(r) - k * (2 * RC - 2 * r), RI + 1e-9, RC)
    expected = k * (2 * RC - 2 * r)
    s = _tube(1.5, _frame(([0.0, 10.0], [0.0, 10.0 * k])))
    assert _mean_pressure(s) == pytest.approx(expected, rel=1e-4)
    assert s["report"].max_pressure == pytest.approx(expected, rel=2e-3)
    # Rigid contact would have pushed the tube to RC, at p_c = 0.94 kPa.
    assert expected < 0.7 * PC
    # The outer radius follows the inner one: sqrt(R^2 + r^2 - Ri^2).
    np.testing.assert_allclose(s["outer_r"], math.sqrt(s["R"] ** 2 + r**2 - RI**2), rtol=2e-5)


def test_frame_gap_and_capped_pressure_by_hand():
    # Frame.evaluate (numpy, for the TAVI metrics) writes the same gap and
    # pressure as the contact term, through the same code path (_local).
    x = np.array([[RI + 1.0, 0.0, 1.0], [0.0, RC - 0.2, 1.0], [RC + 1.0, 0.0, 1.0]])
    local = _frame(([0.0, 10.0], [0.0, 5.0])).evaluate(x, 1.0, penalty=100.0)
    # rho = 11, 11.3, 12.5 against R = 11.5: gaps -0.5, -0.2, +1; rigid
    # pressures a = 50, 20, 0 kPa, caps b = 0.5 (23 - 2 rho) = 0.5, 0.2, 0;
    # the minimum smoothed over delta = 1 % of the law's largest pressure
    # (5 kPa): (a + b - sqrt((a - b)^2 + delta^2)) / 2, delta^2 / (4 (a -
    # b)) = 1.3e-5 and 3.2e-5 kPa below the caps here, and no pull where
    # nothing presses.
    def smooth_min(a, b, delta=0.05):
        return max((a + b - math.sqrt((a - b) ** 2 + delta**2)) / 2, 0.0)

    np.testing.assert_allclose(local["gap"], [-0.5, -0.2, 1.0], atol=1e-12)
    expected = [smooth_min(50.0, 0.5), smooth_min(20.0, 0.2), 0.0]
    np.testing.assert_allclose(local["pressure"], expected, atol=1e-12)
    np.testing.assert_allclose(local["pressure"], [0.5, 0.2, 0.0], atol=4e-5)
    np.testing.assert_allclose(local["axial"], [6.0, 6.0, 6.0], atol=1e-12)
    # Beyond the inflow end (axial -0.5 and -1.5 mm) the push fades over
    # edge = 1 mm: half of the (capped) pressure, then nothing.
    end = _frame(([0.0, 10.0], [0.0, 5.0])).evaluate(
        np.array([[RI + 1.0, 0.0, -5.5], [RI + 1.0, 0.0, -6.5]]), 1.0, penalty=100.0)
    np.testing.assert_allclose(end["pressure"], [0.5 * smooth_min(50.0, 0.5), 0.0], atol=1e-12)
    np.testing.assert_allclose(end["gap"], [-0.5, -0.5], atol=1e-12)


def test_rigid_plane_compresses_block_uniaxially():
    # The 10 x 1 x 1 mm block on rollers at x0 (and y0, z0 against rigid
    # motion), pushed by the plane x = 10 - d t (normal -e_x) on x1; the
    # lateral faces are free: homogeneous uniaxial compression, exact in P1.
    # Compressible neo-Hookean sigma = mu/J (B - I) + lmbda ln(J)/J I with
    # B = diag(l1^2, l2^2, l2^2), J = l1 l2^2: sigma22 = 0 gives
    # mu (l2^2 - 1) + lmbda ln J = 0; the contact pressure is
    # p = -sigma11 = -mu (l1^2 - l2^2)/J (subtracting the two).
    # The penalty lets x1 past the plane by p/eps: l1 = (10 - d + p/eps)/10.
    mu, lmbda, d, eps = 1.0, 2.0, 1.0, 100.0

    def lateral(l1):
        return brentq(lambda l2: mu * (l2**2 - 1) + lmbda * math.log(l1 * l2**2), 0.2, 3.0)

    def stress(l1):  # -sigma11 [kPa]
        l2 = lateral(l1)
        return -mu * (l1**2 - l2**2) / (l1 * l2**2)

    rigid = stress(1 - d / 10)
    p = brentq(lambda p: p - stress((10 - d + p / eps) / 10), 0.0, 2 * rigid)
    l2 = lateral((10 - d + p / eps) / 10)

    domain = Domain.from_meshdata(land_beam(h=1.0) if COMM.rank == 0 else None, COMM)
    contact = Contact("x1", Plane(point=lambda t: (10 - d * t, 0.0, 0.0), normal=(-1, 0, 0)), penalty=eps)
    model = Model(
        Material(NeoHookean(mu=mu, lmbda=lmbda)),
        Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,)),
        contact,
    )  # fmt: skip
    problem = HyperelasticProblem(domain, model, degree=1, petsc_options=OPTIONS, petsc_options_prefix="contact_plane_")
    simulate(problem, 1.0, 0.25)
    r = problem.term_output(contact).report()
    # Exact up to the Newton tolerance (homogeneous, P1-exact, uniform p).
    assert r.max_pressure == pytest.approx(p, rel=1e-8)
    assert r.max_penetration == pytest.approx(p / eps, rel=1e-8)
    assert r.area == pytest.approx(l2**2, rel=1e-8)
    np.testing.assert_allclose(r.force, (-p * l2**2, 0, 0), rtol=1e-8, atol=1e-10)
    # Against the rigid (eps -> inf) stress the error is the first-order
    # penalty shift (dp/dl1) (p/eps)/10; the second-order rest is ~ 1e-4 of it.
    dp_dl1 = (stress(1 - d / 10 + 1e-7) - stress(1 - d / 10 - 1e-7)) / 2e-7
    assert r.max_pressure - rigid == pytest.approx(dp_dl1 * p / eps / 10, rel=0.01)
    problem.close()
