"""Camera geometry as ROS sees it: the optical frames and focal length that the mock robot's TF and
CameraInfo publish project points to the pixels PyBullet renders them at."""

import numpy as np
import pybullet as p
import pytest
from diwa.sim.cameras import FAR, NEAR, GripperCamera, StaticCamera, focal_length_px, optical_frame


def pybullet_pixel(view: list[float], fov: float, size: int, point: np.ndarray) -> np.ndarray:
    """Where PyBullet's view and projection matrices put `point`, in ROS pixel coordinates (the
    centre of pixel (0, 0) at (0, 0))."""
    projection = np.asarray(p.computeProjectionMatrixFOV(fov, 1.0, NEAR, FAR)).reshape(4, 4).T
    clip = projection @ np.asarray(view).reshape(4, 4).T @ np.append(point, 1.0)
    ndc = clip[:3] / clip[3]
    return np.array([(ndc[0] + 1) / 2 * size - 0.5, (1 - ndc[1]) / 2 * size - 0.5])


def ros_pixel(position: np.ndarray, rotation: np.ndarray, fov: float, size: int, point: np.ndarray) -> np.ndarray:
    """The pinhole projection of CameraInfo's K in the optical frame (position, rotation)."""
    x, y, z = rotation.T @ (point - position)
    f, c = focal_length_px(size, fov), (size - 1) / 2
    return np.array([f * x / z + c, f * y / z + c])


@pytest.mark.parametrize("size", [64, 200])
def test_the_static_cameras_optical_frame_and_focal_length_match_the_render(size):
    position, rotation = optical_frame(StaticCamera.EYE, StaticCamera.TARGET, (0.0, 0.0, 1.0))
    view = p.computeViewMatrix(StaticCamera.EYE, StaticCamera.TARGET, (0.0, 0.0, 1.0))
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    for point in np.random.default_rng(0).uniform([-0.3, -0.3, 0.4], [0.3, 0.2, 0.8], size=(20, 3)):
        np.testing.assert_allclose(
            ros_pixel(position, rotation, StaticCamera.FOV, size, point),
            pybullet_pixel(view, StaticCamera.FOV, size, point),
            atol=1e-3,  # PyBullet's matrices are float32
        )


def test_the_wrist_cameras_mount_in_the_tcp_frame_is_the_one_it_renders_from():
    rng = np.random.default_rng(1)
    for _ in range(5):
        tcp = np.array([0.0, 0.0, 0.6]) + rng.uniform(-0.3, 0.3, 3)
        quat = p.getQuaternionFromEuler(rng.uniform(-np.pi, np.pi, 3).tolist())
        tcp_rotation = np.asarray(p.getMatrixFromQuaternion(quat)).reshape(3, 3)
        forward = tcp_rotation[:, 2]
        view = GripperCamera.view_matrix(tcp, quat)  # what render uses
        mount_position, mount_rotation = optical_frame(
            GripperCamera.EYE_IN_TCP, GripperCamera.TARGET_IN_TCP, GripperCamera.UP_IN_TCP
        )
        position, rotation = tcp + tcp_rotation @ mount_position, tcp_rotation @ mount_rotation
        for point in tcp + 0.15 * forward + rng.normal(scale=0.03, size=(10, 3)):
            np.testing.assert_allclose(
                ros_pixel(position, rotation, GripperCamera.FOV, 84, point),
                pybullet_pixel(view, GripperCamera.FOV, 84, point),
                atol=1e-3,  # PyBullet's matrices are float32
            )
