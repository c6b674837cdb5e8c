"""Quaternion conventions: [w, x, y, z], sensor to earth, ENU and NED."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sensekit.orientation import quaternion as quat


def random_quats(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return quat.normalize(q)


def test_matrix_rotate_and_product_agree() -> None:
    q, p = random_quats(50, 1), random_quats(50, 2)
    v = np.random.default_rng(3).normal(size=(50, 3))
    r = quat.to_matrix(q)
    np.testing.assert_allclose(np.einsum("nij,nkj->nik", r, r), np.broadcast_to(np.eye(3),
                               (50, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(quat.rotate(q, v), np.einsum("nij,nj->ni", r, v), atol=1e-12)
    np.testing.assert_allclose(quat.rotate(quat.multiply(q, p), v),
                               quat.rotate(q, quat.rotate(p, v)), atol=1e-12)
    np.testing.assert_allclose(quat.rotate_inverse(q, quat.rotate(q, v)), v, atol=1e-12)
    for i in range(5):
        np.testing.assert_allclose(quat.from_matrix(r[i]), quat.normalize(q[i]), atol=1e-12)


def test_a_turn_about_up_moves_east_to_north() -> None:
    q = quat.from_axis_angle([0, 0, 1], math.pi / 2)  # 90 degrees counter-clockwise, ENU
    np.testing.assert_allclose(quat.rotate(q, [1.0, 0, 0]), [0, 1.0, 0], atol=1e-12)
    roll, pitch, yaw = quat.euler_zyx(q)
    assert roll == pytest.approx(0) and pitch == pytest.approx(0)
    assert yaw == pytest.approx(math.pi / 2)
    # the sensor's x axis now points north: heading 0 (clockwise from north)
    assert float(quat.heading(q)) == pytest.approx(0.0, abs=1e-12)


def test_ned_is_enu_with_axes_swapped_and_z_down() -> None:
    q = random_quats(20, 4)
    v = np.random.default_rng(5).normal(size=(20, 3))
    enu = quat.rotate(q, v)
    ned = quat.rotate(quat.enu_to_ned(q), v)
    np.testing.assert_allclose(ned, enu[:, [1, 0, 2]] * [1, 1, -1], atol=1e-12)
    np.testing.assert_allclose(quat.heading(q, "enu"), quat.heading(quat.enu_to_ned(q), "ned"),
                               atol=1e-9)
    # NED yaw is the heading: sensor x north-east is 45 degrees
    level_ne = quat.enu_to_ned(quat.from_axis_angle([0, 0, 1], math.pi / 4))
    assert quat.euler_zyx(level_ne)[2] == pytest.approx(math.pi / 4)


def test_start_from_gravity_and_field() -> None:
    truth = random_quats(1, 6)[0]
    field_e = 44.0 * np.array([0.0, math.cos(1.2), -math.sin(1.2)])
    acc = quat.rotate_inverse(truth, [0, 0, 9.81])
    mag = quat.rotate_inverse(truth, field_e)
    got = quat.tilt_heading_quaternion(acc, mag)
    np.testing.assert_allclose(quat.rotate(got, [1.0, 2.0, 3.0]),
                               quat.rotate(truth, [1.0, 2.0, 3.0]), atol=1e-9)
    no_mag = quat.tilt_heading_quaternion(acc)
    np.testing.assert_allclose(quat.rotate_inverse(no_mag, [0, 0, 1.0]), acc / 9.81, atol=1e-9)
