"""carecard: customer-care scorecards from periodic exports.

The package reads as the pipeline: ``config`` → ``sources`` → ``policy`` → ``metrics`` →
``pages`` / ``charts`` → ``render`` → ``output``, driven by ``build``; ``cli`` is a thin shell.
"""

from __future__ import annotations

__version__ = "0.1.0"
