"""Solver presets, in PETSc's own vocabulary.

A preset is a plain dict of PETSc options for the SNES (and its KSP/PC, which
share the SNES options prefix).  Copy and edit one, or pass your own.
"""

from __future__ import annotations

__all__ = ["NEWTON_MUMPS", "NEWTON_TRUST_REGION_MUMPS", "NEWTON_GMRES_GAMG", "preset"]

_TOLERANCES = {
    "snes_rtol": 1e-9,
    "snes_atol": 1e-9,
    "snes_stol": 1e-14,
    "snes_max_it": 30,
}

#: Newton with the critical-point line search (a secant search for a zero of
#: the directional derivative <F(x + a d), d>); MUMPS LU.  Default for up to a
#: few hundred thousand unknowns; works for the mixed (u, p) formulation.
#: Measured on Land et al. (2015): problem 1 (h = 0.5 mm) takes 32 Newton
#: iterations with "cp" against 59 with backtracking ("bt"), whose merit
#: function ||F|| rejects the good full steps of the slender beam; problems 2
#: and 3 take the same iterations with either.
NEWTON_MUMPS: dict[str, str | float | int] = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "cp",
    **_TOLERANCES,
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
    "mat_mumps_icntl_14": 200,
}

#: Newton trust region (dogleg) with MUMPS: slower per step, but gets through
#: load levels where line-search Newton stalls; used as a fallback.
NEWTON_TRUST_REGION_MUMPS: dict[str, str | float | int] = {
    **NEWTON_MUMPS,
    "snes_type": "newtontr",
}
NEWTON_TRUST_REGION_MUMPS.pop("snes_linesearch_type")

#: Newton with backtracking line search; GMRES preconditioned by smoothed-aggregation AMG
#: (GAMG, with rigid-body near-null space).  For large displacement-only
#: (penalty) problems; not for the mixed formulation.
NEWTON_GMRES_GAMG: dict[str, str | float | int] = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "cp",
    **_TOLERANCES,
    "ksp_type": "gmres",
    "ksp_rtol": 1e-10,
    "ksp_max_it": 500,
    "ksp_gmres_restart": 150,
    "pc_type": "gamg",
    "pc_gamg_type": "agg",
    "pc_gamg_agg_nsmooths": 1,
    "pc_gamg_threshold": 0.01,
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
}

_PRESETS = {
    "newton-mumps": NEWTON_MUMPS,
    "newton-tr-mumps": NEWTON_TRUST_REGION_MUMPS,
    "newton-gmres-gamg": NEWTON_GMRES_GAMG,
}


def preset(name: str) -> dict[str, str | float | int]:
    """A copy of the named preset: one of ``newton-mumps``, ``newton-tr-mumps``,
    ``newton-gmres-gamg``."""
    try:
        return dict(_PRESETS[name])
    except KeyError:
        raise KeyError(f"unknown solver preset {name!r}; choose from {sorted(_PRESETS)}") from None
