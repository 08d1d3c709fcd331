"""The README's own code: every Python block runs as written, and every
``organfem`` command line of its bash blocks parses.

A new user copies these blocks first; each Python block runs here in a fresh
folder, in a fresh interpreter, exactly as printed, and its output is checked.
A block that reads a user's file (the label map of "From patient images to
tagged meshes") finds one made from the built-in phantom in its folder.  The
beating-ventricle block also runs a second time in the same folder: its
checkpoint is complete, so the run resumes at its end and its finished
results file keeps every step.  A new Python block fails
:func:`test_every_python_block_is_checked` until it gets a check here.
"""

from __future__ import annotations

import ast
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[tuple[str, str]]:
    """(section title, code) of each fenced block of ``language``, in order."""
    section, blocks, code = "", [], None
    for line in README.read_text().splitlines(keepends=True):
        if code is None:
            if line.startswith("#"):
                section = line.strip("# \n")
            elif line.strip() == f"```{language}":
                code = []
            elif line.startswith("```") and line.strip() != "```":
                code = False  # another language: skip to its closing fence
        elif line.strip() == "```":
            if code is not False:
                blocks.append((section, "".join(code)))
            code = None
        elif code is not False:
            code.append(line)
    return blocks


def _run(code: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"README block failed:\n{code}\n--- stderr ---\n{done.stderr[-4000:]}"
    return done.stdout


# -- a check for each Python block, chosen by the call that makes the block ----


def _quasi_static(code: str, folder: Path) -> None:
    out = _run(code, folder)
    # The inflated cavity [mm^3]: larger than the reference cavity of the
    # Land et al. (2015) ellipsoid truncated at z = 5 mm (about 2.46 mL).
    assert float(out.strip().splitlines()[-1]) > 2460.0
    assert (folder / "lv.vtkhdf").is_file()


def _dynamic(code: str, folder: Path) -> None:
    from organfem.io import read_results

    _run(code, folder)
    first = read_results(folder / "beat.vtkhdf")
    assert len(first.times) == 4  # 0.02 s in steps of 0.005 s
    _run(code, folder)  # the checkpoint is complete: nothing to do, nothing lost
    again = read_results(folder / "beat.vtkhdf")
    assert list(again.times) == list(first.times)


def _image_to_mesh(code: str, folder: Path) -> None:
    from organfem.imaging import write_image
    from organfem.imaging.phantoms import lv_phantom
    from organfem.meshing import MeshData

    # The user's label map: the phantom LV in MM-WHS codes (205 myocardium,
    # 500 blood pool), as the block's parse_labels("mmwhs") expects.
    phantom = lv_phantom((64, 64, 64))
    write_image(phantom.image, folder / "heart_labels.nii.gz")
    out = _run(code, folder)
    assert "tetrahedra" in out and "dihedral" in out  # the quality report
    mesh = MeshData.load(folder / "lv.h5")
    assert set(mesh.facet_names) == {"endo", "epi", "base"}
    assert mesh.fibres is not None and mesh.fibres.shape == (mesh.num_cells, 3, 3)
    # The mesh keeps the myocardium's volume (voxelised at 64^3; cut at the
    # plane fitted through the open top of the phantom's blood pool).
    assert mesh.cell_volumes().sum() == pytest.approx(phantom.myocardium_volume, rel=0.03)


def _coupled(code: str, folder: Path) -> None:
    out = _run(code, folder)
    values = ast.literal_eval(out.strip().splitlines()[-1])  # the printed dict of floats
    mmhg = 0.133322
    # 0.05 s of filling from rest: the 102 mL cavity takes blood from the left
    # atrium through the open mitral valve (p_LA > p_LV > 0), the aortic valve
    # shut (the arterial pressure, 80 mmHg at the start, above the LV's).
    assert 102e3 < values["LV_volume_mm3"] < 130e3
    assert 0 < values["LV_pressure_kPa"] < values["circulation_p_LA_kPa"] < 15 * mmhg
    assert values["circulation_p_AR_SYS_kPa"] > 60 * mmhg


def _batched(code: str, folder: Path) -> None:
    out = _run(code, folder).strip().splitlines()
    edv = [float(x) for x in out[0].split("[")[-1].strip("]").split()]
    baseline, stiff, scar = edv
    # About 130 mL at 9 mmHg (the heart-cycle scenario's end-diastole); a
    # stiffer matrix (HO's a) fills less, and so does a stiff apical scar.
    assert 120.0 < baseline < 145.0 and stiff < baseline and scar < baseline
    assert float(out[1].split(":")[-1]) < 0  # stiffer: smaller EDV
    assert float(out[2].split("rms")[-1]) < 1.0  # the Klotz curve fitted within 1 mL rms


def _tavi(code: str, folder: Path) -> None:
    from organfem.io import read_results

    out = _run(code, folder)
    # S3-26 at 4 mm in the oval 26.3 x 23.5 mm annulus: it touches part of
    # the septal band, seals but for small gaps at the long axis (mild at
    # most), and a rigid frame stays round at its nominal 26 mm.
    cpi = float(re.search(r"CPI (\d+) %", out).group(1))
    assert 0 < cpi < 100
    assert re.search(r"\((none|mild)\)", out)
    assert "inflow Dmin 26.00 mm, Dmax 26.00 mm" in out
    assert "summary" in read_results(folder / "s3_26.vtkhdf").attributes


CHECKS = {"ramp(": _quasi_static, "checkpoint=": _dynamic, "lv_mesh(": _image_to_mesh,
          "Circulation(": _coupled, "fit_volumes(": _batched, "deploy(root": _tavi}


def _check_of(code: str):
    found = [check for call, check in CHECKS.items() if call in code]
    assert len(found) == 1, f"README block needs exactly one check in CHECKS:\n{code}"
    return found[0]


def test_every_python_block_is_checked():
    blocks = _blocks("python")
    assert len(blocks) >= 3
    checks = [_check_of(code) for _, code in blocks]
    assert len(set(checks)) == len(checks), "two README blocks would get the same check"
    usage = [code for section, code in blocks if section in ("Usage", "Mechanics in time")]
    assert "ramp(" in usage[0] and "simulate(" in usage[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "index", range(len(_blocks("python"))),
    ids=[f"{k}-{re.sub(r'\W+', '-', section).strip('-').lower()}"
         for k, (section, _) in enumerate(_blocks("python"))],
)  # fmt: skip
def test_python_block_runs_as_written(index, tmp_path):
    code = _blocks("python")[index][1]
    _check_of(code)(code, tmp_path)


# -- the command lines of the bash blocks ---------------------------------------


def _organfem_commands() -> list[list[str]]:
    """The arguments of every ``organfem`` command line of the bash blocks
    (continuation lines joined, comments dropped, an ``mpirun -n N`` prefix
    removed)."""
    commands = []
    for _, code in _blocks("bash"):
        for line in code.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] in (["mpirun"], ["mpiexec"]) and words[1:2] == ["-n"]:
                words = words[3:]
            if words[:1] == ["organfem"]:
                commands.append(words[1:])
    return commands


def test_readme_command_lines_parse():
    from organfem.cli import _parser, scenarios

    commands = _organfem_commands()
    assert {c[0] for c in commands} >= {"run", "mesh", "render", "info", "deidentify", "whatif"}
    for words in commands:
        line = "organfem " + shlex.join(words)
        try:
            args, rest = _parser().parse_known_args(words)
            if args.command == "run" and args.scenario:
                # The scenario's own options: its parser() (what --help prints).
                options = runpy.run_path(str(scenarios()[args.scenario]))["parser"]()
                options.parse_args(rest)
                rest = []
        except SystemExit as error:
            if error.code == 0 and "--help" in words:  # `organfem mesh --help` prints and exits
                continue
            pytest.fail(f"README command line does not parse ({error.code}): {line}")
        assert rest == [], f"README command line has unknown options {rest}: {line}"
