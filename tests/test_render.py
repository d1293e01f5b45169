"""Rendered multitracks: FluidSynth + GM SoundFont stems, sung vocals, MIDI routing, errors."""

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from tf_munet.data.composition import compose_song
from tf_munet.data.render import (
    load_midi_song,
    render_song,
    stem_of,
    write_rendered_musdb,
)
from tf_munet.data.synthetic import STEMS, synthetic_stems
from tf_munet.errors import UserError

SECONDS = 10.0


@pytest.fixture(scope="module")
def rendered_set(tmp_path_factory):
    return write_rendered_musdb(tmp_path_factory.mktemp("rendered") / "set", train=1, test=1,
                                seconds=SECONDS, seed=0)


def _read(folder):
    return {k: sf.read(folder / f"{k}.wav", dtype="int16")[0].astype(np.int32) for k in (*STEMS, "mixture")}


def test_rendered_set_layout_and_exact_sum(rendered_set):
    tracks = sorted(p for p in rendered_set.glob("*/*") if p.is_dir())
    assert [t.parent.name for t in tracks] == ["test", "train"]
    assert not list(rendered_set.parent.glob(".set.partial-*"))
    for track in tracks:
        data = _read(track)
        info = sf.info(track / "mixture.wav")
        assert (info.samplerate, info.channels, info.frames) == (44100, 2, int(SECONDS * 44100))
        np.testing.assert_array_equal(data["mixture"], sum(data[k] for k in STEMS))
        assert np.abs(data["mixture"]).max() < 32768 * 0.96


def test_every_stem_plays_in_some_sections_and_rests_in_others():
    for seed in (3, 4):
        song = compose_song(seed, SECONDS)
        stems = render_song(song, seed=seed)
        assert len(song.sections) >= 3
        for stem in STEMS:
            playing = [s for s in song.sections if stem in s.stems]
            resting = [s for s in song.sections if stem not in s.stems]
            assert playing and resting, (seed, stem)

            def level(section, tail=1.0, audio=stems[stem]):
                """RMS over the last `tail` of a section (past release and reverb), less its last
                0.1 s (the next section's first notes may be early)."""
                a = int((section.end - tail * (section.end - section.start)) * 44100)
                return float(np.sqrt(np.mean(audio[a : int((section.end - 0.1) * 44100)] ** 2)))

            loud = max(level(s) for s in playing)
            assert loud > 10 ** (-40 / 20), (seed, stem, loud)
            assert min(level(s, tail=0.4) for s in resting) < loud * 10 ** (-30 / 20), (seed, stem)


def test_rendering_is_deterministic_by_seed(rendered_set):
    written = _read(rendered_set / "train" / "Rendered Train - Song 01")
    again = write_rendered_musdb(rendered_set.parent / "again", train=1, test=0, seconds=SECONDS, seed=0)
    np.testing.assert_array_equal(_read(again / "train" / "Rendered Train - Song 01")["mixture"], written["mixture"])
    other = _read(rendered_set / "test" / "Rendered Test - Song 01")
    assert not np.array_equal(other["mixture"], written["mixture"])


def _oracle_and_mixture_sdr(stems):
    """{source: (oracle, mixture / 4)}: median over 1 s frames (silent references skipped) of the
    SDR of the paper-grid ideal ratio mask and of mixture / 4 (museval's statistic, without its
    projections, which take minutes)."""
    from tf_munet.presets import get_preset
    from tf_munet.separation import OracleSeparator

    def median_sdr(ref, est, frame=44100):
        values = [10 * np.log10(np.sum(r**2) / np.sum((r - e) ** 2))
                  for r, e in ((ref[a : a + frame], est[a : a + frame]) for a in range(0, len(ref) - frame + 1, frame))
                  if np.sum(r**2) > 1e-8]
        return float(np.median(values))

    refs = {k: stems[k] for k in STEMS}
    est = OracleSeparator(get_preset("paper"), STEMS).separate(stems["mixture"], 44100, references=refs)
    return {k: (median_sdr(refs[k], est[k]), median_sdr(refs[k], stems["mixture"] / 4)) for k in STEMS}


def test_rendered_songs_are_harder_than_procedural_ones(rendered_set):
    data = {k: v / 32768.0 for k, v in _read(rendered_set / "test" / "Rendered Test - Song 01").items()}
    rendered = _oracle_and_mixture_sdr(data)
    procedural = _oracle_and_mixture_sdr(synthetic_stems(5, SECONDS))
    oracle = np.mean([rendered[k][0] for k in STEMS])
    assert oracle > np.mean([rendered[k][1] for k in STEMS]) + 5, rendered
    assert oracle < 16, rendered  # real MUSDB18 gives about 7-12 dB
    assert rendered["vocals"][0] < procedural["vocals"][0] - 3, (rendered, procedural)


def _midi_file(path, parts):
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    for program, drum, name, pitch in parts:
        inst = pretty_midi.Instrument(program=program, is_drum=drum, name=name)
        for i in range(4):
            inst.notes.append(pretty_midi.Note(100, pitch + (0 if drum else i), 0.5 * i, 0.5 * i + 0.45))
        midi.instruments.append(inst)
    midi.write(str(path))
    return path


def test_midi_instruments_are_routed_to_stems_by_program_and_name(tmp_path):
    parts = [(0, True, "", 38), (33, False, "", 40), (0, False, "Lead Vocal", 64), (53, False, "", 67),
             (48, False, "", 60), (0, False, "Piano", 60), (81, False, "", 72)]
    song = load_midi_song(_midi_file(tmp_path / "song.mid", parts))
    assert [inst.name for inst in song.midi.instruments] == ["drums", "bass", "vocals", "vocals", "other",
                                                             "other", "vocals"]
    assert stem_of(pretty_midi.Instrument(0, name="Bass")) == "bass"
    assert song.seconds == pytest.approx(1.95 + 1.0)  # last note off + a second of release


def test_midi_folder_renders_each_stem_from_its_instruments(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    _midi_file(folder / "a.mid", [(0, True, "", 36), (34, False, "", 36), (0, False, "", 60)])
    _midi_file(folder / "b.mid", [(0, False, "", 60), (73, False, "", 72)])  # piano + flute: other only
    root = write_rendered_musdb(tmp_path / "out", train=1, test=1, seconds=2.5, midi=folder)
    a, b = _read(root / "train" / "a"), _read(root / "test" / "b")
    np.testing.assert_array_equal(a["mixture"], sum(a[k] for k in STEMS))
    assert all(np.abs(a[k]).max() > 300 for k in ("drums", "bass", "other"))
    assert not a["vocals"].any()
    assert np.abs(b["other"]).max() > 300 and not any(b[k].any() for k in ("vocals", "drums", "bass"))
    assert len(b["mixture"]) == int(2.5 * 44100)


def test_bad_midi_and_missing_soundfont_fail_in_one_line_without_a_partial_set(tmp_path, monkeypatch, capsys):
    from tf_munet.cli.synthetic import main

    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    silent = tmp_path / "silent.mid"
    pretty_midi.PrettyMIDI().write(str(silent))
    cases = [(["--midi", str(broken)], "broken.mid: not a readable MIDI file"),
             (["--midi", str(silent)], "silent.mid: the MIDI file has no notes")]
    for extra, message in cases:
        assert main(["--style", "rendered", "--out", str(tmp_path / "out"), "--train", "1", "--test", "0", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
        assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))
    monkeypatch.setenv("TF_MUNET_SOUNDFONT", str(tmp_path / "missing.sf2"))
    assert main(["--style", "rendered", "--out", str(tmp_path / "out"), "--train", "1", "--test", "0",
                 "--seconds", "1"]) == 2
    assert "fluid-soundfont-gm" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_existing_output_is_never_mixed_with_a_new_set(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        write_rendered_musdb(tmp_path / "out", train=1, test=0, seconds=1.0)
