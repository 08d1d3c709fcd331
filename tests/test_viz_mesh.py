"""Mesh renders: each tag shows in its legend colour, the camera, clipping, fibres, errors.

The tags are drawn flat (unlit), so a tag's pixels have exactly its palette
colour.  The palette is documented in organfem.viz.mesh: the k-th smallest tag
value gets Tableau 10 colour k (below).  A legend square is a few dozen
pixels at 480 x 360, so a colour counted in the thousands comes from the mesh;
a colour the mesh must not show is allowed no more than its legend square.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from organfem.errors import ParameterError
from organfem.fibres import constant_fibres, land2015_fibres
from organfem.meshing import MeshData
from organfem.viz import render_mesh

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

@pytest.fixture(scope="module")
def lv(lv_coarse) -> MeshData:
    # Land et al. (2015) ellipsoid, coarse (h = 3 mm, conftest.py): about 1000
    # tetrahedra; endo=1, epi=2, base=3.
    return lv_coarse


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def _count(image: np.ndarray, colour: tuple[int, int, int], tol: int = 3) -> int:
    """Pixels within ``tol`` of ``colour`` in every channel."""
    return int((np.abs(image - np.array(colour)).max(axis=-1) <= tol).sum())


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


def test_default_camera_puts_the_long_axis_up(hex_beam_mesh: MeshData, tmp_path: Path) -> None:
    # Hexahedral 10 x 1 x 1 mm beam: tags x0..z1 = 1..6.  Its long axis is x;
    # the default camera looks from the isometric direction (y + z + x) with
    # x up, so the faces x1 (top), y1 and z1 face it, and x0, y0, z0 do not.
    beam = hex_beam_mesh
    image = _pixels(render_mesh(beam, tmp_path / "beam.png", window_size=SIZE))
    _assert_image(image)
    assert _count(image, ORANGE) > 150  # x1: the 1 x 1 mm top, seen from above
    for colour in (RED, BROWN):  # y1, z1: the long sides
        assert _count(image, colour) > ON_MESH, colour
    for colour in (BLUE, GREEN, PURPLE):  # x0, y0, z0: legend squares only
        assert _count(image, colour) < LEGEND_ONLY, colour
    # The beam stands upright: its red side, left of the legend (which
    # takes the right 27 % of the width), is much taller than wide.
    left = image[:, : int(0.7 * SIZE[0])]
    rows, cols = np.nonzero(np.abs(left - np.array(RED)).max(axis=-1) <= 3)
    assert np.ptp(rows) > 4 * np.ptp(cols)


def _fibre_classes(image: np.ndarray) -> tuple[int, int]:
    """Pixels of the two ends of viridis above the colour bar (lower 20 %).

    viridis(1) = (253, 231, 37) is yellow (red and green well above blue),
    viridis(0) = (68, 1, 84) purple (blue and red above a near-zero green);
    the glyphs behind the 30 % grey surface are blended with it, so the
    classes allow that, but neither grey, white nor black text falls in one.
    """
    top = image[: int(0.8 * SIZE[1])].astype(int)
    r, g, b = top[..., 0], top[..., 1], top[..., 2]
    yellow = (r - b > 80) & (g - b > 80)
    purple = (b - g > 40) & (r - g > 25) & (g < 80)
    return int(yellow.sum()), int(purple.sum())


def test_fibre_glyphs_are_coloured_by_their_angle_to_the_short_axis_plane(
    beam_mesh: MeshData, tmp_path: Path
) -> None:
    # Tetrahedral 10 x 1 x 1 mm beam (480 cells), long axis x.  Fibres along x
    # make 90 degrees with the short-axis plane (top of the colour map), along
    # y 0 degrees (bottom).
    beam = beam_mesh
    images = {}
    for axis, direction in (("x", (1.0, 0.0, 0.0)), ("y", (0.0, 1.0, 0.0))):
        with_fibres = dataclasses.replace(beam, fibres=constant_fibres(direction, beam.num_cells))
        out = render_mesh(with_fibres, tmp_path / f"{axis}.png", show="fibres", window_size=SIZE)
        images[axis] = _pixels(out)
        _assert_image(images[axis])
    assert _fibre_classes(images["x"])[0] > ON_MESH and _fibre_classes(images["x"])[1] == 0
    assert _fibre_classes(images["y"])[1] > ON_MESH and _fibre_classes(images["y"])[0] == 0
    # At most max_glyphs glyphs: 40 of 480 cover far fewer pixels.
    few = dataclasses.replace(beam, fibres=constant_fibres((0.0, 1.0, 0.0), beam.num_cells))
    sparse = _pixels(
        render_mesh(few, tmp_path / "few.png", show="fibres", window_size=SIZE, max_glyphs=40)
    )
    assert 0 < _fibre_classes(sparse)[1] < 0.5 * _fibre_classes(images["y"])[1]


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
