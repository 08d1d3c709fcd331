"""organfem.imaging: exact geometry through files and DICOM, label conventions,
and segmentation helpers checked against closed forms (de-identification:
test_deidentify.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from organfem.errors import ImageError, ParameterError, SegmentationError
from organfem.imaging import (
    CANONICAL_NAMES,
    LABEL_PRESETS,
    Image,
    blood_pool_from_cta,
    check_single_component,
    fill_holes,
    label_components,
    label_mask,
    largest_component,
    morphological_close,
    morphological_open,
    parse_labels,
    read_dicom_series,
    read_image,
    region_grow,
    resample_isotropic,
    smooth,
    threshold,
    write_image,
)
from organfem.imaging.segment import _radius_voxels

pydicom = pytest.importorskip("pydicom")

REPO = Path(__file__).resolve().parents[1]


def _rotation(ax: float, ay: float, az: float) -> np.ndarray:
    """Proper rotation Rz(az) @ Ry(ay) @ Rx(ax)."""
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _oblique(array: np.ndarray, spacing=(0.8, 1.1, 2.5)) -> Image:
    return Image(array, spacing=spacing, origin=(-12.3, 45.6, -78.9),
                 direction=_rotation(0.3, -0.2, 0.5))  # fmt: skip


def _grid_points(image: Image) -> np.ndarray:
    """LPS centres of all voxels, shape (nx, ny, nz, 3)."""
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in image.shape], indexing="ij"), axis=-1)
    return image.index_to_physical(ijk.reshape(-1, 3)).reshape(*image.shape, 3)


# ------------------------------------------------------------------ image files


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_image_round_trip_keeps_oblique_anisotropic_geometry(tmp_path, suffix):
    rng = np.random.default_rng(1)
    image = _oblique(rng.integers(-1000, 2000, size=(7, 9, 5)).astype(np.int16))
    path = write_image(image, tmp_path / f"ct{suffix}")
    back = read_image(path)
    np.testing.assert_array_equal(back.array, image.array)
    # NIfTI stores the affine in float32: ~1e-5 mm at |x| ~ 100 mm.
    corners = np.array([[0, 0, 0], [6, 0, 0], [0, 8, 0], [0, 0, 4], [6, 8, 4]], dtype=float)
    np.testing.assert_allclose(back.index_to_physical(corners), image.index_to_physical(corners),
                               atol=1e-4)  # fmt: skip
    np.testing.assert_allclose(back.direction, image.direction, atol=1e-6)
    if suffix == ".nii.gz":
        nibabel = pytest.importorskip("nibabel")
        np.testing.assert_allclose(nibabel.load(path).affine, image.affine_ras, atol=1e-4)
    assert not list(tmp_path.glob(".*partial*")), "write_image left a temporary file"


def test_truncated_and_garbage_files_are_clear_errors(tmp_path):
    rng = np.random.default_rng(2)
    path = write_image(_oblique(rng.normal(size=(30, 30, 20))), tmp_path / "big.nii.gz")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.nii.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated.nii.gz"):
        read_image(truncated)
    garbage = tmp_path / "garbage.nrrd"
    garbage.write_bytes(rng.bytes(4000))
    with pytest.raises(ImageError, match="garbage.nrrd"):
        read_image(garbage)
    with pytest.raises(ImageError, match="missing.mha"):
        read_image(tmp_path / "missing.mha")


def test_importing_imaging_does_not_import_dolfinx():
    code = (
        "import sys, organfem.imaging; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('dolfinx', 'petsc4py', 'mpi4py')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip


# ------------------------------------------------------------------ DICOM

IDENTIFYING = {
    "PatientName": "Doe^Jane",
    "PatientID": "PID-4711-XQ",
    "PatientBirthDate": "19700523",
    "InstitutionName": "Saint Example Hospital",
    "ReferringPhysicianName": "Smith^Anna",
    "ContentCreatorName": "Roe^Richard",  # not in the table: caught by the PN safety net
    "StudyDate": "20240131",
    "AccessionNumber": "ACC-99817",
}
PRIVATE_VALUE = "PRIVATE-MARKER-7781"
SLOPE, INTERCEPT = 1.5, -1024.0
# Oblique orientation; 12 decimals keep the DS strings within their 16 characters.
ROW = np.round([np.cos(0.3), np.sin(0.3), 0.0], 12)
COL = np.round([-np.sin(0.3) * np.cos(0.2), np.cos(0.3) * np.cos(0.2), np.sin(0.2)], 12)
PIXEL_SPACING = (0.7, 0.9)  # (between rows, between columns) [mm]
SLICE_GAP = 2.5
IPP0 = np.array([-12.5, 30.25, 101.0])


def _write_series(folder: Path, n: int = 6, *, shape=(10, 12), seed: int = 0,
                  series_uid: str | None = None, prefix: str = "IM") -> list[dict]:  # fmt: skip
    """Write a CT series slice by slice; returns per-slice truth (raw pixels, IPP, UIDs)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    normal = np.cross(ROW, COL)
    study, frame = generate_uid(), generate_uid()
    series_uid = series_uid or generate_uid()
    rng = np.random.default_rng(seed)
    truth, previous = [], None
    for k in range(n):
        sop = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series_uid, frame
        ds.Modality = "CT"
        for keyword, value in IDENTIFYING.items():
            setattr(ds, keyword, value)
        block = ds.private_block(0x0011, "ACME IMAGING", create=True)
        block.add_new(0x01, "LO", PRIVATE_VALUE)
        if previous is not None:  # a reference to another instance, inside a sequence
            item = Dataset()
            item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = CTImageStorage, previous
            ds.SourceImageSequence = Sequence([item])
        ds.Rows, ds.Columns = shape
        ds.PixelSpacing = list(PIXEL_SPACING)
        ds.SliceThickness = SLICE_GAP
        ds.ImageOrientationPatient = [float(v) for v in (*ROW, *COL)]
        ipp = IPP0 + SLICE_GAP * k * normal
        ds.ImagePositionPatient = [round(float(v), 6) for v in ipp]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = SLOPE, INTERCEPT
        ds.InstanceNumber = k + 1
        raw = rng.integers(-200, 1500, size=shape).astype(np.int16)
        ds.PixelData = raw.tobytes()
        # File names not in slice order: the reader must sort by position.
        ds.save_as(folder / f"{prefix}{(5 * k + 3) % 97:03d}.dcm", enforce_file_format=True)
        ipp_written = np.array(ds.ImagePositionPatient, dtype=float)
        truth.append({"raw": raw, "ipp": ipp_written, "sop": sop, "study": study,
                      "series": series_uid, "frame": frame})  # fmt: skip
        previous = sop
    return truth


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dicom") / "patient_series"
    truth = _write_series(folder)
    (folder / "notes.txt").write_text(f"report for {IDENTIFYING['PatientName']}\n")
    return folder, truth


def _check_geometry(image: Image, truth: list[dict]) -> None:
    # DICOM PS3.3 C.7.6.2.1.1: the centre of pixel (column i, row j) of slice k
    # is IPP_k + i * PixelSpacing[1] * row + j * PixelSpacing[0] * col.
    assert image.shape == (12, 10, len(truth))
    np.testing.assert_allclose(image.origin, truth[0]["ipp"], atol=1e-9)
    np.testing.assert_allclose(image.direction, np.column_stack([ROW, COL, np.cross(ROW, COL)]),
                               atol=1e-9)  # fmt: skip
    np.testing.assert_allclose(image.spacing, [PIXEL_SPACING[1], PIXEL_SPACING[0], SLICE_GAP],
                               rtol=1e-6)  # fmt: skip
    for k, slice_ in enumerate(truth):
        for i, j in [(0, 0), (11, 0), (0, 9), (7, 4)]:
            expected = slice_["ipp"] + i * PIXEL_SPACING[1] * ROW + j * PIXEL_SPACING[0] * COL
            np.testing.assert_allclose(image.index_to_physical([i, j, k]), expected, atol=1e-5)
        # HU = RescaleSlope * stored + RescaleIntercept; array[i, j] = pixel (row j, column i).
        np.testing.assert_array_equal(image.array[:, :, k], SLOPE * slice_["raw"].T + INTERCEPT)


def test_read_dicom_series_geometry_and_hu(series):
    folder, truth = series
    image = read_dicom_series(folder)
    _check_geometry(image, truth)
    # read_image on a folder goes through the same reader.
    np.testing.assert_array_equal(read_image(folder).array, image.array)


def test_dicom_folder_errors(tmp_path, series):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageError, match="empty.*no files"):
        read_dicom_series(empty)
    text = tmp_path / "text"
    text.mkdir()
    (text / "a.txt").write_text("not dicom")
    with pytest.raises(ImageError, match="text.*no DICOM series"):
        read_dicom_series(text)

    one = tmp_path / "one"
    _write_series(one, n=1)
    with pytest.raises(ImageError, match="one.*single 2D slice"):
        read_dicom_series(one)

    two = tmp_path / "two"
    _write_series(two, n=3, series_uid="1.2.826.0.1.3680043.8.498.1")
    _write_series(two, n=4, series_uid="1.2.826.0.1.3680043.8.498.2", seed=5, prefix="B")
    with pytest.raises(ImageError, match=r"holds 2 DICOM series") as info:
        read_dicom_series(two)
    assert "(3 files)" in str(info.value) and "(4 files)" in str(info.value)
    assert read_dicom_series(two, series_uid="1.2.826.0.1.3680043.8.498.2").shape == (12, 10, 4)
    with pytest.raises(ImageError, match="no series with SeriesInstanceUID '9.9'"):
        read_dicom_series(two, series_uid="9.9")

    source, _ = series
    files = sorted(source.glob("*.dcm"), key=lambda p: float(
        pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]))  # fmt: skip
    truncated = tmp_path / "truncated"
    shutil.copytree(source, truncated)
    victim = truncated / files[2].name
    victim.write_bytes(victim.read_bytes()[:-50])  # cut inside the pixel data
    with pytest.raises(ImageError, match=f"truncated.*{victim.name}"):
        read_dicom_series(truncated)

    gap = tmp_path / "gap"
    shutil.copytree(source, gap)
    (gap / files[3].name).unlink()  # a missing slice in the middle
    with pytest.raises(ImageError, match="gap.*spacing varies from 2.5 to 5"):
        read_dicom_series(gap)

    sizes = tmp_path / "sizes"
    _write_series(sizes, n=3, series_uid="1.2.826.0.1.3680043.8.498.3")
    extra = tmp_path / "extra"
    _write_series(extra, n=4, shape=(11, 12), series_uid="1.2.826.0.1.3680043.8.498.3")
    shutil.copy(sorted(extra.glob("*.dcm"))[-1], sizes / "other_size.dcm")
    with pytest.raises(ImageError, match="sizes.*inconsistent slices"):
        read_dicom_series(sizes)


# ------------------------------------------------------------------ labels


def test_parse_labels_presets_and_pairs():
    # MM-WHS codes (Zhuang et al. 2019, Med. Image Anal. 58:101537).
    assert dict(parse_labels("mmwhs")) == {
        "lv_myocardium": 205, "la_blood_pool": 420, "lv_blood_pool": 500, "ra_blood_pool": 550,
        "rv_blood_pool": 600, "aorta": 820, "pulmonary_artery": 850,
    }  # fmt: skip
    mixed = parse_labels(" mmwhs , scar = 7 ")
    assert mixed["scar"] == 7 and mixed["lv_blood_pool"] == 500 and len(mixed) == 8
    assert dict(parse_labels("a=1,b=2")) == {"a": 1, "b": 2}
    assert dict(parse_labels({"lv_blood_pool": np.int64(3)})) == {"lv_blood_pool": 3}
    with pytest.raises(TypeError):
        parse_labels("a=1")["b"] = 2  # immutable
    for preset in LABEL_PRESETS.values():
        assert len(set(preset.values())) == len(preset)
    # The chamber presets name every canonical structure except where noted in labels.py.
    assert set(CANONICAL_NAMES) <= set(LABEL_PRESETS["mmwhs"])
    assert set(CANONICAL_NAMES) - {"lv_myocardium"} <= set(LABEL_PRESETS["totalseg-heartchambers"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty specification"),
        ("a=1,,b=2", "empty entry"),
        ("a=x", "expected name=integer"),
        ("a=1,a=2", "name 'a' given twice"),
        ("a=1,b=1", "value 1 of 'b'.*already used by 'a'"),
        ("a=0", "must be positive"),
        ("a=-3", "must be positive"),
        ("1a=3", "bad name"),
        ("nosuch", "presets: mmwhs, mmwhs-1-7, totalseg-heartchambers, totalseg-total"),
        ("mmwhs,aorta=9", "name 'aorta' given twice"),
        ("mmwhs,totalseg-heartchambers", "given twice"),
        ({"a": 1.5}, "must be an integer"),
        ({"a": True}, "must be an integer"),
    ],
)
def test_parse_labels_errors(spec, message):
    with pytest.raises(ParameterError, match=message):
        parse_labels(spec)


def test_label_mask_absent_label_names_value_and_present_values():
    array = np.zeros((6, 6, 6), dtype=np.int16)
    array[1:3, 1:3, 1:3] = 205
    array[4:6, 4:6, 4:6] = 500
    image = Image(array, spacing=(1, 1, 1))
    assert label_mask(image, "mmwhs", "lv_myocardium").sum() == 8
    with pytest.raises(SegmentationError, match=r"'rv_blood_pool' \(value 600\).*\[0, 205, 500\]"):
        label_mask(image, "mmwhs", "rv_blood_pool")
    with pytest.raises(SegmentationError, match=r"'scar' \(value 7\).*\[0, 205, 500\]"):
        label_mask(image, "mmwhs,scar=7", "scar")
    with pytest.raises(ParameterError, match="'heart' is not in the label mapping"):
        label_mask(image, "mmwhs", "heart")


def test_components_connectivity_and_fragmentation():
    mask = np.zeros((8, 8, 8), dtype=bool)
    mask[0:3, 0:3, 0:3] = True  # 27 voxels
    mask[3:5, 3:5, 3:5] = True  # 8 voxels, touching the first only at the corner (3,3,3)
    assert label_components(mask, connectivity=26) == (1, pytest.approx([35]))
    count, sizes = label_components(mask, connectivity=6)
    assert count == 2 and sizes.tolist() == [27, 8]
    with pytest.raises(SegmentationError, match=r"'lv_myocardium' is fragmented: 2 pieces.*27, 8"):
        check_single_component(mask, "lv_myocardium", connectivity=6)
    # 8 < 0.5 * 27: the small piece is a tolerated speck; 8 >= 0.25 * 27 is not.
    check_single_component(mask, "lv_myocardium", connectivity=6, min_fraction=0.5)
    with pytest.raises(SegmentationError, match="2 pieces are larger"):
        check_single_component(mask, "lv_myocardium", connectivity=6, min_fraction=0.25)
    check_single_component(mask, "lv_myocardium")  # one piece with 26-connectivity
    with pytest.raises(SegmentationError, match="'aorta' is empty"):
        check_single_component(np.zeros((3, 3, 3)), "aorta")


# ------------------------------------------------------------------ segmentation


def _sphere_bounds(radius: float, spacing, slack: float = 0.0) -> tuple[float, float]:
    """Bounds on the volume of the voxels whose centres lie within ``radius``.

    Every such voxel lies inside the sphere of radius r + d, and every point of
    the sphere of radius r - d lies in such a voxel, with d the half diagonal
    of a voxel; so the voxel volume is within [4/3 pi (r-d)^3, 4/3 pi (r+d)^3].
    ``slack`` [mm] widens d for a boundary that is itself uncertain.
    """
    d = 0.5 * float(np.linalg.norm(spacing)) + slack
    return 4 / 3 * np.pi * (radius - d) ** 3, 4 / 3 * np.pi * (radius + d) ** 3


def test_threshold_and_largest_component_give_sphere_volume():
    image = _oblique(np.zeros((40, 36, 16)), spacing=(0.8, 0.9, 2.0))
    points = _grid_points(image)
    centre_a = image.index_to_physical([18, 18, 8])
    centre_b = image.index_to_physical([4, 4, 3])
    dist_a = np.linalg.norm(points - centre_a, axis=-1)
    dist_b = np.linalg.norm(points - centre_b, axis=-1)
    # Two radial ramps (HU falls 10 per mm): values >= 1000 - 10 r lie within r.
    radius_a, radius_b = 9.0, 3.0
    ramp = np.maximum(1000 - 10 * dist_a, 1000 - 10 * (dist_b + radius_a - radius_b))
    ct = image.with_array(ramp)
    mask = threshold(ct, 1000 - 10 * radius_a, 5000)
    assert mask.array.dtype == np.uint8 and set(np.unique(mask.array)) == {0, 1}
    assert label_components(mask)[0] == 2
    largest = largest_component(mask)
    for attr in ("spacing", "origin", "direction"):
        np.testing.assert_array_equal(getattr(largest, attr), getattr(image, attr))
    # Exactly the voxels of sphere A (same comparison as the threshold, in floats).
    np.testing.assert_array_equal(largest.array.astype(bool),
                                  1000 - 10 * dist_a >= 1000 - 10 * radius_a)  # fmt: skip
    volume = largest.array.sum() * image.voxel_volume
    low, high = _sphere_bounds(radius_a, image.spacing)
    assert low < volume < high, (low, volume, high, 4 / 3 * np.pi * radius_a**3)
    with pytest.raises(SegmentationError, match="empty"):
        largest_component(mask.with_array(np.zeros(mask.shape, np.uint8)))
    with pytest.raises(ParameterError, match="lower <= upper"):
        threshold(ct, 10, 5)


def test_fill_holes_fills_enclosed_cavity_only():
    solid = np.zeros((14, 14, 14), dtype=np.uint8)
    solid[2:12, 2:12, 2:12] = 1  # 10^3 = 1000 voxels
    cavity = solid.copy()
    cavity[5:9, 5:9, 5:9] = 0  # 4^3 = 64-voxel enclosed cavity
    image = Image(cavity, spacing=(1.0, 1.2, 0.9))
    assert cavity.sum() == 936
    filled = fill_holes(image)
    assert filled.array.sum() == 1000
    open_cup = cavity.copy()
    open_cup[6, 6, 9:12] = 0  # a channel from the cavity to the outside (3 voxels)
    assert fill_holes(image.with_array(open_cup)).array.sum() == open_cup.sum() == 936 - 3


def test_region_grow_takes_only_the_connected_sphere():
    image = Image(np.zeros((30, 20, 20)), spacing=(1.0, 1.0, 1.5), origin=(5, -3, 7))
    points = _grid_points(image)
    centre_a, centre_b = image.index_to_physical([7, 10, 10]), image.index_to_physical([22, 10, 10])
    in_a = np.linalg.norm(points - centre_a, axis=-1) <= 5.0
    in_b = np.linalg.norm(points - centre_b, axis=-1) <= 5.0
    assert not (in_a & in_b).any()
    ct = image.with_array(np.where(in_a | in_b, 400.0, 0.0))
    # Seed 0.3 voxel off the centre of sphere A: rounds to A's centre voxel.
    grown = region_grow(ct, centre_a + [0.3, -0.2, 0.4], 150, 700)
    np.testing.assert_array_equal(grown.array.astype(bool), in_a)
    both = region_grow(ct, [centre_a, centre_b], 150, 700)
    np.testing.assert_array_equal(both.array.astype(bool), in_a | in_b)
    with pytest.raises(ParameterError, match="outside the image"):
        region_grow(ct, [500.0, 0.0, 0.0], 150, 700)
    with pytest.raises(SegmentationError, match="value 0, outside the window"):
        region_grow(ct, image.index_to_physical([0, 0, 0]), 150, 700)


def test_opening_removes_speck_and_closing_fills_slit():
    image = Image(np.zeros((24, 24, 24), np.uint8), spacing=(1.0, 1.0, 1.0))
    dist = np.linalg.norm(_grid_points(image) - image.index_to_physical([10, 10, 10]), axis=-1)
    ball = dist <= 6.0
    with_speck = ball.copy()
    with_speck[21, 21, 21] = True
    opened = morphological_open(image.with_array(with_speck), 1.0).array.astype(bool)
    assert not opened[21, 21, 21]
    assert not (opened & ~with_speck).any()  # opening is anti-extensive
    # A ball of radius 1 fits everywhere 1 voxel inside the surface: the
    # interior (distance <= 6 - 2) is kept.
    assert opened[dist <= 4.0].all()

    slab = np.zeros((24, 24, 24), dtype=bool)
    slab[3:17, 3:17, 3:17] = True
    slit = slab.copy()
    slit[10, 5:15, 5:15] = False  # a 1-voxel-thick crack inside the block
    closed = morphological_close(image.with_array(slit.astype(np.uint8)), 1.0).array.astype(bool)
    assert closed[10, 5:15, 5:15].all()
    assert not (slit & ~closed).any()  # closing is extensive


def test_radius_in_mm_is_converted_per_axis():
    image = Image(np.zeros((4, 4, 4)), spacing=(0.5, 0.5, 2.0))
    assert _radius_voxels(image, 1.0) == [2, 2, 0]
    assert _radius_voxels(image, 3.0) == [6, 6, 2]
    with pytest.raises(ParameterError, match="under half a voxel"):
        _radius_voxels(image, 0.2)
    with pytest.raises(ParameterError, match="positive"):
        _radius_voxels(image, -1.0)


def test_resample_isotropic_keeps_origin_extent_and_linear_fields():
    image = _oblique(np.zeros((9, 7, 5)), spacing=(0.8, 1.1, 2.5))
    a, b = np.array([3.0, -2.0, 0.5]), 17.0
    field = image.with_array(_grid_points(image) @ a + b)  # linear in LPS mm
    out = resample_isotropic(field)
    assert np.allclose(out.spacing, 0.8)
    np.testing.assert_array_equal(out.origin, image.origin)
    np.testing.assert_array_equal(out.direction, image.direction)
    # n' = floor((n - 1) s / s') + 1 per axis: (8*0.8/0.8, 6*1.1/0.8, 4*2.5/0.8) -> 9, 9, 13.
    assert out.shape == (9, 9, 13)
    extent_old = (np.array(image.shape) - 1) * image.spacing
    extent_new = (np.array(out.shape) - 1) * out.spacing
    assert np.all(extent_new <= extent_old + 1e-9) and np.all(extent_old - extent_new < 0.8)
    # Trilinear interpolation reproduces a linear field exactly.
    np.testing.assert_allclose(out.array, _grid_points(out) @ a + b, atol=1e-9)

    labels = image.with_array(np.where(_grid_points(image)[..., 0] > image.origin[0], 205, 500)
                              .astype(np.int16))  # fmt: skip
    for method in ("nearest", "label"):
        resampled = resample_isotropic(labels, 0.5, interpolator=method)
        assert resampled.array.dtype == np.int16
        assert set(np.unique(resampled.array)) == {205, 500}
    with pytest.raises(ParameterError, match="interpolator"):
        resample_isotropic(labels, interpolator="cubic")
    with pytest.raises(ParameterError, match="positive"):
        resample_isotropic(labels, 0.0)


def test_smooth_matches_gaussian_moments():
    sigma = 3.0
    impulse = np.zeros((61, 41, 31))
    impulse[30, 20, 15] = 1.0
    spacing = np.array([0.5, 1.0, 2.0])
    out = smooth(Image(impulse, spacing=spacing), sigma).array
    # The impulse response has unit mass and standard deviation sigma [mm] per
    # axis; SimpleITK's recursive (Deriche) filter approximates the Gaussian to
    # a few per cent.
    assert out.sum() == pytest.approx(1.0, rel=0.01)
    for axis, centre in enumerate((30, 20, 15)):
        profile = out.sum(axis=tuple(i for i in range(3) if i != axis))
        x = (np.arange(profile.size) - centre) * spacing[axis]
        assert np.sqrt((profile * x**2).sum() / profile.sum()) == pytest.approx(sigma, rel=0.05)
    constant = smooth(Image(np.full((8, 8, 8), 40, np.int16), spacing=spacing), 1.0)
    np.testing.assert_allclose(constant.array, 40.0, rtol=1e-5)
    with pytest.raises(ParameterError, match="positive"):
        smooth(Image(impulse, spacing=spacing), 0.0)


def test_blood_pool_recipe_separates_bridged_cavities():
    rng = np.random.default_rng(3)
    image = Image(np.zeros((60, 36, 36)), spacing=(1.0, 1.0, 1.0), origin=(-30.0, -18.0, 40.0))
    points = _grid_points(image)
    centre_a = image.index_to_physical([16, 18, 18])
    centre_b = image.index_to_physical([44, 18, 18])
    radius_a, radius_b = 9.0, 6.0
    in_a = np.linalg.norm(points - centre_a, axis=-1) <= radius_a
    in_b = np.linalg.norm(points - centre_b, axis=-1) <= radius_b
    rod = np.zeros(image.shape, dtype=bool)
    rod[16:45, 18:20, 18:20] = True  # a 2 x 2-voxel bridge between the two cavities
    bone = np.zeros(image.shape, dtype=bool)
    bone[10:22, 28:34, 12:24] = True  # touches cavity A, above the HU window
    ct = np.where(in_a | in_b | rod, 400.0, 40.0)
    ct[bone] = 1200.0
    ct += rng.normal(0.0, 15.0, size=image.shape)
    # Without the opening the flood fill leaks along the bridge into B.
    leaky = blood_pool_from_cta(image.with_array(ct), centre_a, open_mm=None)
    assert leaky.array[44, 18, 18] == 1
    mask = blood_pool_from_cta(image.with_array(ct), centre_a)
    assert mask.array.dtype == np.uint8
    got = mask.array.astype(bool)
    assert not (got & in_b).any() and not got[35, 18, 18]  # B and the bridge are cut off
    assert not (got & bone).any()
    check_single_component(got, "lv_blood_pool")
    # Smoothing (sigma 0.75 mm) moves the 150-HU level of a 40 -> 400 HU step
    # outwards by -Phi^-1((150 - 40) / 360) sigma = 0.51 sigma = 0.38 mm, and an
    # opening/closing by a 1.5 mm ball leaves a convex body of radius 9 mm
    # unchanged up to the digitisation; so the volume lies within the
    # digital-sphere bounds with 1 mm of slack.
    low, high = _sphere_bounds(radius_a, image.spacing, slack=1.0)
    volume = got.sum() * image.voxel_volume
    assert low < volume < high, (low, volume, high)
    with pytest.raises(SegmentationError, match="outside the window"):
        blood_pool_from_cta(image.with_array(ct), image.index_to_physical([2, 2, 2]))
