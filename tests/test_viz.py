"""Renders: a PNG that is not blank, that changes with the data, and clear errors.

And one a clinician can read: a ventricle base up and apex down (in pixels,
whatever its coordinates), the unit on the colour bar, a fibre field as its
helix angle in degrees, smooth shading (point normals on the surface).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import pyvista as pv
from PIL import Image

from organfem._dolfinx import MPI
from organfem.errors import ParameterError
from organfem.fibres import ellipsoid_coordinates, land2015_fibres
from organfem.meshing import MeshData
from organfem.viz import render
from organfem.viz.labels import field_label, field_unit

render_module = importlib.import_module("organfem.viz.render")

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("mpi_io_check", REPO / "tests" / "mpi_io_check.py")
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

SIZE = (480, 360)
WHITE = np.array([255, 255, 255])


@pytest.fixture(scope="module")
def results_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("viz") / "results.vtkhdf"
    example.write_example(path, MPI.COMM_WORLD)
    return path


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def _assert_not_blank(image: np.ndarray) -> None:
    # The body fills a good part of the frame and the colour map gives it
    # many shades; a blank or failed render is one or two flat colours.
    foreground = np.any(image != WHITE, axis=-1)
    assert foreground.mean() > 0.1
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 100


def test_render_two_steps_gives_two_different_non_blank_images(
    results_file: Path, tmp_path: Path
) -> None:
    # Same camera and colour range for both, so only the data differ: the
    # displacement doubles from t = 0.5 to t = 1 (mpi_io_check.displacement).
    common = {"window_size": SIZE, "camera": "xz", "clim": (0.0, 0.35), "unit": "mm", "scale": 5.0}
    first = render(results_file, tmp_path / "first.png", step=0, **common)
    last = render(results_file, tmp_path / "last.png", step=-1, **common)
    assert first == tmp_path / "first.png" and last.exists()
    images = [_pixels(first), _pixels(last)]
    for image in images:
        assert image.shape == (SIZE[1], SIZE[0], 3)
        _assert_not_blank(image)
    changed = np.any(images[0] != images[1], axis=-1)
    assert changed.mean() > 0.05
    # Atomic write: no temporary file is left beside the images.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.png", "last.png"]


def test_render_dataset_cell_field_without_warp(tmp_path: Path) -> None:
    grid = pv.ImageData(dimensions=(5, 4, 3)).cast_to_unstructured_grid()
    grid.cell_data["fibre_stress"] = np.linspace(0.0, 60.0, grid.n_cells)
    out = render(
        grid, tmp_path / "stress.png", field="fibre_stress", warp=False, unit="kPa",
        window_size=SIZE,
    )
    _assert_not_blank(_pixels(out))


def test_render_leaves_the_dataset_undeformed(tmp_path: Path) -> None:
    grid = pv.ImageData(dimensions=(4, 3, 3)).cast_to_unstructured_grid()
    grid.point_data["displacement"] = np.tile([0.5, 0.0, 0.0], (grid.n_points, 1))
    before = grid.points.copy()
    render(grid, tmp_path / "warped.png", window_size=SIZE)
    np.testing.assert_array_equal(grid.points, before)


def test_render_errors_name_the_problem(results_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"'pressure_field' is not in the data; available: "):
        render(results_file, tmp_path / "a.png", field="pressure_field")
    with pytest.raises(ParameterError, match=r"must end in \.png"):
        render(results_file, tmp_path / "a.jpg")
    grid = pv.ImageData(dimensions=(3, 3, 3)).cast_to_unstructured_grid()
    grid.point_data["temperature"] = np.arange(grid.n_points, dtype=float)
    with pytest.raises(ParameterError, match="warp=True needs a 3-component point field"):
        render(grid, tmp_path / "a.png", field="temperature")
    assert not any(tmp_path.iterdir())


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> dict:
    """What the next render drew: its colour-bar titles and its datasets."""
    seen: dict = {}
    write = render_module._write_png_atomically

    def spy(plotter, out_png):
        seen["bars"] = list(plotter.scalar_bars.keys())
        seen["meshes"] = [mesh.copy() for mesh in plotter.meshes]
        return write(plotter, out_png)

    monkeypatch.setattr(render_module, "_write_png_atomically", spy)
    return seen


def _lv_grid(mesh: MeshData, rotation: np.ndarray) -> pv.UnstructuredGrid:
    grid = pv.UnstructuredGrid({pv.CellType.TETRA: mesh.cells}, mesh.points @ rotation.T)
    # Height above the apex along the long axis (z before the rotation) [mm].
    grid.cell_data["height_mm"] = mesh.points[mesh.cells].mean(axis=1)[:, 2] + 20.0
    return grid


def test_colour_bar_titles_carry_the_unit(results_file: Path, tmp_path: Path, drawn) -> None:
    assert (field_unit("displacement"), field_unit("fibre_stress")) == ("mm", "kPa")
    assert (field_unit("pressure_kPa"), field_unit("cavity_volume_mm3")) == ("kPa", "mm^3")
    assert field_unit("cell_x") is None
    assert field_label("cavity_volume_mm3") == ("cavity_volume", "mm^3")
    render(results_file, tmp_path / "u.png", window_size=SIZE)
    assert drawn["bars"] == ["displacement magnitude [mm]"]
    # Smooth shading: the coloured surface carries point normals.
    assert "Normals" in drawn["meshes"][0].point_data
    render(results_file, tmp_path / "x.png", field="cell_x", window_size=SIZE)
    assert drawn["bars"] == ["cell_x"]  # not a known field: no unit rather than a wrong one
    render(results_file, tmp_path / "y.png", field="cell_x", unit="mm", window_size=SIZE)
    assert drawn["bars"] == ["cell_x [mm]"]
    grid = pv.ImageData(dimensions=(4, 3, 3)).cast_to_unstructured_grid()
    grid.cell_data["fibre_stress"] = np.linspace(0.0, 60.0, grid.n_cells)
    render(grid, tmp_path / "s.png", field="fibre_stress", warp=False, window_size=SIZE)
    assert drawn["bars"] == ["fibre_stress [kPa]"]


def test_lv_results_are_drawn_base_up_apex_down(lv_coarse: MeshData, tmp_path: Path) -> None:
    # A results grid has no tags: the base is its one flat face.  Coloured by
    # the height above the apex (viridis: purple low, yellow high), the
    # yellow base is at the top of the picture and the purple apex at the
    # bottom, also with the long axis turned towards the patient's left.
    a, b = np.deg2rad(70.0), np.deg2rad(-30.0)
    turn = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]]) @ np.array(
        [[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]
    )
    for name, rotation in (("lv", np.eye(3)), ("turned", turn)):
        grid = _lv_grid(lv_coarse, rotation)
        out = render(grid, tmp_path / f"{name}.png", field="height_mm", warp=False,
                     clim=(0.0, 25.0), window_size=SIZE)  # fmt: skip
        image = _pixels(out)[: int(0.8 * SIZE[1])]  # above the colour bar
        _assert_not_blank(image)
        r, g, b_ = image[..., 0], image[..., 1], image[..., 2]
        high = np.nonzero((r > 120) & (g > 120) & (b_ < 90))[0]  # yellow-green: near the base
        low = np.nonzero((b_ > r + 15) & (b_ > g) & (r > g) & (g < 60))[0]  # purple: the apex
        assert len(high) > 300 and len(low) > 50, name
        assert high.mean() < low.mean() - 0.25 * SIZE[1] * 0.5, name


def test_fibre_field_is_shown_as_its_helix_angle(lv_coarse: MeshData, tmp_path: Path, drawn) -> None:
    # Land's rule with alpha_endo=-60, alpha_epi=60 is the field of helix
    # angle +60 (endo) to -60 (epi) in the convention of organfem.fibres
    # (Land measures the other way round), linear in the transmural
    # coordinate t.  The results render has no wall surfaces and takes the
    # transmural direction as radial from the long axis: exact where the
    # wall is parallel to the axis, so most cells read the exact angle.
    centroids = lv_coarse.points[lv_coarse.cells].mean(axis=1)
    grid = _lv_grid(lv_coarse, np.eye(3))
    grid.cell_data["fibre"] = land2015_fibres(centroids, alpha_endo=-60.0, alpha_epi=60.0)[:, 0]
    out = render(grid, tmp_path / "fibre.png", field="fibre", warp=False, window_size=SIZE)
    _assert_not_blank(_pixels(out))
    assert drawn["bars"] == ["helix angle [deg]"]
    surface = drawn["meshes"][0]
    angle = np.asarray(surface.cell_data["helix angle [deg]"])
    t = ellipsoid_coordinates(centroids)[0]
    expected = (60.0 - 120.0 * np.clip(t, 0.0, 1.0))[surface.cell_data["vtkOriginalCellIds"]]
    error = np.abs(angle - expected)
    assert np.median(error) < 1.0 and np.percentile(error, 75) < 5.0
