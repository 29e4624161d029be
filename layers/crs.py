"""One helper for the CRS analyses measure in.

Analyses never measure in degrees: a layer with a projected CRS keeps it, a geographic layer is
reprojected to the UTM zone its data falls in.
"""

from __future__ import annotations

import geopandas as gpd
from pyproj import CRS

from layers.errors import CityDeskError


def metric_crs(gdf: gpd.GeoDataFrame, *, name: str = "layer") -> CRS:
    """The local metric CRS for ``gdf``: its own projected CRS (in metres), else its UTM zone."""
    if gdf.crs is None:
        raise CityDeskError(
            "the layer has no coordinate reference system",
            source=name,
            fix="Set its CRS (e.g. EPSG:4326 for longitude/latitude) or save it with a .prj / in a GeoPackage",
        )
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_projected and _in_metres(crs):
        return crs
    valid = gdf.geometry[~(gdf.geometry.is_empty | gdf.geometry.isna())]
    if valid.empty:
        raise CityDeskError("the layer has no geometries to place on the map", source=name,
                            fix="Check that the file holds features with coordinates")
    try:
        return gpd.GeoSeries(valid, crs=crs).estimate_utm_crs()
    except Exception as exc:  # pyproj raises plain RuntimeErrors for odd extents
        raise CityDeskError(f"cannot find a metric CRS for the layer ({exc})", source=name,
                            fix="Reproject the layer to a projected CRS in metres first") from exc


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS | None = None, *, name: str = "layer") -> gpd.GeoDataFrame:
    """``gdf`` in ``crs`` (or in its own :func:`metric_crs` when ``crs`` is None)."""
    target = crs if crs is not None else metric_crs(gdf, name=name)
    if gdf.crs is None:
        metric_crs(gdf, name=name)  # raises the clear message
    if CRS.from_user_input(gdf.crs) == CRS.from_user_input(target):
        return gdf
    return gdf.to_crs(target)


def common_metric_crs(layers: dict[str, gpd.GeoDataFrame]) -> CRS:
    """A metric CRS for several layers analysed together: the first projected one, else the UTM
    zone of the first non-empty layer."""
    for name, gdf in layers.items():
        if gdf.crs is None:
            metric_crs(gdf, name=name)
    for gdf in layers.values():
        crs = CRS.from_user_input(gdf.crs)
        if crs.is_projected and _in_metres(crs):
            return crs
    for name, gdf in layers.items():
        if len(gdf) and not gdf.geometry.is_empty.all():
            return metric_crs(gdf, name=name)
    raise CityDeskError("all input layers are empty", fix="Choose layers that hold features")


def _in_metres(crs: CRS) -> bool:
    axes = crs.axis_info
    return bool(axes) and all((a.unit_name or "").lower() in ("metre", "meter", "m") for a in axes)
