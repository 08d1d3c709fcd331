"""The PDF report (organfem.report.pdf): pages that render, read back, and name no patient."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import os
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from organfem import __version__
from organfem.cli import main
from organfem.errors import OutputError, ParameterError
from organfem.io import sha256_folder
from organfem.report import LIMITS, report_content, write_pdf

pytestmark = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="needs poppler-utils (pdftoppm, pdftotext)",
)


@pytest.fixture(scope="module")
def lv(tmp_path_factory):
    """A coarse passive LV inflation, its report content and PDF."""
    out = tmp_path_factory.mktemp("lv")
    argv = ["run", "lv-inflation", "--out", str(out / "run"), "--steps", "3", "--mesh-size",
            "6 mm", "--no-render"]  # fmt: skip
    assert main(argv) == 0
    content = report_content(out / "run" / "lv_inflation.vtkhdf")
    return content, write_pdf(content, out / "report.pdf")


def _png_pages(pdf: Path, folder: Path) -> list[np.ndarray]:
    """The pages rendered by pdftoppm at 60 dpi, RGB uint8 arrays."""
    from matplotlib.image import imread

    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(folder / "page")], check=True)
    paths = sorted(folder.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    return [(imread(p)[..., :3] * 255).round().astype(np.uint8) for p in paths]


def _text(pdf: Path, *, layout: bool) -> str:
    argv = ["pdftotext", *(["-layout"] if layout else []), str(pdf), "-"]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_pdf_pages_render_and_are_not_blank(lv, tmp_path):
    _, pdf = lv
    pages = _png_pages(pdf, tmp_path)
    assert len(pages) >= 3
    for page in pages:
        assert page.shape[0] / page.shape[1] == pytest.approx(297 / 210, rel=0.01)  # A4
        ink = np.any(page < 240, axis=-1).mean()
        assert ink > 0.01, f"a page is blank ({ink:.3%} ink)"
    # Page 1 carries the three coloured views: many distinct, saturated colours.
    first = pages[0].astype(int)
    saturated = first[(first.max(axis=-1) - first.min(axis=-1)) > 60]
    colours = np.unique(saturated // 16, axis=0, return_counts=True)[1]
    assert (colours >= 10).sum() >= 40, "page 1 shows too few colours for coloured views"
    assert len(saturated) > 0.02 * first.shape[0] * first.shape[1]


def test_pdf_text_holds_the_key_figures_limits_and_provenance(lv):
    content, pdf = lv
    layout = _text(pdf, layout=True)
    flat = _flat(_text(pdf, layout=False))
    assert content.spec.title in flat
    assert content.figures
    for label, value, unit in content.figures:  # one row: label, value, unit
        assert re.search(rf"{re.escape(label)}\s+{re.escape(value)}\s+{re.escape(unit)}",
                         layout), (label, value, unit)  # fmt: skip
    assert _flat(LIMITS) in flat
    assert "not a medical device" in flat
    assert f"organfem {__version__}" in flat
    assert re.search(rf"organfem\s+{re.escape(content.provenance['organfem'])}", layout)
    for name in ("dolfinx", "petsc"):
        assert re.search(rf"{name}\s+{re.escape(content.provenance[name])}", layout)
    # The views' orientation, the colour bar's unit, plots, convergence, verification.
    for words in ("Seen from anterior", "Seen from the patient's left", "from the base",
                  "fibre stress", "[kPa]", "cavity volume [mL]", "cavity pressure [mmHg]",
                  "Newton iterations", "Land et al. (2015) problems 1-3",
                  "tests/test_land2015.py", "smallest dihedral angle [deg]"):  # fmt: skip
        assert words in flat, words
    assert "UNFINISHED" not in flat
    iterations = ", ".join(str(int(v)) for v in content.convergence)
    assert f"Per step: {iterations}." in flat


def test_pdf_metadata_names_no_author_user_or_path(lv):
    content, pdf = lv
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert b"/Author" not in data
    assert content.spec.title.encode() in data  # /Title, uncompressed in the Info dict
    assert f"organfem {__version__}".encode() in data  # /Creator
    for private in (str(pdf.parent), str(Path.home()), os.uname().nodename):
        assert len(private) < 4 or private.encode() not in data, private


def test_unfinished_run_has_a_banner_and_generic_anatomy_anatomical_views(lv, tmp_path):
    content, _ = lv
    spec = dataclasses.replace(content.spec, anatomy="generic", fields=content.spec.fields[1:])
    pdf = write_pdf(dataclasses.replace(content, spec=spec, unfinished=True),
                    tmp_path / "unfinished.pdf")  # fmt: skip
    flat = _flat(_text(pdf, layout=False))
    assert "UNFINISHED RUN" in flat and "did not finish" in flat
    for words in ("Coronal view, seen from anterior", "Sagittal view, seen from the patient's left",
                  "Axial view, seen from above", "displacement", "[mm]"):  # fmt: skip
        assert words in flat, words
    # The views of a results file without fields: the shape only, no colour bar.
    bare = dataclasses.replace(content, spec=dataclasses.replace(content.spec, fields=()))
    flat = _flat(_text(write_pdf(bare, tmp_path / "bare.pdf"), layout=False))
    assert "declares no field" in flat


def test_pdf_is_written_atomically_and_checks_its_path(lv, tmp_path):
    content, _ = lv
    with pytest.raises(ParameterError, match=r"\.pdf"):
        write_pdf(content, tmp_path / "report.png")
    with pytest.raises(ParameterError, match="folder does not exist"):
        write_pdf(content, tmp_path / "missing" / "report.pdf")
    old = os.umask(0o027)
    try:
        path = write_pdf(content, tmp_path / "report.pdf")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640  # as the umask says
    # A folder where the file should go: an error naming the file only, nothing left over.
    (tmp_path / "taken.pdf").mkdir()
    with pytest.raises(OutputError, match="taken.pdf") as error:
        write_pdf(content, tmp_path / "taken.pdf")
    assert str(tmp_path) not in str(error.value)
    assert (tmp_path / "taken.pdf").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf", "taken.pdf"]


# -- a report of a run from DICOM input names no patient ------------------------

#: What the DICOM header of the (fake) patient's label series says about them,
#: and what their folder is called: none of it may reach a report.
FOLDER = "QUIMBY_ZELDA_19581231"
HEADER = {
    "PatientName": "QUIMBY^ZELDA",
    "PatientID": "PID4417209",
    "PatientBirthDate": "19581231",
    "PatientSex": "F",
    "InstitutionName": "ST ELSEWHERE HOSPITAL",
    "ReferringPhysicianName": "KILDARE^JAMES",
    "AccessionNumber": "ACC77331",
    "StudyDescription": "CARDIAC CT ZELDA",
    "StudyDate": "20240517",
}
IDENTIFIERS = (FOLDER, "QUIMBY", "ZELDA", "PID4417209", "4417209", "19581231", "1958-12-31",
               "ELSEWHERE", "KILDARE", "ACC77331", "20240517", "2024-05-17")  # fmt: skip


def _decoded(data: bytes) -> list[bytes]:
    """``data`` and what it hides: inflated PDF streams, base64 blobs (and their
    inflated contents)."""
    found = [data]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.DOTALL):
        try:
            found.append(zlib.decompress(stream))
        except zlib.error:
            pass
    for blob in re.findall(rb"[A-Za-z0-9+/]{32,}={0,2}", data):
        try:
            raw = base64.b64decode(blob + b"=" * (-len(blob) % 4))
        except (binascii.Error, ValueError):
            continue
        found.append(raw)
        for inflate in (zlib.decompress, gzip.decompress):
            try:
                found.append(inflate(raw))
            except (zlib.error, OSError, EOFError):
                pass
    return found


def _leaks(*texts: bytes) -> list[str]:
    """The identifiers found in any of ``texts`` (case-insensitive; ASCII and UTF-16)."""
    leaks = []
    for name in IDENTIFIERS:
        forms = {name.lower().encode(), name.lower().encode("utf-16-be"),
                 name.lower().encode("utf-16-le")}  # fmt: skip
        if any(form in text.lower() for text in texts for form in forms):
            leaks.append(name)
    return leaks


@pytest.mark.slow
def test_report_of_a_dicom_run_names_no_patient(tmp_path, write_dicom_label_series):
    pytest.importorskip("pydicom")
    from organfem.imaging.phantoms import lv_phantom

    folder = tmp_path / FOLDER  # named after the patient, as such folders often are
    write_dicom_label_series(lv_phantom((48, 48, 48)).image, folder, HEADER)
    assert _leaks(*(p.read_bytes() for p in folder.iterdir()))  # the check can see them
    out = tmp_path / "run"
    argv = ["run", "image-to-lv-inflation", "--image", str(folder), "--out", str(out),
            "--mesh-size", "8 mm", "--steps", "1", "--no-render"]  # fmt: skip
    assert main(argv) == 0
    content = report_content(out / "image_lv.vtkhdf")
    digest = sha256_folder(folder)
    assert content.inputs == {"dicom_series": digest}

    pdf = write_pdf(content, tmp_path / "report.pdf")
    data = pdf.read_bytes()
    text = _text(pdf, layout=True)
    assert digest in text  # the input is named by its full hash
    assert not _leaks(*_decoded(data), text.encode())
    # The search finds an identifier that reaches a page (positive control).
    marked = dataclasses.replace(content, parameters={**content.parameters, "note": "Zelda"})
    control = write_pdf(marked, tmp_path / "control.pdf")
    assert _leaks(*_decoded(control.read_bytes()), _text(control, layout=True).encode())

    try:
        from organfem.report.html import write_html
    except ImportError:
        return  # the HTML writer is not there yet
    html = write_html(content, tmp_path / "report.html")
    assert not _leaks(*_decoded(html.read_bytes()))
