"""The dependency direction docs/architecture.md draws, checked on every import statement of the
workspace: `diwa_core` imports no ROS, node packages import no other node package (only the shared
`diwa_robot`), and nothing that runs or evaluates a deployed policy imports `diwa.rl`."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2]
NODE_PACKAGES = ("diwa_calvin_bridge", "diwa_policy_node", "diwa_play", "diwa_training")
ROS_PACKAGES = ("diwa_robot", "diwa_bringup", *NODE_PACKAGES)


def imports(package_dir: Path) -> dict[Path, set[str]]:
    """Every module each file imports, as dotted names (function-level imports included)."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        if "test" in path.relative_to(package_dir).parts:
            continue
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[path] = names
    return found


def offending(package_dir: Path, forbidden) -> list[str]:
    return [
        f"{path.relative_to(SRC)}: {name}"
        for path, names in imports(package_dir).items()
        for name in names
        if forbidden(name)
    ]


def test_the_core_imports_no_ros() -> None:
    def ros(name: str) -> bool:
        top = name.split(".")[0]
        return top in ("rclpy", "rosidl_runtime_py", "ament_index_python", *ROS_PACKAGES) or top.endswith("_msgs")

    assert offending(SRC / "diwa_core" / "diwa", ros) == []


@pytest.mark.parametrize("package", ["diwa_robot", *NODE_PACKAGES])
def test_a_node_package_imports_no_other_node_package(package: str) -> None:
    others = {p for p in NODE_PACKAGES if p != package}
    assert offending(SRC / package / package, lambda name: name.split(".")[0] in others) == []


@pytest.mark.parametrize(
    "part",
    ["diwa_core/diwa/eval", "diwa_core/diwa/policy", "diwa_robot/diwa_robot", "diwa_policy_node/diwa_policy_node"],
)
def test_deployment_and_evaluation_do_not_depend_on_rl(part: str) -> None:
    assert offending(SRC / part, lambda name: name == "diwa.rl" or name.startswith("diwa.rl.")) == []
