"""The notebooks' install cell (issue #18, item 4): in Colab it pip-installs tf_munet from a
repository URL, an uploaded wheel or an uploaded checkout, and refuses a placeholder or a bad
source in one line. Each route runs here for real with pip, offline (--no-deps into a folder):
the URL is a git+file:// repository made from this checkout."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OFFLINE = ("--no-deps", "--no-build-isolation", "--no-index")


def _install_cell() -> dict:
    spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "notebooks" / "build_notebooks.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    namespace = {"INSTALL_FROM": None}
    exec(compile(builder.INSTALL, "install cell", "exec"), namespace)  # tf_munet is importable: no-op
    return namespace


def _checkout(folder: Path) -> Path:
    """What a user uploads: the package sources with setup.py."""
    folder.mkdir(parents=True)
    for name in ("setup.py", "README.md"):
        shutil.copy(REPO / name, folder / name)
    for package in ("tf_munet", "tf_munet_core"):
        shutil.copytree(REPO / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def _imports_from(target: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import tf_munet, tf_munet.presets; print(tf_munet.__file__)"],
                          env={**os.environ, "PYTHONPATH": str(target)}, capture_output=True, text=True,
                          cwd=target.parent, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith(str(target)), done.stdout


@pytest.mark.integration
def test_install_cell_routes(tmp_path):
    cell = _install_cell()
    install, requirement = cell["install"], cell["pip_requirement"]
    checkout = _checkout(tmp_path / "upload" / "tf_munet")
    # an uploaded checkout (found by itself when INSTALL_FROM is None)
    assert requirement(None, folder=str(tmp_path / "upload")) == str(checkout.resolve())
    install(str(checkout), *OFFLINE, "--target", str(tmp_path / "t1"))
    _imports_from(tmp_path / "t1")
    # a repository URL
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(checkout)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    assert install(f"file://{checkout}", *OFFLINE, "--target", str(tmp_path / "t2")).startswith("git+file://")
    _imports_from(tmp_path / "t2")
    # an uploaded wheel
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", *OFFLINE, "-w", str(wheels), str(checkout)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("tf_munet-*.whl")
    assert requirement(None, folder=str(wheels)) == str(wheel)
    install(str(wheel), *OFFLINE, "--target", str(tmp_path / "t3"))
    _imports_from(tmp_path / "t3")


def test_install_cell_refuses_placeholders_and_bad_sources_in_one_line(tmp_path):
    cell = _install_cell()
    cases = {
        "https://github.com/YOUR_ORG/tf_munet": "placeholder",
        str(tmp_path / "nothing here"): "not a repository URL, a wheel file or a folder with setup.py",
        None: "set INSTALL_FROM",
    }
    for source, words in cases.items():
        with pytest.raises(SystemExit, match=words):
            cell["pip_requirement"](source, folder=str(tmp_path))
    with pytest.raises(SystemExit, match="pip could not install git\\+file://") as failed:
        cell["install"](f"file://{tmp_path}/no-repo", *OFFLINE, "--target", str(tmp_path / "t"))
    assert "\n" not in str(failed.value)
