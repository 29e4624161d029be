"""City data for CityDesk: the layer model, readers and writers, CRS handling, styles, projects.

No Qt here: the window and the command line both build on this package.
"""

from layers.errors import CityDeskError

__all__ = ["CityDeskError"]
