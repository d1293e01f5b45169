"""What every command shares (issue 32): a usage mistake is one line plus "see --help" and exit
status 2; names are typed in any case and typos get "did you mean ...?"; libraries' warnings stay
hidden unless --debug; progress outside a terminal is one line per item, never a carriage-return
redraw; a missing optional extra is one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

from tf_munet_core.cli import CommandParser, choices, cli_main
from tf_munet_core.errors import Notice, UserError
from tf_munet_core.names import resolve_name

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _usage_error(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and err.rstrip().endswith("--help"), err
    return err


def test_usage_mistakes_are_one_line_in_every_command(tmp_path, capsys):
    from tf_munet.cli.evaluate import main as evaluate
    from tf_munet.cli.export import main as export
    from tf_munet.cli.hub import main as hub
    from tf_munet.cli.models import main as models
    from tf_munet.cli.prepare import main as prepare
    from tf_munet.cli.separate import main as separate
    from tf_munet.cli.synthetic import main as synthetic
    from tf_munet.cli.train import main as train
    from tf_munet_core.edge import main as edge

    err = _usage_error(separate, ["RUN", "song.wav", "--bogus"], capsys)
    assert "unrecognized arguments: --bogus" in err and "python -m tf_munet.separate --help" in err
    _usage_error(edge, ["EXPORT", "song.wav", "--overlap", "much"], capsys)
    _usage_error(separate, [], capsys)  # missing arguments
    for main, argv in ((train, ["--epochs"]), (evaluate, ["RUN", "--subset", "dev"]),
                       (export, ["RUN"]), (hub, ["spleeter:2stems"]), (models, ["--preset"]),
                       (prepare, ["--out", "x"]), (synthetic, ["--style", "sung", "--out", "x"])):
        _usage_error(main, argv, capsys)


@pytest.mark.integration
def test_a_mistyped_option_prints_at_most_two_lines(tmp_path):
    """As a user runs it (the console script's module, a separate process)."""
    done = subprocess.run([sys.executable, "-m", "tf_munet.separate", "RUN", "song.wav", "--bogus"],
                          capture_output=True, text=True, env=ENV, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.splitlines()) <= 2, done.stderr
    assert "--bogus" in done.stderr and "--help" in done.stderr and not done.stdout


def test_names_in_any_case_and_did_you_mean(capsys):
    from tf_munet.presets import get_preset, resolve_sources
    from tf_munet.training.options import parse_options

    assert resolve_name("CUNET", ("tiny", "cunet"), "preset") == "cunet"
    with pytest.raises(UserError, match=r"'cunte' is not a known preset; did you mean 'cunet'\?"):
        resolve_name("cunte", ("tiny", "cunet"), "preset")
    with pytest.raises(UserError, match=r"known: tiny, cunet\)$"):  # nothing close: no guess
        resolve_name("zzz", ("tiny", "cunet"), "preset")
    options = parse_options(["--preset", "Cunet", "--model", "MUNET", "--weighting", "EBW-P1"])
    assert (options.preset, options.model, options.weighting) == ("cunet", "munet", "ebw-p1")
    assert get_preset("Spleeter-16KHZ").name == "spleeter-16kHz"
    assert resolve_sources("Vocals,DRUMS") == ("vocals", "drums") and resolve_sources("4STEMS")[0] == "vocals"
    for argv, guess in ((["--preset", "cunte"], "'cunet'"), (["--model", "mnet"], "'munet'"),
                        (["--weighting", "dwaa"], "'dwa'")):
        with pytest.raises(SystemExit):
            parse_options(argv)
        err = capsys.readouterr().err
        assert f"did you mean {guess}" in err and len(err.splitlines()) == 1, err
    with pytest.raises(UserError, match="did you mean 'vocals'"):
        resolve_sources("vocal,drums")
    from tf_munet.hub.spleeter import spleeter_model

    assert spleeter_model("Spleeter:4STEMS-16khz").name == "4stems-16kHz"
    with pytest.raises(UserError, match="unknown model; did you mean '4stems'"):
        spleeter_model("spleeter:4stem")
    parser = CommandParser(prog="p")
    parser.add_argument("--format", **choices(("wav", "flac", "mp3"), "format"))
    assert parser.parse_args(["--format", "MP3"]).format == "mp3"


def test_stems_are_named_in_any_case_with_a_suggestion():
    from tf_munet_core.config import AudioConfig
    from tf_munet_core.separator import MaskSeparator

    sep = MaskSeparator(AudioConfig(8192, 1, 256, 64, 128, 64), ("vocals", "drums", "bass", "other"), exhaustive=True)
    assert sep.stem_indices(("Bass", "VOCALS")) == [2, 0]
    with pytest.raises(UserError, match=r"--stems drum: not separated by this model; did you mean 'drums'\?"):
        sep.stem_indices(("drum",))


def test_library_warnings_are_hidden_unless_debug(monkeypatch):
    """Our own warnings (`Notice`) go through; a library's (here a FutureWarning as mir_eval's
    deprecations) only with --debug."""
    monkeypatch.setenv("TF_MUNET_DEBUG", "0")  # --debug sets both: restored after the test
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")

    @cli_main
    def command(argv):
        warnings.warn("old API\n\tDeprecated as of version 0.8.", FutureWarning, stacklevel=1)
        warnings.warn("skipping bad track: x.wav", Notice, stacklevel=1)
        return 0

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert command([]) == 0
    assert [(w.category, str(w.message)) for w in caught] == [(Notice, "skipping bad track: x.wav")]
    with pytest.warns(FutureWarning, match="old API"):
        assert command(["--debug"]) == 0
    assert os.environ["TF_MUNET_DEBUG"] == "0"  # --debug lasts as long as the command


@pytest.mark.integration
def test_warnings_print_as_one_line(tmp_path):
    """As a command prints them (a separate process, no pytest capture): ours one line, a
    library's nothing; --debug: Python's own format, both."""
    code = ("import sys, warnings\n"
            "from tf_munet_core.cli import cli_main\n"
            "from tf_munet_core.errors import Notice\n"
            "@cli_main\n"
            "def main(argv):\n"
            "    warnings.warn('old API\\n\\tDeprecated as of version 0.8.', FutureWarning)\n"
            "    warnings.warn('skipping bad track:\\n x.wav', Notice)\n"
            "    return 0\n"
            "sys.exit(main())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 0 and done.stderr == "warning: skipping bad track: x.wav\n", done.stderr
    debug = subprocess.run([sys.executable, "-c", code, "--debug"], capture_output=True, text=True,
                           env=ENV, timeout=60)
    assert "FutureWarning: old API" in debug.stderr and "Notice: skipping bad track" in debug.stderr


@pytest.mark.integration
def test_paper_protocol_prints_no_library_warning_and_no_carriage_return(synthetic_musdb, tmp_path):
    """`evaluate --protocol paper` (mir_eval's deprecated bss_eval_sources) with stderr in a
    file: no FutureWarning, no tqdm redraws, one line per track; --debug shows the warning."""
    args = [sys.executable, "-m", "tf_munet.evaluate", "mixture", "--root", str(synthetic_musdb),
            "--protocol", "paper", "--preset", "tiny", "--no-references"]
    done = subprocess.run([*args, "--out", str(tmp_path / "a")], capture_output=True, env=ENV, timeout=600)
    err = done.stderr.decode()  # as written: text=True would turn a carriage return into a newline
    assert done.returncode == 0, err[-2000:]
    assert "Warning" not in err and "\r" not in err, err
    assert err == "[1/1] Synthetic Test - Track 01: evaluated\n", err
    debug = subprocess.run([*args, "--out", str(tmp_path / "b"), "--debug"], capture_output=True,
                           text=True, env=ENV, timeout=600)
    assert debug.returncode == 0 and "FutureWarning" in debug.stderr, debug.stderr[-2000:]


def test_a_missing_extra_is_one_line_naming_it(monkeypatch):
    from tf_munet import extras

    monkeypatch.setitem(extras.EXTRAS, "render", {"pyworld": "no_such_module_here", "pretty_midi": "json"})
    with pytest.raises(UserError) as caught:
        extras.require("render", "rendered data sets")
    message = str(caught.value)
    assert "\n" not in message and "pyworld" in message and "pretty_midi" not in message
    assert 'pip install "tf_munet[render]"' in message


def test_every_extra_is_listed_once_for_setup_py(monkeypatch):
    """setup.py takes its extras from tf_munet/extras.py, and the user install (no extra) holds
    none of the render packages (pyworld needs a compiler)."""
    import runpy
    from pathlib import Path

    import setuptools

    from tf_munet.extras import EXTRAS, TEST_TOOLS

    repo = Path(__file__).resolve().parents[1]
    seen = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: seen.update(kwargs))
    monkeypatch.chdir(repo)
    runpy.run_path(str(repo / "setup.py"))
    extras = seen["extras_require"]
    assert set(extras["render"]) == set(EXTRAS["render"])
    assert set(extras["dev"]) == set(EXTRAS["render"]) | set(TEST_TOOLS)
    base = {r.split(">")[0].split("=")[0] for r in seen["install_requires"]}
    assert not base & set(EXTRAS["render"]) and "tensorflow" in base


def test_one_command_dispatches_every_tool(capsys):
    """`tf-munet COMMAND --help` reaches each tool's own parser; an unknown command is one line."""
    from tf_munet.cli import COMMANDS, main

    for name, (module, _) in COMMANDS.items():
        with pytest.raises(SystemExit) as done:
            main([name.upper() if name == "separate" else name, "--help"])
        assert done.value.code == 0, name
        out = capsys.readouterr().out
        assert "usage:" in out and "--help" in out, name
    assert main(["seperate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: tf-munet: unknown command 'seperate'; did you mean 'separate'? (see tf-munet --help)"]


def test_export_runs_from_the_checkouts_parent_folder():
    """No top-level folder of the checkout shadows a package: `python -m tf_munet.export --help`
    works from the folder that holds the checkout."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "tf_munet.export", "--help"], cwd=repo.parent,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    assert "--out" in done.stdout


def test_every_python_m_form_is_an_entry_point_into_tf_munet_cli():
    """`python -m tf_munet.<tool>` runs `tf_munet.cli.<tool>.main`, the function `tf-munet <tool>`
    runs; only the edge runner lives in the TensorFlow-free core."""
    import importlib

    from tf_munet.cli import COMMANDS

    entries = {"train": "tf_munet.train", "separate": "tf_munet.separate", "evaluate": "tf_munet.evaluate",
               "prepare": "tf_munet.prepare", "synthetic": "tf_munet.synthetic",
               "export": "tf_munet.export.__main__", "hub": "tf_munet.hub.__main__",
               "models": "tf_munet.models.__main__", "web": "tf_munet.web.__main__"}
    assert set(entries) | {"edge"} == set(COMMANDS)
    for name, entry in entries.items():
        assert COMMANDS[name][0] == f"tf_munet.cli.{name}", name
        command = importlib.import_module(COMMANDS[name][0])
        assert importlib.import_module(entry).main is command.main, entry
    assert COMMANDS["edge"][0] == "tf_munet_core.edge"
