"""The interactive HTML report: self-contained, offline, and alive in a real browser.

Two results files are built once: the ``lv-inflation`` scenario at a coarse
size (through the command line, as a user runs it) and a small DOLFINx box
written with ``ResultsWriter`` (with an input file, a stored report spec, a
signed cell field and Newton iteration counts).  Tests without a browser check
the page's text and its embedded arrays (decoded here as the viewer decodes
them); the browser tests open the page in headless Chromium (Debian's
``/usr/bin/chromium`` driven by Playwright, WebGL through SwiftShader) with
the network off, and check that the 3-D view shows the mesh and changes with
the step slider, the field selector, the clipping plane and the outline.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import stat
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape

from organfem._dolfinx import MPI, dolfinx
from organfem.errors import OutputError, ParameterError
from organfem.io import ResultsWriter
from organfem.report import (
    LIMITS,
    Field,
    Figure,
    Plot,
    ReportSpec,
    report_content,
    write_html,
)
from organfem.report import html as report_html

CHROMIUM = Path("/usr/bin/chromium")
# Headless Chromium has no GPU here: WebGL through SwiftShader, allowed explicitly.
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
# A folder name that could identify a patient: it must never reach the report.
PATIENT_FOLDER = "Doe_Jane_19700101"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lv_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lv-inflation scenario, 3 load steps at 6 mm (about 4 s)."""
    from organfem.cli import main

    out = tmp_path_factory.mktemp("report") / PATIENT_FOLDER
    assert main(["run", "lv-inflation", "--out", str(out), "--steps", "3", "--mesh-size",
                 "6 mm", "--no-render"]) == 0
    (path,) = out.glob("*.vtkhdf")
    return path


@pytest.fixture(scope="module")
def lv_content(lv_results: Path):
    content = report_content(lv_results)
    return dataclasses.replace(content, spec=dataclasses.replace(content.spec, anatomy="lv"))


@pytest.fixture(scope="module")
def lv_html(lv_content, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_html(lv_content, tmp_path_factory.mktemp("html") / "report.html")


BOX_SPEC = ReportSpec(
    title="box under load",
    summary="A box pulled at one end, for testing the report.",
    fields=(Field("fibre_stress", "fibre stress", "kPa"),
            Field("displacement", "displacement", "mm")),
    figures=(Figure("largest pressure", "pressure_kPa", "max", "kPa", digits=3),
             Figure("volume change", "cavity_volume_mm3", "range", "mL", 1e-3, digits=3)),
    plots=(Plot("pressure-volume", "cavity_volume_mm3", ("pressure_kPa",), "volume [mL]",
                "pressure [kPa]", 1e-3),),
    anatomy="generic",
    steps="load step",
    time_unit="s",
)


@pytest.fixture(scope="module")
def box_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 x 4 x 4 box (384 tetrahedra), 4 steps, with a signed cell field."""
    folder = tmp_path_factory.mktemp("box") / PATIENT_FOLDER
    folder.mkdir()
    source = folder / "Doe_Jane_mesh.msh"
    source.write_bytes(b"a mesh file of the patient")
    mesh = dolfinx.mesh.create_box(MPI.COMM_WORLD, [[0.0, 0.0, 0.0], [40.0, 20.0, 20.0]],
                                   [4, 4, 4], dolfinx.mesh.CellType.tetrahedron)
    u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,))))
    stress = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0)))
    path = folder / "box.vtkhdf"
    with ResultsWriter(path, mesh, parameters={"scenario": "box", "load_kPa": 3.0},
                       inputs={"mesh": source}, report=BOX_SPEC.as_dict()) as out:
        for k in range(1, 5):
            s = k / 4
            u.interpolate(lambda x, s=s: np.stack([0.1 * s * x[0], 0 * x[1], -0.05 * s * x[0]]))
            stress.interpolate(lambda x, s=s: s * (x[0] - 15.0))
            out.write(s, {"displacement": u, "fibre_stress": stress},
                      {"pressure_kPa": 3.0 * s, "cavity_volume_mm3": 1e3 * (1 + s),
                       "newton_iterations": float(2 + k)})
    return path


@pytest.fixture(scope="module")
def box_content(box_results: Path):
    return report_content(box_results)


def _data(html: str) -> dict:
    """The JSON the page embeds for its viewer."""
    match = re.search(r'<script type="application/json" id="organfem-data">(.*?)</script>', html,
                      re.S)
    assert match
    return json.loads(match.group(1))


def _decode(text: str, dtype: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


# --------------------------------------------------------------------------- the page's text


def test_page_is_self_contained_and_names_no_patient(lv_html: Path, lv_results: Path) -> None:
    html = lv_html.read_text(encoding="utf-8")
    # Nothing loaded from elsewhere: no external script, style, font, image or link.
    assert not re.search(r"<(script|img|iframe|link|source)\b[^>]*\b(src|href)=", html, re.I)
    assert "@import" not in html and "url(http" not in html
    assert "Content-Security-Policy" in html and "connect-src &#39;none&#39;" in html
    assert html.count("<script>") == 2  # plotly.js once, the viewer once
    # No path or name of the results or their folder.
    for secret in (PATIENT_FOLDER, str(lv_results.parent), lv_results.name):
        assert secret not in html
    assert str(escape(LIMITS)) in html
    size = lv_html.stat().st_size
    assert 3e6 < size < 20 * 2**20  # plotly.js (about 4.6 MB) plus a small mesh


def test_written_atomically_with_the_umask_mode(lv_content, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        path = write_html(lv_content, tmp_path / "r.html")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left
    with pytest.raises(ParameterError, match="folder does not exist"):
        write_html(lv_content, tmp_path / "missing" / "r.html")
    (tmp_path / "taken.html").mkdir()
    with pytest.raises(OutputError, match="taken.html: a folder of that name is in the way"):
        write_html(lv_content, tmp_path / "taken.html")


def test_tables_show_figures_units_provenance_and_verification(box_content, tmp_path) -> None:
    html = write_html(box_content, tmp_path / "box.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">(.*?)</td><td>(.*?)</td></tr>", html)
    assert rows == [("largest pressure", "3", "kPa"), ("volume change", "0.75", "mL")]
    # Input hashes shortened, with the full hash in the title; never the file's name.
    digest = box_content.inputs["mesh"]
    assert f'<span class="hash" title="{digest}">{digest[:12]}…</span>' in html
    assert "Doe_Jane" not in html
    assert "<th>load_kPa</th><td>3.0</td>" in html
    assert "<th>DOLFINx</th>" in html and "<th>MPI ranks</th><td>1</td>" in html
    assert "smallest dihedral angle [deg]" in html
    for row in box_content.verification:
        assert f"<code>{row['test']}</code>" in html
    assert 'id="convergence"' in html and "records no Newton" not in html
    assert "Unfinished run" not in html
    unfinished = dataclasses.replace(box_content, unfinished=True)
    assert "Unfinished run" in write_html(unfinished, tmp_path / "u.html").read_text()


def test_embedded_arrays_decode_to_the_results(box_content, tmp_path) -> None:
    data = _data(write_html(box_content, tmp_path / "box.html").read_text(encoding="utf-8"))
    view, geometry = data["view"], box_content.geometry
    n = view["n_points"]
    np.testing.assert_array_equal(_decode(view["points"], "<f4").reshape(n, 3), geometry.points)
    np.testing.assert_array_equal(_decode(view["triangles"], "<u4").reshape(-1, 3),
                                  geometry.triangles)
    steps = len(box_content.times)
    codes = _decode(view["displacement"]["data"], "<i2").reshape(steps, n, 3)
    scale = np.asarray(view["displacement"]["scale"])[:, None, None]
    largest = np.abs(geometry.displacement).max()
    np.testing.assert_allclose(codes * scale, geometry.displacement, atol=largest / 30000)
    stress = next(f for f in view["fields"] if f["name"] == "fibre_stress")
    assert stress["title"] == "fibre stress [kPa]"
    assert stress["colorscale"] == "RdBu" and stress["cmid"] == 0.0  # signed: diverging
    values = stress["lo"] + _decode(stress["data"], "<u2").reshape(steps, n) * (
        (stress["hi"] - stress["lo"]) / stress["levels"])
    np.testing.assert_allclose(values, geometry.fields["fibre_stress"],
                               atol=(stress["hi"] - stress["lo"]) / 60000)
    assert [f["name"] for f in view["fields"]] == ["fibre_stress", "displacement"]
    assert view["step_labels"][1] == "load step 2 of 4, t = 0.5 s"
    assert {a["text"] for a in view["labels"]} == {"S", "I", "R", "L", "A", "P"}
    assert data["plots"][0]["per_step"] and data["convergence"]["y"] == [3, 4, 5, 6]


def test_ventricle_is_labelled_base_apex_anterior_posterior(lv_html: Path) -> None:
    view = _data(lv_html.read_text(encoding="utf-8"))["view"]
    labels = {a["text"]: np.array([a["x"], a["y"], a["z"]]) for a in view["labels"]}
    assert set(labels) == {"base", "apex", "anterior", "posterior"}
    # The Land et al. ellipsoid: long axis z, base at z = 5 mm, seen from anterior (-y).
    assert labels["base"][2] > 5.0 > -15.0 > labels["apex"][2]
    assert labels["anterior"][1] < 0.0 < labels["posterior"][1]
    assert view["camera"]["up"]["z"] > 0.8 and view["camera"]["eye"]["y"] < 0.0
    assert view["clip_axes"][0]["name"].startswith("long axis")
    assert "base up, apex down" in view["orientation"].lower()


def test_large_surface_is_decimated_for_the_view_only(box_content, tmp_path, monkeypatch):
    monkeypatch.setattr(report_html, "VIEW_BUDGET_BYTES", 4_000)  # about 40 % of the box
    html = write_html(box_content, tmp_path / "small.html").read_text(encoding="utf-8")
    view = _data(html)["view"]
    full = len(box_content.geometry.triangles)
    assert view["n_triangles"] < 0.6 * full
    assert f"of {full:,} triangles" in html and "decimated surface" in html
    # The kept vertices are original ones, with their exact reference positions.
    kept = _decode(view["points"], "<f4").reshape(-1, 3)
    original = {tuple(p) for p in box_content.geometry.points.tolist()}
    assert all(tuple(p) in original for p in kept.tolist())
    assert 'class="num">3</td>' in html  # the figures still come from the full results


def test_command_line_writes_the_report(box_results: Path, tmp_path: Path, capsys) -> None:
    from organfem.cli import main

    out = tmp_path / "cli.html"
    assert main(["report", str(box_results), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert "box under load" in out.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium (Debian package `chromium`): the "
                    "browser tests of the HTML report need it")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclasses.dataclass
class Opened:
    page: object
    errors: list
    external: list
    content: object


@pytest.fixture(scope="module")
def opened(browser, lv_html: Path, lv_content):
    """The LV report, opened from disk with the network off."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_offline(True)
    requests: list[str] = []
    external: list[str] = []

    def route(request_route) -> None:
        url = request_route.request.url
        requests.append(url)
        if url.startswith("file:"):
            request_route.continue_()
        else:
            external.append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(lv_html.resolve().as_uri())
    page.wait_for_selector("body[data-ready]", timeout=30_000)
    page.wait_for_selector("#view.js-plotly-plot canvas", state="attached",
                           timeout=10_000)
    assert requests == [lv_html.resolve().as_uri()]
    yield Opened(page, errors, external, lv_content)
    context.close()


def _view_png(page) -> np.ndarray:
    from PIL import Image

    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_timeout(150)
    png = page.locator("#view").screenshot()
    return np.asarray(Image.open(BytesIO(png)).convert("RGB")).astype(np.int16)


def _act(page, script: str) -> np.ndarray:
    """Run ``script`` on the page, wait for the view to be redrawn, screenshot it."""
    drawn = page.evaluate("document.body.dataset.drawn")
    page.evaluate(script)
    # Polled from here: the page's CSP forbids the eval that wait_for_function uses.
    for _ in range(200):
        if page.evaluate("document.body.dataset.drawn") != drawn:
            return _view_png(page)
        page.wait_for_timeout(50)
    raise AssertionError(f"the view was not redrawn after {script!r}")


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a - b).max(axis=2) > 24).mean())


def test_page_loads_offline_without_errors_or_requests(opened: Opened) -> None:
    page, content = opened.page, opened.content
    assert opened.errors == [] and opened.external == []
    assert page.title().startswith(content.spec.title)
    assert page.locator("#plots .js-plotly-plot").count() == len(content.plots) > 0
    assert page.locator(".modebar-btn--logo").count() == 0  # displaylogo: false
    # plotly.js 4 would offer to upload the chart to Plotly Cloud ("Share chart...").
    page.locator("#view").hover()
    titles = [b.get_attribute("data-title") for b in page.locator("#view .modebar-btn").all()]
    assert "Download plot as a PNG" in titles
    assert not [t for t in titles if "share" in t.lower() or "cloud" in t.lower()], titles
    page.mouse.move(0, 0)  # no hover label in the screenshots that follow
    text = page.locator("#figures").inner_text()
    assert content.figures
    for label, value, unit in content.figures:
        assert re.search(rf"{re.escape(label)}\s+{re.escape(value)}\s+{re.escape(unit)}", text)
    assert LIMITS[:60] in page.locator("#limits").inner_text()
    steps = len(content.times)
    assert page.locator("#step-label").inner_text().startswith(
        f"{content.spec.steps} {steps} of {steps}, t = ")
    first = content.spec.fields[0]
    assert f"{first.label} [{first.unit}]" in page.locator("#view").inner_text()  # colour bar


def test_view_shows_the_mesh_and_follows_the_controls(opened: Opened) -> None:
    page, content = opened.page, opened.content
    first = _view_png(page)
    background = (np.abs(first - 255).max(axis=2) > 12).mean()
    chroma = first.max(axis=2) - first.min(axis=2)
    colours = len(np.unique(first.reshape(-1, 3)[chroma.ravel() > 40], axis=0))
    assert background > 0.04, "the 3-D view is blank"
    assert (chroma > 40).mean() > 0.02 and colours > 50, "no coloured mesh in the 3-D view"

    clipped = _act(page, "c = document.getElementById('clip'); c.checked = true;"
                         "c.dispatchEvent(new Event('change'))")
    assert _changed(first, clipped) > 0.01, "the clipping plane did not change the view"
    bare = _act(page, "o = document.getElementById('outline'); o.checked = false;"
                      "o.dispatchEvent(new Event('change'))")
    assert _changed(clipped, bare) > 0.002, "the reference outline did not change the view"
    moved = _act(page, "p = document.getElementById('clip-position'); p.value = '20';"
                       "p.dispatchEvent(new Event('input'))")
    assert _changed(bare, moved) > 0.005, "moving the clipping plane did not change the view"
    unclipped = _act(page, "c = document.getElementById('clip'); c.checked = false;"
                           "c.dispatchEvent(new Event('change'))")
    assert _changed(moved, unclipped) > 0.01

    step = _act(page, "s = document.getElementById('step'); s.value = '0';"
                      "s.dispatchEvent(new Event('input'))")
    assert page.locator("#step-label").inner_text().startswith(f"{content.spec.steps} 1 of ")
    assert _changed(unclipped, step) > 0.005, "the step slider did not change the view"

    field = _act(page, "f = document.getElementById('field'); f.value = '1';"
                       "f.dispatchEvent(new Event('change'))")
    second = content.spec.fields[1]
    assert f"{second.label} [{second.unit}]" in page.locator("#view").inner_text()
    assert _changed(step, field) > 0.005, "the field selector did not change the view"
    assert opened.errors == [] and opened.external == []


def test_report_from_the_box_runs_in_the_browser(browser, box_content, tmp_path) -> None:
    # A second anatomy (generic, LPS letters), a signed field and the convergence plot.
    path = write_html(box_content, tmp_path / "box.html")
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("body[data-ready]", timeout=30_000)
        assert page.locator("#convergence.js-plotly-plot").count() == 1
        assert "fibre stress [kPa]" in page.locator("#view").inner_text()
        assert errors == []
    finally:
        page.close()

