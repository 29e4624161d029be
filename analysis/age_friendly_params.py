"""Roles, parameters, defaults and their sources for the ``age-friendly`` analysis.

Every threshold is a parameter; the defaults and where they come from (``docs/methods.md``):

- walking speed: older profile 0.8 m/s (Asher et al. 2012: mean 0.9 m/s for men and 0.8 m/s for
  women over 65), adult profile 1.3 m/s (the 1.2-1.3 m/s of general guidance);
- transit stops 400 m (CIHT 2018, the long-standing maximum walk; CIHT prefers 250 m and warns that
  400 m may be too far for older people);
- green space 300 m (WHO Regional Office for Europe 2016: a green space within 300 m of home; WHO
  measures it as the crow flies, this analysis along the streets, which is stricter);
- a bench within 100 m of home: DfT *Inclusive Mobility* asks for seats every 50 m in pedestrian
  areas, and half of disabled walkers manage no more than 200 m without a stop; 100 m from the
  door is a first rest well before that;
- pharmacies, groceries and health care 720 m: the 15-minute city (Moreno et al. 2021) at the
  older walking speed, 15 min x 60 s x 0.8 m/s;
- public toilets 500 m (about 10 minutes at 0.8 m/s): no published distance standard; the WHO
  age-friendly guide (2007) names public toilets as essential outdoors, and a toilet is needed
  sooner than a shop;
- the longest stretch between rests 200 m (DfT *Inclusive Mobility*: 30 % of disabled walkers
  manage no more than 50 m without stopping, another 20 % 50-200 m).
"""

from __future__ import annotations

from analysis.params import Param, Role

#: Destination roles, in the order of the result columns and the summary.
DESTINATIONS = ("transit_stops", "benches", "toilets", "pharmacies", "groceries", "green_spaces", "healthcare")
#: Walking speeds of the profiles, m/s.
SPEEDS = {"older": 0.8, "adult": 1.3}
#: Default maximum network distance to the nearest feature of each destination role, metres.
MAX_DEFAULTS = {"transit_stops": 400.0, "benches": 100.0, "toilets": 500.0, "pharmacies": 720.0,
                "groceries": 720.0, "green_spaces": 300.0, "healthcare": 720.0}
#: Spacing of the points sampled along polygon boundaries and lines (a park is reached at its edge)
#: and of the candidate bench sites along the streets, metres.
SAMPLE_SPACING_M = 25.0

_MAX_HELP = {
    "transit_stops": "bus, tram or metro stop within this walk (CIHT 2018: 400 m is the long-standing maximum; "
                     "250 m is preferred and 400 m may be too far for older people)",
    "benches": "a bench within this walk of home (DfT Inclusive Mobility: seats every 50 m in pedestrian areas; "
               "half of disabled walkers manage at most 200 m without a stop)",
    "toilets": "a public toilet within this walk (no published standard; about 10 minutes at 0.8 m/s; WHO 2007 "
               "age-friendly guide names public toilets as essential)",
    "pharmacies": "a pharmacy within this walk (15-minute city, Moreno et al. 2021: 15 min at 0.8 m/s = 720 m)",
    "groceries": "a grocery shop within this walk (15-minute city, Moreno et al. 2021: 15 min at 0.8 m/s = 720 m)",
    "green_spaces": "the edge of a green space within this walk (WHO Europe 2016: 300 m, straight-line)",
    "healthcare": "a health centre, clinic or doctor within this walk (15-minute city, Moreno et al. 2021: "
                  "15 min at 0.8 m/s = 720 m)",
}
_ROLE_HELP = {
    "transit_stops": "bus, tram and metro stops; stops tagged shelter=yes or bench=yes also count as rests",
    "benches": "benches and other public seats; each is a destination and a rest",
    "toilets": "public toilets",
    "pharmacies": "pharmacies",
    "groceries": "grocery shops and supermarkets",
    "green_spaces": "parks and other green spaces (polygons are reached at their edge)",
    "healthcare": "health centres, clinics, doctors",
}

ROLES = (
    Role("buildings", ("polygon", "point"), help="homes; residents from a population column, else 1 each"),
    Role("streets", ("line",), help="the walking network (streets and paths)"),
    *(Role(name, ("point", "line", "polygon"), required=False, help=_ROLE_HELP[name]) for name in DESTINATIONS),
    Role("districts", ("polygon",), required=False,
         help="areas to sum the results by (else a 250 m grid over the buildings)"),
)

PARAMS = (
    Param("profile", "choice", "older", "walking speed profile: older 0.8 m/s (Asher et al. 2012), "
          "adult 1.3 m/s", choices=tuple(SPEEDS)),
    Param("walk_speed_mps", "float", 0.0, "walking speed; 0 uses the profile's speed", "m/s", 0, 3),
    *(Param(f"max_{name}_m", "float", MAX_DEFAULTS[name], _MAX_HELP[name], "m", 0, 10_000)
      for name in DESTINATIONS),
    Param("min_green_space_m2", "float", 0.0, "only green spaces at least this large count (WHO: 5,000-10,000 m²; "
          "0 counts all)", "m²", 0, 1e9),
    Param("rest_max_m", "float", 200.0, "longest walk between rests (benches, stops with a shelter or seat) for "
          "rest-aware access (DfT Inclusive Mobility: 30 % of disabled walkers manage at most 50 m, "
          "another 20 % 50-200 m)", "m", 1, 5_000),
    Param("max_snap_m", "float", 100.0, "buildings and destinations farther than this from every street are "
          "unreachable (reported)", "m", 0, 5_000),
    Param("min_piece_m", "float", 500.0, "buildings, destinations and rests skip pieces of network apart from the "
          "main one with less street than this (courtyard paths, steps) and snap to a larger piece within the "
          "snap distance; 0 snaps to the nearest street whatever its piece", "m", 0, 100_000),
    Param("new_benches_k", "int", 5, "how many new bench sites to propose (0: none)", "", 0, 100),
    Param("population_field", "str", "", "column with residents per building (empty: found automatically, else "
          "1 per building)"),
)

SOURCES = (
    "Asher et al. (2012), Age and Ageing 41(5): people over 65 walk 0.9 m/s (men), 0.8 m/s (women)",
    "UK DfT, Inclusive Mobility: seats every 50 m; 30 % of disabled walkers stop within 50 m, 20 % more within 200 m",
    "CIHT (2018), Buses in Urban Developments: 400 m to a bus stop, 250 m preferred for older people",
    "WHO Europe (2016), Urban green spaces and health: green space within 300 m of home",
    "Moreno et al. (2021), Smart Cities 4(1): the 15-minute city (15 min at 0.8 m/s = 720 m)",
    "WHO (2007), Global Age-friendly Cities: A Guide: seating, toilets, transport, health services, shops",
)


def speed_mps(profile: str, walk_speed_mps: float) -> float:
    """The walking speed used, m/s: ``walk_speed_mps`` when above 0, else the profile's speed."""
    return float(walk_speed_mps) if walk_speed_mps and walk_speed_mps > 0 else SPEEDS[profile]
