"""Finding libtilejit.so: TILEJIT_LIBRARY, the tree's build/, an install."""
import os
import shutil
import subprocess
import sys

import pytest

import tilejit as tj
from tilejit import _lib

PYDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(PYDIR)


def run_python(code, env_extra, cwd, pythonpath):
    env = {k: v for k, v in os.environ.items() if k != "TILEJIT_LIBRARY"}
    env.update(env_extra)
    env["PYTHONPATH"] = pythonpath
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_version_matches_the_library():
    assert tj.version() == tj.__version__ and tj.version().count(".") == 2


def test_tilejit_library_is_used_as_given(tmp_path):
    r = run_python("import tilejit", {"TILEJIT_LIBRARY": str(tmp_path / "nope.so")}, str(tmp_path),
                   PYDIR)
    assert r.returncode != 0
    assert "TILEJIT_LIBRARY" in r.stderr and "nope.so" in r.stderr


def test_without_tilejit_library_the_trees_build_folder_comes_first(monkeypatch):
    monkeypatch.delenv("TILEJIT_LIBRARY", raising=False)
    c = _lib.candidates()
    assert c[0] == os.path.join(ROOT, "build", "libtilejit.so")
    assert "libtilejit.so" in c   # then the loader's own search


def test_the_library_found_is_the_one_loaded():
    assert os.path.basename(tj.library_path).startswith("libtilejit.so")


def test_pip_install_of_the_package_finds_the_build_folder(tmp_path):
    built = os.path.join(ROOT, "build", "libtilejit.so")
    if not os.path.exists(built):
        pytest.skip("no build/libtilejit.so in this tree (make build)")
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if pip.returncode != 0:
        pytest.skip("pip is not installed for this python")
    try:
        import setuptools
    except ImportError:
        pytest.skip("setuptools is not installed for this python")
    try:
        import wheel  # noqa: F401  (setuptools < 70.1 needs it for bdist_wheel)
    except ImportError:
        if tuple(int(x) for x in setuptools.__version__.split(".")[:2]) < (70, 1):
            pytest.skip("an offline install needs setuptools >= 70.1 or wheel")
    # A copy of python/, so that the install leaves no build output in the tree.
    src = tmp_path / "src" / "python"
    shutil.copytree(PYDIR, src, ignore=shutil.ignore_patterns("__pycache__", "build",
                                                              "*.egg-info"))
    # The copy's source root has no build/: point its record at the real tree.
    setup = (src / "setup.py").read_text().replace(
        "SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))",
        f"SOURCE_ROOT = {ROOT!r}")
    (src / "setup.py").write_text(setup)
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--no-build-isolation", "--no-index", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.skip(f"pip install failed here: {r.stderr[-500:]}")
    r = run_python("import tilejit; print(tilejit.library_path); "
                   "print(tilejit.recipe('softmax').name)", {}, str(tmp_path), str(target))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert os.path.realpath(lines[0]) == os.path.realpath(built)
    assert lines[1] == "softmax"
