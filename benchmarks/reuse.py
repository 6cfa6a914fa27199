"""One source person, a second target: how much training does reusing the first pair's model save?

Trains model A (source -> first target) from the preset's shipped base for `--steps` steps; then
the second pair (same source -> second target) twice, `--steps` steps each: from model A (`--base
A`: reuse) and from the shipped base. Held-out loss (both people, no augmentation) is taken at every
tenth of the budget; the result is the step at which each second model first reaches A's final
held-out loss. Same seed, same data, same steps.

Usage: python benchmarks/reuse.py [--preset tiny] [--steps 1500] [--source bbaf2n]
    [--targets lbbc2a lbax4n] [--work DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--source", default="bbaf2n")
    parser.add_argument("--targets", nargs=2, default=["lbbc2a", "lbax4n"])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from facetransfer.extract.config import ExtractConfig
    from facetransfer.extract.pipeline import extract_faceset
    from facetransfer.faceset.io import is_faceset
    from facetransfer.modelfolder.checkpoints import list_checkpoints, read_state
    from facetransfer.train.loop import resolve_config, train

    work = args.work or Path(tempfile.mkdtemp(prefix="facetransfer_reuse_"))
    facesets = {}
    for name in (args.source, *args.targets):
        facesets[name] = work / name
        if not is_faceset(facesets[name]):
            extract_faceset([args.data / "video" / "grid" / f"{name}.mpg"], facesets[name], ExtractConfig())

    def run(name: str, target: str, base: str) -> list[tuple[int, float]]:
        model_dir = work / name
        values = {"train.base": base, "train.iterations": args.steps, "train.threads": args.threads}
        values.update({"train.save_every_steps": max(1, args.steps // 10), "train.keep_saves": 100})
        values["train.preview_every"] = 0
        train(
            facesets[args.source],
            facesets[target],
            model_dir,
            resolve_config(model_dir, args.preset, values=values),
        )
        states = [read_state(checkpoint) for checkpoint in list_checkpoints(model_dir)]
        return [(state.step, round(state.holdout_loss, 4)) for state in states if state.holdout_loss]

    first = run("first_pair", args.targets[0], "auto")
    goal = first[-1][1]
    results: dict[str, object] = {"first_pair": first, "goal": goal}
    for label, base in (("second_from_first", str(work / "first_pair")), ("second_from_base", "auto")):
        curve = run(label, args.targets[1], base)
        reached = next((step for step, loss in curve if loss <= goal), None)
        results[label] = {"holdout": curve, "steps_to_goal": reached}
        print(label, "reaches", goal, "at step", reached, flush=True)
    (work / "reuse.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
