"""The quality scorecard: a run against the ground truth of ``linkgraph synth``.

``evaluate(run_dir, truth_dir)`` reads the files and calls ``score_run`` on
frames; both return a :class:`Scorecard` of flat metrics with the targets of
the issues attached. Each metric is defined in ``docs/metrics.md``.

>>> from linkgraph.evaluate import Scorecard
>>> Scorecard({"sanctions.stranger_auto_count": 1}).failures
['sanctions.stranger_auto_count']
"""

from linkgraph.evaluate.clustering import pair_count, raw_components
from linkgraph.evaluate.coupon import precision_at_k, roc_auc
from linkgraph.evaluate.files import evaluate
from linkgraph.evaluate.scorecard import TARGETS, Scorecard
from linkgraph.evaluate.scoring import score_run

__all__ = [
    "TARGETS",
    "Scorecard",
    "evaluate",
    "pair_count",
    "precision_at_k",
    "raw_components",
    "roc_auc",
    "score_run",
]
