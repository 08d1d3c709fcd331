"""Constitutive laws in pure JAX (no DOLFINx import).

A law is defined once, as a strain energy of a few invariants of ``C`` (or a
stress for non-hyperelastic terms); stresses and consistent tangents come from
autodiff.  Laws add up, and :func:`evaluate` gives stress and tangent at many
quadrature points::

    law = HolzapfelOgden.holzapfel_ogden_2009() + ActiveStress(Ta=60.0)
    S, D = evaluate(law, e, R)  # (n, 6), (n, 6, 6) from (n, 6), (n, 3, 3)
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
    HolzapfelOgden,
    Law,
    NeoHookean,
    Sum,
    VolumetricPenalty,
)

__all__ = [
    "Law",
    "Sum",
    "NeoHookean",
    "Guccione",
    "HolzapfelOgden",
    "ActiveStress",
    "VolumetricPenalty",
    "second_piola",
    "first_piola",
    "first_piola_tangent",
    "cauchy",
    "voigt_stress_and_tangent",
    "evaluate",
]
