"""The inference core's small pieces: shared flags, normalisation choices, the edge progress line."""

import io

import numpy as np
import pytest

from tf_munet_core.masks import normalize_masks, resolve_normalization
from tf_munet_core.progress import LineProgress


def _separation_flags(parser, title: str = "separation") -> dict:
    group = next(g for g in parser._action_groups if g.title == title)
    return {a.dest: (a.default, a.help) for a in group._group_actions}


def test_separator_flags_are_defined_once_for_every_command():
    """separate, evaluate and the edge runner show the same separation flags (one definition);
    the edge runner leaves the patch overlap to the export unless given; separate's precision
    is auto, evaluate's float32 (scores that do not depend on the CPU). separate and the edge
    runner have the same output flags."""
    from tf_munet.cli.evaluate import build_parser as evaluate_parser
    from tf_munet.cli.separate import build_parser as separate_parser
    from tf_munet_core.edge import build_parser as edge_parser

    separate, evaluate, edge = (_separation_flags(p()) for p in
                                (separate_parser, evaluate_parser, edge_parser))
    assert separate.pop("precision")[0] == "auto" and evaluate.pop("precision")[0] == "float32"
    assert separate == evaluate
    assert set(separate) == set(edge)  # no --precision: LiteRT runs its exported variant instead
    assert _separation_flags(separate_parser(), "output") == _separation_flags(edge_parser(), "output")
    for flag, (default, text) in edge.items():
        assert text == separate[flag][1], flag
        assert default == (None if flag == "overlap" else separate[flag][0]), flag
    assert edge_parser().parse_args(["E", "a.wav", "-o", "o"]).overlap is None


def test_normalisation_choices():
    masks = np.array([[0.8, 0.8], [0.2, 0.1], [0.0, 0.0], [-1.0, 0.5]], np.float32)
    assert resolve_normalization(None, True) == resolve_normalization("auto", True) == "exhaustive"
    assert resolve_normalization(True, False) == "partial"
    assert resolve_normalization(False, None) == "raw"
    with pytest.raises(ValueError, match="exhaustive"):
        resolve_normalization("auto", None)
    np.testing.assert_allclose(normalize_masks(masks, "exhaustive"),
                               [[0.5, 0.5], [2 / 3, 1 / 3], [0.5, 0.5], [0.0, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(normalize_masks(masks, "partial"),
                               [[0.5, 0.5], [0.2, 0.1], [0.0, 0.0], [0.0, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(normalize_masks(masks, "raw"), np.maximum(masks, 0))


def test_edge_progress_fits_80_columns():
    out = io.StringIO()
    bar = LineProgress("[1/3] " + "a very long file name " * 10 + ".flac", 600.0, out, force=True)
    for _ in range(3):
        bar.update(45.0)
    lines = out.getvalue().split("\r")[1:]
    assert len(lines) == 3 and all(len(line) <= 79 for line in lines)
    assert "135/600 s audio" in lines[-1] and "%" in lines[-1] and lines[-1].startswith("...")
    bar.close()
    quiet = io.StringIO()
    LineProgress("x", None, quiet).update(1.0)  # not a terminal: nothing drawn
    assert quiet.getvalue() == ""


def test_batch_plan_covers_every_patch_with_fixed_sizes():
    from tf_munet_core.litert import batch_plan

    sizes = (1, 2, 4, 8)
    for n in range(1, 40):
        plan = batch_plan(n, sizes)
        assert sum(take for take, _ in plan) == n
        assert all(0 < take <= size and size in sizes for take, size in plan)
        assert sum(size - take for take, size in plan) < max(1, n % 8)  # padding only at the end
        assert [size for _, size in plan[:-1]] == [8] * (len(plan) - 1)
    assert batch_plan(3, (1, 2, 4, 8)) == [(3, 4)]
    assert batch_plan(13, (1, 2, 4, 8)) == [(8, 8), (5, 8)]
    assert batch_plan(5, (0,)) == [(5, 0)]  # a free batch dimension: one call
    assert batch_plan(3, (1,)) == [(1, 1)] * 3  # the oldest exports: a patch per call


def _constant_separator(gain: float, k: int, **options):
    """A NetworkSeparator whose network answers every bin with `gain` (model 8 kHz, STFT 256/64)."""
    from tf_munet_core.config import AudioConfig
    from tf_munet_core.separator import NetworkSeparator

    audio = AudioConfig(sample_rate=8000, channels=1, n_fft=256, hop=64, freq_bins=100, frames=16)

    def mask_fn(patches):
        return np.full((*patches.shape, k), gain, np.float32)

    return NetworkSeparator(audio, tuple(f"s{i}" for i in range(k)), mask_fn, **options)


@pytest.mark.parametrize("rate", [16000, 44100])
def test_inverse_stft_gives_back_the_scaled_input_to_the_last_sample(rate):
    """Masks of 1/4 in every bin (above the model's band too): each stem is the input / 4, at the
    ends of the signal as well as inside (the overlap-add's window sum is divided out there)."""
    x = np.random.default_rng(0).standard_normal((rate * 3 // 2, 2)).astype(np.float32)
    stems = _constant_separator(0.25, 4, normalize="raw").separate(x, rate)
    for y in stems.values():
        np.testing.assert_allclose(y, x / 4, atol=2e-6)


def test_stems_do_not_depend_on_the_number_of_threads():
    """Batches of frames are added in rounds that share no samples: any number of threads gives
    the same sums, bit for bit (frame batches of 2 need three rounds for a 4-hop window)."""
    from tf_munet_core.config import AudioConfig
    from tf_munet_core.separator import NetworkSeparator

    audio = AudioConfig(sample_rate=8000, channels=1, n_fft=256, hop=64, freq_bins=100, frames=16)

    def mask_fn(patches):  # masks that vary with the input, so every frame's sum is different
        m = 1 / (1 + np.exp(-np.log1p(patches)))[..., None]
        return np.concatenate([m, 1 - m, m * m], axis=-1).astype(np.float32)

    x = np.random.default_rng(1).standard_normal((44100 * 2, 2)).astype(np.float32)
    runs = [NetworkSeparator(audio, ("a", "b", "c"), mask_fn, normalize="partial", threads=t,
                             frame_batch=batch).separate(x, 44100)
            for t, batch in [(1, 2), (2, 2), (3, 2), (1, 32), (2, 32)]]
    for other in runs[1:3]:
        for s in runs[0]:
            np.testing.assert_array_equal(runs[0][s], other[s])
    for s in runs[3]:
        np.testing.assert_array_equal(runs[3][s], runs[4][s])
        np.testing.assert_allclose(runs[0][s], runs[3][s], atol=1e-6)


def test_blocks_prepare_the_next_block_while_this_one_finishes():
    """With a prepare step, block i + 1 is read and prepared (in another thread) before block i's
    segment runs, and the crossfaded result is the one without it."""
    import threading

    from tf_munet_core.streaming import Blocks

    rate = 1000
    x = np.random.default_rng(2).standard_normal((rate * 9, 2)).astype(np.float32)
    blocks = Blocks(block_seconds=2.0, fade=0.5, margin=0.25)
    events, workers = [], set()

    def read(a, b):
        events.append(("read", a))
        return x[a:b]

    def prepare(seg, a, b):
        workers.add(threading.current_thread().name)
        return seg * 2  # stands in for the masks

    def segment(seg, a, b, prepared):
        events.append(("segment", a))
        return np.stack([prepared, seg])

    piped = list(blocks.stream(read, len(x), rate, segment, prepare=prepare))
    plain = list(blocks.stream(lambda a, b: x[a:b], len(x), rate,
                               lambda seg, a, b: np.stack([seg * 2, seg])))
    assert [s for s, _ in piped] == [s for s, _ in plain]
    for (_, got), (_, want) in zip(piped, plain):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(np.concatenate([y for _, y in piped], axis=1)[1], x, atol=1e-6)
    starts = [a for kind, a in events if kind == "read"]
    assert len(starts) == 4 and workers and threading.current_thread().name not in workers
    for i, a in enumerate(starts[:-1]):  # the next block is read before this one's segment
        assert events.index(("read", starts[i + 1])) < events.index(("segment", a))
