"""Frozen dataclasses as JAX pytrees, with range checks at construction.

The same pattern as :mod:`organfem.materials` uses for its laws (kept here so
that the circulation room imports nothing but JAX, NumPy and the top-level
:mod:`organfem.errors`): numeric fields are pytree leaves, so ``jax.grad``
and ``jax.vmap`` see every parameter; fields declared with
``jax.tree.static`` are static options; parameters named in ``_positive`` /
``_non_negative`` are checked when an object is constructed (not when JAX
rebuilds it from tracers).
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import ClassVar

import jax
import numpy as np

from ..errors import ParameterError

__all__ = ["pytree_dataclass", "Parameterised"]


def pytree_dataclass(cls):
    """Decorator: a frozen dataclass registered as a JAX pytree.

    Fields are leaves (a leaf may itself be a pytree, e.g. a nested
    parameter object), except options declared with ``jax.tree.static``.
    Unflattening bypasses ``__init__``, so validation runs only when an
    object is constructed by the user.
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


def _known(value) -> np.ndarray | None:
    """``value`` as a NumPy array if it is a known number (not a tracer)."""
    if isinstance(value, numbers.Real | np.ndarray | np.generic):
        return np.asarray(value, dtype=np.float64)
    if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer):
        return np.asarray(value, dtype=np.float64)
    return None


class Parameterised:
    """Base of the circulation's parameter objects: named parameters whose
    ranges (``_positive``, ``_non_negative``) are checked at construction.

    A parameter may be a scalar or an array (a batch of values for
    ``jax.vmap``); every entry of a known array is checked.
    """

    _positive: ClassVar[tuple[str, ...]] = ()
    _non_negative: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for names, ok, expected in (
            (self._positive, lambda v: v > 0, "> 0"),
            (self._non_negative, lambda v: v >= 0, ">= 0"),
        ):
            for name in names:
                value = _known(getattr(self, name))
                if value is not None and not np.all(ok(value)):
                    raise ParameterError(
                        f"{type(self).__name__}: parameter {name}="
                        f"{value.tolist()!r} must be {expected}"
                    )

    @property
    def name(self) -> str:
        """Short name used in tables and result files."""
        return type(self).__name__
