"""Boundary conditions and loads as small immutable value objects.

Pressures and body forces scale with the load level of the solve (0 at the
reference state, 1 at the full load); springs and Dirichlet conditions do
not.  Units: kPa, kPa/mm, mm.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..errors import ParameterError

__all__ = ["Fixed", "Pressure", "Spring", "BodyForce", "Load", "Constraint"]


@dataclasses.dataclass(frozen=True)
class Fixed:
    """Zero displacement on the facets tagged ``tag``.

    Args:
        tag: facet tag name.
        components: displacement components to fix (0=x, 1=y, 2=z); all if None.
    """

    tag: str
    components: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.components is not None:
            comps = tuple(self.components)
            if not comps or any(c not in (0, 1, 2) for c in comps) or len(set(comps)) != len(comps):
                raise ParameterError(
                    f"Fixed({self.tag!r}): components={self.components!r} must be distinct "
                    "values among 0, 1, 2"
                )
            object.__setattr__(self, "components", comps)


@dataclasses.dataclass(frozen=True)
class Pressure:
    """Follower pressure [kPa] on the facets tagged ``tag``.

    Positive pressure pushes against the outward normal of the solid (a cavity
    pressure on the endocardium inflates the chamber).
    """

    tag: str
    value: float


@dataclasses.dataclass(frozen=True)
class Spring:
    """Robin spring ``t = -k u`` [kPa/mm] on the facets tagged ``tag``.

    Args:
        normal_only: if True, only the normal displacement is resisted,
            ``t = -k (u . N) N`` (e.g. the pericardium on the epicardium).
    """

    tag: str
    stiffness: float
    normal_only: bool = False

    def __post_init__(self) -> None:
        if not self.stiffness > 0:
            raise ParameterError(
                f"Spring({self.tag!r}): stiffness={self.stiffness!r} must be > 0 [kPa/mm]"
            )


@dataclasses.dataclass(frozen=True)
class BodyForce:
    """Body force per unit reference volume [kPa/mm = mN/mm^3]."""

    value: Sequence[float]

    def __post_init__(self) -> None:
        if len(self.value) != 3:
            raise ParameterError(f"BodyForce: value={self.value!r} must have 3 components")
        object.__setattr__(self, "value", tuple(float(v) for v in self.value))


Constraint = Fixed
Load = Pressure | Spring | BodyForce
