import numpy as np
import pytest
from builtin_interfaces.msg import Time

from diwa_robot.image_conversion import image_msg_to_rgb, rgb_to_image_msg


def test_rgb_round_trip_and_header():
    rgb = np.random.default_rng(0).integers(0, 256, size=(84, 64, 3), dtype=np.uint8)
    msg = rgb_to_image_msg(rgb, Time(sec=3, nanosec=7), "gripper_camera")
    assert (msg.height, msg.width, msg.step, msg.encoding) == (84, 64, 192, "rgb8")
    assert msg.header.frame_id == "gripper_camera" and msg.header.stamp.sec == 3
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


def test_bgr_is_converted_and_row_padding_is_skipped():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    msg = rgb_to_image_msg(rgb, Time(), "cam")
    padded = np.zeros((2, 12), dtype=np.uint8)
    padded[:, :9] = rgb[..., ::-1].reshape(2, 9)
    msg.encoding, msg.step, msg.data = "bgr8", 12, padded.tobytes()
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


def test_bad_images_are_refused():
    with pytest.raises(ValueError, match="uint8"):
        rgb_to_image_msg(np.zeros((4, 4, 3), dtype=np.float32), Time(), "cam")
    msg = rgb_to_image_msg(np.zeros((4, 4, 3), dtype=np.uint8), Time(), "cam")
    msg.data = msg.data[:10]
    with pytest.raises(ValueError, match="too short"):
        image_msg_to_rgb(msg)
    msg.encoding = "mono16"
    with pytest.raises(ValueError, match="encoding"):
        image_msg_to_rgb(msg)
