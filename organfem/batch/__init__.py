"""Batched, differentiable organ solves in pure JAX (CPU or GPU, no DOLFINx).

The same laws (:mod:`organfem.materials`) and meshes (:class:`MeshData`) as
the DOLFINx path, assembled with ``vmap`` over cells and solved by Newton
with a sparse direct solver, for many scenarios at once::

    space = Space.from_meshdata(lv_ellipsoid(h=3.0), degree=2)
    problem = Problem(space, fixed=[Fixed("base")], pressure="endo",
                      cavity=Cavity("endo", axis=(0, 0, 1), base_point=(0, 0, 5)))
    solver = Solver(problem)
    law = Guccione.land2015_problem2() + VolumetricPenalty(kappa=1000.0)
    result = solver.solve([Scenario(law, pressure=p) for p in (1.0, 2.0)])
    solver.volumes(result)                    # (2, 1) [mm^3]

Gradients of outputs with respect to any parameter come from the adjoint of
the converged equilibrium (:meth:`Solver.equilibrium`).
"""

from .calibration import Fit, KlotzEDPVR, fit_volumes, klotz_targets
from .linear import ROUTES
from .problem import Cavity, Fixed, Problem, Scenario, Spring
from .solve import Result, Solver, stack
from .space import Space
from .whatif import WhatIf, WhatIfResults, default_law, lv_problem, read_whatifs, run_whatifs

__all__ = [
    "Space",
    "Fixed",
    "Spring",
    "Cavity",
    "Scenario",
    "Problem",
    "Solver",
    "Result",
    "stack",
    "ROUTES",
    "WhatIf",
    "WhatIfResults",
    "read_whatifs",
    "run_whatifs",
    "lv_problem",
    "default_law",
    "KlotzEDPVR",
    "klotz_targets",
    "Fit",
    "fit_volumes",
]
