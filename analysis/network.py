"""The walking-network engine every network analysis uses (no Qt).

Conventions
-----------
* All distances are metres, in one projected metric CRS (``analysis.runner.run_analysis``
  reprojects the inputs before an analysis runs).
* :func:`build_network` nodes the street lines at every junction (the OSM import is already
  split; user layers need not be), joins line ends closer than a tolerance, and weighs each edge
  by its length. Disconnected pieces are kept and reported.
* :func:`snap_points` places each point on the **nearest point of the nearest edge** (not the
  nearest node) within a maximum snap distance; farther points are unreachable (edge -1), never
  dropped. A building's origin is its ``point_on_surface()`` (:func:`analysis.population.origins`).
* **The distance between two points = origin snap leg + distance along the network between the
  two snapped positions + target snap leg.** Snapped positions act as virtual nodes on their
  edges; two points on the same edge may also go straight along it.
* :func:`nearest_distance` finds, exactly, the nearest target of a layer for every origin in one
  multi-source shortest-path pass (``scipy.sparse.csgraph.dijkstra``, ``min_only=True``);
  :func:`count_within` and :func:`point_distances_within` give counts and pairwise distances
  within a limit; :func:`isochrones` gives walking service areas.

The code lives in ``network_build`` (the graph), ``network_paths`` (snapping, nearest),
``network_local`` (distances within a limit) and ``network_areas`` (isochrones).
"""

from analysis.network_areas import isochrones, substrings
from analysis.network_build import Network, build_network
from analysis.network_local import ZERO_M, count_within, local_searches, point_distances_within
from analysis.network_paths import Snapped, nearest_distance, snap_points

__all__ = ["ZERO_M", "Network", "Snapped", "build_network", "count_within", "isochrones", "local_searches",
           "nearest_distance", "point_distances_within", "snap_points", "substrings"]
