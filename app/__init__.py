"""The CityDesk desktop application (PySide6) and the command line (``app.cli``, no Qt)."""

__version__ = "0.1.0"
