"""DICOM: reading one series with exact geometry.

Reading (:func:`read_dicom_series`) goes through SimpleITK/GDCM and returns an
:class:`~organfem.imaging.image.Image` in LPS millimetres with the rescale
slope and intercept applied (Hounsfield units for CT).  Only pixel data and
geometry are read into the result: no header field can travel from a DICOM
file into an image, mesh or results file through this module, and nothing
here logs a header value other than slice counts and series UIDs.

De-identifying a folder of DICOM files is :mod:`organfem.imaging.deidentify`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..errors import ImageError
from .image import Image

__all__ = ["read_dicom_series"]

log = logging.getLogger(__name__)


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def _header_geometry(files: list[str], folder: Path) -> None:
    """Check that the slices of a series form one regular 3D grid.

    GDCM sorts the slices along the slice normal and ITK derives the slice
    spacing from the first and last positions, only warning when slices are
    missing or unevenly spaced.  We refuse such series instead, since their
    geometry would be silently wrong.
    """
    import pydicom

    tags = ["ImagePositionPatient", "ImageOrientationPatient", "Rows", "Columns"]
    positions, orientations, sizes = [], [], []
    for name in files:
        try:
            ds = pydicom.dcmread(name, stop_before_pixels=True, specific_tags=tags)
            positions.append([float(v) for v in ds.ImagePositionPatient])
            orientations.append([float(v) for v in ds.ImageOrientationPatient])
            sizes.append((int(ds.Rows), int(ds.Columns)))
        except Exception as err:  # noqa: BLE001 - any failure means a bad slice
            raise ImageError(
                f"{folder}: slice {Path(name).name} lacks a readable ImagePositionPatient, "
                f"ImageOrientationPatient, Rows or Columns ({_first_line(err)})"
            ) from err
    if len(set(sizes)) > 1:
        raise ImageError(
            f"{folder}: inconsistent slices: the series mixes slice sizes (rows, columns) "
            f"{sorted(set(sizes))}"
        )
    orientations = np.array(orientations)
    spread = float(np.abs(orientations - orientations[0]).max())
    if spread > 1e-4:
        raise ImageError(
            f"{folder}: inconsistent slices: ImageOrientationPatient differs between slices "
            f"of the series (by up to {spread:.3g})"
        )
    row, col = orientations[0, :3], orientations[0, 3:]
    normal = np.cross(row, col)
    positions = np.array(positions)
    along = positions @ normal
    order = np.argsort(along)
    along, positions = along[order], positions[order]
    gaps = np.diff(along)
    if gaps.min() <= 1e-6:
        raise ImageError(
            f"{folder}: inconsistent slices: {int(np.sum(gaps <= 1e-6))} pair(s) of slices "
            "share the same position (duplicate files or several time frames?)"
        )
    mean = float(gaps.mean())
    if np.abs(gaps - mean).max() > 0.01 * mean:
        raise ImageError(
            f"{folder}: inconsistent slices: slice spacing varies from {gaps.min():.4g} to "
            f"{gaps.max():.4g} mm along the slice normal (missing or unreadable slices?); "
            "a regular grid is required"
        )
    drift = positions - positions[0] - np.outer(along - along[0], normal)
    in_plane = float(np.linalg.norm(drift, axis=1).max())
    if in_plane > 0.01 * mean:
        raise ImageError(
            f"{folder}: slices are shifted in-plane by up to {in_plane:.3g} mm (a tilted "
            "gantry or sheared acquisition); only orthogonal stacks are supported"
        )


def _unreadable_slices(folder: Path, listed: set[Path], series_uid: str) -> list[str]:
    """Names of files GDCM left out that are broken DICOM or belong to ``series_uid``.

    GDCM silently drops files it cannot parse (a slice truncated on copy, for
    instance), which would leave a gap in the series.  Files with a DICOM
    preamble that GDCM did not list are parsed again with pydicom (header
    only): unparseable ones and ones of the requested series are reported.
    """
    import pydicom

    out = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.resolve() in listed:
            continue
        try:
            with open(path, "rb") as handle:
                handle.seek(128)
                if handle.read(4) != b"DICM":
                    continue
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"])
            if str(ds.get("SeriesInstanceUID", "")) == series_uid:
                out.append(path.name)
        except Exception:  # noqa: BLE001 - a file with a DICOM preamble that does not parse
            out.append(path.name)
    return out


def read_dicom_series(folder: str | os.PathLike, *, series_uid: str | None = None) -> Image:
    """Read one DICOM series of a folder into an :class:`Image` (LPS, mm, HU).

    The files are found and sorted along the slice normal by GDCM
    (SimpleITK ``ImageSeriesReader``); sub-folders are not searched.  The
    origin is the ImagePositionPatient of the first slice along the normal,
    the direction's columns are the row and column cosines of
    ImageOrientationPatient and their cross product, the spacing is
    (PixelSpacing[1], PixelSpacing[0], distance between slices), and the
    values are ``RescaleSlope * stored + RescaleIntercept``.  No other header
    field is read into the result.

    Args:
        folder: a folder holding the series' files.
        series_uid: the SeriesInstanceUID to read; required when the folder
            holds several series.

    Returns:
        The volume, array shape (columns, rows, slices).

    Raises:
        ImageError: naming the folder, when it does not exist, is empty, holds
            no DICOM series, holds several and ``series_uid`` is not given or
            not among them, when a slice is unreadable or truncated, slices are
            missing, duplicated or unevenly spaced, or the series is a single
            2D slice.
    """
    import SimpleITK as sitk

    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: not a folder (a DICOM series is read from its folder)")
    entries = [p for p in folder.iterdir() if p.is_file()]
    if not entries:
        raise ImageError(f"{folder}: the folder holds no files (expected a DICOM series)")
    reader = sitk.ImageSeriesReader()
    try:
        series = list(reader.GetGDCMSeriesIDs(str(folder)))
    except RuntimeError as err:
        raise ImageError(
            f"{folder}: GDCM cannot scan the folder's DICOM files (a malformed header?): "
            f"{_first_line(err)}"
        ) from err
    if not series:
        raise ImageError(
            f"{folder}: no DICOM series found among its {len(entries)} file(s) "
            "(sub-folders are not searched)"
        )
    files_of = {uid: list(reader.GetGDCMSeriesFileNames(str(folder), uid)) for uid in series}
    if series_uid is None:
        if len(series) > 1:
            listing = ", ".join(f"{uid} ({len(files_of[uid])} files)" for uid in series)
            raise ImageError(
                f"{folder}: holds {len(series)} DICOM series; choose one with "
                f"series_uid=...: {listing}"
            )
        series_uid = series[0]
    elif series_uid not in files_of:
        raise ImageError(
            f"{folder}: no series with SeriesInstanceUID {series_uid!r}; the folder holds "
            f"{len(series)}: " + ", ".join(f"{uid} ({len(files_of[uid])} files)" for uid in series)
        )
    files = files_of[series_uid]
    listed = {Path(f).resolve() for names in files_of.values() for f in names}
    broken = _unreadable_slices(folder, listed, series_uid)
    if broken:
        raise ImageError(
            f"{folder}: {len(broken)} DICOM file(s) could not be read by GDCM (truncated or "
            f"corrupt?): {', '.join(broken[:5])}{' ...' if len(broken) > 5 else ''}"
        )
    if len(files) > 1:
        _header_geometry(files, folder)
    reader.SetFileNames(files)
    reader.MetaDataDictionaryArrayUpdateOff()
    reader.LoadPrivateTagsOff()
    try:
        volume = reader.Execute()
    except RuntimeError as err:
        raise ImageError(
            f"{folder}: cannot read the {len(files)} slice(s) of series {series_uid} "
            f"(inconsistent or truncated slices?): {_first_line(err)}"
        ) from err
    if volume.GetDimension() != 3 or volume.GetSize()[2] < 2:
        raise ImageError(
            f"{folder}: series {series_uid} is a single 2D slice; a 3D volume needs at least "
            "two slices"
        )
    try:
        image = Image.from_sitk(volume)
    except ImageError as err:
        raise ImageError(f"{folder}: {err}") from err
    log.debug("read DICOM series: %d slices, shape %s", len(files), image.shape)
    return image
