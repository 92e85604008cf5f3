"""Every parameter of the running nodes says what it is (`ros2 param describe`), and only those a node
reads again at each goal may be changed while it runs; a read-only one refuses `ros2 param set`
instead of being accepted and ignored. Over real DDS, through the nodes' parameter services."""

from __future__ import annotations

import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, ListParameters, SetParameters

from tests.ros_graph import RosTestClient, node_processes, unique_domain_id, wait_for

pytestmark = pytest.mark.ros
DOMAIN = unique_domain_id()
ROS_OWN = {"use_sim_time", "start_type_description_service"}  # declared by rclpy itself
CHANGED_PER_GOAL = {  # read again when each goal starts
    "training_server": {
        "default_wm_steps",
        "default_iterations",
        "finetune_profile",
        "finetune_eval_episodes",
        "finetune_seed",
        "finetune_eval_seed",
        "verdict_episodes",
        "verdict_judge_world_model",
        "verdict_judge_reward_model",
        "latency_check_periods",
    }
}


def call(client: RosTestClient, service_type, name: str, request):
    service = client.node.create_client(service_type, name)
    assert service.wait_for_service(timeout_sec=30), f"{name} never appeared"
    future = service.call_async(request)
    wait_for(future.done, 20, f"{name}'s answer")
    return future.result()


def test_every_parameter_has_a_description_and_is_read_only_unless_read_per_goal(tmp_path) -> None:
    specs = [
        ("diwa_robot", "command_arbiter", {}),
        ("diwa_calvin_bridge", "mock_robot", {}),
        ("diwa_robot", "robot_state", {}),
        ("diwa_policy_node", "policy_node", {}),
        ("diwa_play", "scripted_play", {}),
        ("diwa_play", "teleop", {"input": "joy"}),
        ("diwa_play", "recorder", {"output": str(tmp_path / "bag")}),
        ("diwa_training", "training_server", {"workdir": str(tmp_path / "work")}),
    ]
    with node_processes(specs, tmp_path, DOMAIN):
        client = RosTestClient(DOMAIN)
        try:
            for _package, node, _params in specs:
                names = call(client, ListParameters, f"/{node}/list_parameters", ListParameters.Request()).result.names
                ours = [n for n in names if n not in ROS_OWN and not n.startswith("qos_overrides.")]
                assert ours, f"{node} declares no parameters"
                described = call(
                    client, DescribeParameters, f"/{node}/describe_parameters", DescribeParameters.Request(names=ours)
                )
                for descriptor in described.descriptors:
                    assert descriptor.description.strip(), f"{node}.{descriptor.name} has no description"
                    per_goal = descriptor.name in CHANGED_PER_GOAL.get(node, set())
                    assert descriptor.read_only != per_goal, (
                        f"{node}.{descriptor.name}: read_only={descriptor.read_only}"
                    )
            refused = call(
                client,
                SetParameters,
                "/mock_robot/set_parameters",
                SetParameters.Request(
                    parameters=[
                        Parameter(
                            name="seed", value=ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=3)
                        )
                    ]
                ),
            )
            assert not refused.results[0].successful and "read-only" in refused.results[0].reason
        finally:
            client.close()
