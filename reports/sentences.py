"""Plain-language sentences of key figures, generated from an analysis summary (never from a
template per analysis): the patterns are the summary's key names, shared by the analyses
(``covered_share`` with ``residents_not_covered``; ``*_before`` / ``*_after``; ``share_*``). An
analysis may declare its own ``sentences(summary, params, inputs) -> list[str]`` on its spec.

Numbers and labels are the window's (:mod:`analysis.figures`, :mod:`analysis.wording`), so the
report, the slides and the Results panel say the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping

from analysis.figures import format_value, thousands
from analysis.wording import headline as wording_headline
from analysis.wording import label_of

#: Input roles that are the population or the network, not the thing people walk to.
_BASE_ROLES = ("buildings", "streets", "grid", "features", "origins", "sensors", "reports")


def number(value: float) -> str:
    """A count or amount as people read it: 4 336 · 12.5 · 0.42."""
    value = float(value)
    if abs(value) >= 100 or value.is_integer():
        return thousands(round(value))  # 4 336, as the window writes it
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.1f}"


def percent(share: float) -> str:
    """A 0-1 share as a percentage with one decimal: 0.0738 -> 7.4 %."""
    return f"{float(share) * 100:.1f} %"


def is_share(key: str) -> bool:
    parts = key.split("_")
    return "share" in parts or key.endswith("_fraction")


def figure(key: str, value: object) -> str:
    """One summary value as text, as the window shows it (:func:`analysis.figures.format_value`):
    shares as percentages, residents whole, metres with their unit."""
    if isinstance(value, bool) or value is None:
        return str(value)
    return format_value(key, value)


def label(key: str) -> str:
    """A summary key as words, as the window labels it (:func:`analysis.wording.label_of`)."""
    return label_of(key)


def key_figures(summary: Mapping, limit: int = 8, spec=None) -> list[tuple[str, str]]:
    """(label, text) of the analysis's declared key figures (``Analysis.key_figures``), else of the
    summary's numbers and short texts in its order; at most ``limit``."""
    declared = [k for k in (getattr(spec, "key_figures", ()) or ()) if k in summary]
    out = []
    for key in declared or list(summary):
        value = summary[key]
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float) or (isinstance(value, str) and len(value) <= 40):
            out.append((label(key), figure(key, value)))
        if len(out) >= limit:
            break
    return out


def sentences(spec, summary: Mapping, params: Mapping, inputs: Mapping) -> list[str]:
    """The plain-language sentences of one run: the analysis's own, if it declares them, else
    the shared patterns, else its first figures."""
    own = getattr(spec, "sentences", None) if spec is not None else None
    if callable(own):
        try:
            found = [str(s) for s in own(dict(summary), dict(params), dict(inputs))]
            if found:
                return found
        except Exception:  # a broken sentence function must not stop the report
            pass
    out = _coverage(summary, params, inputs)  # names the layer walked to: more telling than the headline
    if spec is not None and getattr(spec, "headline", None) is not None:
        answer = wording_headline(summary, spec.id)  # the one-line answer the window shows
        if answer and not out:
            out.append(answer.rstrip(".") + ".")
    else:
        out += _before_after(summary) + _shares(summary)
    if not out:
        out = ["; ".join(f"{name}: {text}" for name, text in key_figures(summary, 4)) + "."]
    return out


def headline(spec, summary: Mapping, params: Mapping, inputs: Mapping) -> str:
    return sentences(spec, summary, params, inputs)[0]


def _target(inputs: Mapping) -> str:
    for role, name in inputs.items():
        if role not in _BASE_ROLES:
            return str(name)
    return "the destinations"


def _coverage(summary: Mapping, params: Mapping, inputs: Mapping) -> list[str]:
    keys = ("covered_share", "residents_not_covered", "residents_total")
    if not all(isinstance(summary.get(k), int | float) for k in keys):
        return []
    share, missing, total = (float(summary[k]) for k in keys)
    distance = params.get("max_distance_m")
    how = " walk" if "streets" in inputs else ""
    where = f"more than {number(distance)} m{how} from" if isinstance(distance, int | float) else "out of reach of"
    return [f"{number(missing)} residents ({percent(1 - share)}) live {where} {_target(inputs)}; "
            f"{number(total - missing)} of {number(total)} residents ({percent(share)}) are within reach."]


def _before_after(summary: Mapping) -> list[str]:
    out = []
    for key, value in summary.items():
        if not key.endswith("_before") or not isinstance(value, int | float):
            continue
        stem = key[: -len("_before")]
        after = summary.get(stem + "_after")
        if isinstance(after, int | float):
            out.append(f"{label(stem)}: {figure(key, value)} before, {figure(stem + '_after', after)} after.")
    for key in ("residents_added", "residents_gained"):
        if isinstance(summary.get(key), int | float):
            out.append(f"{number(summary[key])} more residents are within reach.")
    return out


def _shares(summary: Mapping) -> list[str]:
    """``share_*`` figures that are not per-destination details (those with a suffix)."""
    out = []
    for key, value in summary.items():
        if key.startswith("share_") and isinstance(value, int | float) and key.count("_") <= 4 \
                and not any(key.endswith(r) for r in ("_stops", "_benches", "_toilets", "_pharmacies",
                                                        "_groceries", "_spaces", "_healthcare")):
            out.append(f"{label(key)}: {percent(value)} of residents.")
    return out[:3]
