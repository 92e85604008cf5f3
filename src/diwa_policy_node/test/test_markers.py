import numpy as np
from builtin_interfaces.msg import Time
from visualization_msgs.msg import Marker

from diwa_policy_node.markers import chunk_markers, predicted_tcp_path


def test_path_accumulates_calvin_steps_from_the_tcp():
    chunk = np.array([[1, 0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0, 1], [0, 0, -0.5, 0, 0, 0, -1], [5, 0, 0, 0, 0, 0, -1]])
    path = predicted_tcp_path(np.array([0.1, 0.2, 0.5]), chunk)
    np.testing.assert_allclose(path[:, 0], [0.1, 0.12, 0.14, 0.14, 0.16])  # the 5 is clipped to one full step
    np.testing.assert_allclose(path[-1, 2], 0.49)


def test_markers_clear_then_draw_line_and_gripper_coloured_spheres():
    chunk = np.zeros((4, 7))
    chunk[:2, 6], chunk[2:, 6] = 1.0, -1.0
    markers = chunk_markers(np.zeros(3), chunk, "world", Time()).markers
    assert markers[0].action == Marker.DELETEALL
    assert markers[1].type == Marker.LINE_STRIP and len(markers[1].points) == 5
    spheres = markers[2:]
    assert [m.color.g > m.color.r for m in spheres] == [True, True, False, False]
