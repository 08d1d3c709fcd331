"""organfem.imaging.deidentify: DICOM PS3.15 Annex E, Table E.1-1, attribute by attribute.

Every row of the table is put into a synthetic file (at the top level and two
sequence levels down) with a valid value of its VR, and the output is checked
against the row's action, with and without the Retain Patient Characteristics
Option.  Then: ranges (curves, overlays), private and unlisted public tags,
file meta and preamble, no identifying byte left, geometry and pixels read back
unchanged, UID consistency, files without preamble, failures that do not stop
the folder, burned-in annotation, series selection, the umask, and a command
line that prints no path or UID.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from organfem.cli import main
from organfem.errors import ImageError, ParameterError
from organfem.imaging import (
    BASIC_PROFILE_ACTIONS,
    PATIENT_CHARACTERISTICS,
    deidentify,
    list_series,
    read_dicom_series,
)

pydicom = pytest.importorskip("pydicom")
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402
from pydicom.uid import (  # noqa: E402
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)

# The module (``organfem.imaging.deidentify`` is also the name of the function).
deid = importlib.import_module("organfem.imaging.deidentify")
annex = importlib.import_module("organfem.imaging._annex_e_table")

MARK = "ZQX"  # every identifying text value starts with it; searched for in the output bytes
IDENTIFYING = {
    "PatientName": f"{MARK}DOE^JANE",
    "PatientID": f"{MARK}PID4711",
    "PatientBirthDate": "19700523",
    "InstitutionName": f"{MARK} Saint Example Hospital",
    "ReferringPhysicianName": f"{MARK}SMITH^ANNA",
    "OperatorsName": f"{MARK}ROE^RICHARD",
    "StudyDate": "20240131",
    "AccessionNumber": f"{MARK}ACC99817",
    "StudyDescription": f"{MARK} cardiac CT of Jane",
    "SeriesDescription": f"{MARK} series of Jane",
    "StationName": f"{MARK}STATION",
}
ROW = np.array([np.cos(0.3), np.sin(0.3), 0.0]).round(12)
COL = np.array([-np.sin(0.3) * np.cos(0.2), np.cos(0.3) * np.cos(0.2), np.sin(0.2)]).round(12)


def _tag(row) -> int:
    return int(row.tag[1:5] + row.tag[6:10], 16)


@contextlib.contextmanager
def _quiet():
    """pydicom warns about the deliberately odd values built here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------- synthetic files


def _slice(k: int, *, study: str, series_uid: str, frame: str, previous: str | None,
           shape=(10, 12), modality="CT", sop_class=CTImageStorage, seed=0) -> Dataset:  # fmt: skip
    """One CT slice with identifying values of every kind, nested two levels deep."""
    rng = np.random.default_rng(seed + k)
    sop = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = f"{MARK}PACS"
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series_uid, frame
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 7, k + 1
    for keyword, value in IDENTIFYING.items():
        setattr(ds, keyword, value)
    ds.TextValue = f"{MARK} unlisted public free text"  # in neither the table nor KNOWN_SAFE
    ds.private_block(0x0011, "ACME IMAGING", create=True).add_new(0x01, "LO", f"{MARK}PRIVATE")
    # Curves and overlays: repeating groups, matched as ranges.
    ds.add_new(0x50000022, "LO", f"{MARK}CURVE")
    ds.add_new(0x50023000, "OB", f"{MARK}CURVEDATA".encode().ljust(16, b"\0"))
    ds.add_new(0x60004000, "LT", f"{MARK}OVERLAY COMMENT")
    ds.add_new(0x60024000, "LT", f"{MARK}OVERLAY COMMENT 2")
    ds.add_new(0x60003000, "OW", f"{MARK}OVERLAYDATA".encode().ljust(16, b"\0"))
    ds.add_new(0x60000010, "US", 10)  # Overlay Rows: unlisted, removed with the overlay
    # Two levels of nesting: Source Image Sequence (X/Z/U*: kept, UIDs replaced)
    # > Purpose of Reference Code Sequence (known safe) > identifying attributes.
    if previous is not None:
        inner = Dataset()
        inner.CodeValue, inner.CodingSchemeDesignator, inner.CodeMeaning = "121320", "DCM", "Ref"
        inner.PatientName = f"{MARK}NESTED^NAME"
        inner.ReferencedSOPInstanceUID = previous
        inner.TextValue = f"{MARK} nested unlisted text"
        block = inner.private_block(0x0013, "ACME NESTED", create=True)
        block.add_new(0x01, "LO", f"{MARK}NESTEDPRIV")
        item = Dataset()
        item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = sop_class, previous
        item.PurposeOfReferenceCodeSequence = Sequence([inner])
        ds.SourceImageSequence = Sequence([item])
    # Original Attributes Sequence (X) > Modified Attributes Sequence > old values.
    modified = Dataset()
    modified.PatientName = f"{MARK}OLD^NAME"
    modified.PatientID = f"{MARK}OLDPID"
    original = Dataset()
    original.ModifiedAttributesSequence = Sequence([modified])
    original.ModifyingSystem = f"{MARK}MODIFIER"
    original.ReasonForTheAttributeModification = "COERCE"
    ds.OriginalAttributesSequence = Sequence([original])
    normal = np.cross(ROW, COL)
    ds.Rows, ds.Columns = shape
    ds.PixelSpacing = [0.7, 0.9]
    ds.SliceThickness = 2.5
    ds.ImageOrientationPatient = [float(v) for v in (*ROW, *COL)]
    ds.ImagePositionPatient = [round(float(v), 6) for v in
                               np.array([-12.5, 30.25, 101.0]) + 2.5 * k * normal]  # fmt: skip
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = 1.5, -1024.0
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.PixelData = rng.integers(-200, 1500, size=shape).astype(np.int16).tobytes()
    return ds


def _write_series(folder: Path, n: int = 4, *, prefix: str = "IM", **kwargs) -> list[Dataset]:
    """Write ``n`` slices of one series; returns the data sets as written."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series_uid, frame = generate_uid(), generate_uid(), generate_uid()
    out, previous = [], None
    with _quiet():
        for k in range(n):
            ds = _slice(k, study=study, series_uid=series_uid, frame=frame, previous=previous,
                        **kwargs)  # fmt: skip
            ds.preamble = f"{MARK}PREAMBLE".encode().ljust(128, b"\0")
            ds.save_as(folder / f"{prefix}{k + 1:03d}.dcm", enforce_file_format=True)
            out.append(ds)
            previous = ds.SOPInstanceUID
    return out


def _uids(datasets: list[Dataset]) -> set[str]:
    found = set()

    def walk(ds):
        for elem in ds:
            if elem.VR == "UI" and elem.value and not UID(str(elem.value)).is_private:
                if UID(str(elem.value)).name == str(elem.value):  # not a well-known UID
                    found.add(str(elem.value))
            elif elem.VR == "SQ":
                for item in elem.value:
                    walk(item)

    for ds in datasets:
        walk(ds)
        walk(ds.file_meta)
    return found


def _output_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()))


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dicom") / "Doe_Jane_1970"
    written = _write_series(folder, n=5)
    (folder / "notes.txt").write_text(f"report for {IDENTIFYING['PatientName']}\n")
    return folder, written


@pytest.fixture(scope="module")
def deidentified(series, tmp_path_factory):
    folder, _ = series
    dst = tmp_path_factory.mktemp("out") / "anon"
    return dst, deidentify(folder, dst, salt="unit-test-salt")


# --------------------------------------------------------------------------- the table


def test_table_is_the_whole_of_table_e1_1():
    rows = deid.profile_table()
    assert len(rows) >= 650  # DICOM 2026c: 655 rows + the private-attribute row
    actions = {row.basic_profile for row in rows}
    assert actions == {"X", "Z", "D", "U", "X/Z", "X/D", "X/Z/D", "X/Z/U*", "Z/D"}
    tags = [row.tag for row in rows]
    assert len(set(tags)) == len(tags)
    assert {"(50xx,xxxx)", "(60xx,3000)", "(60xx,4000)", "(gggg,eeee)"} <= set(tags)
    # Spot checks against the standard's table.
    assert BASIC_PROFILE_ACTIONS["(0010,0010)"] == "Z"  # Patient's Name
    assert BASIC_PROFILE_ACTIONS["(0020,000D)"] == "U"  # Study Instance UID
    assert BASIC_PROFILE_ACTIONS["(0400,0561)"] == "X"  # Original Attributes Sequence
    assert BASIC_PROFILE_ACTIONS["(0008,1140)"] == "X/Z/U*"  # Referenced Image Sequence
    assert BASIC_PROFILE_ACTIONS["(0008,0080)"] == "X/Z/D"  # Institution Name
    assert BASIC_PROFILE_ACTIONS["(0040,A730)"] == "D"  # Content Sequence
    assert BASIC_PROFILE_ACTIONS["(0002,0003)"] == "U"  # Media Storage SOP Instance UID
    kept = {tag for tag, action in PATIENT_CHARACTERISTICS.items() if action == "K"}
    assert {"(0010,0040)", "(0010,1010)", "(0010,1020)", "(0010,1030)", "(0010,2160)",
            "(0010,21A0)", "(0010,21C0)"} <= kept  # fmt: skip
    # Keywords are pydicom's for the tag.
    from pydicom.datadict import keyword_for_tag

    for row in rows:
        if row.keyword:
            assert keyword_for_tag(_tag(row)) == row.keyword, row
    # The compound rule as documented.
    assert dict(deid.COMPOUND_ACTIONS) == {"X/Z": "Z", "X/Z/D": "Z", "Z/D": "Z", "X/D": "X",
                                           "X/Z/U*": "U*"}  # fmt: skip
    # The shipped CSV names its source and edition.
    header = (Path(deid.__file__).parent / "data" / "annex_e_table_e1_1.csv").read_text()
    assert "Table E.1-1" in header and "DICOM 2026c" in header and "dicom-anonymizer" in header
    assert "2026c" in deid.TABLE_SOURCE


def test_known_safe_list_is_outside_the_table_and_in_the_dictionary():
    from pydicom.datadict import tag_for_keyword

    matcher = deid._matcher()
    for keyword in deid.KNOWN_SAFE:
        tag = tag_for_keyword(keyword)
        assert tag is not None, keyword
        assert matcher(tag) is None, f"{keyword} is in Table E.1-1: the table decides"
    assert {"Rows", "Columns", "PixelSpacing", "ImagePositionPatient", "ImageOrientationPatient",
            "PixelData", "RescaleSlope", "SOPClassUID", "Modality"} <= deid.KNOWN_SAFE  # fmt: skip


def test_generator_parses_the_standards_docbook(tmp_path):
    ns = 'xmlns="http://docbook.org/ns/docbook" xmlns:xml="http://www.w3.org/XML/1998/namespace"'
    heads = ["Attribute Name", "Tag", "Retd.", "In Std. Comp. IOD", "Basic Prof.",
             *annex.OPTION_COLUMNS.values()]  # fmt: skip
    body = [
        ["Patient's Name", "(0010,\u200b0010)", "N", "Y", "Z"] + [""] * 10,
        ["Patient's Sex", "(0010,0040)", "N", "Y", "Z", "", "", "", "", "K"] + [""] * 5,
        ["Curve Data", "(50xx,xxxx)", "Y", "N", "X"] + [""] * 9 + ["C"],
        ["Private attributes", "(gggg,eeee) where gggg is odd", "N", "N", "X", "C"] + [""] * 9,
        ["Source Image Sequence", "(0008,2112)", "N", "Y", "X/Z/U*"] + [""] * 10,
    ]

    def tr(cells, cell):
        return "<tr>" + "".join(f"<{cell}><para>{c}</para></{cell}>" for c in cells) + "</tr>"

    xml = (f'<book {ns}><chapter><table xml:id="table_E.1-1"><caption>x</caption>'
           f"<thead>{tr(heads, 'th')}</thead><tbody>{''.join(tr(r, 'td') for r in body)}"
           "</tbody></table></chapter></book>").encode()  # fmt: skip
    rows = annex.parse_docbook(xml)
    assert [r["tag"] for r in rows] == ["(0010,0010)", "(0010,0040)", "(50xx,xxxx)",
                                        "(gggg,eeee)", "(0008,2112)"]  # fmt: skip
    assert rows[0]["keyword"] == "PatientName" and rows[1]["rtn_pat_chars_opt"] == "K"
    assert rows[2]["clean_graph_opt"] == "C" and rows[4]["basic_profile"] == "X/Z/U*"
    out = tmp_path / "table.csv"
    annex.write_csv(rows, out, ["Source: a test"])
    text = out.read_text()
    assert text.startswith("# DICOM PS3.15 Annex E, Table E.1-1")
    assert ",".join(annex.COLUMNS) in text
    bad = xml.replace(b">Z<", b">Q<", 1)
    with pytest.raises(ValueError, match="unknown basic-profile action 'Q'"):
        annex.parse_docbook(bad)


def test_generator_reads_dicom_anonymizer_modules():
    source = (
        "D_TAGS = [\n    (0x0040, 0xA730),  # Content Sequence\n]\n"
        "X_TAGS = [\n    (0x5000, 0x0000, 0xFF00, 0x0000),  # Curve Data\n"
        "    (\n        0x0040,\n        0x4023,\n    ),  # Referenced General Purpose UID\n]\n"
        "X_Z_U_STAR_TAGS = [\n    (0x0008, 0x1140),  # Referenced Image Sequence\n]\n"
    )
    assert annex._anonymizer_rows(source) == [
        ("(0040,A730)", "Content Sequence", "D"),
        ("(50xx,xxxx)", "Curve Data", "X"),
        ("(0040,4023)", "Referenced General Purpose UID", "X"),
        ("(0008,1140)", "Referenced Image Sequence", "X/Z/U*"),
    ]


# --------------------------------------------------------------------------- row by row

_NESTED_OUT = ("SourceImageSequence", "PurposeOfReferenceCodeSequence")
_NOT_IN_FILES = {0x0000, 0x0002}  # command set (never in files); file meta: tested below


def _vr(row) -> str:
    from pydicom.datadict import dictionary_VR

    if row.keyword:
        return dictionary_VR(_tag(row)).split(" or ")[0]
    # Attributes newer than pydicom's dictionary: the VR their name implies.
    for word, vr in (("Sequence", "SQ"), ("DateTime", "DT"), ("URI", "UR"), ("Comment", "LT")):
        if row.name.endswith(word):
            return vr
    return "LO"


def _value(vr: str, i: int):
    text = f"{MARK}{i:04d}"
    values = {
        "AE": text, "AS": "052Y", "AT": 0x00100010, "CS": text, "DA": "19700523",
        "DS": "12.5", "DT": "19700523101010", "FD": 1.5, "FL": 1.5, "IS": "42", "LO": text,
        "LT": text, "PN": f"{text}^JANE", "SH": text, "SL": 7, "SS": 7, "ST": text, "SV": 7,
        "TM": "101010", "UC": text, "UL": 7, "UR": f"http://{text.lower()}.example",
        "US": 7, "UT": text, "UV": 7,
    }
    if vr in values:
        return values[vr]
    if vr == "UI":
        return generate_uid()
    if vr == "SQ":
        item = Dataset()
        item.PatientName = f"{text}^SEQ"
        item.TextValue = f"{text} in a sequence"
        return Sequence([item])
    return text.encode().ljust(8, b"\0")  # OB, OD, OF, OL, OV, OW, UN


def _table_rows():
    return [row for row in deid.profile_table()
            if row.tag[0:2] != "(g" and "x" not in row.tag and _tag(row) >> 16 not in _NOT_IN_FILES
            and row.keyword != _NESTED_OUT[0]]  # fmt: skip


def _fill(ds: Dataset) -> dict[int, object]:
    values = {}
    for i, row in enumerate(_table_rows()):
        vr = _vr(row)
        ds.add_new(_tag(row), vr, _value(vr, i))
        values[_tag(row)] = ds[_tag(row)].value
    return values


@pytest.fixture(scope="module")
def every_row(tmp_path_factory):
    """One file holding every row of the table at the top level and two levels down."""
    base = tmp_path_factory.mktemp("rows")
    src = base / "src"
    src.mkdir()
    with _quiet():
        study, series_uid, frame = generate_uid(), generate_uid(), generate_uid()
        ds = _slice(0, study=study, series_uid=series_uid, frame=frame, previous=generate_uid())
        top = _fill(ds)
        nested = _fill(ds.SourceImageSequence[0].PurposeOfReferenceCodeSequence[0])
        ds.save_as(src / "all_rows.dcm", enforce_file_format=True)
    outputs = {}
    for retain in (False, True):
        dst = base / f"out_{retain}"
        deidentify(src, dst, salt="rows", retain_patient_characteristics=retain)
        (path,) = dst.iterdir()
        outputs[retain] = pydicom.dcmread(path)
    return top, nested, outputs, _output_bytes(base / "out_False")


def _expected(row, retain: bool) -> str:
    if retain and row.options.get("rtn_pat_chars_opt") == "K":
        return "K"
    return deid.COMPOUND_ACTIONS.get(row.basic_profile, row.basic_profile)


def _check(row, action: str, before, after: Dataset) -> None:
    tag = _tag(row)
    if action in ("X", "C"):
        assert tag not in after, f"{row.name}: should be removed"
        return
    assert tag in after, f"{row.name}: should be present ({action})"
    elem = after[tag]
    if action == "Z":
        assert elem.is_empty if elem.VR != "SQ" else len(elem.value) == 0, f"{row.name}: not empty"
    elif action == "K":
        assert elem.value == before, f"{row.name}: should be kept"
    elif elem.VR == "SQ":  # D or U*: the items are kept, and de-identified
        assert len(elem.value) == len(before)
        for item in elem.value:
            assert item.PatientName == "" and "TextValue" not in item
    elif elem.VR == "UI":  # U, or D of a UID
        assert elem.value != before and UID(elem.value).is_valid
    else:  # D
        assert not elem.is_empty and elem.value != before, f"{row.name}: no dummy value"
        if elem.VR in ("LO", "LT", "SH", "ST", "UT", "UC", "PN", "CS", "AE"):
            assert elem.value == "ANONYMIZED"


@pytest.mark.parametrize("row", _table_rows(), ids=lambda r: f"{r.tag}-{r.keyword or r.name}")
def test_every_row_follows_its_action(every_row, row):
    top, nested, outputs, _ = every_row
    for retain, out in outputs.items():
        action = _expected(row, retain)
        _check(row, action, top[_tag(row)], out)
        inner = out
        for keyword in _NESTED_OUT:
            inner = inner[keyword].value[0]
        _check(row, action, nested[_tag(row)], inner)


def test_every_row_leaves_no_identifying_bytes(every_row):
    top, nested, _, data = every_row
    assert MARK.encode() not in data
    assert b"19700523" not in data  # the dates (times and numbers: checked row by row)
    for value in [*top.values(), *nested.values()]:
        if isinstance(value, str) and value.startswith("1.2.826.0.1.3680043.8.498."):
            assert value.encode() not in data


# --------------------------------------------------------------------------- a series


def test_series_is_deidentified_everywhere(series, deidentified):
    folder, written = series
    dst, report = deidentified
    outputs = sorted(dst.iterdir())
    assert [p.name for p in outputs] == [f"{i:06d}.dcm" for i in range(1, 6)]
    assert report.files_written == 5 and report.files_skipped == 1  # notes.txt
    assert report.files_failed == 0 and report.failed_files == ()
    # Per file: private creator + element at the top and in the nested item = 4.
    assert report.private_tags_removed == 4 * 4 + 2  # the first slice has no nested item
    # Per file, removed by the table: 5 curve/overlay elements, InstitutionName is
    # X/Z/D -> Z, so: StudyDescription, SeriesDescription, OriginalAttributesSequence,
    # and the file meta's SourceApplicationEntityTitle is unlisted.
    assert report.attributes_removed == 5 * (5 + 3)
    # Unlisted public attributes: TextValue, Overlay Rows, SourceApplicationEntityTitle
    # per file, and the nested TextValue in 4 files.
    assert report.unknown_tags_removed == 5 * 3 + 4
    data = _output_bytes(dst)
    assert MARK.encode() not in data
    for uid in _uids(written):
        assert uid.encode() not in data, "an original UID is left"
    for path in outputs:
        assert path.read_bytes()[:128] == b"\0" * 128  # the preamble is zeroed
        ds = pydicom.dcmread(path)
        assert not [e for e in _walk(ds) if e.tag.is_private]
        assert ds.PatientIdentityRemoved == "YES" and ds.PatientName == ""
        assert ds.InstitutionName == "" and "OriginalAttributesSequence" not in ds
        assert not any(e.tag.group in (0x5000, 0x5002, 0x6000, 0x6002) for e in ds)
        code = ds.DeidentificationMethodCodeSequence[0]
        assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
        assert "SourceApplicationEntityTitle" not in ds.file_meta
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert str(folder) not in report.summary() and folder.name not in report.summary()


def _walk(ds):
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _walk(item)


def test_geometry_pixels_and_uid_consistency(series, deidentified, tmp_path):
    folder, written = series
    dst, _ = deidentified
    # The source itself does not go through GDCM (its synthetic curve groups
    # upset it): the geometry and values are checked against what was written.
    image = read_dicom_series(dst)
    assert image.shape == (12, 10, 5)
    np.testing.assert_allclose(image.origin, [float(v) for v in written[0].ImagePositionPatient])
    np.testing.assert_allclose(image.spacing, [0.9, 0.7, 2.5], rtol=1e-6)
    np.testing.assert_allclose(image.direction, np.column_stack([ROW, COL, np.cross(ROW, COL)]),
                               atol=1e-9)  # fmt: skip
    for k, ds in enumerate(written):  # HU = slope * raw + intercept; array[i, j]: row j, col i
        raw = np.frombuffer(ds.PixelData, dtype=np.int16).reshape(10, 12)
        np.testing.assert_array_equal(image.array[:, :, k], 1.5 * raw.T - 1024.0)

    out = [pydicom.dcmread(p) for p in sorted(dst.iterdir())]
    by_number = {int(ds.InstanceNumber): ds for ds in out}
    for key in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        values = {str(getattr(ds, key)) for ds in out}
        assert len(values) == 1 and values.isdisjoint(_uids(written))
    new_sop = {str(w.SOPInstanceUID): str(by_number[int(w.InstanceNumber)].SOPInstanceUID)
               for w in written}  # fmt: skip
    assert len(set(new_sop.values())) == 5
    for k in range(2, 6):  # references between files follow the same mapping, two levels deep
        item = by_number[k].SourceImageSequence[0]
        old = str(written[k - 1].SourceImageSequence[0].ReferencedSOPInstanceUID)
        assert item.ReferencedSOPInstanceUID == new_sop[old]
        assert item.PurposeOfReferenceCodeSequence[0].ReferencedSOPInstanceUID == new_sop[old]
        assert item.PurposeOfReferenceCodeSequence[0].PatientName == ""
    # The same salt gives the same UIDs; another salt others.
    deidentify(folder, tmp_path / "again", salt="unit-test-salt")
    deidentify(folder, tmp_path / "other", salt="another-salt")

    def sops(path):
        return sorted(str(pydicom.dcmread(p).SOPInstanceUID) for p in path.iterdir())

    assert sops(tmp_path / "again") == sops(dst) != sops(tmp_path / "other")


def test_files_without_preamble_are_read_and_other_files_skipped(tmp_path):
    src = tmp_path / "src"
    written = _write_series(src, n=3)
    with _quiet():
        # Slice 2 as a bare data set (implicit VR, no preamble, no DICM, no file meta).
        bare = written[1].copy()
        del bare.file_meta
        bare.preamble = None
        (src / "IM002.dcm").unlink()
        bare.save_as(src / "bare", implicit_vr=True, little_endian=True)
        # Slice 3 with the DICM prefix but no preamble.
        path = src / "IM003.dcm"
        path.write_bytes(path.read_bytes()[128:])
    assert (src / "bare").read_bytes()[128:132] != b"DICM"
    (src / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (src / "short").write_bytes(b"\x08\x00")
    (src / "readme.txt").write_text("not DICOM\n")
    report = deidentify(src, tmp_path / "dst", salt="s")
    assert report.files_written == 3 and report.files_skipped == 3 and report.files_failed == 0
    data = _output_bytes(tmp_path / "dst")
    assert MARK.encode() not in data
    for path in sorted((tmp_path / "dst").iterdir()):
        ds = pydicom.dcmread(path)  # a regular Part 10 file again
        assert ds.file_meta.TransferSyntaxUID in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.PixelData == written[int(ds.InstanceNumber) - 1].PixelData
    assert read_dicom_series(tmp_path / "dst").shape == (12, 10, 3)


def test_a_file_that_fails_is_reported_by_number_and_the_rest_done(tmp_path, monkeypatch,
                                                                   capsys, caplog):  # fmt: skip
    src = tmp_path / "Doe_Jane"
    written = _write_series(src, n=5)
    broken = src / "IM000_broken.dcm"  # a preamble and file meta, then nothing
    broken.write_bytes((src / "IM001.dcm").read_bytes()[:200])
    real = Dataset.save_as

    def failing(self, target, *args, **kwargs):
        if int(self.get("InstanceNumber", 0)) == 3:
            raise PermissionError(13, "Permission denied", str(getattr(target, "name", target)))
        return real(self, target, *args, **kwargs)

    monkeypatch.setattr(Dataset, "save_as", failing)
    caplog.set_level("DEBUG")
    report = deidentify(src, tmp_path / "dst", salt="s")
    names = sorted(p.name for p in src.iterdir())
    assert report.files_written == 4 and report.files_failed == 2
    assert report.failed_files == (names.index(broken.name) + 1, names.index("IM003.dcm") + 1)
    outputs = sorted(p.name for p in (tmp_path / "dst").iterdir())
    assert outputs == [f"{i:06d}.dcm" for i in (1, 2, 3, 4)]
    numbers = sorted(int(pydicom.dcmread(p).InstanceNumber) for p in (tmp_path / "dst").iterdir())
    assert numbers == [1, 2, 4, 5]
    assert main(["deidentify", str(src), str(tmp_path / "dst2"), "--salt", "s"]) == 1
    output = capsys.readouterr()
    text = output.out + output.err + report.summary()
    text += "".join(record.getMessage() for record in caplog.records)
    assert "FAILED: 2 DICOM file(s)" in text
    for secret in [str(tmp_path), "Doe_Jane", "IM003", "broken", *(_uids(written))]:
        assert secret not in text, secret
    assert MARK not in text


def test_burned_in_annotation_is_flagged(tmp_path, capsys):
    src = tmp_path / "src"
    _write_series(src / "ct", n=2)
    declared = _write_series(src / "burned", n=2, prefix="B")
    with _quiet():
        for k, ds in enumerate(declared):
            ds.BurnedInAnnotation = "YES"
            ds.save_as(src / "burned" / f"B{k + 1:03d}.dcm", enforce_file_format=True)
    _write_series(src / "sc", n=1, prefix="S", sop_class=SecondaryCaptureImageStorage,
                  modality="OT")  # fmt: skip
    us = _write_series(src / "us", n=2, prefix="U", modality="US")
    with _quiet():
        us[0].BurnedInAnnotation = "NO"
        us[0].save_as(src / "us" / "U001.dcm", enforce_file_format=True)
    report = deidentify(src, tmp_path / "dst")
    assert report.burned_in_annotation == 2
    assert report.burned_in_possible == 2  # the secondary capture and one ultrasound file
    assert main(["deidentify", str(src), str(tmp_path / "dst2")]) == 0
    out = capsys.readouterr().out
    assert "2 file(s) declare burned-in annotation" in out and "NOT removed" in out


def test_series_selection(tmp_path, capsys):
    src = tmp_path / "src"
    ct = _write_series(src, n=3, prefix="A")
    mr = _write_series(src, n=4, prefix="B", modality="MR", sop_class=MRImageStorage,
                       shape=(8, 6))  # fmt: skip
    (src / "notes.txt").write_text("x")
    infos = list_series(src)
    assert [(i.index, i.modality, i.files, i.rows, i.columns) for i in infos] == [
        (1, "CT", 3, 10, 12), (2, "MR", 4, 8, 6)]  # fmt: skip
    assert str(infos[1]) == "series 2: MR, 4 file(s), 8 x 6, series number 7"
    report = deidentify(src, tmp_path / "mr", series=2)
    assert report.files_written == 4 and report.files_other_series == 3
    assert {pydicom.dcmread(p).Modality for p in (tmp_path / "mr").iterdir()} == {"MR"}
    assert read_dicom_series(tmp_path / "mr").shape == (6, 8, 4)
    for bad in (0, 3):
        with pytest.raises(ParameterError, match=f"series={bad}: the source folder holds 2"):
            deidentify(src, tmp_path / f"bad{bad}", series=bad)
    assert not (tmp_path / "bad0").exists()
    assert main(["deidentify", str(src), "--list-series"]) == 0
    assert main(["deidentify", str(src), str(tmp_path / "ct"), "--series", "1"]) == 0
    out = capsys.readouterr().out
    assert "series 1: CT, 3 file(s), 10 x 12" in out and "2 series" in out
    for secret in [str(tmp_path), *(_uids(ct + mr))]:
        assert secret not in out
    assert len(list((tmp_path / "ct").iterdir())) == 3


@pytest.mark.parametrize(("umask", "folder_mode", "file_mode"),
                         [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)])  # fmt: skip
def test_output_modes_follow_the_umask(tmp_path, umask, folder_mode, file_mode):
    src = tmp_path / "src"
    _write_series(src, n=2)
    old = os.umask(umask)
    try:
        deidentify(src, tmp_path / "dst")
    finally:
        os.umask(old)
    assert (tmp_path / "dst").stat().st_mode & 0o777 == folder_mode
    for path in (tmp_path / "dst").iterdir():
        assert path.stat().st_mode & 0o777 == file_mode


def test_refusals_name_no_path(series, tmp_path):
    folder, _ = series
    (tmp_path / "exists").mkdir()
    cases = [
        (ParameterError, "already exists", dict(src=folder, dst=tmp_path / "exists")),
        (ParameterError, "inside the source", dict(src=folder, dst=folder / "anon")),
        (ImageError, "not a folder", dict(src=tmp_path / "missing", dst=tmp_path / "d1")),
    ]
    nodicom = tmp_path / "nodicom"
    nodicom.mkdir()
    (nodicom / "x.txt").write_text("x")
    cases.append((ImageError, "no DICOM file", dict(src=nodicom, dst=tmp_path / "d2")))
    for error, message, kwargs in cases:
        with pytest.raises(error, match=message) as info:
            deidentify(**kwargs)
        assert str(tmp_path) not in str(info.value) and folder.name not in str(info.value)
    assert not (tmp_path / "d2").exists()
    assert not list(tmp_path.glob(".*partial*")), "a temporary folder was left behind"
    with pytest.raises(ImageError, match="not a folder"):
        list_series(tmp_path / "missing")


def test_cli_prints_counts_only(series, tmp_path, capsys, caplog):
    folder, written = series
    caplog.set_level("DEBUG")
    dst = tmp_path / "cli_out"
    assert main(["deidentify", str(folder), str(dst), "--retain-patient-characteristics"]) == 0
    assert main(["deidentify", str(folder), str(dst)]) == 1  # refuses to overwrite
    assert main(["deidentify", str(folder)]) == 1  # DST_FOLDER missing
    captured = capsys.readouterr()
    output = captured.out + captured.err + "".join(r.getMessage() for r in caplog.records)
    assert "de-identified 5 DICOM file(s), skipped 1" in output
    for secret in [str(tmp_path), folder.name, *IDENTIFYING.values(), *_uids(written)]:
        assert secret not in output, secret
    assert MARK not in output
    codes = pydicom.dcmread(next(dst.iterdir())).DeidentificationMethodCodeSequence
    assert [item.CodeValue for item in codes] == ["113100", "113108"]
