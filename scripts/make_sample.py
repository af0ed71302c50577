"""Regenerate data/sample (and data/sample_next, its next night) from the synthetic generator.

Never edit the files by hand: change the generator and run
``python scripts/make_sample.py``.
"""

from __future__ import annotations

from pathlib import Path

from linkgraph.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = 3000
SEED = 20261126


def main() -> None:
    result = synthesize(ROOT / "data" / "sample", accounts=ACCOUNTS, seed=SEED,
                        next_night=ROOT / "data" / "sample_next")
    for night in (result, result.next_night):
        assert night is not None
        counts = ", ".join(f"{k} {v}" for k, v in night.counts.items())
        print(f"{night.out_dir.relative_to(ROOT)}: {counts}")


if __name__ == "__main__":
    main()
