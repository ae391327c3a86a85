"""venturegate: a stage-gate engine for a venture studio."""

__version__ = "0.1.0"
