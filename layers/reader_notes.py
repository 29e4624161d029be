"""What a reader found in a file, beyond its features, kept in the frame's ``attrs`` (no Qt): a
GTFS feed's validation report, an Open311 file's counts of requests without coordinates. Shown by
``citydesk info`` and in the Layers panel's tooltip."""

from __future__ import annotations


def reader_notes(attrs: dict) -> tuple[str, ...]:
    """The reader's findings kept in ``attrs``: a GTFS feed's report, an Open311 file's counts."""
    notes = [str(line) for line in attrs.get("gtfs_report") or ()]
    counts = attrs.get("open311")
    if isinstance(counts, dict):
        notes.append(f"{counts.get('requests', 0)} requests, {counts.get('without_coordinates', 0)} without "
                     f"coordinates (kept, not on the map)")
        for key, label in (("dates_without_time_zone", "dates without a time zone (read as UTC)"),
                           ("unreadable_dates", "unreadable dates")):
            if counts.get(key):
                notes.append(f"{counts[key]} {label}")
    return tuple(notes)
