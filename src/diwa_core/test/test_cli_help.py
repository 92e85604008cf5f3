"""Every `diwa ... --help` renders: argparse expands `%` in help strings, so a stray one only
fails when a user asks for help."""

from __future__ import annotations

import argparse

from diwa.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, path: str = "diwa"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_help_renders() -> None:
    seen = []
    for path, parser in _parsers(build_parser()):
        assert parser.format_help(), path
        seen.append(path)
    assert "diwa report-seeds" in seen and "diwa data collect-play" in seen


def test_python_dash_m_diwa_is_the_diwa_command() -> None:
    import subprocess
    import sys

    from diwa import __version__

    done = subprocess.run([sys.executable, "-m", "diwa", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"diwa {__version__}"
