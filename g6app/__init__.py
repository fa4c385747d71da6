"""g6app: the live summary service of the G6 options-data platform.

Importing the package starts and reads nothing; build the app with ``g6app.app.create_app``.
"""

__version__ = "1.0.0"
