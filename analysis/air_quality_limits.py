"""Air-quality limit values and guidelines, and noise guidelines, with the data-coverage rules
``air-quality`` applies. Concentrations in µg/m³, noise in dB (A-weighted)."""

from __future__ import annotations

from dataclasses import dataclass

STANDARDS = {
    "eu2030": "EU 2024/2881 limit values (by 2030)",
    "who2021": "WHO 2021 air quality guidelines",
    "eu2008": "2008/50/EC limit values",
}
POLLUTANTS = ("NO2", "PM2.5", "PM10")
PREFIX = {"NO2": "no2", "PM2.5": "pm25", "PM10": "pm10"}


@dataclass(frozen=True)
class Limit:
    """``standard``: a key of STANDARDS; ``period``: year (annual mean), day (daily means above
    ``value``) or hour (hourly values above ``value``); ``allowed``: exceedances allowed a year."""

    standard: str
    pollutant: str
    period: str
    value: float
    allowed: int = 0


LIMITS = (
    Limit("eu2030", "PM2.5", "year", 10), Limit("eu2030", "PM2.5", "day", 25, 18),
    Limit("eu2030", "PM10", "year", 20), Limit("eu2030", "PM10", "day", 45, 18),
    Limit("eu2030", "NO2", "year", 20), Limit("eu2030", "NO2", "day", 50, 18), Limit("eu2030", "NO2", "hour", 200, 3),
    Limit("who2021", "PM2.5", "year", 5), Limit("who2021", "PM2.5", "day", 15, 3),
    Limit("who2021", "PM10", "year", 15), Limit("who2021", "PM10", "day", 45, 3),
    Limit("who2021", "NO2", "year", 10), Limit("who2021", "NO2", "day", 25, 3),
    Limit("eu2008", "PM2.5", "year", 25),
    Limit("eu2008", "PM10", "year", 40), Limit("eu2008", "PM10", "day", 50, 35),
    Limit("eu2008", "NO2", "year", 40), Limit("eu2008", "NO2", "hour", 200, 18),
)
#: WHO 2018 Environmental Noise Guidelines, road traffic.
NOISE_LIMITS = {"lden": 53.0, "lnight": 45.0}

#: Data-coverage rules.
DAY_COVERAGE = 0.75  # a daily mean needs 75 % of the day's hours (18 of 24; 17 of 23 and 19 of 25 on DST days)
HOUR_COVERAGE = 0.75  # an hourly mean from shorter readings needs 75 % of the hour (45 minutes)
YEAR_COVERAGE = 0.90  # an annual mean needs 90 % of the year's hours

COVERAGE_RULES = (
    "A daily mean counts when at least 75 % of the day's hours have a value (days are local calendar days in the "
    "time zone used: 23 or 25 hours on daylight-saving days). An annual mean is compared with a limit only when "
    "at least 90 % of the year's hours have a value (2008/50/EC Annex I; EU 2024/2881 Annex V); with less, the "
    "comparison is 'too little data' unless the allowed number of days or hours over a limit is already exceeded. "
    "Readings shorter than an hour are averaged to hours first (an hour needs 75 % of its readings).")

SOURCES = (
    "Directive (EU) 2024/2881, Annex I: limit values to be attained by 1 January 2030 — PM2.5 10 µg/m³ annual, "
    "25 µg/m³ daily (18 exceedances a year); PM10 20 annual, 45 daily (18); NO2 20 annual, 50 daily (18), 200 "
    "hourly (3).",
    "WHO global air quality guidelines (2021): PM2.5 5 µg/m³ annual, 15 24-hour; PM10 15, 45; NO2 10, 25. The "
    "24-hour guidelines are 99th percentiles: more than 3 days a year above them is an exceedance.",
    "Directive 2008/50/EC, Annex XI: PM10 40 µg/m³ annual, 50 daily (35 exceedances a year); PM2.5 25 annual; "
    "NO2 40 annual, 200 hourly (18).",
    "WHO Environmental Noise Guidelines for the European Region (2018), road traffic: 53 dB Lden, 45 dB Lnight. "
    "Lden from hourly LAeq: day 07–19 h, evening 19–23 h (+5 dB), night 23–07 h (+10 dB), local time.",
)


def daily_limits(pollutant: str) -> list[float]:
    """The distinct daily values compared for ``pollutant`` (a ``days_over`` column each)."""
    return sorted({lim.value for lim in LIMITS if lim.pollutant == pollutant and lim.period == "day"})


def hourly_limits(pollutant: str) -> list[float]:
    return sorted({lim.value for lim in LIMITS if lim.pollutant == pollutant and lim.period == "hour"})
