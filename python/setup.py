"""setuptools glue: records where the package was installed from, so that an
installed (not editable) copy still finds that tree's build/libtilejit.so.
The binding itself is pure Python (ctypes); nothing is compiled here."""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BuildPy(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "tilejit", "_install_paths.py")
        with open(target, "w") as f:
            f.write("# Written by setup.py at install time.\n")
            f.write(f"SOURCE_ROOT = {SOURCE_ROOT!r}\n")


setup(cmdclass={"build_py": BuildPy})
