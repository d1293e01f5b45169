"""Quiet logs (issue #18, item 3): commands and their worker processes print no TensorFlow
banner or C++ log lines, and export no TF-Lite converter chatter; --debug keeps them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# as a user's shell has it: no TF_CPP_MIN_LOG_LEVEL of the test session's
ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
ENV.update(PYTHONPATH=str(REPO), CUDA_VISIBLE_DEVICES="")
NOISE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|fully_quantize|XNNPACK|rebuild TensorFlow",
                   re.MULTILINE)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], env=ENV, capture_output=True, text=True,
                          timeout=600, cwd=REPO)


@pytest.mark.integration
def test_commands_and_workers_print_no_tensorflow_noise(synthetic_musdb, tmp_path):
    proc = _run("tf_munet.prepare", "--root", str(synthetic_musdb), "--preset", "tiny", "--out",
                str(tmp_path / "cache"), "--workers", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not NOISE.search(proc.stderr), proc.stderr
    proc = _run("tf_munet.models", "--preset", "tiny")
    assert proc.returncode == 0 and "munet" in proc.stdout, proc.stderr[-2000:]
    assert proc.stderr == "", proc.stderr
    debug = _run("tf_munet.models", "--preset", "tiny", "--debug")
    assert NOISE.search(debug.stderr), debug.stderr  # what is hidden is there under --debug


@pytest.mark.integration
def test_export_prints_its_steps_only(tiny_run, tmp_path):
    proc = _run("tf_munet.export", str(tiny_run), "--out", str(tmp_path / "e"), "--formats",
                "tflite", "--quantize", "none,int8", "--inputs", "spectrogram",
                "--excerpt-chunks", "2", "--calibration", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("validation excerpt (2 chunks of "), lines
    assert lines[1:] == ["TF-Lite spectrogram-float32", "TF-Lite spectrogram-int8"]


def test_every_command_documents_debug_and_models_help_needs_no_tensorflow(capsys):
    """--debug is in every command's help; `python -m tf_munet.models --help` imports no
    TensorFlow and its bad input is one line."""
    for module in ("train", "separate", "evaluate", "export", "prepare", "synthetic", "hub", "models"):
        helped = _run(f"tf_munet.{module}", "--help")
        assert helped.returncode == 0 and "--debug" in helped.stdout, module
    code = ("import runpy, sys; sys.argv = ['models', '--help']\n"
            "try:\n    runpy.run_module('tf_munet.models', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules, 'TF imported'")
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--sources" in done.stdout and "4stems" in done.stdout, done.stderr
    from tf_munet.cli.models import main

    assert main(["--preset", "tiny", "--sources", "vocals,flute"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --sources vocals,flute") and err.count("\n") == 1
