"""Frozen dataclasses as JAX pytrees, and range checks of their parameters.

Shared by the pure-JAX rooms, like :mod:`organfem._dolfinx` by the DOLFINx
ones: the material laws and internal-variable models (:mod:`organfem.materials`)
and the 0D circulation models (:mod:`organfem.circulation`).  Numeric fields
are pytree leaves (a leaf may itself be a pytree, e.g. a nested parameter
object), so ``jax.grad`` and ``jax.vmap`` see every parameter; options
declared with ``jax.tree.static`` are static metadata; parameters named in
``_positive`` / ``_non_negative`` are checked when an object is constructed
(scalars, and arrays of one value per point or per batch entry).
Imports only JAX, NumPy and :mod:`organfem.errors`.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import ClassVar

import jax
import numpy as np

from .errors import ParameterError

__all__ = ["pytree_dataclass", "check_ranges", "parameter_names", "Parameterised"]


def pytree_dataclass(cls):
    """Decorator: a frozen dataclass registered as a JAX pytree.

    Fields are leaves, except options declared with ``jax.tree.static``, which
    are static metadata.  Unflattening bypasses ``__init__``: JAX rebuilds the
    object from tracers, placeholders and cotangents (a zero gradient is not an
    invalid parameter), so validation runs only when an object is constructed.
    """
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    data = tuple(f.name for f in fields if not f.metadata.get("static", False))
    meta = tuple(f.name for f in fields if f.metadata.get("static", False))

    def flatten_with_keys(obj):
        children = [(jax.tree_util.GetAttrKey(name), getattr(obj, name)) for name in data]
        return children, tuple(getattr(obj, name) for name in meta)

    def unflatten(options, children):
        obj = object.__new__(cls)
        for name, value in zip(meta + data, (*options, *children), strict=True):
            object.__setattr__(obj, name, value)
        return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten)
    return cls


def parameter_names(obj) -> tuple[str, ...]:
    """Names of the dataclass fields of ``obj`` that are pytree leaves (not options)."""
    return tuple(
        f.name for f in dataclasses.fields(obj) if not f.metadata.get("static", False)
    )


def _known(value) -> np.ndarray | None:
    """``value`` as a NumPy array if it is known (not a tracer or a placeholder)."""
    if isinstance(value, numbers.Real | np.ndarray | np.generic):
        return np.asarray(value)
    if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer):
        return np.asarray(value)
    return None


def check_ranges(obj, *, positive: tuple[str, ...], non_negative: tuple[str, ...]) -> None:
    """Raise :class:`ParameterError` if a known parameter of ``obj`` is out of range.

    Scalars and arrays (one value per point, every entry checked) are
    checked; tracers are not (their values are unknown).
    """
    for names, ok, expected in (
        (positive, lambda v: v > 0, "> 0"),
        (non_negative, lambda v: v >= 0, ">= 0"),
    ):
        for name in names:
            value = _known(getattr(obj, name))
            if value is None:
                continue
            owner = type(obj).__name__
            if value.ndim == 0:
                if not ok(float(value)):
                    raise ParameterError(
                        f"{owner}: parameter {name}={float(value)!r} must be {expected}"
                    )
                continue
            bad = ~ok(value.astype(np.float64))
            if bad.any():
                points = len(value)
                count = int(bad.reshape(points, -1).any(axis=1).sum())
                raise ParameterError(
                    f"{owner}: parameter {name} must be {expected} at every point; "
                    f"{count} of {points} points are not (minimum {float(np.min(value[bad]))!r})"
                )


class Parameterised:
    """Base of laws and models of internal variables: named parameters with
    ranges checked at construction (``_positive``, ``_non_negative``)."""

    _positive: ClassVar[tuple[str, ...]] = ()
    _non_negative: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        check_ranges(self, positive=self._positive, non_negative=self._non_negative)

    @property
    def name(self) -> str:
        """Short name used in tables and result files."""
        return type(self).__name__
