"""One helper for the CRS analyses measure in.

Analyses never measure in degrees: a layer with a projected CRS in metres keeps it, a geographic
layer is reprojected to the UTM zone its data falls in. A projected CRS whose scale is off by more
than 1 % where the data lies (Web Mercator, EPSG:3857, doubles every distance at 60° N) is treated
like a geographic one: distances measured in it would be wrong, so the data goes to its UTM zone.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from pyproj import CRS, Proj, Transformer

from layers.errors import CityDeskError

#: Largest scale error (as a fraction) a projected CRS may have where the data lies.
MAX_SCALE_ERROR = 0.01


def metric_crs(gdf: gpd.GeoDataFrame, *, name: str = "layer") -> CRS:
    """The local metric CRS for ``gdf``: its own projected CRS (in metres, true to scale within
    1 % at the data), else the UTM zone of its data."""
    crs = _crs_of(gdf, name)
    if _good_metric(crs, gdf):
        return crs
    valid = gdf.geometry[~(gdf.geometry.is_empty | gdf.geometry.isna())]
    if valid.empty:
        raise CityDeskError("the layer has no geometries to place on the map", source=name,
                            fix="Check that the file holds features with coordinates")
    try:
        utm = gpd.GeoSeries(valid, crs=crs).estimate_utm_crs()
    except Exception as exc:  # pyproj raises plain RuntimeErrors for odd extents
        raise CityDeskError(f"cannot find a metric CRS for the layer ({exc})", source=name,
                            fix="Reproject the layer to a projected CRS in metres first") from exc
    if utm is None:
        raise CityDeskError("cannot find a metric CRS for the layer (its extent fits no UTM zone)",
                            source=name, fix="Reproject the layer to a projected CRS in metres first")
    return utm


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS | None = None, *, name: str = "layer") -> gpd.GeoDataFrame:
    """``gdf`` in ``crs`` (or in its own :func:`metric_crs` when ``crs`` is None). ``crs`` must be
    projected in metres: this never hands out coordinates in degrees."""
    source = _crs_of(gdf, name)
    target = CRS.from_user_input(crs) if crs is not None else metric_crs(gdf, name=name)
    if not (target.is_projected and _in_metres(target)):
        raise CityDeskError(f"{target.name} is not a projected CRS in metres", source=name,
                            fix="Measure in a projected CRS, e.g. the UTM zone from metric_crs()")
    if source == target:
        return gdf
    return gdf.to_crs(target)


def common_metric_crs(layers: dict[str, gpd.GeoDataFrame]) -> CRS:
    """A metric CRS for several layers analysed together: the first layer's own projected CRS
    that is true to scale at the data, else the UTM zone of the first non-empty layer."""
    for name, gdf in layers.items():
        _crs_of(gdf, name)
    for gdf in layers.values():
        crs = CRS.from_user_input(gdf.crs)
        if _good_metric(crs, gdf):
            return crs
    for name, gdf in layers.items():
        if len(gdf) and not (gdf.geometry.is_empty | gdf.geometry.isna()).all():
            return metric_crs(gdf, name=name)
    raise CityDeskError("all input layers are empty", fix="Choose layers that hold features")


def scale_error(crs: CRS, gdf: gpd.GeoDataFrame) -> float | None:
    """How far from true scale (as a fraction, 0.01 = 1 %) distances in ``crs`` are at the centre
    of ``gdf``'s data, or None when that cannot be told (no data, no geographic base)."""
    geoms = gdf.geometry[~(gdf.geometry.is_empty | gdf.geometry.isna())]
    if geoms.empty:
        return None
    try:
        xmin, ymin, xmax, ymax = geoms.total_bounds
        to_geo = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
        lon, lat = to_geo.transform((xmin + xmax) / 2, (ymin + ymax) / 2)
        factors = Proj(crs).get_factors(lon, lat)
        error = max(abs(factors.meridional_scale - 1), abs(factors.parallel_scale - 1))
    except Exception:
        return None
    return float(error) if np.isfinite(error) else None


def _crs_of(gdf: gpd.GeoDataFrame, name: str) -> CRS:
    if gdf.crs is None:
        raise CityDeskError(
            "the layer has no coordinate reference system",
            source=name,
            fix="Set its CRS (EPSG:4326 for longitude/latitude), or save it with a .prj or as a GeoPackage",
        )
    return CRS.from_user_input(gdf.crs)


def _good_metric(crs: CRS, gdf: gpd.GeoDataFrame) -> bool:
    if not (crs.is_projected and _in_metres(crs)):
        return False
    error = scale_error(crs, gdf)
    if error is None:  # cannot tell at the data: refuse only the world-wide Mercator projections
        method = (crs.coordinate_operation.method_name if crs.coordinate_operation else "").lower()
        return not ("mercator" in method and "transverse" not in method)
    return error <= MAX_SCALE_ERROR


def _in_metres(crs: CRS) -> bool:
    axes = crs.axis_info
    return bool(axes) and all((a.unit_name or "").lower() in ("metre", "meter", "m") for a in axes)
