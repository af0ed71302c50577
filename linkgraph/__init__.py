"""linkgraph: the accounts of a marketplace that belong to one person or one family.

>>> import linkgraph as lg
>>> sorted(lg.__all__)[:3]
['Config', 'LinkgraphError', 'Run']
"""

from linkgraph.config import Config, load_config
from linkgraph.errors import ConfigError, InputError, LinkgraphError
from linkgraph.pipeline import run
from linkgraph.run import Run

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "InputError",
    "LinkgraphError",
    "Run",
    "load_config",
    "run",
]
