"""Finite-strain mechanics in time on DOLFINx (collective under MPI).

A script reads like the physics::

    domain = Domain.from_meshdata(lv_ellipsoid(h=2.0))
    model = Model(
        Material(law, fibres=domain.fibres),
        Fixed("base"),
        Cavity("endo", volume=Table.read("volume.csv", value="V", unit="mL", convert=units.volume)),
        Inertia(density=1.06e-6),
        ViscousDamping(eta=0.1),
    )
    problem = HyperelasticProblem(domain, model, formulation="mixed",
                                  integrator=GeneralisedAlpha(rho_inf=0.8),
                                  petsc_options_prefix="lv_")
    simulate(problem, t_end=0.8, dt=1e-3, checkpoint="run/ckpt")

Quasi-static paths are pseudo-time paths of the same machinery::

    problem = HyperelasticProblem(domain, law, constraints=[Fixed("base")],
                                  loads=[Pressure("endo", 2.0)], petsc_options_prefix="lv_")
    ramp(problem, 8)
"""

from .circulation import Chamber, Circulation
from .contact import Contact, ContactReport, Cylinder, Frame, Plane, SignedDistance
from .domain import CellFibres, Domain
from .dynamics import Inertia, RayleighDamping, ViscousDamping
from .integrators import BDF2, BackwardEuler, GeneralisedAlpha, Integrator, Newmark, QuasiStatic
from .loads import BodyForce, Displacement, Fixed, Pressure, Spring
from .material import Material, QuadratureMaterial, Regions, UFLMaterial
from .parallel import on_rank0
from .probe import mean_value, probe
from .problem import HyperelasticProblem, Model, SolveResult
from .solver import NEWTON_GMRES_GAMG, NEWTON_MUMPS, NEWTON_TRUST_REGION_MUMPS, preset
from .state import State
from .stepping import RampResult, SimulationResult, ramp, simulate
from .terms import Contribution, FormContext, Multiplier, Term
from .time import Ramp, Table, TimeFunction
from .unloading import UnloadResult, unload
from .volume import Cavity, cavity_volume, surface_area, wall_thickness

__all__ = [
    "on_rank0",
    "Domain",
    "CellFibres",
    "Model",
    "HyperelasticProblem",
    "SolveResult",
    "State",
    "Material",
    "Regions",
    "QuadratureMaterial",
    "UFLMaterial",
    "Fixed",
    "Displacement",
    "Pressure",
    "Spring",
    "BodyForce",
    "Inertia",
    "RayleighDamping",
    "ViscousDamping",
    "Cavity",
    "cavity_volume",
    "surface_area",
    "wall_thickness",
    "Chamber",
    "Circulation",
    "Contact",
    "ContactReport",
    "Plane",
    "Cylinder",
    "Frame",
    "SignedDistance",
    "Integrator",
    "QuasiStatic",
    "GeneralisedAlpha",
    "Newmark",
    "BackwardEuler",
    "BDF2",
    "TimeFunction",
    "Table",
    "Ramp",
    "Term",
    "FormContext",
    "Contribution",
    "Multiplier",
    "ramp",
    "simulate",
    "RampResult",
    "SimulationResult",
    "probe",
    "mean_value",
    "unload",
    "UnloadResult",
    "preset",
    "NEWTON_MUMPS",
    "NEWTON_TRUST_REGION_MUMPS",
    "NEWTON_GMRES_GAMG",
]
