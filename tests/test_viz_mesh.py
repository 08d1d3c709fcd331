"""Mesh renders: each tag shows in its legend colour, the camera, clipping, fibres, errors.

The tags are drawn flat (unlit), so a tag's pixels have exactly its palette
colour.  The palette is documented in organfem.viz.mesh: the k-th smallest tag
value gets Tableau 10 colour k (below).  A legend square is a few dozen
pixels at 480 x 360, so a colour counted in the thousands comes from the mesh;
a colour the mesh must not show is allowed no more than its legend square.
Pixels of the title and the view's line of text (the top 8 % of the image,
above the legend) are not counted: anti-aliased text has every grey.

Orientation: a ventricle is drawn base up and apex down whatever its
coordinates (checked on a rotated LV, in pixels and by projecting its apex and
base with the camera); other meshes in the coronal view of LPS coordinates.
Fibres are coloured by helix angle, checked against the LDRB field's inputs.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import pyvista as pv
from PIL import Image
from vtkmodules.vtkRenderingCore import vtkCoordinate

from organfem.errors import ParameterError
from organfem.fibres import (
    constant_fibres,
    ellipsoid_coordinates,
    helix_angle,
    land2015_fibres,
    ldrb_coordinates,
    ldrb_fibres,
    lv_long_axis,
    wall_normals,
)
from organfem.meshing import MeshData
from organfem.viz import helix_angle_field, mesh_view, render_mesh
from organfem.viz.orientation import LV_ELEVATION

render_module = importlib.import_module("organfem.viz.render")
mesh_module = importlib.import_module("organfem.viz.mesh")

SIZE = (480, 360)  # (width, height) of the test images
# Tableau 10 in order, as documented for TAG_PALETTE: tag values 1, 2, 3, ...
BLUE, ORANGE, GREEN, RED, PURPLE, BROWN = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
)
LIGHT_GREY = (211, 211, 211)  # UNTAGGED_COLOUR
SECTION_GREY = (150, 150, 150)  # SECTION_COLOUR
ON_MESH = 1000  # pixels: a surface seen by the camera (legend squares are < 100)
LEGEND_ONLY = 100  # pixels: at most a legend square
TEXT_BAND = 0.08  # the title and the view's line: the top 8 % of the height
# A rotation that turns the LV's long axis (z) towards the patient's left (+x)
# and a little anterior (-y): nothing of the default view is along an axis of
# the mesh's coordinates.  Rotation by 70 degrees about y, then -30 about z.
_A, _B = np.deg2rad(70.0), np.deg2rad(-30.0)
ROTATION = np.array(
    [[np.cos(_B), -np.sin(_B), 0.0], [np.sin(_B), np.cos(_B), 0.0], [0.0, 0.0, 1.0]]
) @ np.array([[np.cos(_A), 0.0, np.sin(_A)], [0.0, 1.0, 0.0], [-np.sin(_A), 0.0, np.cos(_A)]])


@pytest.fixture(scope="module")
def lv(lv_coarse) -> MeshData:
    # Land et al. (2015) ellipsoid, coarse (h = 3 mm, conftest.py): about 1000
    # tetrahedra; endo=1, epi=2, base=3.
    return lv_coarse


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def _mask(image: np.ndarray, colour: tuple[int, int, int], tol: int = 3) -> np.ndarray:
    """Pixels within ``tol`` of ``colour`` in every channel, below the text band."""
    mask = np.abs(image - np.array(colour)).max(axis=-1) <= tol
    mask[: int(TEXT_BAND * image.shape[0])] = False
    return mask


def _count(image: np.ndarray, colour: tuple[int, int, int], tol: int = 3) -> int:
    return int(_mask(image, colour, tol).sum())


def _rows(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Rows (0 at the top) of the pixels of ``colour`` left of the legend."""
    mask = _mask(image, colour)
    mask[:, int(0.7 * image.shape[1]) :] = False
    return np.nonzero(mask)[0]


def _rotated(mesh: MeshData) -> MeshData:
    fibres = None if mesh.fibres is None else np.einsum("ij,mkj->mki", ROTATION, mesh.fibres)
    return dataclasses.replace(mesh, points=mesh.points @ ROTATION.T, fibres=fibres)


def _assert_image(image: np.ndarray) -> None:
    assert image.shape == (SIZE[1], SIZE[0], 3)
    # Not blank: the mesh covers a good part of the white frame.
    assert np.any(image != 255, axis=-1).mean() > 0.05


def test_tags_from_path_and_from_object_show_every_tag_colour(
    lv: MeshData, tmp_path: Path
) -> None:
    path = lv.save(tmp_path / "lv.h5")
    from_file = render_mesh(path, tmp_path / "file.png", window_size=SIZE, title="lv")
    from_object = render_mesh(lv, tmp_path / "object.png", window_size=SIZE, title="lv")
    assert from_file == tmp_path / "file.png"
    image = _pixels(from_file)
    _assert_image(image)
    # Same mesh, same title, same camera: the same picture.
    np.testing.assert_array_equal(image, _pixels(from_object))
    # From the default camera (above the base, looking down at 35 degrees)
    # the epicardium, the base ring and the endocardium through the opening
    # are all in view, each in its colour.
    for colour in (BLUE, ORANGE, GREEN):
        assert _count(image, colour) > ON_MESH, colour
    # No fourth tag, so the fourth palette colour is nowhere, not even in the legend.
    assert _count(image, RED) == 0
    # Every boundary facet of the ellipsoid is tagged: no untagged grey surface.
    assert _count(image, LIGHT_GREY) < LEGEND_ONLY
    # Written atomically: nothing but the mesh file and the images is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.png", "lv.h5", "object.png"]


def test_untagged_boundary_is_light_grey(lv: MeshData, tmp_path: Path) -> None:
    keep = lv.facet_values != lv.facet_tag("base")
    untagged_base = lv.with_tags(
        facets=lv.facets[keep],
        facet_values=lv.facet_values[keep],
        facet_names={"endo": 1, "epi": 2},
    )
    image = _pixels(render_mesh(untagged_base, tmp_path / "base.png", window_size=SIZE))
    _assert_image(image)
    assert _count(image, LIGHT_GREY) > ON_MESH  # the base ring
    assert _count(image, GREEN) == 0  # no third tag
    for colour in (BLUE, ORANGE):
        assert _count(image, colour) > ON_MESH


def test_clip_shows_the_cut_wall_and_the_inside(lv: MeshData, tmp_path: Path) -> None:
    whole = _pixels(render_mesh(lv, tmp_path / "whole.png", window_size=SIZE))
    cut = _pixels(render_mesh(lv, tmp_path / "cut.png", window_size=SIZE, clip=True))
    _assert_image(cut)
    assert _count(whole, SECTION_GREY) < LEGEND_ONLY
    assert _count(cut, SECTION_GREY) > ON_MESH  # the wall's cross-section
    # The near half is gone: the epicardium of the far half faces away, and
    # much more endocardium is in view than through the base opening alone.
    assert _count(cut, ORANGE) < LEGEND_ONLY
    assert _count(cut, BLUE) > 2 * _count(whole, BLUE)


def test_cells_are_coloured_by_cell_tag(lv: MeshData, tmp_path: Path) -> None:
    centroids = lv.points[lv.cells].mean(axis=1)
    regions = lv.with_tags(
        cell_values=np.where(centroids[:, 2] < -8.0, 2, 1), cell_names={"tissue": 1, "apex": 2}
    )
    image = _pixels(
        render_mesh(regions, tmp_path / "cells.png", show="cells", clip=True, window_size=SIZE)
    )
    _assert_image(image)
    for colour in (BLUE, ORANGE):  # tissue (1), apex (2)
        assert _count(image, colour) > ON_MESH, colour
    assert _count(image, GREEN) == 0


def test_lv_is_drawn_base_up_apex_down_whatever_its_coordinates(
    lv: MeshData, tmp_path: Path
) -> None:
    # The LV rotated so that its long axis points to the patient's left: the
    # view follows the base tag, not the coordinates.  Left of the legend,
    # the base ring (green) is at the top and the apex (the lowest epicardium,
    # orange) far below it.
    for name, mesh in (("lv", lv), ("rotated", _rotated(lv))):
        image = _pixels(render_mesh(mesh, tmp_path / f"{name}.png", window_size=SIZE))
        _assert_image(image)
        base, epi = _rows(image, GREEN), _rows(image, ORANGE)
        assert len(base) > ON_MESH and len(epi) > ON_MESH, name
        assert base.mean() < epi.mean(), name
        # The apex is the lowest point: 20 - 5 = 25 mm below the base plane,
        # the picture about 30 mm tall; the base ring spans the top 15 %.
        assert epi.max() - base.max() > 0.3 * (epi.max() - base.min()), name


def test_camera_projects_the_apex_below_the_base(lv: MeshData) -> None:
    # Project the apex and the base centre with the renderer's world ->
    # display transform (display y points up): the apex is straight below.
    mesh = _rotated(lv)
    view = mesh_view(mesh)
    assert view.apex is not None and view.base_centre is not None
    np.testing.assert_allclose(view.vertical, ROTATION @ [0.0, 0.0, 1.0], atol=1e-9)
    plotter = pv.Plotter(off_screen=True, window_size=list(SIZE))
    try:
        plotter.add_mesh(pv.PolyData(mesh.points))
        plotter.camera_position = view.camera_position(mesh.points)
        plotter.reset_camera()
        coordinate = vtkCoordinate()
        coordinate.SetCoordinateSystemToWorld()

        def display(point: np.ndarray) -> np.ndarray:
            coordinate.SetValue(*map(float, point))
            return np.array(coordinate.GetComputedDoubleDisplayValue(plotter.renderer))

        apex, base = display(view.apex), display(view.base_centre)
        # Seen 30 degrees from above the short-axis plane, the 25 mm from the
        # base plane to the apex keep cos(30) of their length on the image.
        assert base[1] - apex[1] > 0.5 * SIZE[1] * np.cos(np.deg2rad(LV_ELEVATION)) / 2
        # Straight below, up to the base centre's offset from the axis (the
        # mean of the base vertices of an unstructured mesh).
        assert abs(base[0] - apex[0]) < 0.02 * SIZE[0]
        # The view is from anterior: the patient's left (+x) is on the image's right.
        centre = mesh.points.mean(axis=0)
        left = display(centre + [5.0, 0.0, 0.0]) - display(centre)
        assert left[0] > 0
    finally:
        plotter.close()


def test_mesh_without_lv_tags_is_seen_coronal(hex_beam_mesh: MeshData, tmp_path: Path) -> None:
    # Hexahedral 10 x 1 x 1 mm beam along x, tags x0..z1 = 1..6, no fibres:
    # the coronal view looks from anterior (-y) with superior (+z) up, so
    # only the y0 face (green) faces the camera and the beam lies across
    # the image, the patient's left (+x) on the right.
    beam = hex_beam_mesh
    assert mesh_view(beam).markers == ("S", "I", "R", "L")
    image = _pixels(render_mesh(beam, tmp_path / "beam.png", window_size=SIZE))
    _assert_image(image)
    assert _count(image, GREEN) > ON_MESH
    for colour in (BLUE, ORANGE, RED, PURPLE, BROWN):  # the other faces: legend squares only
        assert _count(image, colour) < LEGEND_ONLY, colour
    rows, cols = np.nonzero(_mask(image, GREEN)[:, : int(0.7 * SIZE[0])])
    assert np.ptp(cols) > 4 * np.ptp(rows)
    # Stood on its end (x -> z), with its upper half (x > 5 before) tagged
    # as a second region: that half is on top; and lying along x, the half
    # at x > 5 (the patient's left) is on the right.
    centroids = beam.points[beam.cells].mean(axis=1)
    halves = beam.with_tags(
        cell_values=np.where(centroids[:, 0] > 5.0, 2, 1), cell_names={"first": 1, "second": 2}
    )
    standing = dataclasses.replace(halves, points=halves.points[:, [1, 2, 0]])
    for mesh, axis in ((standing, 0), (halves, 1)):  # image rows / columns
        image = _pixels(render_mesh(mesh, tmp_path / "halves.png", show="cells", window_size=SIZE))
        first = np.nonzero(_mask(image, BLUE)[:, : int(0.7 * SIZE[0])])[axis]
        second = np.nonzero(_mask(image, ORANGE)[:, : int(0.7 * SIZE[0])])[axis]
        assert len(first) > ON_MESH and len(second) > ON_MESH
        if axis == 0:
            assert second.max() < first.min() + 2  # above: smaller rows
        else:
            assert second.min() > first.max() - 2  # right: larger columns


def _berlin(value: float) -> np.ndarray:
    """The colour of a helix angle [deg] on the diverging map of the renders."""
    rgba = matplotlib.colormaps[render_module.HELIX_GLYPH_CMAP]((value + 90.0) / 180.0)
    return np.round(255 * np.array(rgba[:3]))


def _glyph_pixels(image: np.ndarray, angle: float, tol: float = 30.0) -> int:
    """Pixels of the colour of ``angle``, pure (a glyph in front) or blended
    with the 30 % grey surface in front of it (about 165 grey where lit),
    inside the frame, away from the text (the black edge letters) and the
    colour bar."""
    height, width = image.shape[:2]
    inner = image[int(0.12 * height) : int(0.75 * height), int(0.08 * width) : int(0.92 * width)]
    colour = _berlin(angle)
    near = [np.abs(inner - c).max(axis=-1) <= tol for c in (colour, 0.75 * colour + 0.25 * 165)]
    return int((near[0] | near[1]).sum())


def test_fibre_glyphs_are_coloured_by_helix_angle(beam_mesh: MeshData, tmp_path: Path) -> None:
    # Tetrahedral 10 x 1 x 1 mm beam (480 cells), long (principal) axis x.
    # Fibres along x are longitudinal: helix angle -90 (= +90), the light
    # blue end of the map; fibres around the axis are circumferential:
    # 0 degrees, the dark middle.
    beam = beam_mesh
    centroids = beam.points[beam.cells].mean(axis=1)
    radial = centroids - centroids.mean(axis=0)
    radial[:, 0] = 0.0
    around = np.cross([1.0, 0.0, 0.0], radial)
    cases = {
        "along": constant_fibres((1.0, 0.0, 0.0), beam.num_cells),
        "around": np.stack([constant_fibres(f, 1)[0] for f in around]),
    }
    images = {}
    for name, fibres in cases.items():
        with_fibres = dataclasses.replace(beam, fibres=fibres)
        np.testing.assert_allclose(
            helix_angle_field(with_fibres), -90.0 if name == "along" else 0.0, atol=1e-9
        )
        out = render_mesh(with_fibres, tmp_path / f"{name}.png", show="fibres", window_size=SIZE)
        images[name] = _pixels(out)
        _assert_image(images[name])
    assert _glyph_pixels(images["along"], -90.0) > 300
    assert _glyph_pixels(images["along"], 0.0) == 0
    assert _glyph_pixels(images["around"], 0.0) > 300
    assert _glyph_pixels(images["around"], -90.0) == 0
    # At most max_glyphs glyphs: 40 of 480 cover far fewer pixels.
    sparse = dataclasses.replace(beam, fibres=cases["along"])
    few = _pixels(
        render_mesh(sparse, tmp_path / "few.png", show="fibres", window_size=SIZE, max_glyphs=40)
    )
    assert 0 < _glyph_pixels(few, -90.0) < 0.5 * _glyph_pixels(images["along"], -90.0)


def test_helix_angle_convention_on_lands_analytic_field(lv: MeshData) -> None:
    # Land's rule turns f0 = sin(a) e_u + cos(a) e_v with e_u from the base
    # to the apex: the helix angle of organfem.fibres (from the right-handed
    # circumferential direction towards the base) is -a, exactly, measured
    # with the exact wall normal s0; a linear in the transmural coordinate t.
    centroids = lv.points[lv.cells].mean(axis=1)
    bases = land2015_fibres(centroids, alpha_endo=-60.0, alpha_epi=60.0)
    t = np.clip(ellipsoid_coordinates(centroids)[0], 0.0, 1.0)
    axis = lv_long_axis(lv.points, lv.points[np.unique(lv.facets_of("base"))])
    np.testing.assert_allclose(axis.direction, [0.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(axis.apex, [0.0, 0.0, -20.0], atol=1e-9)
    exact = helix_angle(centroids, bases, axis.direction, axis.base_centre, transmural=bases[:, 1])
    np.testing.assert_allclose(exact, 60.0 - 120.0 * t, atol=1e-9)
    # The normals from the tagged facets (what the render uses) err by a few
    # degrees on this coarse mesh, and the angle by their square: tenths.
    normals = wall_normals(lv, centroids)
    tilt = np.rad2deg(np.arccos(np.clip(np.einsum("ij,ij->i", normals, bases[:, 1]), -1, 1)))
    assert np.median(tilt) < 3.0
    measured = helix_angle(centroids, bases, axis.direction, axis.base_centre, transmural=normals)
    assert np.median(np.abs(measured - exact)) < 0.5
    # Undefined on the axis (no radial direction) and for a transmural fibre.
    on_axis = helix_angle([[0.0, 0.0, -5.0]], [[1.0, 0.0, 0.0]], [0, 0, 1], [0, 0, 0])
    radial = helix_angle([[9.0, 0.0, -5.0]], [[1.0, 0.0, 0.0]], [0, 0, 1], [0, 0, 0])
    assert np.isnan(on_axis).all() and np.isnan(radial).all()
    # Circumferential (right-handed about +z) and longitudinal fibres at x = 9 mm.
    for fibre, angle in (([0.0, 1.0, 0.0], 0.0), ([0.0, 0.0, 1.0], -90.0), ([0, 1, 1], 45.0)):
        assert helix_angle([[9.0, 0.0, 0.0]], [fibre], [0, 0, 1], [0, 0, 0])[0] == pytest.approx(
            angle
        )
    with pytest.raises(ParameterError, match="long_axis"):
        helix_angle(centroids, bases, [0, 0, 0], axis.base_centre)


def test_helix_angle_field_recovers_the_ldrb_angles(lv: MeshData) -> None:
    # LDRB with +60 at the endocardium and -60 at the epicardium, varying
    # linearly in the transmural coordinate d (0 endo, 1 epi).  The render
    # measures in its own geometric frame (base normal, facet normals); LDRB
    # turns the fibre in the frame of grad psi, a P1 gradient constant per
    # cell, whose direction within the wall errs by up to about h / r: 3 mm
    # / 7 mm (the endocardial radius) = 0.43 rad = 25 degrees at the worst
    # cell, and much less on average (errors of either sign cancel).  So:
    # 90 % of cells within deg(h / 2 r) = 12 degrees, the median within a
    # tenth of deg(h / r), and the straight line through (d, angle) ends at
    # +60 and -60 within the same tenth.
    coordinates = ldrb_coordinates(lv)
    fibres = ldrb_fibres(lv, alpha_endo=60.0, alpha_epi=-60.0, coordinates=coordinates)
    angle = helix_angle_field(lv.with_fibres(fibres))
    d = coordinates.cell_phi
    assert angle.shape == (lv.num_cells,) and np.isfinite(angle).all()
    worst = np.rad2deg(3.0 / 7.0)
    error = np.abs(angle - (60.0 - 120.0 * d))
    assert np.percentile(error, 90) < worst / 2
    assert np.median(error) < worst / 10
    slope, endo = np.polyfit(d, angle, 1)
    assert endo == pytest.approx(60.0, abs=worst / 10)
    assert endo + slope == pytest.approx(-60.0, abs=worst / 10)
    # Not the angle to a plane: that would be |60| at both walls.
    assert np.mean(angle[d < 0.3]) > 20.0 > -20.0 > np.mean(angle[d > 0.7])


def test_fibre_render_titles_its_colour_bar_helix_angle_in_degrees(
    lv: MeshData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, list] = {}
    write = mesh_module._write_png_atomically

    def spy(plotter, out_png):
        seen["bars"] = list(plotter.scalar_bars.keys())
        seen["normals"] = ["Normals" in m.point_data for m in plotter.meshes]
        return write(plotter, out_png)

    monkeypatch.setattr(mesh_module, "_write_png_atomically", spy)
    with_fibres = lv.with_fibres(ldrb_fibres(lv))
    image = _pixels(render_mesh(with_fibres, tmp_path / "f.png", show="fibres", window_size=SIZE))
    _assert_image(image)
    assert seen["bars"] == ["helix angle [deg]"]
    # The surface behind the glyphs is smoothly shaded: it has point normals.
    assert seen["normals"][0]
    # Glyphs of both signs: endocardial (+) and epicardial (-) fibres.
    assert _glyph_pixels(image, 40.0) > 100
    assert _glyph_pixels(image, -40.0) > 100


def test_lv_fibres_from_a_saved_file(lv: MeshData, tmp_path: Path) -> None:
    centroids = lv.points[lv.cells].mean(axis=1)
    path = dataclasses.replace(lv, fibres=land2015_fibres(centroids)).save(tmp_path / "lv.h5")
    out = render_mesh(path, tmp_path / "f.png", show="fibres", clip=True, window_size=SIZE)
    image = _pixels(out)
    _assert_image(image)
    # Land's rule sweeps f0 from longitudinal (endo) through circumferential
    # (mid-wall): the glyphs take many colours of the map.
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 100


def test_errors_name_the_source_and_the_problem(lv: MeshData, tmp_path: Path) -> None:
    path = lv.save(tmp_path / "plain.h5")
    with pytest.raises(ParameterError, match=r"plain\.h5.*show='wall'.*tags"):
        render_mesh(path, tmp_path / "x.png", show="wall")
    with pytest.raises(ParameterError, match=r"plain\.h5: show='fibres' needs a fibre field"):
        render_mesh(path, tmp_path / "x.png", show="fibres")
    with pytest.raises(ParameterError, match=r"must end in \.png"):
        render_mesh(lv, tmp_path / "x.jpg")
    with pytest.raises(ParameterError, match="max_glyphs=0"):
        render_mesh(lv, tmp_path / "x.png", max_glyphs=0)
    with pytest.raises(ParameterError, match="window_size"):
        render_mesh(lv, tmp_path / "x.png", window_size=(480, 0))
    with pytest.raises(ParameterError, match="MeshData or the path"):
        render_mesh(lv.points, tmp_path / "x.png")  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.h5"]
