"""Packaging, checked as text without ROS or a network: every dependency key of every src/*/package.xml
resolves with rosdep (a ROS package released for Jazzy, an upstream rosdep key, a key of the shipped
rosdep/diwa.yaml, or, for the Franka stack only, a package of the franka_ros2 source build);
diwa_bringup declares what its graphs and launch files start; and the Docker images follow
franka_ros2's own install steps and register the shipped rosdep YAML.

The upstream data below is a snapshot, read from the named files: a new key must be checked there and
added here (or defined in rosdep/diwa.yaml)."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from diwa.node_graph import read_launch_file

SRC = Path(__file__).resolve().parents[2]
ROOT = SRC.parent
BRINGUP = SRC / "diwa_bringup"
ROSDEP_YAML = ROOT / "rosdep" / "diwa.yaml"
ROBOT_DOCKERFILE = ROOT / "docker" / "robot.Dockerfile"
SIM_DOCKERFILE = ROOT / "docker" / "sim.Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"

# REP 149 condition of the dependencies that only the robot image has (it sets the variable).
FRANKA_CONDITION = "$DIWA_FRANKA_ROS2 == true"

# The ROS packages that package.xml files here name, each found released for Jazzy (a name under
# repositories.<repo>.release.packages, or the repository's own name) in ros/rosdistro
# jazzy/distribution.yaml at commit 59a60b43 (2026-08-22), read 2026-12-07 (launch_yaml: a package of
# the ros2/launch repository, whose release is the `launch` entry).
JAZZY_RELEASED = frozenset(
    {
        "action_msgs",
        "ament_cmake",
        "ament_index_python",
        "builtin_interfaces",
        "cv_bridge",
        "diagnostic_msgs",
        "geometry_msgs",
        "joy",
        "launch",
        "launch_ros",
        "launch_yaml",
        "moveit_configs_utils",
        "moveit_msgs",
        "moveit_py",
        "moveit_servo",
        "rcl_interfaces",
        "rclpy",
        "ros2launch",
        "rosidl_default_generators",
        "rosidl_default_runtime",
        "rviz2",
        "sensor_msgs",
        "std_msgs",
        "std_srvs",
        "tf2_msgs",
        "visualization_msgs",
        "xacro",
    }
)

# The keys of ros/rosdistro rosdep/base.yaml and rosdep/python.yaml (commit 8468e88c, 2026-08-22, read
# 2026-12-07) that package.xml files here use; each has an entry for Ubuntu noble.
ROSDEP_UPSTREAM_KEYS = frozenset(
    {
        "python3-gymnasium-pip",
        "python3-hypothesis",
        "python3-imageio",
        "python3-matplotlib",
        "python3-numpy",
        "python3-pybullet-pip",
        "python3-pytest",
        "python3-rosbags-pip",
        "python3-tensorboard-pip",
        "python3-tqdm",
        "python3-yaml",
    }
)

# Not released for Jazzy (absent from jazzy/distribution.yaml above): the packages of franka_ros2 v3.4.0
# (commit 29cb85a6) and franka_description 2.8.0 from its dependency.repos, which the robot image builds
# from source; rosdep --ignore-src finds them in AMENT_PREFIX_PATH there.
FRANKA_ROS2_SOURCE = frozenset(
    {
        "franka_bringup",
        "franka_description",
        "franka_example_controllers",
        "franka_fr3_moveit_config",
        "franka_gripper",
        "franka_hardware",
        "franka_msgs",
        "franka_robot_state_broadcaster",
        "franka_semantic_components",
    }
)

# Branch names of franka_ros2 (and usual moving branches): a pin must not be one of them.
MOVING_BRANCHES = {"jazzy", "jazzy-dev", "humble", "rolling", "main", "master", "develop"}

DEPEND_TAGS = (
    "depend",
    "build_depend",
    "buildtool_depend",
    "build_export_depend",
    "buildtool_export_depend",
    "exec_depend",
    "test_depend",
    "doc_depend",
)


def manifests() -> dict[str, ET.Element]:
    found = {}
    for path in sorted(SRC.glob("*/package.xml")):
        root = ET.parse(path).getroot()
        found[root.findtext("name")] = root
    return found


def dependencies(root: ET.Element) -> list[tuple[str, str, str | None]]:
    """(tag, key, condition) of every dependency element."""
    return [(tag, e.text.strip(), e.get("condition")) for tag in DEPEND_TAGS for e in root.findall(tag)]


def shipped_keys() -> dict:
    return yaml.safe_load(ROSDEP_YAML.read_text())


def dockerfile(path: Path) -> str:
    """The Dockerfile with its line continuations joined and comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    return re.sub(r"\\\n", " ", "\n".join(lines))


def run_commands(path: Path) -> list[str]:
    return [line[len("RUN ") :] for line in dockerfile(path).splitlines() if line.startswith("RUN ")]


def test_every_package_xml_is_format_3_and_parsed() -> None:
    found = manifests()
    assert set(found) == {p.parent.name for p in SRC.glob("*/package.xml")}
    assert all(root.get("format") == "3" for root in found.values())  # condition attributes need format 3


@pytest.mark.parametrize("package", sorted(manifests()))
def test_every_dependency_key_resolves(package: str) -> None:
    workspace = set(manifests())
    shipped = set(shipped_keys())
    unresolved = []
    for tag, key, condition in dependencies(manifests()[package]):
        if key in workspace or key in JAZZY_RELEASED or key in ROSDEP_UPSTREAM_KEYS or key in shipped:
            continue
        if key in FRANKA_ROS2_SOURCE and condition == FRANKA_CONDITION:
            continue
        unresolved.append(f"<{tag}>{key}")
    assert unresolved == [], f"{package}: keys that resolve nowhere (check rosdistro, or add to rosdep/diwa.yaml)"


def test_no_invented_pip_key() -> None:
    """A `-pip` key is either rosdistro's or defined in the shipped YAML."""
    shipped = set(shipped_keys())
    invented = [
        f"{package}: {key}"
        for package, root in manifests().items()
        for _, key, _ in dependencies(root)
        if key.endswith("-pip") and key not in shipped and key not in ROSDEP_UPSTREAM_KEYS
    ]
    assert invented == []


def test_the_shipped_keys_are_new_used_pip_installs_of_pinned_packages() -> None:
    keys = shipped_keys()
    used = {key for root in manifests().values() for _, key, _ in dependencies(root)}
    pinned = {
        line.split("==")[0].strip().lower()
        for line in (ROOT / "requirements" / "python.txt").read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    }
    pinned.add("torch")  # pinned in the Dockerfiles and scripts/setup.sh, not in requirements/python.txt
    assert keys and set(keys) <= used, "every key of rosdep/diwa.yaml is used by a package.xml"
    assert not set(keys) & (ROSDEP_UPSTREAM_KEYS | JAZZY_RELEASED), "a shipped key must not shadow an upstream one"
    for key, rule in keys.items():
        packages = rule["ubuntu"]["pip"]["packages"]
        # rosdep's pip installer runs an unpinned `pip install -U`; requirements/python.txt goes first.
        assert {p.lower() for p in packages} <= pinned, f"{key}: {packages} not pinned"


def test_conditional_dependencies_are_the_franka_stack_only() -> None:
    conditions = {c for root in manifests().values() for _, _, c in dependencies(root) if c is not None}
    assert conditions <= {FRANKA_CONDITION}
    assert "DIWA_FRANKA_ROS2=true" in dockerfile(ROBOT_DOCKERFILE)
    assert "DIWA_FRANKA_ROS2" not in dockerfile(SIM_DOCKERFILE)


def started_packages() -> dict[str, set[str]]:
    """Package -> where it is started: launch/*.launch.yaml nodes and included packages, launch/*.py
    Node(package=...), FindExecutable(name=...), and the model packages config/franka.yaml names for
    the Franka launch."""
    started: dict[str, set[str]] = {}
    for path in sorted((BRINGUP / "launch").glob("*.launch.yaml")):
        graph = read_launch_file(path)
        for node in graph.nodes:
            started.setdefault(node.package, set()).add(path.name)
        for include in graph.includes:
            package = re.fullmatch(r"\$\(find-pkg-share (\w+)\)/.*", include.file)
            assert package, f"{path.name} includes {include.file}: name it by $(find-pkg-share PACKAGE)"
            started.setdefault(package.group(1), set()).add(path.name)
    for launch in sorted((BRINGUP / "launch").glob("*.py")):
        for node in ast.walk(ast.parse(launch.read_text())):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                wanted = (keyword.arg, name) in (("package", "Node"), ("name", "FindExecutable"))
                if wanted and isinstance(keyword.value, ast.Constant):
                    started.setdefault(keyword.value.value, set()).add(launch.name)
    franka = yaml.safe_load((BRINGUP / "config" / "franka.yaml").read_text())["/**"]["ros__parameters"]["franka"]
    started.setdefault(franka["moveit_config_package"], set()).add("franka_moveit_servo.launch.py")
    for key in ("robot_description_xacro", "robot_description_semantic_xacro", "joint_limits_yaml"):
        started.setdefault(franka[key].split("/")[0], set()).add("franka_moveit_servo.launch.py")
    started.pop("diwa_bringup", None)
    return started


def test_bringup_declares_what_its_launch_files_start() -> None:
    started = started_packages()
    # The scan finds what the graphs and the Franka launch start.
    assert {"diwa_robot", "diwa_policy_node", "rviz2", "joy", "moveit_servo", "franka_fr3_moveit_config"} <= set(
        started
    )
    declared = {key: condition for _, key, condition in dependencies(manifests()["diwa_bringup"])}
    missing = {package: sorted(where) for package, where in started.items() if package not in declared}
    assert missing == {}
    # What only the Franka launch starts is conditional on the Franka stack; the rest is not.
    for package, where in started.items():
        franka_only = where == {"franka_moveit_servo.launch.py"}
        assert (declared[package] == FRANKA_CONDITION) == franka_only, package


def test_robot_image_follows_franka_ros2_install() -> None:
    text = dockerfile(ROBOT_DOCKERFILE)
    version = re.search(r"^ARG FRANKA_ROS2_VERSION=(\S+)$", text, re.M)
    commit = re.search(r"^ARG FRANKA_ROS2_COMMIT=([0-9a-f]{40})$", text, re.M)
    assert version and commit
    assert re.fullmatch(r"v\d+\.\d+\.\d+", version.group(1)) and version.group(1) not in MOVING_BRANCHES
    assert '--branch "${FRANKA_ROS2_VERSION}"' in text and "${FRANKA_ROS2_COMMIT}" in text
    # vcstool's flag (vcstool/commands/import_.py); `--skipexisting` is not one.
    imports = re.findall(r"vcs import [^&]*", text)
    assert imports and all("--skip-existing" in c.split() for c in imports)
    assert "--skipexisting" not in text
    # The keys franka_ros2 v3.4.0's README and Dockerfile skip, and nothing else anywhere.
    skips = [s.strip('"') for s in re.findall(r'--skip-keys[= ]("[^"]*"|\S+)', text)]
    assert skips == ["zed_wrapper"]
    assert "--skip-keys" not in dockerfile(SIM_DOCKERFILE)


@pytest.mark.parametrize("path", [ROBOT_DOCKERFILE, SIM_DOCKERFILE], ids=lambda p: p.name)
def test_images_register_the_shipped_rosdep_yaml(path: Path) -> None:
    commands = run_commands(path)
    text = dockerfile(path)
    registered = [
        i
        for i, c in enumerate(commands)
        if "yaml file:///ws/rosdep/diwa.yaml" in c and "/etc/ros/rosdep/sources.list.d/" in c
    ]
    assert registered, "rosdep/diwa.yaml is registered as a rosdep source"
    first = registered[0]
    assert "rosdep update" in commands[first].split("sources.list.d/", 1)[1], "then `rosdep update`"
    assert text.index("COPY rosdep/") < text.index("yaml file:///ws/rosdep/diwa.yaml")
    # The workspace's rosdep install (franka_ros2's own, with its skip key, may come earlier).
    workspace_installs = [i for i, c in enumerate(commands) if "rosdep install" in c and "--skip-keys" not in c]
    assert workspace_installs and min(workspace_installs) > first


@pytest.mark.parametrize("path", [ROBOT_DOCKERFILE, SIM_DOCKERFILE], ids=lambda p: p.name)
def test_pip_keeps_apt_numpy(path: Path) -> None:
    text = dockerfile(path)
    assert not re.search(r"pip3? install [^\n]*(-U|--upgrade)\b[^\n]*\bpip\b", text), "no pip upgrade"
    # The constraint is in place before the first pip install into the system Python.
    constraint = text.index("ENV PIP_CONSTRAINT=/etc/pip-constraints.txt")
    assert """'import numpy; print(f"numpy=={numpy.__version__}")' > /etc/pip-constraints.txt""" in text
    assert constraint < text.index("pip3 install")
    # requirements/python.txt pins numpy 2 for the virtualenvs: the images drop that line.
    for command in run_commands(path):
        if "requirements/python.txt" in command and "pip3 install -r" in command:
            assert 'grep -v -i -E "^(numpy|' in command
            assert "pip3 install -r requirements/python.txt" not in command
    assert "cv2.__file__.startswith('/usr/lib/python3/')" in text


def test_compose_rehearses_the_robot_image_against_franky_sim() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    sim, rehearsal = services["franky-sim"], services["rehearsal"]
    assert sim["image"] == services["robot"]["image"] == "diwa-ros:robot"
    assert sim["network_mode"] == services["robot"]["network_mode"] == "host"
    hostname = sim["command"][sim["command"].index("--hostname") + 1]
    assert rehearsal["extends"] == {"service": "robot"}
    assert f"robot_ip:={hostname}" in rehearsal["command"]
    assert "use_fake_hardware:=false" in rehearsal["command"]
    assert rehearsal["depends_on"]["franky-sim"]["condition"] == "service_healthy"
    assert sim["entrypoint"] == ["/opt/franky-sim/bin/franky-sim"]
    assert "python3 -m venv /opt/franky-sim" in dockerfile(ROBOT_DOCKERFILE)
