"""linkgraph: the accounts of a marketplace that belong to one person or one family.

>>> import linkgraph as lg
>>> run = lg.run(lg.analysis.example_data())  # a finished night: lg.load_run("runs/...")
>>> run.accounts["action"].tolist()
['none', 'ban', 'review', 'none']
>>> run.with_policy(family_action="watch").transitions.to_numpy().tolist()
[['review', 'watch', 1]]
"""

from linkgraph import analysis
from linkgraph.analysis import ClusterView, Comparison, PolicyWhatIf
from linkgraph.config import Config, PolicyConfig, load_config
from linkgraph.errors import ConfigError, InputError, LinkgraphError
from linkgraph.pipeline import run
from linkgraph.run import Run, load_run

__version__ = "0.1.0"

__all__ = [
    "ClusterView",
    "Comparison",
    "Config",
    "ConfigError",
    "InputError",
    "LinkgraphError",
    "PolicyConfig",
    "PolicyWhatIf",
    "Run",
    "analysis",
    "load_config",
    "load_run",
    "run",
]
