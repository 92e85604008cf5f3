"""Point the ROS wheels' CMake export files at this virtualenv.

The ros-jazzy-* wheels were built on a manylinux image, and their exported CMake targets name that
image's Python include and site-packages directories. CMake rejects targets whose include paths do
not exist, so building our interface package fails until those paths name this interpreter's own.
Idempotent: files already rewritten are left alone.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

BUILD_PREFIX = re.compile(r"/opt/python/cp3\d+-cp3\d+")


def main(venv: Path) -> int:
    include = sysconfig.get_paths()["include"]
    purelib = sysconfig.get_paths()["purelib"]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    replacements = (
        (re.compile(BUILD_PREFIX.pattern + rf"/include/{version}"), include),
        (re.compile(BUILD_PREFIX.pattern + rf"/lib/{version}/site-packages"), purelib),
    )
    changed = 0
    for path in (venv / "share").rglob("*.cmake"):
        text = path.read_text()
        if "/opt/python/" not in text:
            continue
        new = text
        for pattern, target in replacements:
            new = pattern.sub(target, new)
        if "/opt/python/" in new:
            raise SystemExit(
                f"{path}: unexpected build path left after rewriting: fix scripts/fix_wheel_cmake_paths.py"
            )
        path.write_text(new)
        changed += 1
    print(f"rewrote build-machine paths in {changed} CMake files" if changed else "CMake files already point here")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: fix_wheel_cmake_paths.py VENV")
    sys.exit(main(Path(sys.argv[1])))
