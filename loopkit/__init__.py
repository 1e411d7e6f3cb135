"""loopkit: keeps the books of builder / adversary / orchestrator loops."""

__version__ = "0.1.0"
