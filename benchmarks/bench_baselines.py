"""The baselines at a budget long enough for the C-U-Net: M-U-Net UW, the dedicated set and
the C-U-Net, trained and scored exactly as in `bench_paper_table`, for more steps.

At a few hundred steps the C-U-Net still sits on the plateau where its one-hot masks are
near zero (each chunk is seen under one of K + 2 conditions, and its FiLM has to learn what
each condition asks for before any source separates), so a short table compares the
M-U-Net with an untrained baseline. This section gives every family the same, longer budget
(and the dedicated set also the M-U-Net's wall-clock time), and reports the validation loss
over training: how many steps each family needs to reach the M-U-Net's loss is the
iteration cost the paper's claim is about.

    python -m benchmarks.bench_baselines --root RENDERED --eval-root RENDERED_EVAL --steps 2000
"""

from __future__ import annotations

from benchmarks import bench_paper_table

CONFIGS = [("dedicated", "uw"), ("cunet", "uw"), ("munet", "uw")]
STEPS = 2000


def run(quick: bool = False, steps: int | None = None, root: str | None = None,
        per_epoch: int | None = None, max_tracks: int | None = None,
        eval_root: str | None = None) -> dict:
    """`bench_paper_table.run` for the three families, `STEPS` steps each by default, always on
    the half-width preset (the full preset needs hours per family here)."""
    data = bench_paper_table.run(quick, steps or (10 if quick else STEPS), root, per_epoch,
                                 max_tracks, small=True, eval_root=eval_root, configs=CONFIGS)
    data["section"] = "baselines"
    return data


if __name__ == "__main__":
    bench_paper_table.main(run_fn=run, prog="python -m benchmarks.bench_baselines", small_flag=False)
