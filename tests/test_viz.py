"""Renders: a PNG that is not blank, that changes with the data, and clear errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import pyvista as pv
from PIL import Image

from organfem._dolfinx import MPI
from organfem.errors import ParameterError
from organfem.viz import render

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
