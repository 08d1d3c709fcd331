"""Rule-based (LDRB) fibres, fibres stored on MeshData, and per-cell fibres in the solver.

The LDRB field is checked against its own rule (exactly), against the walls
(the helix angle of cells touching endo- and epicardium, within what the cell
size allows) and against the closed-form Land et al. (2015) field on the same
ellipsoid.  Per-cell fibres in the solver are checked against the callable
path (identical bases must give identical solutions) and under ``mpiexec``
against the serial solve.

Run as a script (``mpiexec -n 2 python tests/test_fibres.py OUT_DIR``) it
solves the per-cell fibre beam of :func:`solve_scrambled_beam` and writes
``OUT_DIR/fibres_mpi.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from organfem._dolfinx import MPI, dolfinx
from organfem.errors import MeshError, MissingTagError, ParameterError
from organfem.fibres import (
    constant_fibres,
    ellipsoid_helix_fibres,
    helix_angles,
    land2015_fibres,
    ldrb_coordinates,
    ldrb_fibres,
)
from organfem.materials import Guccione, VolumetricPenalty
from organfem.mechanics import Domain, Fixed, HyperelasticProblem, Pressure, probe, ramp
from organfem.mechanics.domain import CellFibres
from organfem.meshing import MeshData, land_beam, lv_ellipsoid

REPO = Path(__file__).resolve().parents[1]
COMM = MPI.COMM_WORLD

H = 1.0  # mesh size of the ellipsoid [mm]
WALL = 3.0  # wall thickness of the Land ellipsoid [mm]: 10 - 7 at the equator, 20 - 17 at the apex
TIP = np.array([[10.0, 0.5, 1.0], [10.0, 0.0, 0.0], [5.0, 1.0, 0.5]])  # beam probe points [mm]


# -- helpers --------------------------------------------------------------------------------


def _cells_on(mesh: MeshData, name: str) -> np.ndarray:
    """Mask of the cells that have a facet tagged ``name``."""
    faces = np.sort(mesh.cells[:, [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]]], axis=2)
    keys = faces[..., 0] * mesh.num_points**2 + faces[..., 1] * mesh.num_points + faces[..., 2]
    tagged = np.sort(mesh.facets_of(name), axis=1)
    wanted = tagged[:, 0] * mesh.num_points**2 + tagged[:, 1] * mesh.num_points + tagged[:, 2]
    return np.isin(keys, wanted).any(axis=1)


def _centroids(mesh: MeshData) -> np.ndarray:
    return mesh.points[mesh.cells].mean(axis=1)


def scrambled_bases(x: np.ndarray) -> np.ndarray:
    """Orthonormal bases that change sharply from cell to cell, from centroids ``x`` (n, 3).

    Fibre ``(cos a, sin a cos b, sin a sin b)`` and sheet ``d f0 / d a`` with
    angles a = 7x + 11y + 13z, b = 5x - 3z [rad]: neighbouring centroids,
    ~0.2 mm apart, get unrelated directions, so a cell given another's basis
    changes the answer.
    """
    a = 7.0 * x[:, 0] + 11.0 * x[:, 1] + 13.0 * x[:, 2]
    b = 5.0 * x[:, 0] - 3.0 * x[:, 2]
    f0 = np.stack([np.cos(a), np.sin(a) * np.cos(b), np.sin(a) * np.sin(b)], axis=1)
    s0 = np.stack([-np.sin(a), np.cos(a) * np.cos(b), np.cos(a) * np.sin(b)], axis=1)
    return np.stack([f0, s0, np.cross(f0, s0)], axis=1)


def _beam_problem(domain: Domain, fibres, prefix: str) -> HyperelasticProblem:
    """Land problem 1 beam (Guccione, clamped x0, pressure on z0) at 1/4 of its load."""
    law = Guccione.land2015_problem1() + VolumetricPenalty(kappa=200.0, kind="log")
    return HyperelasticProblem(
        domain, law, constraints=[Fixed("x0")], loads=[Pressure("z0", 0.001)],
        fibres=fibres, degree=1, petsc_options_prefix=prefix,
    )  # fmt: skip


def solve_scrambled_beam(comm: MPI.Comm, beam: MeshData | None = None) -> dict:
    """Solve the beam with :func:`scrambled_bases` per cell via ``Domain.fibres``.  Collective.

    ``beam`` is the h = 0.5 mm beam on rank 0 (built here if None).

    Returns the displacement at :data:`TIP` and whether every rank's
    ``domain.fibres`` equals :func:`scrambled_bases` of its own cells'
    centroids (owned and ghost), computed from the distributed mesh.
    """
    mesh = None
    if comm.rank == 0:
        beam = beam if beam is not None else land_beam(h=0.5)
        mesh = beam.with_fibres(scrambled_bases(_centroids(beam)))
    domain = Domain.from_meshdata(mesh, comm)
    imap = domain.mesh.topology.index_map(3)
    local = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    midpoints = dolfinx.mesh.compute_midpoints(domain.mesh, 3, local)
    here = bool(np.allclose(domain.fibres.bases, scrambled_bases(midpoints), rtol=0, atol=1e-10))
    problem = _beam_problem(domain, domain.fibres, "fibres_scrambled_")
    ramp(problem, 2)
    tip = probe(problem.displacement(), TIP).tolist()
    problem.close()  # frees its options prefix for the next call
    return {
        "tip": tip,
        "fibres_follow_cells": bool(comm.allreduce(here, op=MPI.LAND)),
        "num_ghosts": int(comm.allreduce(imap.num_ghosts, op=MPI.SUM)),
    }


# -- LDRB on the Land ellipsoid ---------------------------------------------------------------


@pytest.fixture(scope="module")
def lv() -> MeshData:
    return lv_ellipsoid(h=H)


@pytest.fixture(scope="module")
def coords(lv):
    return ldrb_coordinates(lv)


@pytest.fixture(scope="module")
def fibres(lv, coords) -> np.ndarray:
    return ldrb_fibres(lv, coordinates=coords)


def test_coordinates_meet_their_boundary_values(lv, coords):
    # Dirichlet values exactly; inside, the discrete maximum principle keeps
    # phi and psi in [0, 1] (up to the CG tolerance 1e-10).
    assert np.all(coords.phi[np.unique(lv.facets_of("endo"))] == 0.0)
    assert np.all(coords.phi[np.unique(lv.facets_of("epi"))] == 1.0)
    assert np.all(coords.psi[np.unique(lv.facets_of("base"))] == 1.0)
    assert coords.psi[coords.apex] == 0.0
    for values in (coords.phi, coords.psi):
        assert -1e-8 < values.min() and values.max() < 1 + 1e-8
    # Default apex: the epicardial vertex farthest from the base plane z = 5,
    # the epicardial apex (0, 0, -20) (a mesh vertex, see lv_ellipsoid).
    np.testing.assert_allclose(lv.points[coords.apex], [0.0, 0.0, -20.0], atol=1e-12)


def test_fibres_are_orthonormal_right_handed_and_follow_the_rule(lv, coords, fibres):
    assert fibres.shape == (lv.num_cells, 3, 3)
    gram = np.einsum("mij,mkj->mik", fibres, fibres)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(3), gram.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(fibres), 1.0, atol=1e-12)
    # alpha(d) = 60 (1 - d) - 60 d at every cell, d = phi at the centroid.
    np.testing.assert_allclose(helix_angles(fibres, coords), 60.0 - 120.0 * coords.cell_phi,
                               atol=1e-9)  # fmt: skip
    # Sheet angle beta(d) = 30 (1 - d) - 30 d about f0, from e_t towards f0 x e_t.
    sheets = ldrb_fibres(lv, beta_endo=30.0, beta_epi=-30.0, coordinates=coords)
    beta = np.deg2rad(30.0 - 60.0 * coords.cell_phi)
    e_t = coords.frame[:, 2]
    s0 = sheets[:, 1]
    np.testing.assert_allclose(np.einsum("mi,mi->m", s0, e_t), np.cos(beta), atol=1e-12)
    twisted = np.cross(sheets[:, 0], e_t)
    np.testing.assert_allclose(np.einsum("mi,mi->m", s0, twisted), np.sin(beta), atol=1e-12)
    np.testing.assert_allclose(sheets[:, 0], fibres[:, 0], atol=1e-14)  # beta leaves f0


@pytest.mark.parametrize("wall, target", [("endo", 60.0), ("epi", -60.0)])
def test_helix_angle_next_to_the_walls(lv, coords, fibres, wall, target):
    # A cell with a facet on the wall has three vertices at phi = 0 (endo) or
    # 1 (epi), so at its centroid d = phi(4th vertex) / 4 (resp. 1 - ...),
    # in [0, 1/4] since 0 <= phi <= 1: alpha lies within 120/4 = 30 degrees of
    # the wall value.  Typically the 4th vertex is about h in from the wall,
    # d ~ h / (4 * WALL) ... h / (2 * WALL) with the steeper phi of the curved
    # wall: the median deviation is below 120 h / (2 WALL) = 20 degrees.
    # Measured at h = 1: median 11.2 (endo) and 9.1 (epi) degrees, max 21.7.
    on_wall = _cells_on(lv, wall)
    assert on_wall.sum() > 1000
    deviation = np.abs(helix_angles(fibres, coords)[on_wall] - target)
    assert deviation.max() <= 30.0 + 1e-6
    assert np.median(deviation) < 120.0 * H / (2.0 * WALL)


def test_fibres_agree_with_land2015_away_from_the_apex(lv, coords, fibres):
    # The same field as Land's formula with negated angles (see the ldrb
    # module docstring on the sign convention); the fields differ only through the
    # transmural coordinate (harmonic phi here, the confocal-family t there,
    # apart by up to ~0.1, i.e. ~10 degrees, in a curved wall) and the
    # longitudinal direction (grad psi vs the meridian), which departs most
    # near the apex point.  Measured at h = 1 on cells more than 5 mm from the
    # apex: median |f0 . f_land| = 0.9977 (3.9 deg), 5th percentile 0.9911
    # (7.7 deg).  A mirrored helix would give |cos 2 alpha| = 0.5 at the walls.
    # ellipsoid_helix_fibres is that formula in LDRB's convention.
    x = _centroids(lv)
    land = land2015_fibres(x, alpha_endo=-60.0, alpha_epi=60.0, t_tol=0.5)
    geometry = dict(r_short_endo=7.0, r_long_endo=17.0, r_short_epi=10.0, r_long_epi=20.0)
    np.testing.assert_array_equal(ellipsoid_helix_fibres(x, geometry), land)
    away = np.linalg.norm(x - lv.points[coords.apex], axis=1) > 5.0
    fibre = np.abs(np.einsum("mi,mi->m", fibres[away, 0], land[away, 0]))
    sheet = np.abs(np.einsum("mi,mi->m", fibres[away, 1], land[away, 1]))
    assert np.median(fibre) > np.cos(np.deg2rad(5.0))
    assert np.percentile(fibre, 5) > np.cos(np.deg2rad(10.0))
    assert np.median(sheet) > np.cos(np.deg2rad(5.0))


def test_positive_helix_angle_is_right_handed_at_the_endocardium(lv, fibres):
    # Streeter: right-handed helix at the endocardium (+60 deg), left-handed at
    # the epicardium (-60).  About the apex-to-base axis +z of lv_ellipsoid, a
    # right-handed fibre rises (+z) when it turns counterclockwise (+theta), so
    # (f0 . e_theta)(f0 . e_z) > 0 on endocardial cells and < 0 on epicardial
    # ones (the sign of f0 does not matter in the product).
    x = _centroids(lv)
    r = np.hypot(x[:, 0], x[:, 1])
    e_theta = np.stack([-x[:, 1], x[:, 0], np.zeros_like(r)], axis=1) / r[:, None]
    f0 = fibres[:, 0]
    product = np.einsum("mi,mi->m", f0, e_theta) * f0[:, 2]
    for name, sign in (("endo", 1.0), ("epi", -1.0)):
        on_wall = _cells_on(lv, name) & (x[:, 2] < -3)
        assert np.mean(sign * product[on_wall] > 0) > 0.95


def test_apex_point_and_bad_tags_or_arguments(lv, coords):
    given = ldrb_coordinates(lv, apex=(0.1, -0.1, -20.4))
    assert given.apex == coords.apex
    with pytest.raises(ParameterError, match="apex"):
        ldrb_fibres(lv, apex=(0.0, 0.0))
    with pytest.raises(ParameterError, match="alpha_endo"):
        ldrb_fibres(lv, alpha_endo=float("nan"), coordinates=coords)
    with pytest.raises(MissingTagError, match="'lv_endo'.*available"):
        ldrb_fibres(lv, endo="lv_endo")
    with pytest.raises(MissingTagError, match="'top'"):
        ldrb_fibres(lv, base="top")
    # The base ring shares vertices with the endocardium: not a valid epicardium.
    with pytest.raises(MeshError, match="share"):
        ldrb_fibres(lv, epi="base")


def test_a_pinched_wall_is_left_free_with_a_warning(lv_coarse, caplog):
    # Retag one base triangle that touches both rims of the h = 3 ellipsoid
    # (wall 3 mm, one cell thick) as epicardium: its endocardial vertices then
    # lie on both surfaces, as where an image-derived wall pinches to nothing.
    mesh = lv_coarse
    endo, epi = (np.unique(mesh.facets_of(name)) for name in ("endo", "epi"))
    base = np.flatnonzero(mesh.facet_values == mesh.facet_tag("base"))
    both = base[np.isin(mesh.facets[base], endo).any(1) & np.isin(mesh.facets[base], epi).any(1)]
    values = mesh.facet_values.copy()
    values[both[0]] = mesh.facet_tag("epi")
    pinched = mesh.with_tags(facet_values=values)
    shared = np.intersect1d(np.unique(pinched.facets_of("endo")),
                            np.unique(pinched.facets_of("epi")))  # fmt: skip
    assert 1 <= shared.size <= 2
    with caplog.at_level("WARNING", logger="organfem.fibres.ldrb"):
        coords = ldrb_coordinates(pinched)
    assert f"{shared.size} vertices lie on both 'endo' and 'epi'" in caplog.text
    assert np.all((coords.phi[shared] > 0.0) & (coords.phi[shared] < 1.0))  # free, in between
    fibres = ldrb_fibres(pinched, coordinates=coords)
    np.testing.assert_allclose(np.linalg.det(fibres), 1.0, atol=1e-12)


def test_a_cell_without_a_gradient_takes_its_neighbours_direction(caplog):
    # Two tetrahedra sharing the face (1, 2, 3); grad phi vanishes on the
    # first (all four vertices on one surface, say).  Its patch -- the cells
    # around its vertices -- is the second cell three times over, so it takes
    # that cell's transmural direction x; e_l = grad psi = -z, e_c = e_l x e_t = -y.
    from organfem.fibres.ldrb import _frame

    cells = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])
    grad_phi = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.3]])
    grad_psi = np.array([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0]])
    with caplog.at_level("WARNING", logger="organfem.fibres.ldrb"):
        frame = _frame(grad_phi, grad_psi, cells, np.array([1.0, 1.0]), np.array([0, 0, -1.0]))
    assert "0 (longitudinal) and 1 (transmural) of 2 cells" in caplog.text
    expected = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(frame, np.stack([expected, expected]), atol=1e-15)


# -- MeshData.fibres ----------------------------------------------------------------------


def test_meshdata_keeps_fibres_through_save_load_tags_and_meshio(lv, fibres, tmp_path):
    mesh = lv.with_fibres(fibres)
    np.testing.assert_array_equal(mesh.fibres, fibres)
    assert not mesh.fibres.flags.writeable
    back = MeshData.load(mesh.save(tmp_path / "lv.h5"))
    np.testing.assert_array_equal(back.fibres, fibres)
    assert back.fibres.dtype == np.float64
    retagged = mesh.with_tags(cell_names={"myocardium": 1})
    np.testing.assert_array_equal(retagged.fibres, fibres)
    assert mesh.with_fibres(None).fibres is None
    plain = MeshData.load(lv.save(tmp_path / "plain.h5"))  # a file without fibres
    assert plain.fibres is None
    converted = mesh.to_meshio()
    np.testing.assert_array_equal(converted.cell_data["fibre"][0], fibres[:, 0])
    np.testing.assert_array_equal(converted.cell_data["fibre"][1], 0.0)
    assert len(converted.cell_data["fibre"][1]) == len(lv.facets)
    assert "fibre" not in lv.to_meshio().cell_data


def test_bad_fibres_raise_mesh_error_naming_the_field(lv, fibres):
    skewed = fibres.copy()
    skewed[7, 0] += 1e-3  # f0 of cell 7 no longer a unit vector
    with pytest.raises(MeshError, match=r"MeshData.fibres: .*orthonormal.*first cell 7"):
        lv.with_fibres(skewed)
    with pytest.raises(MeshError, match=r"MeshData.fibres: expected shape \(17889, 3, 3\)"):
        lv.with_fibres(fibres[:-1])
    with pytest.raises(MeshError, match=r"MeshData.fibres: expected a 3-d array"):
        lv.with_fibres(fibres[:, 0])
    broken = fibres.copy()
    broken[3, 1, 2] = np.nan
    with pytest.raises(MeshError, match="MeshData.fibres: 1 cells have NaN"):
        lv.with_fibres(broken)


# -- per-cell fibres in the solver ------------------------------------------------------------


def _blocks(x: np.ndarray, split: float) -> np.ndarray:
    """Fibres along (1, 1, 0.5) where x < split, along (1, -0.5, 1) elsewhere."""
    left = constant_fibres((1.0, 1.0, 0.5), len(x))
    right = constant_fibres((1.0, -0.5, 1.0), len(x))
    return np.where((x[:, 0] < split)[:, None, None], left, right)


@pytest.mark.parametrize("split", [np.inf, 5.0], ids=["constant", "two_blocks"])
def test_cell_fibres_solve_like_the_same_field_as_a_callable(beam_mesh, split):
    # A field constant on each cell -- one basis everywhere, or one on each
    # side of the plane x = 5, which cell faces of the h = 0.5 beam follow --
    # gives every quadrature point the same basis either way: the discrete
    # problems are identical and the solutions agree to round-off.  The two
    # blocks also catch bases given to the wrong cell's points.
    beam = beam_mesh if COMM.rank == 0 else None
    cell_wise = beam.with_fibres(_blocks(_centroids(beam), split)) if beam else None
    domain = Domain.from_meshdata(cell_wise, COMM)
    answers = {}
    for name, fibres in (
        ("cells", domain.fibres),
        ("callable", lambda x: _blocks(x, split)),
        ("identity", None),
    ):
        problem = _beam_problem(domain, fibres, f"fibres_{split}_{name}_")
        ramp(problem, 2)
        answers[name] = problem.displacement().x.array.copy()
        problem.close()
    np.testing.assert_allclose(answers["cells"], answers["callable"], rtol=0, atol=1e-10)
    # ... and the fibres matter: the identity basis (fibre along x) deflects differently.
    assert np.abs(answers["cells"] - answers["identity"]).max() > 1e-2


def test_domain_fibres_follow_their_cells_and_mismatches_are_rejected(beam_mesh, coarse_beam):
    result = solve_scrambled_beam(COMM, beam_mesh)
    assert result["fibres_follow_cells"]
    wrong = coarse_beam
    assert wrong.fibres is None
    with pytest.raises(ParameterError, match="CellFibres has bases for 3 cells"):
        _beam_problem(wrong, CellFibres(np.broadcast_to(np.eye(3), (3, 3, 3))), "fibres_bad_")
    with pytest.raises(ParameterError, match=r"CellFibres.bases: expected shape"):
        CellFibres(np.eye(3))


@pytest.mark.mpi
def test_two_ranks_solve_like_one(beam_mesh, tmp_path):
    serial = solve_scrambled_beam(COMM, beam_mesh)
    mpiexec = Path(sys.executable).parent / "mpiexec"
    if not mpiexec.exists():
        pytest.skip("no mpiexec beside the interpreter")
    run = subprocess.run(
        [str(mpiexec), "-n", "2", sys.executable, str(Path(__file__).resolve()), str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    parallel = json.loads((tmp_path / "fibres_mpi.json").read_text())
    assert parallel["fibres_follow_cells"]
    assert parallel["num_ghosts"] > 0  # the ghost cells got their bases too
    # Same discrete problem, another partition: equal to the Newton tolerance.
    np.testing.assert_allclose(parallel["tip"], serial["tip"], rtol=1e-7, atol=1e-10)


if __name__ == "__main__":
    out = solve_scrambled_beam(MPI.COMM_WORLD)
    if MPI.COMM_WORLD.rank == 0:
        (Path(sys.argv[1]) / "fibres_mpi.json").write_text(json.dumps(out))
