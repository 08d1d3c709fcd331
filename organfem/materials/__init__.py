"""Constitutive laws in pure JAX (no DOLFINx import).

A law is defined once, as a strain energy of a few invariants of ``C`` (or a
stress for non-hyperelastic terms); stresses and consistent tangents come from
autodiff.  Laws add up, and :func:`evaluate` gives stress and tangent at many
quadrature points::

    law = HolzapfelOgden.holzapfel_ogden_2009() + ActiveStress(Ta=60.0)
    S, D = evaluate(law, e, R)  # (n, 6), (n, 6, 6) from (n, 6), (n, 3, 3)

Parameters may vary from point to point (:func:`with_parameters` with arrays
of shape (n,)), and internal variables at the points (:mod:`.state`) advance
in time by a pure rule and set such parameters::

    model = ActiveTensionODE(Tmax=60.0, tau=0.05, t_act=t_act)  # t_act (n,) [s]
    q = advance(model, model.init(n), {"t": dt, "stretch": stretch}, dt)
    S, D = evaluate(with_parameters(law, **model.parameters(q)), e, R)

The laws of the cardiac elastodynamics benchmark (Arostica et al. 2025)::

    law = (ModifiedHolzapfelOgden.arostica_2025() + VolumetricPenalty.arostica_2025()
           + ActiveStress(Ta=0.0))  # or LengthDependentActiveStress.land_2017()
    model = BestelActiveTension.arostica_2025(delay=delay)  # delay (n,) [s]
"""

from .kernel import (
    cauchy,
    evaluate,
    first_piola,
    first_piola_tangent,
    second_piola,
    voigt_stress_and_tangent,
)
from .laws import (
    ActiveStress,
    Guccione,
    HolzapfelGasserOgden,
    HolzapfelOgden,
    Law,
    LengthDependentActiveStress,
    ModifiedHolzapfelOgden,
    NeoHookean,
    Sum,
    VolumetricPenalty,
    with_parameters,
)
from .state import ActiveTensionODE, BestelActiveTension, InternalVariables, advance

__all__ = [
    "Law",
    "Sum",
    "NeoHookean",
    "Guccione",
    "HolzapfelOgden",
    "HolzapfelGasserOgden",
    "ModifiedHolzapfelOgden",
    "ActiveStress",
    "LengthDependentActiveStress",
    "VolumetricPenalty",
    "second_piola",
    "first_piola",
    "first_piola_tangent",
    "cauchy",
    "voigt_stress_and_tangent",
    "evaluate",
    "with_parameters",
    "InternalVariables",
    "ActiveTensionODE",
    "BestelActiveTension",
    "advance",
]
