"""The bench harness: ``python -m g6app bench`` runs many SSE clients against a real server.

``command`` runs a measurement; ``clients`` is the one-process client swarm, ``wire`` its pure
parsers, ``server`` the gunicorn and /proc side, ``report`` the numbers, ``scrape`` the timed
``/metrics`` scraper. Nothing here is imported by the service itself.
"""

from .command import add_arguments, run

__all__ = ["add_arguments", "run"]
