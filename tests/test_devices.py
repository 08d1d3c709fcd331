"""The device catalogue, radial force tables and placement (numpy only)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from organfem.devices import CATALOGUE, Placement, RadialForce, device, devices, frame_pose
from organfem.errors import ParameterError


def test_catalogue_holds_the_sizes_of_the_issue():
    # SAPIEN 3-like 20/23/26/29 mm with frame heights 15.5/18/20/22.5 mm;
    # Evolut-like 23/26/29/34 mm, self-expanding.
    for size, height in ((20, 15.5), (23, 18.0), (26, 20.0), (29, 22.5)):
        d = device(f"S3-{size}")
        assert (d.nominal_diameter, d.height, d.kind) == (size, height, "balloon-expandable")
        assert d.radial_pressure() is None
    for size in (23, 26, 29, 34):
        d = device(f"ev-{size}")  # case-insensitive
        assert d.nominal_diameter == size and d.kind == "self-expanding"
        assert d.crimped_diameter < min(d.diameters) and 0 < d.skirt_height < d.height
    assert [d.name for d in devices("S3-23, S3-26")] == ["S3-23", "S3-26"]
    with pytest.raises(ParameterError, match="'S3-27' is not in the catalogue; known: S3-20"):
        device("S3-27")
    assert len(CATALOGUE) == 8


def test_radial_force_becomes_a_pressure_on_the_lateral_area(tmp_path):
    # p = F / (pi D H): 10 N on a 22 mm frame 45 mm tall is
    # 10 / (pi 22 45) N/mm^2 = 3.215 kPa, at compression 26 - 22 = 4 mm.
    table = tmp_path / "force.csv"
    table.write_text("diameter [mm],cof [N],rrf [N]\n22,10,20\n26,0,0\n")
    force = RadialForce.read_csv(table)
    d = device("EV-26").with_radial_force(force)
    compression, pressure = d.radial_pressure()
    assert compression == (0.0, 4.0)
    assert pressure[1] == pytest.approx(1e3 * 10 / (math.pi * 22 * 45), rel=1e-12)
    assert pressure[0] == 0.0
    assert force.at(24.0) == (5.0, 10.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("diameter,force\n22,10\n")
    with pytest.raises(ParameterError, match=r"expected columns \['diameter \[mm\]', 'cof \[N\]'\]"):
        RadialForce.read_csv(bad)
    with pytest.raises(ParameterError, match="rrf .* must match the diameters and be >= cof"):
        RadialForce((22.0, 26.0), (10.0, 0.0), (5.0, 0.0))


def test_frame_pose_sets_depth_below_the_annulus_and_tilt():
    centre, axis, reference = np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 2.0]), np.array([1.0, 0.0, 0.5])
    origin, a = frame_pose(Placement(4.0), annulus_centre=centre, axis=axis, reference=reference)
    np.testing.assert_allclose(origin, [1.0, 2.0, -1.0])
    np.testing.assert_allclose(a, [0.0, 0.0, 1.0])
    # 10 deg towards 90 deg from the reference (x), counterclockwise about z:
    # the outflow leans to +y, and the inflow end lies 4 mm back along the tilted axis.
    origin, a = frame_pose(Placement(4.0, tilt=10.0, tilt_towards=90.0), annulus_centre=centre,
                           axis=axis, reference=reference)
    t = math.radians(10.0)
    np.testing.assert_allclose(a, [0.0, math.sin(t), math.cos(t)], atol=1e-15)
    np.testing.assert_allclose(origin, centre - 4.0 * a)
    for bad, match in (({"depth": 25.0}, "depth=25.0 mm"), ({"depth": 2.0, "tilt": 40.0}, "tilt=40.0 deg")):
        with pytest.raises(ParameterError, match=match):
            Placement(**bad)
