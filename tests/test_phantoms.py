"""The whole-heart phantom: its labels carry the promised defects, its truth is right.

Quick checks run at a fast sampling (160 x 160 x 120 voxels of 1.2 x 1.2 x
1.3 mm, the same heart in mm as the default 0.5 x 0.5 x 0.6 mm CT grid); the
full-size generation is marked slow.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from organfem.errors import ParameterError
from organfem.imaging.labels import MMWHS_1_7, label_components
from organfem.imaging.phantoms import (
    MMWHS_HEART,
    heart_phantom,
    truncated_ellipsoid_volume,
)

FAST = {"shape": (160, 160, 120), "spacing": (1.2, 1.2, 1.3)}
SPACING = np.array(FAST["spacing"])
DIAGONAL = float(np.linalg.norm(SPACING))  # a voxel's diagonal [mm]
OBLIQUE_DIRECTION = np.linalg.qr(np.array([[0.9, 0.3, 0.2], [-0.3, 0.95, 0.1], [0.1, 0.2, 1.0]]))[0]
# The MM-WHS codes renumbered 1-7 (the labels preset "mmwhs-1-7").
ONE_TO_SEVEN = dict(MMWHS_1_7)


@pytest.fixture(scope="module")
def heart():
    return heart_phantom(**FAST)


@pytest.fixture(scope="module")
def clean():
    """The same heart without any defect."""
    return heart_phantom(**FAST, gaps=False, thin_wall=False, noise=False)


def _mask(phantom, name):
    return phantom.image.array == phantom.labels[name]


def _contacts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Face-adjacent voxel pairs (index in ``a``, index in ``b``), each (n, 3)."""
    first, second = [], []
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        step = np.eye(3, dtype=int)[axis]
        for x, y, shift in ((a, b, step), (b, a, -step)):
            found = np.argwhere(x[tuple(lo)] & y[tuple(hi)])
            first.append(found if shift[axis] > 0 else found + step)
            second.append(found + step if shift[axis] > 0 else found)
    return np.concatenate(first), np.concatenate(second)


def _height(phantom, points: np.ndarray) -> np.ndarray:
    """Signed distance of LPS points from the true valve plane [mm] (atrial side > 0)."""
    return (points - phantom.valve_point) @ phantom.valve_normal


# The generator works in float32 LV-frame coordinates (~1e-5 mm at 100 mm); a
# voxel centre closer than this to the plane may fall on either side of it here.
ON_PLANE = 1e-4  # [mm]


def test_labels_present_with_their_values(heart):
    values = set(np.unique(heart.image.array).tolist())
    assert values == {0, *MMWHS_HEART.values()}
    assert dict(heart.labels) == dict(MMWHS_HEART)
    assert heart.image.array.dtype == np.uint16
    np.testing.assert_allclose(heart.image.spacing, SPACING)


@pytest.mark.parametrize("name", list(MMWHS_HEART))
def test_each_label_is_one_main_piece(heart, name):
    # Specks and a few voxels left alone by the ragged edges are tolerated:
    # the largest piece (face connectivity, the strictest) holds >= 99.9 %.
    count, sizes = label_components(_mask(heart, name), connectivity=6)
    assert sizes[0] >= 0.999 * sizes.sum(), (name, count, sizes[:5])
    if name == "lv_myocardium":
        assert count >= 1 + len(heart.specks)  # the specks are separate pieces


def test_truth_geometry_is_consistent(heart):
    for vector in (heart.valve_normal, heart.long_axis):
        assert np.linalg.norm(vector) == pytest.approx(1.0)
    # Oblique: the long axis is at least 45 deg from every image axis.
    cosines = np.abs(heart.image.direction.T @ heart.long_axis)
    assert np.all(np.degrees(np.arccos(cosines)) >= 45.0)
    # Apex to valve plane: epicardial half-length plus the base height.
    assert _height(heart, heart.apex[None])[0] == pytest.approx(-(72.0 + 20.0))
    assert _height(heart, heart.endocardial_apex[None])[0] == pytest.approx(-(65.0 + 20.0))
    for centre in (heart.mitral_centre, heart.aortic_centre):
        assert _height(heart, centre[None])[0] == pytest.approx(0.0, abs=1e-9)
    # The mitral and aortic discs lie inside the blood pool's base section
    # (radius 27 sqrt(1 - (20/65)^2) = 25.69 mm) and do not overlap.
    section = 27.0 * np.sqrt(1.0 - (20.0 / 65.0) ** 2)
    for centre, radius in ((heart.mitral_centre, heart.mitral_radius),
                           (heart.aortic_centre, heart.aortic_radius)):  # fmt: skip
        assert np.linalg.norm(centre - heart.valve_point) + radius < section
    apart = np.linalg.norm(heart.mitral_centre - heart.aortic_centre)
    assert apart > heart.mitral_radius + heart.aortic_radius


def _not_specks(phantom, points: np.ndarray) -> np.ndarray:
    """Which LPS points lie more than 2 mm from every speck (a speck has one or
    two voxels, the first at the declared centre, and nothing else within 4 mm)."""
    specks = np.array(phantom.specks)
    return np.min(np.linalg.norm(points[:, None] - specks[None], axis=2), axis=1) > 2.0


def test_valve_plane_separates_the_lv_from_the_atria_and_aorta(heart):
    image = heart.image
    for name in ("lv_myocardium", "lv_blood_pool", "la_blood_pool", "aorta"):
        points = image.index_to_physical(np.argwhere(_mask(heart, name)))
        heights = _height(heart, points)
        if name.startswith("lv_"):
            assert np.all(heights[_not_specks(heart, points)] <= ON_PLANE), name
        else:
            assert np.all(heights > -ON_PLANE), name


def test_truth_volumes_count_the_lv_labels_below_the_valve_plane(heart):
    image = heart.image
    for name, volume in (("lv_myocardium", heart.lv_myocardium_volume),
                         ("lv_blood_pool", heart.lv_blood_pool_volume)):  # fmt: skip
        points = image.index_to_physical(np.argwhere(_mask(heart, name)))
        kept = (_height(heart, points) <= ON_PLANE) & _not_specks(heart, points)
        assert np.count_nonzero(kept) * image.voxel_volume == pytest.approx(volume)


def _lateral_area(radius: float, half_length: float, cut: float) -> float:
    """Area of the curved surface of the truncated ellipsoid of revolution [mm^2]:
    int 2 pi rho sqrt(1 + rho'^2) dz = int 2 pi sqrt(rho^2 + (rho rho')^2) dz."""
    z = np.linspace(-half_length, cut, 20001)
    rho2 = radius**2 * (1.0 - (z / half_length) ** 2)
    integrand = 2 * np.pi * np.sqrt(np.maximum(rho2, 0) + (radius**2 * z / half_length**2) ** 2)
    return float(np.trapezoid(integrand, z))


def _sampling_tolerance(area: float) -> float:
    """Voxel-count error allowed for a body of surface ``area`` [mm^3].

    A voxel takes the label of its centre, so only voxels the surface cuts
    err, each by (1 if its centre is inside, else 0) minus the fraction of
    it inside, times the voxel volume v: a term in (-v, v).  On a smooth
    surface oblique to the grid the cut falls anywhere in the voxel, so the
    term has mean ~0 and standard deviation v / sqrt(12).  The surface cuts
    N = area * mean(|n_x| / (h_y h_z) + ...) <= sqrt(3) area / h^2 voxels
    (h the geometric-mean spacing, n the unit normal), and the sum of N such
    terms has standard deviation v sqrt(N / 12).  We allow 4 of them: for
    the blood pool here, 4 x 1.87 x sqrt(1.15e4) = 0.56 mL of 143.6 mL
    (0.4 %); the errors measured over random axes were up to a third of it.
    """
    v = float(np.prod(SPACING))
    h = v ** (1.0 / 3.0)
    return 4.0 * v * np.sqrt(np.sqrt(3.0) * area / h**2 / 12.0)


def test_defect_free_volumes_match_the_closed_forms(clean):
    (a, c), (a_epi, c_epi), base = clean.endo_radii, clean.epi_radii, clean.base
    blood = truncated_ellipsoid_volume(a, c, base)
    myo = truncated_ellipsoid_volume(a_epi, c_epi, base) - blood
    assert clean.lv_blood_pool_volume_exact == pytest.approx(blood)
    assert clean.lv_myocardium_volume_exact == pytest.approx(myo)
    assert 120e3 < blood < 160e3  # an adult end-diastolic volume [mm^3]
    disc = np.pi * a**2 * (1 - (base / c) ** 2)
    ring = np.pi * a_epi**2 * (1 - (base / c_epi) ** 2) - disc
    endo_area = _lateral_area(a, c, base)
    blood_area = endo_area + disc
    myo_area = endo_area + _lateral_area(a_epi, c_epi, base) + ring
    assert abs(clean.lv_blood_pool_volume - blood) <= _sampling_tolerance(blood_area)
    assert abs(clean.lv_myocardium_volume - myo) <= _sampling_tolerance(myo_area)


def test_gaps_move_wall_voxels_into_the_blood_pool(heart, clean):
    only_gaps = heart_phantom(**FAST, gaps=True, thin_wall=False, noise=False)
    moved = only_gaps.lv_blood_pool_volume - clean.lv_blood_pool_volume
    assert moved > 0
    assert clean.lv_myocardium_volume - only_gaps.lv_myocardium_volume == pytest.approx(moved)
    # Each hole is a cylinder of radius r through a wall <= 10 mm thick (+2 mm each end).
    bound = sum(np.pi * r**2 * 14.0 for _, r in only_gaps.gaps)
    assert moved < bound
    assert 5 <= len(heart.gaps) <= 8
    assert all(1.0 <= r <= 3.0 for _, r in heart.gaps)
    # Most gaps are near the apex (within 30 mm of it along the long axis).
    near_apex = [np.dot(c - heart.apex, heart.long_axis) < 30.0 for c, _ in heart.gaps]
    assert sum(near_apex) > len(heart.gaps) / 2


def test_blood_pool_touches_the_background_only_at_the_defects_and_the_base(heart):
    image = heart.image
    blood_index, empty_index = _contacts(_mask(heart, "lv_blood_pool"), image.array == 0)
    empty = image.index_to_physical(empty_index)
    blood = image.index_to_physical(blood_index)
    midpoints = (empty + blood) / 2.0
    # Around the valves: background voxels above the plane, the blood pool below.
    at_base = _height(heart, empty) > -ON_PLANE
    assert np.all(_height(heart, blood[at_base]) <= ON_PLANE)
    assert at_base.sum() > 0  # the unlabelled ring around the LA and aorta
    # Elsewhere every contact is at a declared gap (where its axis leaves the
    # epicardium) or on the zero-thickness patch (a disc on the endocardium).
    rest = midpoints[~at_base]
    near_gap = np.zeros(len(rest), dtype=bool)
    for centre, radius in heart.gaps:
        here = np.linalg.norm(rest - centre, axis=1) <= radius + DIAGONAL
        assert here.any(), f"no contact at the gap at {centre}"
        near_gap |= here
    centre, radius = heart.thin_wall
    on_patch = np.linalg.norm(rest - centre, axis=1) <= radius + DIAGONAL
    # The patch's open area is about pi r^2 = 113 mm^2, ~1.5 mm^2 per contact.
    assert on_patch.sum() > 20
    assert np.all(near_gap | on_patch)


def test_thin_ring_is_one_voxel_thick(heart):
    # Around the open patch, every myocardial voxel touches the blood pool.
    image = heart.image
    myo = _mask(heart, "lv_myocardium")
    index = np.argwhere(myo)
    points = image.index_to_physical(index)
    centre, radius = heart.thin_wall
    local = heart.local(points) - heart.local(centre[None])[0]
    normal = heart.local(centre[None])[0]  # the endocardial normal, in the LV frame
    a, c = heart.endo_radii
    normal = np.array([normal[0] / a**2, normal[1] / a**2, normal[2] / c**2])
    normal /= np.linalg.norm(normal)
    along = local @ normal
    perp = np.linalg.norm(local - along[:, None] * normal, axis=1)
    # The generator's ring: radius < perp <= radius + thin_ring, -3 <= along <= 15 mm
    # (0.1 mm inside it here, clear of rounding).
    ring = (perp > radius + 0.1) & (perp < radius + heart.thin_ring - 0.1)
    ring &= (along > -2.9) & (along < 14.9)
    assert ring.sum() > 10
    blood_index, _ = _contacts(myo, _mask(heart, "lv_blood_pool"))
    touching = {tuple(i) for i in blood_index}
    assert all(tuple(i) in touching for i in index[ring])


def test_la_and_aorta_touch_the_blood_pool_at_their_valves(heart):
    image = heart.image
    blood = _mask(heart, "lv_blood_pool")
    for name, centre, radius in (("la_blood_pool", heart.mitral_centre, heart.mitral_radius),
                                 ("aorta", heart.aortic_centre, heart.aortic_radius)):  # fmt: skip
        index, _ = _contacts(_mask(heart, name), blood)
        assert len(index) > 50, name
        points = image.index_to_physical(index)
        assert np.all(np.linalg.norm(points - centre, axis=1) <= radius + DIAGONAL), name
        assert np.all(np.abs(_height(heart, points)) <= DIAGONAL), name


def test_rv_wraps_the_septum_without_touching_the_blood_pool(heart):
    rv = _mask(heart, "rv_blood_pool")
    assert len(_contacts(rv, _mask(heart, "lv_myocardium"))[0]) > 100
    for other in ("lv_blood_pool", "aorta", "la_blood_pool"):
        assert len(_contacts(rv, _mask(heart, other))[0]) == 0, other
    # On the septal side: RV voxels have a negative lateral coordinate on average.
    points = heart.image.index_to_physical(np.argwhere(rv))
    assert heart.local(points)[:, 0].mean() < -10.0


def test_aorta_is_cut_inside_the_image(heart):
    image = heart.image
    aorta = _mask(heart, "aorta")
    for axis in range(3):
        assert not aorta.take([0, -1], axis=axis).any()
    centre, direction = heart.aorta_end
    assert np.linalg.norm(direction) == pytest.approx(1.0)
    index = image.physical_to_index(centre[None])[0]
    assert np.all(index * SPACING > 10.0)
    assert np.all((np.array(image.shape) - 1 - index) * SPACING > 10.0)
    # The end is flat: no aorta voxel beyond the end plane, some just before it.
    points = image.index_to_physical(np.argwhere(aorta))
    beyond = (points - centre) @ direction
    assert beyond.max() <= 0.0
    assert np.sum(beyond > -DIAGONAL) > 20


def test_uncut_aorta_runs_to_the_border():
    phantom = heart_phantom(**FAST, aorta_cut=False, gaps=False, thin_wall=False, noise=False)
    aorta = _mask(phantom, "aorta")
    assert phantom.aorta_end is None
    assert any(aorta.take([0, -1], axis=axis).any() for axis in range(3))
    assert label_components(aorta, connectivity=6)[0] == 1


def test_other_label_values_paint_the_same_heart(heart):
    phantom = heart_phantom(**FAST, labels=ONE_TO_SEVEN)
    assert phantom.image.array.dtype == np.uint8
    assert "pulmonary_artery" not in phantom.labels  # not painted
    remap = np.zeros(max(MMWHS_HEART.values()) + 1, dtype=np.uint8)
    for name, value in MMWHS_HEART.items():
        remap[value] = ONE_TO_SEVEN[name]
    np.testing.assert_array_equal(remap[heart.image.array], phantom.image.array)


def test_without_ra_and_with_an_oblique_grid():
    labels = {k: v for k, v in MMWHS_HEART.items() if k != "ra_blood_pool"}
    phantom = heart_phantom(**FAST, labels=labels, direction=OBLIQUE_DIRECTION,
                            origin=(10.0, -5.0, 3.0), axis=(0.2, -0.3, 1.0))  # fmt: skip
    assert set(np.unique(phantom.image.array).tolist()) == {0, *labels.values()}
    np.testing.assert_allclose(phantom.long_axis, np.array([0.2, -0.3, 1.0]) / np.sqrt(1.13))
    # The valve point sits on the axis, base + epicardial half-length above the apex.
    np.testing.assert_allclose(phantom.valve_point - phantom.apex, 92.0 * phantom.long_axis)


def test_bad_arguments_are_rejected():
    with pytest.raises(ParameterError, match="field of view"):
        heart_phantom((80, 80, 60), spacing=(1.2, 1.2, 1.3))
    with pytest.raises(ParameterError, match="aorta"):
        heart_phantom(**FAST, labels={"lv_myocardium": 1, "lv_blood_pool": 2,
                                      "la_blood_pool": 3, "rv_blood_pool": 4})  # fmt: skip
    with pytest.raises(ParameterError, match="axis"):
        heart_phantom(**FAST, axis=(0.0, 0.0, 0.0))


@pytest.mark.slow
def test_full_size_generation():
    start = time.perf_counter()
    phantom = heart_phantom()
    elapsed = time.perf_counter() - start
    print(f"heart_phantom at 512 x 512 x 250: {elapsed:.2f} s")  # reported, not asserted
    assert phantom.image.shape == (512, 512, 250)
    np.testing.assert_allclose(phantom.image.spacing, (0.5, 0.5, 0.6))
    assert phantom.image.array.dtype == np.uint16
    assert set(np.unique(phantom.image.array).tolist()) == {0, *MMWHS_HEART.values()}
    assert phantom.lv_blood_pool_volume == pytest.approx(
        phantom.lv_blood_pool_volume_exact, rel=0.02
    )
