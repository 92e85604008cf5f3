import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from diwa.graph_runner import node_command, parse_assignments, run_graph
from diwa.node_graph import LaunchFileError, Substitutions, load_launch_file, parse_launch_file


@pytest.fixture
def fake_prefix(tmp_path, monkeypatch):
    """An ament prefix with a diwa_bringup share and two tiny executables standing in for nodes."""
    share = tmp_path / "share" / "diwa_bringup"
    (share / "launch").mkdir(parents=True)
    (share / "config").mkdir()
    (tmp_path / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    for pkg in ("diwa_bringup", "demo"):
        (tmp_path / "share" / "ament_index" / "resource_index" / "packages" / pkg).touch()
    (share / "config" / "params.yaml").write_text("x:\n  ros__parameters: {a: 1}\n")
    bin_dir = tmp_path / "lib" / "demo"
    bin_dir.mkdir(parents=True)
    scripts = {
        "sleeper": "import time\ntime.sleep(60)\n",
        "finisher": "import sys, time\ntime.sleep(0.3)\nopen(sys.argv[1], 'w').write(' '.join(sys.argv))\n",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{body}")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path) + os.pathsep + os.environ.get("AMENT_PREFIX_PATH", ""))
    return share


def write_launch(share: Path, name: str, text: str) -> None:
    (share / "launch" / f"{name}.launch.yaml").write_text(textwrap.dedent(text))


def parse(text: str):
    return parse_launch_file("g", yaml.safe_load(textwrap.dedent(text)))


def test_substitutions_follow_launch():
    sub = Substitutions({"robot": "sim", "rviz": "True", "n": "1.0"}, find_share=lambda pkg: Path("/share") / pkg)
    assert sub("$(find-pkg-share demo)/config/$(var robot).yaml") == "/share/demo/config/sim.yaml"
    assert sub("$(equals $(var robot) sim)") == "true" and sub("$(not-equals $(var robot) sim)") == "false"
    assert sub("$(equals $(var rviz) 1)") == "true", "booleans compare by value, as EqualsSubstitution does"
    assert sub("$(equals $(var n) 1)") == "true", "numbers compare by value"
    assert sub("$(and $(var rviz) $(not-equals $(var robot) franka))") == "true"
    assert sub("$(or false $(not $(var rviz)))") == "false"
    assert sub("$(equals 'a b' 'a b')") == "true" and sub("-d '$(var robot) x'") == "-d 'sim x'"
    assert sub.condition("$(equals $(var robot) sim)") and not sub.condition("0")
    for bad, message in (
        ("$(var colour)", "no such argument"),
        ("$(env HOME)", "not one diwa launch knows"),
        ("$(equals a)", "takes 2 argument"),
        ("$(and sim true)", "not a boolean"),
        ("$(var robot", "unclosed"),
    ):
        with pytest.raises(LaunchFileError, match=message):
            sub(bad)
    with pytest.raises(LaunchFileError, match="not a boolean"):
        sub.condition("$(var robot)")


def test_arguments_defaults_choices_and_conditions():
    graph = parse(
        """
        launch:
        - arg: {name: robot, default: sim, choice: [{value: sim}, {value: franka}]}
        - arg: {name: bag}
        - arg: {name: out, default: "/data/$(var robot)"}
        - node: {pkg: p, exec: a, name: a, if: $(equals $(var robot) sim)}
        - node: {pkg: p, exec: b, name: b, unless: $(equals $(var robot) sim)}
        """
    )
    with pytest.raises(LaunchFileError, match="needs bag:=VALUE"):
        graph.resolve_arguments({})
    with pytest.raises(LaunchFileError, match="not one of"):
        graph.resolve_arguments({"bag": "x", "robot": "ur5"})
    with pytest.raises(LaunchFileError, match="no argument"):
        graph.resolve_arguments({"bag": "x", "colour": "red"})
    values = graph.resolve_arguments({"bag": "x"})
    assert values["out"] == "/data/sim", "a default may use an earlier argument"
    assert [n.name for n in graph.active_nodes(values)] == ["a"]
    assert [n.name for n in graph.active_nodes({**values, "robot": "franka"})] == ["b"]


def test_what_the_interpreter_cannot_run_is_refused_by_name():
    for text, message in (
        ("launch:\n- group: {}\n", "`group` is not supported"),
        ("launch:\n- node: {pkg: p, exec: a, name: a, respawn: 'true'}\n", r"\['respawn'\] are not supported"),
        ("launch:\n- node: {pkg: p, exec: a}\n", "needs `name`"),
        ("launch:\n- node: {pkg: p, exec: a, name: a, on_exit: restart}\n", "on_exit must be `shutdown`"),
        ("launch:\n- node: {pkg: p, exec: a, name: a, param: [{value: 1}]}\n", "either `from`"),
        ("launch:\n- node: {pkg: p, exec: a, name: a, if: 'true', unless: 'false'}\n", "cannot both"),
        ("launch:\n- arg: {name: a}\n- arg: {name: a}\n", "declared twice"),
        ("nodes: []\n", "one mapping `launch:`"),
        ("launch:\n- {node: {}, arg: {}}\n", "one-key mapping"),
    ):
        with pytest.raises(LaunchFileError, match=message):
            parse(text)


def test_node_command_matches_launch_ros(fake_prefix):
    write_launch(
        fake_prefix,
        "g",
        """
        launch:
        - arg: {name: out, default: /tmp/o}
        - arg: {name: namespace, default: ""}
        - node:
            pkg: demo
            exec: finisher
            name: fin
            namespace: $(var namespace)
            args: $(var out) --flag
            ros_args: --log-level debug
            param:
            - {from: $(find-pkg-share diwa_bringup)/config/params.yaml}
            - {name: path, value: $(var out)}
            remap: [{from: /a, to: /b}]
        """,
    )
    graph = load_launch_file("g")
    node = graph.active_nodes(graph.resolve_arguments({}))[0]
    command = node_command(node)
    assert command[0].endswith("lib/demo/finisher") and command[1:3] == ["/tmp/o", "--flag"]
    assert command[3:8] == ["--ros-args", "--log-level", "debug", "-r", "__node:=fin"]
    assert command[8:] == [
        "--params-file",
        str(fake_prefix / "config" / "params.yaml"),
        "-p",
        'path:="/tmp/o"',
        "-r",
        "/a:=/b",
    ]
    spaced = graph.active_nodes(graph.resolve_arguments({"namespace": "cell_2/"}))[0]
    assert node_command(spaced)[6:10] == ["-r", "__node:=fin", "-r", "__ns:=/cell_2"]


def test_parameters_are_typed_as_launch_ros_types_them(fake_prefix):
    # launch_ros (evaluate_parameters.py): a literal string stays a string, a substituted one is read as
    # YAML. `autostart: "true"` once gave the recorder a string under `ros2 launch` and a boolean
    # under `diwa launch` (docs/results/launch_yaml_check).
    text = """
        launch:
        - arg: {name: flag, default: "true"}
        - arg: {name: empty, default: ""}
        - arg: {name: rate, default: "30"}
        - node:
            pkg: demo
            exec: sleeper
            name: s
            param:
            - {name: literal_text, value: "true"}
            - {name: literal_bool, value: true}
            - {name: literal_number, value: 0.5}
            - {name: substituted_bool, value: $(var flag)}
            - {name: substituted_int, value: $(var rate)}
            - {name: substituted_text, value: "rate $(var rate)"}
            - {name: substituted_empty, value: $(var empty)}
        """
    graph = parse_launch_file("t", yaml.safe_load(textwrap.dedent(text)))
    node = graph.active_nodes(graph.resolve_arguments({}), find_share=lambda pkg: Path("/share") / pkg)[0]
    assert dict(node.parameters) == {
        "literal_text": "true",
        "literal_bool": True,
        "literal_number": 0.5,
        "substituted_bool": True,
        "substituted_int": 30,
        "substituted_text": "rate 30",
        "substituted_empty": "",
    }
    assert [type(v) for _, v in node.parameters] == [str, bool, float, bool, int, str, str]
    command = node_command(node)
    flags = command[command.index("-p") + 1 :: 2]
    assert flags == [
        'literal_text:="true"',
        "literal_bool:=true",
        "literal_number:=0.5",
        "substituted_bool:=true",
        "substituted_int:=30",
        'substituted_text:="rate 30"',
        'substituted_empty:=""',
    ]
    with pytest.raises(LaunchFileError, match="expected a string, got True"):
        parse_launch_file("t", yaml.safe_load("launch:\n- arg: {name: a, default: true}\n"))
    with pytest.raises(LaunchFileError, match="takes no lists"):
        parse_launch_file(
            "t", yaml.safe_load("launch:\n- node: {pkg: p, exec: e, name: n, param: [{name: a, value: [1, 2]}]}\n")
        )


def test_a_missing_parameter_file_is_named(fake_prefix):
    write_launch(
        fake_prefix, "g", "launch:\n- node: {pkg: demo, exec: sleeper, name: s, param: [{from: /nowhere.yaml}]}\n"
    )
    graph = load_launch_file("g")
    with pytest.raises(FileNotFoundError, match="/nowhere.yaml of node 's'"):
        run_graph(graph, {})


def test_graph_ends_when_the_shutdown_node_exits_and_stops_the_others(fake_prefix, tmp_path):
    marker = tmp_path / "done.txt"
    write_launch(
        fake_prefix,
        "g",
        f"""
        launch:
        - node: {{pkg: demo, exec: sleeper, name: sleeper}}
        - node: {{pkg: demo, exec: finisher, name: fin, args: "{marker}", on_exit: shutdown}}
        """,
    )
    assert run_graph(load_launch_file("g"), {}) == 0
    assert marker.read_text().startswith(str(fake_prefix.parent.parent / "lib" / "demo" / "finisher"))


def test_includes_need_ros2_launch(fake_prefix):
    write_launch(
        fake_prefix,
        "g",
        """
        launch:
        - arg: {name: robot, default: franka}
        - node: {pkg: demo, exec: sleeper, name: s}
        - include:
            file: $(find-pkg-share diwa_bringup)/launch/franka.launch.py
            if: $(equals $(var robot) franka)
            arg: [{name: robot_ip, value: 1.2.3.4}]
        """,
    )
    graph = load_launch_file("g")
    [include] = graph.active_includes(graph.resolve_arguments({}))
    assert include.file == str(fake_prefix / "launch" / "franka.launch.py") and include.arguments == {
        "robot_ip": "1.2.3.4"
    }
    assert graph.active_includes(graph.resolve_arguments({"robot": "sim"})) == []
    with pytest.raises(LaunchFileError, match="ros2 launch"):
        run_graph(graph, {})


def test_bad_inputs_are_clear(fake_prefix):
    write_launch(fake_prefix, "sim", "launch:\n- node: {pkg: demo, exec: sleeper, name: s}\n")
    with pytest.raises(FileNotFoundError, match="no launch file nope.launch.yaml in diwa_bringup; available: sim"):
        load_launch_file("nope")
    assert load_launch_file("sim.launch.yaml").name == "sim"
    (fake_prefix / "launch" / "broken.launch.yaml").write_text("launch: [node: {pkg: a\n")
    with pytest.raises(LaunchFileError, match="not valid YAML"):
        load_launch_file("broken")
    with pytest.raises(LaunchFileError, match="NAME:=VALUE"):
        parse_assignments(["robot=sim"])
