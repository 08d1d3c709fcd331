"""Units at the boundary: SI symbols, case-sensitive; implausible pressures warn."""

from __future__ import annotations

import warnings

import pytest

from organfem import units
from organfem.errors import ParameterError, UnitWarning

MMHG = 0.133322387415  # kPa, 133.322387415 Pa


@pytest.mark.parametrize(
    ("text", "kpa"),
    [
        ("2 kPa", 2.0),
        ("2000 Pa", 2.0),
        ("0.04 MPa", 40.0),
        ("5e6 mPa", 5.0),  # millipascal: 1e-6 kPa
        ("15 mmHg", 15 * MMHG),
        ("10 cmH2O", 0.980665),
        ("-5 mmHg", -5 * MMHG),
        ("  1.5kPa ", 1.5),
        (".5 kPa", 0.5),
        ("2", 2.0),  # no unit: kPa
        (2, 2.0),
        (2.5, 2.5),
        # Case variants without ambiguity (no prefix K; capital M is only mega).
        ("2 kpa", 2.0),
        ("2 KPa", 2.0),
        ("2 KPA", 2.0),
        ("2000 pa", 2.0),
        ("2000 PA", 2.0),
        ("0.04 Mpa", 40.0),
        ("0.04 MPA", 40.0),
        ("15 mmhg", 15 * MMHG),
        ("15 mmHG", 15 * MMHG),
        ("10 cmh2o", 0.980665),
    ],
)
def test_pressures_in_si_symbols_and_unambiguous_variants(text, kpa):
    assert units.pressure(text) == pytest.approx(kpa, rel=1e-15)


@pytest.mark.parametrize(
    ("convert", "text", "value"),
    [
        (units.length, "3 mm", 3.0),
        (units.length, "1.5 cm", 15.0),
        (units.length, "0.01 m", 10.0),
        (units.length, "250 µm", 0.25),  # micro sign U+00B5
        (units.length, "250 μm", 0.25),  # Greek mu U+03BC
        (units.length, "250 um", 0.25),
        (units.volume, "120 mL", 120e3),
        (units.volume, "120 ml", 120e3),
        (units.volume, "0.12 L", 120e3),
        (units.volume, "0.12 l", 120e3),
        (units.volume, "5 cm3", 5e3),
        (units.volume, "5 cm^3", 5e3),
        (units.volume, "7 mm3", 7.0),
        (units.volume, "7 mm^3", 7.0),
        (units.volume, "7 µL", 7.0),
        (units.volume, "7 uL", 7.0),
        (units.volume, "7 ul", 7.0),
        (units.time, "800 ms", 0.8),
        (units.time, "2 s", 2.0),
        (units.time, "1e-3", 1e-3),
    ],
)
def test_lengths_volumes_and_times(convert, text, value):
    assert convert(text) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize(
    ("convert", "text", "match"),
    [
        # Case carries meaning in SI: refused, naming the intended unit.
        (units.length, "3 MM", r"'MM' is not 'mm'.*did you mean 'mm' \(millimetre\)"),
        (units.length, "3 Mm", r"'Mm' is the megametre.*did you mean 'mm'"),
        (units.length, "3 M", r"did you mean 'm' \(metre\)"),
        (units.length, "3 CM", r"did you mean 'cm'"),
        (units.volume, "1 ML", r"'ML' is the megalitre.*did you mean 'mL'"),
        (units.time, "1 S", r"'S' is the siemens.*did you mean 's' \(second\)"),
        (units.time, "800 MS", r"did you mean 'ms'"),
        # Lower case loses the prefix: mPa or MPa?
        (units.pressure, "2 mpa", r"'mpa' is ambiguous: 'MPa' \(megapascal\) or 'mPa' \(milli"),
        # Another kind of quantity, or no unit we know.
        (units.length, "3 mmHg", r"'mmHg' is a unit of pressure, not of length"),
        (units.pressure, "3 mm", r"'mm' is a unit of length, not of pressure"),
        (units.pressure, "15 psi", r"unknown unit 'psi'"),
        (units.pressure, "nan kPa", r"expected a finite number"),
        (units.pressure, "inf", r"expected a finite number"),
        (units.pressure, "", r"expected a finite number"),
        (units.pressure, "kPa", r"expected a finite number"),
        (units.length, "1,5 mm", r"expected a finite number"),
        (units.pressure, float("nan"), r"must be a finite number"),
        (units.time, float("inf"), r"must be a finite number"),
        (units.length, True, r"got a bool"),
    ],
)
def test_refusals_name_the_accepted_units(convert, text, match):
    with pytest.raises(ParameterError, match=match) as error:
        convert(text)
    accepted = {
        units.pressure: "kPa, Pa, MPa, mPa, mmHg, cmH2O",
        units.length: "mm, cm, m, µm",
        units.volume: "mm3, cm3, mL, L, µL",
        units.time: "s, ms",
    }[convert]
    assert accepted in str(error.value)


def test_numpy_scalars_are_numbers():
    np = pytest.importorskip("numpy")
    assert units.length(np.float32(2.5)) == 2.5
    assert units.time(np.int64(3)) == 3.0


@pytest.mark.parametrize(
    ("text", "side", "in_kpa", "in_mmhg"),
    [
        ("2 MPa", "above", "2000 kPa", "15001.2 mmHg"),
        ("60 kPa", "above", "60 kPa", "450.037 mmHg"),
        ("400 mmHg", "above", "53.329 kPa", "400 mmHg"),
        ("-100 mmHg", "below", "-13.3322 kPa", "-100 mmHg"),
        (2000.0, "above", "2000 kPa", "15001.2 mmHg"),  # a plain number is in kPa
    ],
)
def test_implausible_pressures_are_accepted_with_a_warning(text, side, in_kpa, in_mmhg):
    with pytest.warns(UnitWarning) as record:
        value = units.pressure(text)
    message = str(record[0].message)
    assert f"= {in_kpa} ({in_mmhg}) is {side} the plausible range -10 to 50 kPa" in message
    assert "(-75 to 375 mmHg)" in message and "used as given" in message
    assert record[0].filename == __file__  # points at the caller
    assert value == pytest.approx(units.pressure(text, plausible=(-1e9, 1e9)))


def test_plausible_pressures_do_not_warn_and_the_range_can_be_widened():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for text in ("0 kPa", "300 mmHg", "50 kPa", "-10 kPa", "-5 mmHg", "15 mmHg", 2.0):
            units.pressure(text)
        assert units.pressure("600 kPa", plausible=(0, 3000)) == 600.0
    # A strict pipeline turns the warning into an error.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnitWarning)
        with pytest.raises(UnitWarning, match="2000 kPa"):
            units.pressure("2 MPa")


def test_lengths_lists():
    # One unit at the end applies to all; an entry may carry its own; bare numbers are mm.
    assert units.lengths("2,4,6 mm") == [2.0, 4.0, 6.0]
    assert units.lengths("2 mm, 0.4 cm") == pytest.approx([2.0, 4.0])
    assert units.lengths("3") == [3.0]
    with pytest.raises(ParameterError, match="lengths ''"):
        units.lengths("")
    with pytest.raises(ParameterError, match="2,4 kPa"):
        units.lengths("2,4 kPa")
