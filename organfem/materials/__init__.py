"""Constitutive laws in pure JAX (no DOLFINx import).

A law is defined once, as a strain energy (or a stress for non-hyperelastic
terms); stresses and consistent tangents come from autodiff.  Laws add up::

    law = HolzapfelOgden.holzapfel_ogden_2009() + ActiveStress(Ta=60.0)
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
