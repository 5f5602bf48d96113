"""The wheel carries notebooks/, parameters/ and data/ as package data (qrbench/_bundled/<name>/).

They stay at the top of the repository, where people browse and edit them; this build step copies them
into the package when a wheel (or sdist-built wheel) is made, and `qrbench.resources.bundled` finds them
there, or beside the package in a checkout. Everything else about the build is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLED = ("notebooks", "parameters", "data")


class BuildPyWithBundled(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders directly
            return
        target = Path(self.build_lib) / "qrbench" / "_bundled"
        for name in BUNDLED:
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(HERE / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithBundled})
