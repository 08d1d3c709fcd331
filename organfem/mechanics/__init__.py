"""Finite-strain quasi-static mechanics on DOLFINx (collective under MPI).

A script reads like the physics::

    domain = Domain.from_meshdata(lv_ellipsoid(h=2.0))
    problem = HyperelasticProblem(domain, law, constraints=[Fixed("base")],
                                  loads=[Pressure("endo", 10.0)], formulation="mixed")
    ramp(problem, 20)
    cavity_volume(domain, problem.displacement(), "endo", base_point=(0, 0, 5))
"""

from .domain import Domain
from .loads import BodyForce, Fixed, Pressure, Spring
from .material import QuadratureMaterial, UFLMaterial
from .probe import probe
from .problem import HyperelasticProblem, SolveResult
from .solver import NEWTON_GMRES_GAMG, NEWTON_MUMPS, NEWTON_TRUST_REGION_MUMPS, preset
from .stepping import RampResult, ramp
from .volume import cavity_volume

__all__ = [
    "Domain",
    "Fixed",
    "Pressure",
    "Spring",
    "BodyForce",
    "HyperelasticProblem",
    "SolveResult",
    "QuadratureMaterial",
    "UFLMaterial",
    "ramp",
    "RampResult",
    "cavity_volume",
    "probe",
    "preset",
    "NEWTON_MUMPS",
    "NEWTON_TRUST_REGION_MUMPS",
    "NEWTON_GMRES_GAMG",
]
