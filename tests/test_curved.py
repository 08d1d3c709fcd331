"""Curved (second-order) cells against closed forms: geometry and Lame's thick sphere.

With straight-sided tetrahedra the boundary of a curved body is off by O(h^2),
so any quantity near a curved wall has an O(h^2) error whatever the element
degree.  Quadratic (isoparametric) cells put the edge nodes on the surface: the
surface is then off by O(h^3) pointwise, with a sign that alternates along
each edge, so volumes and areas converge as O(h^4).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from organfem._dolfinx import MPI, dolfinx, ufl
from organfem.materials import NeoHookean
from organfem.mechanics import Domain, Fixed, HyperelasticProblem, Pressure, ramp
from organfem.meshing import sphere_shell

REPO = Path(__file__).resolve().parents[1]
RI, RO = 5.0, 10.0  # [mm]
VOLUME = np.pi / 6 * (RO**3 - RI**3)  # the octant of the shell [mm^3]
INNER_AREA = np.pi / 2 * RI**2  # the octant of the inner sphere [mm^2]


def integral(domain, form):
    value = dolfinx.fem.assemble_scalar(dolfinx.fem.form(form))
    return domain.comm.allreduce(value, op=MPI.SUM)


@pytest.fixture(scope="module")
def geometry_errors():
    """Relative volume and inner-area errors {(h, order): (volume, area)}."""
    errors = {}
    for h in (1.0, 0.5):
        for order in (1, 2):
            domain = Domain.from_meshdata(
                sphere_shell(inner_radius=RI, outer_radius=RO, h=h, order=order)
            )
            assert domain.geometry_degree == order
            volume = integral(domain, 1.0 * ufl.dx(domain=domain.mesh))
            errors[h, order] = (
                abs(volume / VOLUME - 1),
                abs(domain.measure("inner") / INNER_AREA - 1),
            )
    return errors


def test_curved_cells_capture_volume_and_area_with_a_higher_rate(geometry_errors):
    # Measured (relative errors; 2514 and 18026 cells):
    #            volume h=1   volume h=0.5  rate   area h=1   area h=0.5  rate
    #   order 1  2.08e-3      5.27e-4       1.98   7.17e-3    1.90e-3     1.92
    #   order 2  1.38e-6      9.61e-8       3.85   1.42e-5    9.64e-7     3.88
    # (from h = 2 to 1 the order-2 rates are 4.8 and 4.3): theory says 2 and 4.
    e = geometry_errors
    for quantity in (0, 1):
        straight = np.log2(e[1.0, 1][quantity] / e[0.5, 1][quantity])
        curved = np.log2(e[1.0, 2][quantity] / e[0.5, 2][quantity])
        assert 2.0 - 0.4 < straight < 2.0 + 0.6
        assert curved > 4.0 - 0.6
        assert e[0.5, 2][quantity] < e[0.5, 1][quantity] / 500


def lame_sphere_ur(r, p, young, poisson):
    """Radial displacement [mm] of a thick sphere, pressure ``p`` inside, free outside.

    Small strain: u = u_r(r) e_r with u_r = A r + B / r^2 (the general radial
    solution of div sigma = 0), sigma_rr = 3K A - 4 mu B / r^3.  From
    sigma_rr(Ro) = 0 and sigma_rr(Ri) = -p:
        B = p Ri^3 Ro^3 / (4 mu (Ro^3 - Ri^3)),  A = p Ri^3 / (3K (Ro^3 - Ri^3)),
    and with 3K = E / (1 - 2 nu), 4 mu = 2E / (1 + nu):
        u_r = p Ri^3 / (Ro^3 - Ri^3) [(1 - 2 nu) r / E + (1 + nu) Ro^3 / (2 E r^2)].
    """
    scale = p * RI**3 / (RO**3 - RI**3)
    return scale * ((1 - 2 * poisson) * r / young + (1 + poisson) * RO**3 / (2 * young * r**2))


def test_curved_p2_solves_lames_sphere_far_more_accurately():
    # Compressible neo-Hookean at p / E = 1e-5: linear to ~1e-5 (p = 1e-3 kPa
    # moved the curved error by 1.5e-4).  Measured at h = 1 mm (2514 cells),
    # serial = mpirun -n 2, relative errors of the inner radial displacement:
    #                  mean u_r on "inner"   L2(u - u_exact) on "inner"
    #   straight P2    6.94e-3               1.50e-2
    #   curved P2      4.57e-4               1.58e-3
    # and at h = 2 (393 cells): mean 3.46e-2 vs 4.47e-3 (p = 1e-3 kPa).
    young, poisson, p = 10.0, 0.3, 1e-4  # [kPa], [-], [kPa]
    errors = {}
    for order in (1, 2):
        domain = Domain.from_meshdata(
            sphere_shell(inner_radius=RI, outer_radius=RO, h=1.0, order=order)
        )
        problem = HyperelasticProblem(
            domain,
            NeoHookean.from_young(young, poisson),
            constraints=[Fixed("x0", (0,)), Fixed("y0", (1,)), Fixed("z0", (2,))],
            loads=[Pressure("inner", p)],
            degree=2,
            petsc_options_prefix=f"curved_lame_{order}_",
        )
        ramp(problem, 1)
        u = problem.displacement
        u = u() if callable(u) else u
        x = ufl.SpatialCoordinate(domain.mesh)
        r = ufl.sqrt(ufl.dot(x, x))
        n = x / r
        exact = lame_sphere_ur(r, p, young, poisson)
        ds = domain.ds("inner")
        area = integral(domain, 1.0 * ds)
        mean = integral(domain, ufl.dot(u, n) * ds) / area
        diff = u - exact * n
        l2 = np.sqrt(integral(domain, ufl.dot(diff, diff) * ds) / integral(domain, exact**2 * ds))
        errors[order] = (abs(mean / lame_sphere_ur(RI, p, young, poisson) - 1), l2)
    assert errors[1][0] > 3e-3 and errors[1][1] > 7e-3  # geometry-dominated
    assert errors[2][0] < errors[1][0] / 8
    assert errors[2][1] < errors[1][1] / 5


_PARALLEL = """
import json, sys
import numpy as np
from organfem._dolfinx import MPI, dolfinx, ufl
from organfem.mechanics import Domain
from organfem.meshing import sphere_shell

comm = MPI.COMM_WORLD
data = None
if comm.rank == 0:
    data = sphere_shell(inner_radius=5.0, outer_radius=10.0, h=2.0, order=2)
    c = data.points[data.cells].mean(axis=1)
    f0 = c / np.linalg.norm(c, axis=1, keepdims=True)
    s0 = np.cross(f0, [0.3, -0.5, 0.8])
    s0 /= np.linalg.norm(s0, axis=1, keepdims=True)
    data = data.with_fibres(np.stack([f0, s0, np.cross(f0, s0)], axis=1))
domain = Domain.from_meshdata(data, comm)
mesh = domain.mesh
total = lambda form: comm.allreduce(
    dolfinx.fem.assemble_scalar(dolfinx.fem.form(form)), op=MPI.SUM)
x = ufl.SpatialCoordinate(mesh)
r = ufl.sqrt(ufl.dot(x, x))
# fibres follow their cells: f0 is the direction of the cell's corner centroid
nodes = mesh.geometry.dofmaps[0][:, :4]
centroid = mesh.geometry.x[nodes].mean(axis=1)
f0 = centroid / np.linalg.norm(centroid, axis=1, keepdims=True)
fibre_error = comm.allreduce(float(np.abs(domain.fibres.bases[:, 0] - f0).max()), op=MPI.MAX)
result = {
    "degree": domain.geometry_degree,
    "volume": total(1.0 * ufl.dx(domain=mesh)),
    "areas": {k: domain.measure(k) for k in domain.facet_names},
    "inner_sag": total(abs(r - 5.0) * domain.ds("inner")),
    "wall": total(1.0 * ufl.dx(domain=mesh, subdomain_data=domain.cell_tags)(1)),
    "fibre_error": fibre_error,
}
if comm.rank == 0:
    json.dump(result, open(sys.argv[1], "w"))
"""


def test_curved_domain_is_the_same_in_serial_and_under_mpirun(tmp_path):
    script = tmp_path / "curved.py"
    script.write_text(_PARALLEL)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    results = []
    for n in (1, 2):
        out = tmp_path / f"n{n}.json"
        mpiexec = Path(sys.executable).parent / "mpiexec"
        cmd = [str(mpiexec), "-n", str(n), sys.executable, str(script), str(out)]
        subprocess.run(cmd, check=True, env=env, timeout=300, capture_output=True)
        results.append(json.loads(out.read_text()))
    serial, parallel = results
    assert serial["degree"] == parallel["degree"] == 2
    for result in results:
        assert result["volume"] == pytest.approx(VOLUME, rel=1e-4)
        assert result["wall"] == pytest.approx(result["volume"], rel=1e-12)
        assert result["areas"]["inner"] == pytest.approx(INNER_AREA, rel=1e-3)
        for plane in ("x0", "y0", "z0"):  # quarter annuli, exact up to the curved rims
            assert result["areas"][plane] == pytest.approx(np.pi / 4 * (RO**2 - RI**2), rel=1e-3)
        assert result["inner_sag"] < 0.05  # a wrong tag would give ~ (RO - RI) * area
        assert result["fibre_error"] < 1e-12
    for key in ("volume", "wall", "inner_sag"):
        assert parallel[key] == pytest.approx(serial[key], rel=1e-10)
    for name, area in serial["areas"].items():
        assert parallel["areas"][name] == pytest.approx(area, rel=1e-10)
