"""What every node that moves the robot shares: node running, the safety filter, the command
arbiter and e-stop, observation freshness, and the robot backends (mock robot, MoveIt Servo +
franka_gripper)."""
