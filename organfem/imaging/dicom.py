"""DICOM: reading one series with exact geometry, and de-identifying a folder.

Reading (:func:`read_dicom_series`) goes through SimpleITK/GDCM and returns an
:class:`~organfem.imaging.image.Image` in LPS millimetres with the rescale
slope and intercept applied (Hounsfield units for CT).  Only pixel data and
geometry are read into the result: no header field can travel from a DICOM
file into an image, mesh or results file through this module, and nothing
here logs a header value other than slice counts and series UIDs.

De-identification (:func:`deidentify`) copies a folder with pydicom,
following the Basic Application Level Confidentiality Profile of DICOM
PS3.15 Annex E (Table E.1-1) for the attributes listed in
:data:`BASIC_PROFILE_ACTIONS`, plus three safety nets described there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..errors import ImageError, ParameterError
from .image import Image

__all__ = [
    "read_dicom_series",
    "deidentify",
    "DeidentifyReport",
    "BASIC_PROFILE_ACTIONS",
    "PATIENT_CHARACTERISTICS",
]

log = logging.getLogger(__name__)

# Actions of DICOM PS3.15 Annex E, Table E.1-1 ("Application Level
# Confidentiality Profile Attributes"), column "Basic Prof.":
#   X  remove the attribute;
#   Z  replace with a zero-length value (used for attributes that are Type 2 in
#      the common image IODs, so that the file stays valid);
#   U  replace the UID with a new one, consistently within the data set
#      (here: a deterministic function of a salt and the old UID).
# Where the table allows a choice (X/Z, X/Z/D, Z/D, X/D) we take the first
# option that keeps common IODs valid; we never use D (dummy values).
#: Keyword -> Annex E action ("X", "Z" or "U") applied by :func:`deidentify`.
BASIC_PROFILE_ACTIONS: Mapping[str, str] = MappingProxyType(
    {
        # Patient identification and demographics
        "PatientName": "Z",
        "PatientID": "Z",
        "IssuerOfPatientID": "X",
        "PatientBirthDate": "Z",
        "PatientBirthTime": "X",
        "PatientBirthName": "X",
        "PatientSex": "Z",
        "PatientAge": "X",
        "PatientSize": "X",
        "PatientWeight": "X",
        "EthnicGroup": "X",
        "SmokingStatus": "X",
        "PregnancyStatus": "X",
        "OtherPatientIDs": "X",
        "OtherPatientIDsSequence": "X",
        "OtherPatientNames": "X",
        "PatientAddress": "X",
        "PatientTelephoneNumbers": "X",
        "PatientMotherBirthName": "X",
        "MedicalRecordLocator": "X",
        "Occupation": "X",
        "AdditionalPatientHistory": "X",
        "PatientComments": "X",
        "PatientReligiousPreference": "X",
        "MilitaryRank": "X",
        "BranchOfService": "X",
        "CountryOfResidence": "X",
        "RegionOfResidence": "X",
        "PatientInsurancePlanCodeSequence": "X",
        "ResponsiblePerson": "X",
        "ResponsibleOrganization": "X",
        "MedicalAlerts": "X",
        "Allergies": "X",
        "PatientState": "X",
        "ReferencedPatientSequence": "X",
        "AdmissionID": "X",
        "AdmittingDiagnosesDescription": "X",
        # Institution, people and equipment
        "InstitutionName": "X",
        "InstitutionAddress": "X",
        "InstitutionalDepartmentName": "X",
        "InstitutionCodeSequence": "X",
        "ReferringPhysicianName": "Z",
        "ReferringPhysicianAddress": "X",
        "ReferringPhysicianTelephoneNumbers": "X",
        "ReferringPhysicianIdentificationSequence": "X",
        "PerformingPhysicianName": "X",
        "PerformingPhysicianIdentificationSequence": "X",
        "OperatorsName": "X",
        "OperatorIdentificationSequence": "X",
        "PhysiciansOfRecord": "X",
        "PhysiciansOfRecordIdentificationSequence": "X",
        "NameOfPhysiciansReadingStudy": "X",
        "PhysiciansReadingStudyIdentificationSequence": "X",
        "RequestingPhysician": "X",
        "RequestingService": "X",
        "StationName": "X",
        "DeviceSerialNumber": "X",
        "DetectorID": "X",
        "GantryID": "X",
        "GeneratorID": "X",
        "PlateID": "X",
        # Study, series and procedure identifiers and free text
        "AccessionNumber": "Z",
        "StudyID": "Z",
        "StudyDescription": "X",
        "SeriesDescription": "X",
        "ProtocolName": "X",
        "DerivationDescription": "X",
        "ImageComments": "X",
        "AcquisitionComments": "X",
        "StudyComments": "X",
        "AcquisitionProtocolDescription": "X",
        "RequestAttributesSequence": "X",
        "RequestedProcedureID": "X",
        "RequestedProcedureDescription": "X",
        "ScheduledProcedureStepID": "X",
        "PerformedProcedureStepID": "X",
        "PerformedProcedureStepDescription": "X",
        "PerformedProcedureStepStartDate": "X",
        "PerformedProcedureStepStartTime": "X",
        "PerformedProcedureStepEndDate": "X",
        "PerformedProcedureStepEndTime": "X",
        "ReferencedStudySequence": "X",
        "ReferencedPerformedProcedureStepSequence": "X",
        "ContentSequence": "X",
        "AuthorObserverSequence": "X",
        "ParticipantSequence": "X",
        "VerifyingObserverSequence": "X",
        # Dates and times
        "StudyDate": "Z",
        "StudyTime": "Z",
        "SeriesDate": "X",
        "SeriesTime": "X",
        "AcquisitionDate": "X",
        "AcquisitionTime": "X",
        "AcquisitionDateTime": "X",
        "ContentDate": "Z",
        "ContentTime": "Z",
        "InstanceCreationDate": "X",
        "InstanceCreationTime": "X",
        "OverlayDate": "X",
        "OverlayTime": "X",
        "CurveDate": "X",
        "CurveTime": "X",
        "TimezoneOffsetFromUTC": "X",
        "LastMenstrualDate": "X",
        # UIDs
        "StudyInstanceUID": "U",
        "SeriesInstanceUID": "U",
        "SOPInstanceUID": "U",
        "FrameOfReferenceUID": "U",
        "MediaStorageSOPInstanceUID": "U",
        "ReferencedSOPInstanceUID": "U",
        "ReferencedFrameOfReferenceUID": "U",
        "RelatedFrameOfReferenceUID": "U",
        "SynchronizationFrameOfReferenceUID": "U",
        "InstanceCreatorUID": "U",
        "DeviceUID": "U",
        "IrradiationEventUID": "U",
        "ConcatenationUID": "U",
        "DimensionOrganizationUID": "U",
        "StorageMediaFileSetUID": "U",
        "UID": "U",
        "TargetUID": "U",
        "FiducialUID": "U",
        "DoseReferenceUID": "U",
    }
)

#: Attributes kept by the "Retain Patient Characteristics Option" (PS3.15
#: Table E.1-1, column "Rtn. Pat. Chars. Opt."), used when
#: ``deidentify(..., retain_patient_characteristics=True)``.
PATIENT_CHARACTERISTICS = frozenset(
    {"PatientSex", "PatientAge", "PatientSize", "PatientWeight", "EthnicGroup",
     "SmokingStatus", "PregnancyStatus"}
)  # fmt: skip

# UI attributes that name a class, syntax or coding scheme, never an instance:
# these are kept (their values are standard UIDs, not identifiers).
_KEPT_UID_SUFFIXES = ("ClassUID", "TransferSyntaxUID", "CodingSchemeUID", "ContextUID",
                      "MappingResourceUID", "ContextGroupExtensionCreatorUID")  # fmt: skip

# File meta elements that can name a sending station.
_META_REMOVE = ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID",
                "PrivateInformation")  # fmt: skip

# SOP Class of DICOMDIR files: a directory of the source media, skipped.
_MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"

_BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")
_RETAIN_CHARACTERISTICS_CODE = ("113108", "Retain Patient Characteristics Option")


# --------------------------------------------------------------------------- reading


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
    series = list(reader.GetGDCMSeriesIDs(str(folder)))
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


# --------------------------------------------------------------------------- de-identification


@contextlib.contextmanager
def _quiet_pydicom():
    """Silence pydicom's value validation while de-identifying.

    pydicom warns (and logs) about invalid values by quoting them, which would
    put identifying values, such as a malformed birth date, on stderr.
    Validation is switched off (the values are copied or removed as they are)
    and pydicom's remaining warnings are suppressed; the settings are restored
    on exit.
    """
    from pydicom import config

    settings = config.settings
    reading, writing = settings.reading_validation_mode, settings.writing_validation_mode
    settings.reading_validation_mode = config.IGNORE
    settings.writing_validation_mode = config.IGNORE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        settings.reading_validation_mode = reading
        settings.writing_validation_mode = writing


@dataclasses.dataclass(frozen=True)
class DeidentifyReport:
    """What :func:`deidentify` did, as counts only (no header values, no paths).

    Attributes:
        files_written: DICOM files written to the destination.
        files_skipped: files of the source that were not written: non-DICOM
            files (no ``DICM`` preamble) and DICOMDIR directory files.
        attributes_removed: attributes deleted (Annex E action X, and
            curve/overlay groups), over all files and nested sequences.
        attributes_emptied: attributes replaced by a zero-length value
            (action Z, and the person-name and date safety nets).
        uids_replaced: UID values replaced (action U and the UID safety net).
        private_tags_removed: private attributes deleted (including private
            creators).
        burned_in_annotation: files whose BurnedInAnnotation is "YES": their
            pixels may show identifying text, which this profile does not
            clean; check them by eye.
    """

    files_written: int
    files_skipped: int
    attributes_removed: int
    attributes_emptied: int
    uids_replaced: int
    private_tags_removed: int
    burned_in_annotation: int

    def summary(self) -> str:
        """One line with the counts."""
        return (
            f"de-identified {self.files_written} DICOM file(s), skipped {self.files_skipped} "
            f"other file(s); removed {self.attributes_removed} attribute(s) and "
            f"{self.private_tags_removed} private attribute(s), emptied "
            f"{self.attributes_emptied}, replaced {self.uids_replaced} UID(s)"
        )


class _Counts:
    def __init__(self) -> None:
        self.removed = self.emptied = self.uids = self.private = 0


def _is_curve_or_overlay(tag) -> bool:
    group = tag.group
    return (0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF) and group % 2 == 0


def _scrub(ds, actions: Mapping[str, str], new_uid: Callable[[str], str], counts: _Counts) -> None:
    """Apply the profile to one data set and, recursively, to its sequence items."""
    from pydicom.uid import UID

    for tag in list(ds.keys()):
        elem = ds[tag]
        if tag.is_private:
            del ds[tag]
            counts.private += 1
            continue
        if _is_curve_or_overlay(tag):
            del ds[tag]
            counts.removed += 1
            continue
        keyword = elem.keyword
        action = actions.get(keyword)
        if action == "X":
            del ds[tag]
            counts.removed += 1
            continue
        if action == "Z":
            if elem.VR == "SQ":
                elem.value = []
            else:
                elem.value = None
            counts.emptied += 1
            continue
        if elem.VR == "SQ":
            for item in elem.value:
                _scrub(item, actions, new_uid, counts)
            continue
        if elem.VR == "UI" and elem.value:
            values = elem.value if elem.VM > 1 else [elem.value]
            known = [UID(str(v)).name != str(v) for v in values]
            kept = keyword.endswith(_KEPT_UID_SUFFIXES)
            if action == "U" or not (kept or all(known)):
                # Safety net: any instance-like UID (not a class, syntax or
                # well-known UID) is replaced as if listed with action U.
                replaced = [str(v) if k else new_uid(str(v)) for v, k in zip(values, known)]
                elem.value = replaced if elem.VM > 1 else replaced[0]
                counts.uids += sum(not k for k in known)
            continue
        if elem.VR in ("PN", "DA", "DT") and not elem.is_empty and action is None:
            # Safety net: person names and dates not in the table are emptied.
            elem.value = None
            counts.emptied += 1


def _deidentify_dataset(ds, actions, new_uid, counts, retain: bool) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for keyword in _META_REMOVE:
            if keyword in meta:
                delattr(meta, keyword)
                counts.removed += 1
        if "MediaStorageSOPInstanceUID" in meta:
            meta.MediaStorageSOPInstanceUID = new_uid(str(meta.MediaStorageSOPInstanceUID))
            counts.uids += 1
    _scrub(ds, actions, new_uid, counts)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "DICOM PS3.15 Annex E Basic Profile (organfem)"
    codes = [_BASIC_PROFILE_CODE] + ([_RETAIN_CHARACTERISTICS_CODE] if retain else [])
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    ds.LongitudinalTemporalInformationModified = "REMOVED"


def deidentify(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    salt: str | None = None,
    retain_patient_characteristics: bool = False,
) -> DeidentifyReport:
    """Copy the DICOM files of a folder with patient identifiers removed.

    Follows the Basic Application Level Confidentiality Profile of DICOM
    PS3.15 Annex E for the attributes of :data:`BASIC_PROFILE_ACTIONS`
    (remove, empty, or replace UIDs), walking nested sequences, and:

    * removes every private attribute, and the curve (50xx) and overlay (60xx)
      groups (overlays can carry burned-in text);
    * as safety nets, empties any other person name (VR PN) or date (DA, DT),
      and replaces any other UID that is not a class, transfer syntax, coding
      scheme or well-known UID;
    * replaces UIDs by ``generate_uid(entropy_srcs=[salt, "|", old_uid])``, so
      the files of a series keep one Study/Series/FrameOfReference UID and
      references between files stay valid;
    * sets PatientIdentityRemoved = "YES", DeidentificationMethod,
      DeidentificationMethodCodeSequence (113100, DCM, "Basic Application
      Confidentiality Profile"; plus 113108 with the retain option) and
      LongitudinalTemporalInformationModified = "REMOVED".

    Geometry (ImagePositionPatient, ImageOrientationPatient, PixelSpacing,
    SliceThickness), rescale and pixel data are kept unchanged.  Pixel data
    is not inspected: files that declare BurnedInAnnotation = "YES" are
    counted in the report for a manual check.

    Files are read from ``src`` and its sub-folders.  Files without a DICOM
    preamble (``DICM`` at byte 128) and DICOMDIR files are skipped and
    counted.  Output files go into one flat folder as ``000001.dcm``,
    ``000002.dcm``, ... in the sorted order of the source paths, because file
    and folder names often carry patient names.  The output is written into a
    temporary sibling folder and renamed to ``dst`` when complete, so ``dst``
    never exists half-written.

    Args:
        src: folder with the identifiable files (read only).
        dst: folder to create; must not exist and must not lie inside ``src``.
        salt: secret mixed into the new UIDs.  The default (``None``) draws a
            random salt, so UIDs are consistent within this call only; pass the
            same secret salt to de-identify several folders of one study
            consistently.  Anyone with the salt and an original UID can
            recompute the new one.
        retain_patient_characteristics: keep sex, age, size, weight, ethnic
            group, smoking and pregnancy status (PS3.15 "Retain Patient
            Characteristics Option"); the default removes or empties them.

    Returns:
        Counts of what was done (no values).

    Raises:
        ImageError: if ``src`` is not a folder, holds no DICOM file, or a DICOM
            file cannot be parsed or written (nothing is left at ``dst``).
        ParameterError: if ``dst`` exists or lies inside ``src``.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.uid import generate_uid

    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise ImageError(f"{src}: not a folder (expected a folder of DICOM files)")
    if dst.exists():
        raise ParameterError(f"{dst}: already exists; de-identification writes a new folder")
    if dst.resolve().is_relative_to(src.resolve()):
        raise ParameterError(f"{dst}: must not lie inside the source folder {src}")

    actions = dict(BASIC_PROFILE_ACTIONS)
    if retain_patient_characteristics:
        for keyword in PATIENT_CHARACTERISTICS:
            actions.pop(keyword, None)
    secret = secrets.token_hex(16) if salt is None else str(salt)
    cache: dict[str, str] = {}

    def new_uid(old: str) -> str:
        if old not in cache:
            cache[old] = str(generate_uid(entropy_srcs=[secret, "|", old]))
        return cache[old]

    counts = _Counts()
    written = skipped = burned = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.partial-", dir=dst.parent))
    try:
        with _quiet_pydicom():
            for path in sorted(p for p in src.rglob("*") if p.is_file()):
                try:
                    ds = pydicom.dcmread(path)
                except InvalidDicomError:
                    skipped += 1
                    continue
                except Exception as err:  # noqa: BLE001 - report which file is broken
                    # The exception's type only: pydicom messages can quote values.
                    raise ImageError(
                        f"{path}: has a DICOM preamble but cannot be parsed "
                        f"({type(err).__name__}); remove or repair it"
                    ) from None
                sop_class = ds.file_meta.get("MediaStorageSOPClassUID", ds.get("SOPClassUID"))
                if str(sop_class) == _MEDIA_STORAGE_DIRECTORY:
                    skipped += 1
                    continue
                if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
                    burned += 1
                try:
                    _deidentify_dataset(ds, actions, new_uid, counts,
                                        retain_patient_characteristics)  # fmt: skip
                except Exception as err:  # noqa: BLE001 - a malformed element
                    raise ImageError(
                        f"{path}: a header element cannot be decoded ({type(err).__name__}); "
                        "remove or repair the file"
                    ) from None
                written += 1
                try:
                    ds.save_as(tmp / f"{written:06d}.dcm", enforce_file_format=True)
                except Exception as err:  # noqa: BLE001
                    raise ImageError(f"{path}: cannot be written after de-identification "
                                     f"({type(err).__name__})") from None  # fmt: skip
        if written == 0:
            raise ImageError(f"{src}: holds no DICOM files ({skipped} other file(s) skipped)")
        if dst.exists():
            raise ParameterError(f"{dst}: appeared while de-identifying; not overwritten")
        os.rename(tmp, dst)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    report = DeidentifyReport(
        files_written=written,
        files_skipped=skipped,
        attributes_removed=counts.removed,
        attributes_emptied=counts.emptied,
        uids_replaced=counts.uids,
        private_tags_removed=counts.private,
        burned_in_annotation=burned,
    )
    log.info("%s", report.summary())
    if burned:
        log.warning("%d file(s) declare burned-in annotation: check their pixels by eye", burned)
    return report
