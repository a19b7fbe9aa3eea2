"""First-order regression and classification trees (TILDE batch, TG incremental) on SWI-Prolog.

Examples are :class:`Example` objects (ground facts as Prolog text plus a target); the
language bias comes from a ``.s`` settings file (:func:`read_settings`); background
knowledge is plain Prolog.  See docs/tilde.md.
"""

from rrl.relational.kb import Example, read_kb, write_kb
from rrl.relational.settings import Settings, read_settings
from rrl.relational.tilde import TildeClassifier, TildeRegressor
from rrl.relational.tree import Leaf

__all__ = ["Example", "Leaf", "Settings", "TildeClassifier", "TildeRegressor", "read_kb", "read_settings", "write_kb"]
