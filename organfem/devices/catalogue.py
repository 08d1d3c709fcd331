"""Transcatheter aortic valve frames: a catalogue and how they are placed.

A :class:`Device` describes a frame by its nominal profile (diameter
against height from the inflow end), its crimped diameter, the height of
its sealing skirt and, for a self-expanding frame, its radial force against
diameter.  Balloon-expandable frames are taken as rigid once expanded (the
balloon drives them to nominal size); self-expanding frames push with the
chronic outward force (COF) their nitinol gives at the diameter the tissue
lets them reach.  :mod:`organfem.tavi` turns a device and a
:class:`Placement` into a contact obstacle of the mechanics core.

Dimensions are those of the named commercial families as published by
their makers and in the TAVI literature, rounded; the devices here are
"-like" models for planning studies, not the makers' data.  Replace the
radial force table with the measured curve of the device at hand
(:meth:`RadialForce.read_csv`).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import ParameterError

__all__ = ["RadialForce", "Device", "Placement", "CATALOGUE", "device", "devices", "frame_pose"]


@dataclasses.dataclass(frozen=True)
class RadialForce:
    """Radial force of a self-expanding frame against its diameter.

    Attributes:
        diameters: frame diameters [mm], strictly increasing.
        cof: chronic outward force [N] the frame exerts when held at each
            diameter (falls to 0 at the nominal diameter), >= 0.
        rrf: radial resistive force [N] with which it resists being
            compressed to each diameter, >= cof; None if unknown.  Reported
            with the result (the frame's margin against recoil); the
            deployment itself follows the COF (the frame opens onto the
            tissue).
    """

    diameters: tuple[float, ...]
    cof: tuple[float, ...]
    rrf: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        d = np.asarray(self.diameters, dtype=float)
        f = np.asarray(self.cof, dtype=float)
        if d.ndim != 1 or d.size < 2 or f.shape != d.shape:
            raise ParameterError("RadialForce: diameters [mm] and cof [N] must be equal-length lists of >= 2 numbers")
        if not (np.isfinite(d).all() and (d > 0).all() and (np.diff(d) > 0).all()):
            raise ParameterError(f"RadialForce: diameters {d.tolist()} mm must be > 0 and strictly increasing")
        if not (np.isfinite(f).all() and (f >= 0).all()):
            raise ParameterError(f"RadialForce: cof {f.tolist()} N must be finite and >= 0")
        object.__setattr__(self, "diameters", tuple(map(float, d)))
        object.__setattr__(self, "cof", tuple(map(float, f)))
        if self.rrf is not None:
            r = np.asarray(self.rrf, dtype=float)
            if r.shape != d.shape or not (np.isfinite(r).all() and (r >= f - 1e-12).all()):
                raise ParameterError(f"RadialForce: rrf {r.tolist()} N must match the diameters and be >= cof")
            object.__setattr__(self, "rrf", tuple(map(float, r)))

    @classmethod
    def read_csv(cls, path: str | Path) -> RadialForce:
        """From a CSV with the header ``diameter [mm],cof [N]`` and optionally ``rrf [N]``."""
        path = Path(path)
        try:
            with path.open(newline="") as f:
                rows = list(csv.DictReader(f))
        except OSError as err:
            raise ParameterError(f"radial force table: cannot read it ({err.strerror})") from None
        need = ("diameter [mm]", "cof [N]")
        if not rows or any(k not in rows[0] for k in need):
            have = list(rows[0]) if rows else []
            raise ParameterError(f"radial force table: expected columns {list(need)} (and optionally 'rrf [N]'), got {have}")
        try:
            d = [float(r["diameter [mm]"]) for r in rows]
            cof = [float(r["cof [N]"]) for r in rows]
            rrf = [float(r["rrf [N]"]) for r in rows] if "rrf [N]" in rows[0] else None
        except (TypeError, ValueError) as err:
            raise ParameterError(f"radial force table: a value is not a number ({err})") from None
        return cls(tuple(d), tuple(cof), None if rrf is None else tuple(rrf))

    def at(self, diameter: float) -> tuple[float, float | None]:
        """``(cof, rrf)`` [N] at a diameter [mm] (end values held outside the table)."""
        cof = float(np.interp(diameter, self.diameters, self.cof))
        rrf = None if self.rrf is None else float(np.interp(diameter, self.diameters, self.rrf))
        return cof, rrf


@dataclasses.dataclass(frozen=True)
class Device:
    """A transcatheter valve frame.

    Attributes:
        name: catalogue name, e.g. ``"S3-26"``.
        kind: ``"balloon-expandable"`` or ``"self-expanding"``.
        heights: axial positions of the profile [mm] from the inflow end
            (first 0, last the frame height).
        diameters: nominal outer diameters there [mm].
        crimped_diameter: on the delivery catheter [mm].
        skirt_height: the sealing skirt, from the inflow end [mm].
        radial_force: for self-expanding frames; None for balloon-expandable.
        source: where the dimensions come from.
    """

    name: str
    kind: str
    heights: tuple[float, ...]
    diameters: tuple[float, ...]
    crimped_diameter: float
    skirt_height: float
    radial_force: RadialForce | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("balloon-expandable", "self-expanding"):
            raise ParameterError(f"Device {self.name!r}: kind={self.kind!r} must be 'balloon-expandable' or 'self-expanding'")
        h = np.asarray(self.heights, dtype=float)
        d = np.asarray(self.diameters, dtype=float)
        if h.ndim != 1 or h.size < 2 or d.shape != h.shape or h[0] != 0 or not (np.diff(h) > 0).all():
            raise ParameterError(f"Device {self.name!r}: heights {h.tolist()} mm must start at 0 and increase, one diameter each")
        if not ((d > 0).all() and 0 < self.crimped_diameter <= d.min()):
            raise ParameterError(
                f"Device {self.name!r}: diameters {d.tolist()} mm must be > 0 and the crimped diameter "
                f"{self.crimped_diameter!r} mm between 0 and their smallest"
            )
        if not 0 < self.skirt_height <= h[-1]:
            raise ParameterError(f"Device {self.name!r}: skirt_height={self.skirt_height!r} mm must lie in (0, {h[-1]:g}]")
        if (self.kind == "self-expanding") != (self.radial_force is not None):
            raise ParameterError(f"Device {self.name!r}: a radial force table is needed for, and only for, self-expanding frames")
        object.__setattr__(self, "heights", tuple(map(float, h)))
        object.__setattr__(self, "diameters", tuple(map(float, d)))

    @property
    def nominal_diameter(self) -> float:
        """Inflow diameter [mm], the size a device is named by."""
        return self.diameters[0]

    @property
    def height(self) -> float:
        """Frame height [mm]."""
        return self.heights[-1]

    def diameter_at(self, height: float) -> float:
        """Nominal diameter [mm] at a height from the inflow end [mm]."""
        return float(np.interp(height, self.heights, self.diameters))

    def radial_pressure(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """The COF as an outward pressure [kPa] against compression [mm].

        Compression ``c = D_nom - D`` of the inflow ring; the force acts on
        the frame's lateral area, ``p = F / (pi D H)`` (1 N/mm^2 = 1000 kPa).
        None for a balloon-expandable frame.
        """
        if self.radial_force is None:
            return None
        d = np.asarray(self.radial_force.diameters)
        f = np.asarray(self.radial_force.cof)
        p = 1e3 * f / (math.pi * d * self.height)
        c = self.nominal_diameter - d
        order = np.argsort(c)
        return tuple(map(float, c[order])), tuple(map(float, p[order]))

    def with_radial_force(self, radial_force: RadialForce) -> Device:
        """The same frame with another radial force table."""
        return dataclasses.replace(self, radial_force=radial_force)


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a frame goes relative to the annulus.

    Attributes:
        depth: implant depth [mm]: how far the inflow end lies below the
            annulus plane, into the LVOT (> 0 below, as measured on
            angiography).
        tilt: angle between the frame's axis and the root's axis [deg], in [0, 30).
        tilt_towards: direction the outflow end leans to [deg], measured in
            the annulus plane from the landmarks' reference direction (the
            septal band), counterclockwise about the root axis.
    """

    depth: float
    tilt: float = 0.0
    tilt_towards: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.depth) and -10.0 <= self.depth <= 20.0):
            raise ParameterError(f"Placement: depth={self.depth!r} mm must lie in [-10, 20] mm below the annulus")
        if not (math.isfinite(self.tilt) and 0.0 <= self.tilt < 30.0):
            raise ParameterError(f"Placement: tilt={self.tilt!r} deg must lie in [0, 30) deg")
        if not math.isfinite(self.tilt_towards):
            raise ParameterError(f"Placement: tilt_towards={self.tilt_towards!r} deg must be finite")


def frame_pose(placement: Placement, *, annulus_centre, axis, reference) -> tuple[np.ndarray, np.ndarray]:
    """Inflow-end centre and axis of a placed frame [mm].

    The frame's axis is the root's axis tilted by ``placement.tilt`` about
    the line through the annulus centre perpendicular to the tilt direction;
    its inflow end lies ``depth`` below the annulus centre along the tilted axis.
    """
    c = np.asarray(annulus_centre, dtype=float).reshape(3)
    a = np.asarray(axis, dtype=float).reshape(3)
    a = a / np.linalg.norm(a)
    r = np.asarray(reference, dtype=float).reshape(3)
    r = r - (r @ a) * a
    r = r / np.linalg.norm(r)
    phi = math.radians(placement.tilt_towards)
    lean = math.cos(phi) * r + math.sin(phi) * np.cross(a, r)
    t = math.radians(placement.tilt)
    frame_axis = math.cos(t) * a + math.sin(t) * lean
    return c - placement.depth * frame_axis, frame_axis


def _sapien3(size: int, height: float, crimped: float) -> Device:
    return Device(
        name=f"S3-{size}", kind="balloon-expandable", heights=(0.0, height), diameters=(float(size),) * 2,
        crimped_diameter=crimped,
        # Outer PET skirt: about the lower 40 % of the frame.
        skirt_height=round(0.4 * height, 1),
        source="SAPIEN 3-like: sizes and frame heights as in the issue / Edwards' published "
        "specifications (20/23/26/29 mm, 15.5/18/20/22.5 mm); crimped size of a 14-16 F system",
    )


def _evolut(size: int, waist: float, outflow: float, height: float) -> Device:
    d = float(size)
    # Linear COF falling to 0 at the nominal inflow diameter, 2 N per mm of
    # compression, RRF twice the COF: the order of the bench measurements of
    # self-expanding frames (a few N to ~20 N over the sizing range;
    # Egron et al. 2018, ASAIO J 64:536).  Representative, not the maker's
    # curve: replace it with RadialForce.read_csv for real planning.
    diameters = (d - 8.0, d - 6.0, d - 4.0, d - 2.0, d)
    cof = tuple(2.0 * (d - x) for x in diameters)
    return Device(
        name=f"EV-{size}", kind="self-expanding",
        heights=(0.0, 10.0, 22.0, height), diameters=(d, d - 1.0, waist, outflow),
        crimped_diameter=6.0, skirt_height=12.0,
        radial_force=RadialForce(diameters, cof, tuple(2 * c for c in cof)),
        source="Evolut-like: inflow/waist/outflow diameters and heights rounded from Medtronic's "
        "published Evolut R/PRO frame dimensions; 14-16 F crimped; skirt ~12 mm",
    )


#: The frames by name.  Balloon-expandable "S3-20/23/26/29" and
#: self-expanding "EV-23/26/29/34".
CATALOGUE: Mapping[str, Device] = {
    d.name: d
    for d in (
        _sapien3(20, 15.5, 6.5), _sapien3(23, 18.0, 6.5), _sapien3(26, 20.0, 6.5), _sapien3(29, 22.5, 7.2),
        _evolut(23, 19.0, 31.0, 45.0), _evolut(26, 21.0, 34.0, 45.0),
        _evolut(29, 23.0, 38.0, 46.0), _evolut(34, 26.0, 40.0, 46.0),
    )
}


def device(name: str, catalogue: Mapping[str, Device] = CATALOGUE) -> Device:
    """A device of the catalogue by name (case-insensitive)."""
    for key, value in catalogue.items():
        if key.lower() == str(name).strip().lower():
            return value
    raise ParameterError(f"device {name!r} is not in the catalogue; known: {', '.join(catalogue)}")


def devices(names: Sequence[str] | str) -> tuple[Device, ...]:
    """Devices by a list of names or a comma-separated string (``"S3-23,S3-26"``)."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    if not names:
        raise ParameterError("devices: give at least one device name")
    return tuple(device(n) for n in names)
