"""siamkit.scoring: the ``Scorer`` interface, the registry and the scorers. Importing it
never imports torch; an embedding scorer loads its model only when asked for."""

from siamkit.scoring.base import Scorer
from siamkit.scoring.registry import DEFAULT_METHODS, available, get_scorer, register_scorer

__all__ = ["DEFAULT_METHODS", "Scorer", "available", "get_scorer", "register_scorer"]
