"""A tiny hand-made GTFS feed, written by the tests into tmp_path, whose PTAL is computed by hand.

Stops are placed in EPSG:3067 metres around the point P = (385000, 6672000):

* ``B1`` 300 m east of P: bus route ``BUS1`` (frequencies.txt: direction 0 every 600 s, direction
  1 every 900 s, 08:00-10:00) and bus route ``BUS2`` (route_type 700, two scheduled trips in
  08:15-09:15);
* ``B2`` 700 m east of P (beyond the 640 m bus catchment): ``BUS2`` too;
* ``R1`` 600 m north of P: rail route ``RAIL1`` (route_type 2), scheduled at 08:20, 08:35, 08:50,
  09:05 (and 09:15, outside the window);
* ``T1`` (terminus) 3 km away.

In the AM peak 08:15-09:15 on Tuesday 2022-02-22, at P (straight line):

* BUS1 at B1: 6 departures in direction 0 (08:20 ... 09:10), 4 in direction 1 (08:15 ... 09:00):
  f = 6; walk 300 / 80 = 3.75 min; SWT 0.5 × 60 / 6 = 5; TAT 3.75 + 5 + 2 = 10.75; EDF 30 / 10.75;
* BUS2 at B1: f = 2; SWT 15; TAT 20.75; EDF 30 / 20.75;
* bus AI = 30/10.75 + 0.5 × 30/20.75 = 3.513589...;
* RAIL1 at R1: f = 4; walk 7.5; SWT 7.5; TAT 7.5 + 7.5 + 0.75 = 15.75; EDF = 30 / 15.75 = 1.904762;
* AI = 5.418351... -> band 2.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from pyproj import Transformer

P = (385000.0, 6672000.0)
STOPS_M = {"B1": (P[0] + 300, P[1]), "B2": (P[0] + 700, P[1]), "R1": (P[0], P[1] + 600),
           "T1": (P[0] + 3000, P[1] + 3000)}
EXPECTED_BUS_AI = 30 / 10.75 + 0.5 * 30 / 20.75
EXPECTED_RAIL_AI = 30 / 15.75
EXPECTED_AI = EXPECTED_BUS_AI + EXPECTED_RAIL_AI


def lonlat(x: float, y: float) -> tuple[float, float]:
    return Transformer.from_crs(3067, 4326, always_xy=True).transform(x, y)


def _stops() -> str:
    lines = ["stop_id,stop_name,stop_lat,stop_lon"]
    for sid, (x, y) in STOPS_M.items():
        lon, lat = lonlat(x, y)
        lines.append(f"{sid},Stop {sid},{lat:.9f},{lon:.9f}")
    return "\n".join(lines) + "\n"


def _trip(trip: str, times: list[tuple[str, str]]) -> list[str]:
    return [f"{trip},{t},{t},{stop},{i + 1}" for i, (stop, t) in enumerate(times)]


def files() -> dict[str, str]:
    stop_times = ["trip_id,arrival_time,departure_time,stop_id,stop_sequence"]
    stop_times += _trip("bus1_d0", [("B1", "08:00:00"), ("T1", "08:10:00")])
    stop_times += _trip("bus1_d1", [("B1", "08:00:00"), ("T1", "08:12:00")])
    for i, t in enumerate(("08:25:00", "08:55:00")):
        stop_times += _trip(f"bus2_{i}", [("B2", t[:3] + f"{int(t[3:5]) - 2:02d}:00"), ("B1", t), ("T1", "09:30:00")])
    for i, t in enumerate(("08:20:00", "08:35:00", "08:50:00", "09:05:00", "09:15:00")):
        stop_times += _trip(f"rail_{i}", [("R1", t), ("T1", "09:40:00")])
    stop_times += _trip("late", [("R1", "24:30:00"), ("T1", "25:10:00")])
    stop_times += _trip("holiday", [("R1", "10:00:00"), ("T1", "10:20:00")])
    trips = ["route_id,service_id,trip_id,direction_id,shape_id",
             "BUS1,WK,bus1_d0,0,shp_bus1", "BUS1,WK,bus1_d1,1,shp_bus1",
             "BUS2,WK,bus2_0,0,", "BUS2,WK,bus2_1,0,",
             *(f"RAIL1,WK,rail_{i},0," for i in range(5)),
             "RAIL1,WK,late,0,", "RAIL1,HOL,holiday,0,"]
    b1, t1 = lonlat(*STOPS_M["B1"]), lonlat(*STOPS_M["T1"])
    return {
        "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Test transit,https://example.org,"
                      "Europe/Helsinki\n",
        "stops.txt": _stops(),
        "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type,route_color\n"
                      "BUS1,A,1,Bus one,3,0072B2\nBUS2,A,2,Bus two,700,\nRAIL1,A,R,Rail one,2,D55E00\n",
        "trips.txt": "\n".join(trips) + "\n",
        "stop_times.txt": "\n".join(stop_times) + "\n",
        "frequencies.txt": "trip_id,start_time,end_time,headway_secs,exact_times\n"
                           "bus1_d0,08:00:00,10:00:00,600,1\nbus1_d1,08:00:00,10:00:00,900,0\n",
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
                        "WK,1,1,1,1,1,0,0,20220201,20220228\nHOL,0,0,0,0,0,0,0,20220201,20220228\n",
        "calendar_dates.txt": "service_id,date,exception_type\nWK,20220223,2\nHOL,20220223,1\n",
        "shapes.txt": "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence\n"
                      f"shp_bus1,{b1[1]:.9f},{b1[0]:.9f},1\nshp_bus1,{(b1[1] + t1[1]) / 2:.9f},{b1[0]:.9f},2\n"
                      f"shp_bus1,{t1[1]:.9f},{t1[0]:.9f},3\n",
    }


def write_feed(path: Path, changes: dict[str, str | None] | None = None) -> Path:
    """The feed as a zip at ``path``; ``changes`` replaces files (None leaves a file out)."""
    content = files() | dict(changes or {})
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in content.items():
            if text is not None:
                zf.writestr(name, text)
    return path
