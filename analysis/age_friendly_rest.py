"""Rest-aware walking access and new bench sites for the ``age-friendly`` analysis.

A walk is *rest-aware* when no stretch between the home, the rests used (benches, stops with a
shelter or seat) and the destination is longer than ``L`` (``rest_max_m``), every stretch measured
as the engine measures distances (snap leg + network + snap leg, so a detour to a bench off the
street counts its snap leg twice: there and back). The shortest such walk is found on a sparse
graph whose edges are the pairs of points at most ``L`` apart (``point_distances_within``):
home -> rest, rest -> rest, rest -> destination and home -> destination. Homes are sinks (nobody
rests in another person's home). One multi-source Dijkstra per destination role, run from the
destinations on the reversed graph, gives every home its rest-aware distance at once.

New bench sites are chosen greedily among points every ``SAMPLE_SPACING_M`` along the streets
(those within two stretches, 2 L as the crow flies, of a home that misses rest-aware access):
each step adds the site that gives the most residents rest-aware access to a destination role
they can reach within its maximum but not yet with rests (the ``benches`` role itself is left out:
a new bench would trivially serve it). A site's gain is estimated from the homes that reach it
directly (one stretch <= L) or through one rest (existing or already picked), with the site's own
exact rest-aware walk onward: that estimate never exceeds the true gain (it may miss homes that
need two or more rests before the site). After each pick the rest-aware distances are updated
exactly (one bounded search from the new bench) and the true gain is reported; only the estimates
of the sites that pick can change (near the homes it connected, near it, or with a shorter walk
onward) are computed again. Greedy, so not
necessarily the best set of k sites (benches in series help each other, which greedy misses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from analysis.age_friendly_params import SAMPLE_SPACING_M
from analysis.network import Network, Snapped, point_distances_within
from analysis.network_local import csr_from_entries
from layers.feedback import Feedback, SubFeedback, ensure
from layers.gil import breathe

#: Tag values of a stop's ``shelter``, ``bench`` or ``seat`` column that make it a rest (OSM:
#: ``external``/``separate`` mean a shelter mapped as its own feature). A count above 0 counts too.
REST_VALUES = ("yes", "true", "1", "external", "separate")
REST_COLUMNS = ("shelter", "bench", "seat", "seats")
_TOL = 1e-6  # metres: a distance equal to a limit is within it
CHUNK = 50_000  # geometries made at a time


def take(s: Snapped, idx: np.ndarray) -> Snapped:
    """The snapped points ``idx`` of ``s``."""
    return Snapped(edge=s.edge[idx], along_m=s.along_m[idx], snap_m=s.snap_m[idx], xy=s.xy[idx])


def concat(parts: list[Snapped]) -> Snapped:
    return Snapped(edge=np.concatenate([p.edge for p in parts]).astype(int),
                   along_m=np.concatenate([p.along_m for p in parts]).astype(float),
                   snap_m=np.concatenate([p.snap_m for p in parts]).astype(float),
                   xy=np.concatenate([np.asarray(p.xy, dtype=float).reshape(-1, 2) for p in parts]))


def target_points(gdf, spacing_m: float = SAMPLE_SPACING_M) -> tuple[np.ndarray, np.ndarray]:
    """Points at which the features of ``gdf`` are reached, and the row position of each one's
    feature: a point is itself; a polygon is reached at its edge, sampled every ``spacing_m`` (its
    corners too); a line anywhere along it, sampled the same way."""
    geoms = gdf.geometry.to_numpy()
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = np.where(keep, geoms, None)
    invalid = keep & ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    parts, owner = shapely.get_parts(geoms, return_index=True)  # multi-parts and repaired collections
    dim = shapely.get_dimensions(parts)
    parts = np.where(dim == 2, shapely.boundary(parts), parts)
    parts = np.where(dim >= 1, shapely.segmentize(parts, spacing_m), parts)
    xy, part = shapely.get_coordinates(parts, return_index=True)
    return shapely.points(xy), owner[part]


def rest_points(benches, transit_stops) -> tuple[np.ndarray, np.ndarray]:
    """Rest points (benches, and transit stops tagged with a shelter or a seat) and their kind
    ('bench' or 'stop')."""
    parts, kinds = [], []
    if benches is not None:
        pts, _ = target_points(benches)
        parts.append(pts)
        kinds.append(np.full(len(pts), "bench", dtype=object))
    if transit_stops is not None:
        seated = np.zeros(len(transit_stops), dtype=bool)
        for col in REST_COLUMNS:
            if col in transit_stops.columns:
                text = transit_stops[col].astype("string").str.strip().str.lower()
                number = pd.to_numeric(transit_stops[col], errors="coerce")
                seated |= (text.isin(REST_VALUES).fillna(False) | (number > 0).fillna(False)).to_numpy(dtype=bool)
        pts, feature = target_points(transit_stops)
        pts = pts[seated[feature]]
        parts.append(pts)
        kinds.append(np.full(len(pts), "stop", dtype=object))
    if not parts:
        return np.empty(0, dtype=object), np.empty(0, dtype=object)
    return np.concatenate(parts), np.concatenate(kinds)


def street_candidates(network: Network, spacing_m: float = SAMPLE_SPACING_M, *,
                      min_piece_m: float = 0.0) -> tuple[np.ndarray, Snapped]:
    """Candidate bench sites: points on the network edges, one at the middle of each piece of
    about ``spacing_m`` (an edge shorter than that gets its midpoint); with ``min_piece_m`` only on
    the largest piece of network and pieces with at least that much street. Returns the points
    and the same sites as snapped points (on their edges, snap leg 0)."""
    edges = (np.flatnonzero(network.edges_on_pieces_of(min_piece_m)) if min_piece_m > 0
             else np.arange(len(network.edge_len_m)))
    n = np.maximum(1, np.round(network.edge_len_m[edges] / spacing_m)).astype(int)
    edge = np.repeat(edges, n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    fraction = (k + 0.5) / np.repeat(n, n)
    points = np.empty(len(edge), dtype=object)
    for i in range(0, len(edge), CHUNK):  # new Points are made holding the GIL: in pieces, the window breathes
        s = slice(i, i + CHUNK)
        points[s] = shapely.line_interpolate_point(network.edge_geom[edge[s]], fraction[s], normalized=True)
        breathe()
    along = fraction * network.edge_len_m[edge]
    return points, Snapped(edge.astype(np.int64), along, np.zeros(len(edge)), shapely.get_coordinates(points))


@dataclass
class RestGraph:
    """The sparse graph of stretches of at most ``limit_m``: homes, rests and per role the
    destinations, with the matrices of network distances between them (original direction)."""

    network: Network
    homes: Snapped
    rests: Snapped
    limit_m: float
    hr: sp.csr_matrix  # homes x rests
    rr: sp.csr_matrix  # rests x rests
    dests: dict[str, Snapped]
    hd: dict[str, sp.csr_matrix]  # homes x destinations
    rd: dict[str, sp.csr_matrix]  # rests x destinations


def build_rest_graph(network: Network, homes: Snapped, rests: Snapped, dests: dict[str, Snapped], limit_m: float,
                     feedback: Feedback | None = None) -> RestGraph:
    """Every stretch of at most ``limit_m`` between homes, rests and destinations, in metres."""
    fb = ensure(feedback)
    pairs = [("hr", homes, rests), ("rr", rests, rests)]
    pairs += [(role, x, d) for role, d in dests.items() for x in (homes, rests)]
    found = []
    for i, (_, a, b) in enumerate(pairs):
        fb.check_cancelled()
        sub = SubFeedback(fb, i / len(pairs), (i + 1) / len(pairs))
        found.append(point_distances_within(network, a, b, limit_m, feedback=sub))
        sub.progress(1.0, "Finding stretches between rests")
    hr, rr = found[0], found[1]
    hd = {role: found[2 + 2 * i] for i, role in enumerate(dests)}
    rd = {role: found[3 + 2 * i] for i, role in enumerate(dests)}
    return RestGraph(network, homes, rests, limit_m, sp.csr_matrix(hr), sp.csr_matrix(rr), dests,
                     {k: sp.csr_matrix(v) for k, v in hd.items()}, {k: sp.csr_matrix(v) for k, v in rd.items()})


def _shortest_from(n_nodes: int, sources: np.ndarray, blocks: list[tuple[int, int, sp.spmatrix]],
                   limit: float = np.inf) -> np.ndarray:
    """Multi-source Dijkstra distances over a directed graph given as blocks (row offset, column
    offset, matrix of edge weights); the blocks do not overlap.

    The nodes without edges out (homes, candidate sites not picked) lie on no path to another
    node: the search runs over the others only (a much smaller graph, so a shorter hold of the
    GIL), and a dead end's distance is then the shortest way in (the same sums the search would
    make), in chunks between which the window breathes."""
    if len(sources) == 0:
        return np.full(n_nodes, np.inf)
    rows, cols, vals = [], [], []
    for r0, c0, m in blocks:
        m = m.tocoo()
        keep = m.data > 0  # 0 means absent; a true 0 is stored as a tiny epsilon
        rows.append(m.row[keep].astype(np.int64) + r0)
        cols.append(m.col[keep].astype(np.int64) + c0)
        vals.append(m.data[keep])
        breathe()
    rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    inner = np.zeros(n_nodes, dtype=bool)  # nodes with edges out, and the sources
    inner[rows] = True
    inner[sources] = True
    ids = np.flatnonzero(inner)
    local = np.full(n_nodes, -1, np.int64)
    local[ids] = np.arange(len(ids))
    on = inner[cols]
    breathe()
    graph = csr_from_entries(local[rows[on]], local[cols[on]], vals[on], len(ids))
    out = np.full(n_nodes, np.inf)
    found = dijkstra(graph, directed=True, indices=local[sources], min_only=True, limit=limit)
    out[ids] = found
    r, c, d = local[rows[~on]], cols[~on], vals[~on]
    reached = np.isfinite(found)[r]  # ways in from nodes the search reached (one bench: a few)
    r, c, d = r[reached], c[reached], d[reached]
    for i in range(0, len(r), 4 * CHUNK):
        s = slice(i, i + 4 * CHUNK)
        np.minimum.at(out, c[s], found[r[s]] + d[s])
        breathe()
    out[~inner & (out > limit)] = np.inf  # as the search leaves nodes beyond the limit
    return out


@dataclass
class _Candidates:
    sites: Snapped
    hc: sp.csc_matrix  # homes x sites
    rc: sp.csr_matrix  # rests x sites
    dc: dict[str, sp.csr_matrix]  # destinations x sites
    cc: list[sp.csr_matrix]  # one row (1 x sites) per picked site


def _walk_blocks(g: RestGraph, extra: _Candidates | None, picked: list[int]) -> list:
    """The reversed stretches between homes (nodes 0..), rests and candidate sites: the search
    runs from where people go back to the homes. Picked sites are rests: stretches lead to them."""
    n_h, n_r = len(g.homes.edge), len(g.rests.edge)
    P, C = n_h, n_h + n_r
    blocks = [(P, 0, g.hr.T), (P, P, g.rr.T)]
    if extra is not None:
        blocks.append((P, C, extra.rc))
        for j, c in enumerate(picked):
            blocks += [(C + c, 0, extra.hc[:, [c]].T), (C + c, P, extra.rc[:, [c]].T), (C + c, C, extra.cc[j])]
    return blocks


def _role_distances(g: RestGraph, role: str, extra: _Candidates | None = None, picked: list[int] = (),
                    limit: float = np.inf) -> np.ndarray:
    """Rest-aware metres to the nearest destination of ``role`` from every home, rest and
    candidate site (in that order); inf where there is no walk with all stretches <= limit_m."""
    n_h, n_r, n_d = len(g.homes.edge), len(g.rests.edge), len(g.dests[role].edge)
    n_c = 0 if extra is None else len(extra.sites.edge)
    P, C, D = n_h, n_h + n_r, n_h + n_r + n_c  # node offsets; the destinations last
    blocks = _walk_blocks(g, extra, list(picked)) + [(D, 0, g.hd[role].T), (D, P, g.rd[role].T)]
    if extra is not None:
        blocks.append((D, C, extra.dc[role]))
    return _shortest_from(D + n_d, np.arange(D, D + n_d), blocks, limit)[:D]


def rest_distances(g: RestGraph, role: str) -> np.ndarray:
    """Rest-aware distance in metres from each home to the nearest destination of ``role``: the
    shortest walk whose stretches (home, rests, destination) are all at most ``limit_m``; inf
    where there is none."""
    return _role_distances(g, role)[: len(g.homes.edge)]


def propose_benches(g: RestGraph, ok: dict[str, np.ndarray], rest_m: dict[str, np.ndarray],
                    max_m: dict[str, float], weights: np.ndarray, k: int, candidates: Snapped,
                    feedback: Feedback | None = None) -> pd.DataFrame:
    """Greedy choice of up to ``k`` new bench sites among ``candidates`` (sites on the streets,
    :func:`street_candidates`).

    ``ok``/``rest_m`` per role and home of ``g`` (reach within the maximum, rest-aware distance);
    ``weights`` residents per home. Returns one row per chosen site in order: ``index`` (into
    ``candidates``), ``residents_connected`` (residents who gain rest-aware access to at least one
    destination role, exact, given the sites chosen before), ``access_gained`` (resident-roles
    gained) and ``roles`` (the roles gained, comma-separated). Stops early when no site helps.

    After a pick the rest-aware distances are updated exactly by one bounded search from the
    new bench: a walk that uses it is the walk to it plus its own (unchanged) walk onward."""
    fb = ensure(feedback)
    columns = ["index", "residents_connected", "access_gained", "roles"]
    roles = [r for r in g.dests if r != "benches" and len(g.dests[r].edge)]
    missing = {r: ok[r] & ~(rest_m[r] <= max_m[r] + _TOL) & (weights > 0) for r in roles}
    homes = np.flatnonzero(np.any([missing[r] for r in roles], axis=0)) if roles else np.empty(0, dtype=int)
    if k <= 0 or len(homes) == 0 or len(candidates) == 0:
        return pd.DataFrame(columns=columns)
    fb.progress(0.0, "Proposing new benches")
    sub = RestGraph(g.network, take(g.homes, homes), g.rests, g.limit_m, g.hr[homes], g.rr,
                    {r: g.dests[r] for r in roles}, {r: g.hd[r][homes] for r in roles}, {r: g.rd[r] for r in roles})
    w = weights[homes]
    miss = {r: missing[r][homes] for r in roles}
    L = g.limit_m
    # a site helps only homes within two stretches (home -> rest -> site), so within 2 L as the crow flies
    near = cKDTree(sub.homes.xy).query(candidates.xy, distance_upper_bound=2 * L + _TOL)[0]
    on_street = np.flatnonzero((candidates.edge >= 0) & np.isfinite(near))
    if len(on_street) == 0:
        return pd.DataFrame(columns=columns)
    sites = take(candidates, on_street)
    # the walks from the rests and the destinations to the sites in one pass (many sources per local search)
    starts = [g.rests, *(sub.dests[r] for r in roles)]
    part = SubFeedback(fb, 0.0, 0.3)
    walks = sp.csr_matrix(point_distances_within(g.network, concat(starts), sites, L, feedback=part))
    part.progress(1.0, "Measuring walks from the candidate bench sites")
    ends = np.cumsum([len(a.edge) for a in starts])
    found = [walks[a:b] for a, b in zip(np.r_[0, ends[:-1]], ends, strict=True)]
    cand = _Candidates(sites, sp.csc_matrix((len(homes), len(on_street))), found[0],
                       dict(zip(roles, found[1:], strict=True)), [])
    n_h, C = len(homes), len(homes) + len(g.rests.edge)
    dist = {}
    for i, r in enumerate(roles):
        fb.check_cancelled()
        dist[r] = _role_distances(sub, r, cand, limit=max_m[r] + _TOL)
        fb.progress(0.3 + 0.1 * (i + 1) / len(roles), "Rest-aware walks from the candidate sites")
    # the walks from the homes only to the sites from which some destination is in reach (the others
    # gain nothing now; a pick may bring them in reach: then they count by the rests, a lower bound)
    with np.errstate(invalid="ignore"):
        useful = np.flatnonzero(np.any([dist[r][C:] <= max_m[r] + _TOL for r in roles], axis=0))
    part = SubFeedback(fb, 0.4, 0.6)
    hc = point_distances_within(g.network, sub.homes, take(sites, useful), L, feedback=part).tocoo()
    cand.hc = sp.csc_matrix((hc.data, (hc.row, useful[hc.col])), shape=(n_h, len(on_street)))
    has_hc = np.zeros(len(on_street), dtype=bool)
    has_hc[useful] = True
    farthest = max(max_m[r] for r in roles) + _TOL
    picked: list[int] = []
    rows = []
    gain = _estimated_gain(sub, cand, picked, miss, {r: dist[r][C:] for r in roles}, max_m, w)
    for step in range(1, k + 1):
        fb.check_cancelled()
        gain[picked] = 0.0
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        picked.append(best)
        if not has_hc[best]:
            col = point_distances_within(g.network, sub.homes, take(sites, np.array([best])), L).tocoo()
            cand.hc = (cand.hc + sp.csc_matrix((col.data, (col.row, np.full(col.nnz, best))),
                                               shape=cand.hc.shape)).tocsc()
            has_hc[best] = True
        cand.cc.append(sp.csr_matrix(point_distances_within(g.network, take(sites, np.array([best])), sites, L)))
        to_new = _shortest_from(C + len(on_street), np.array([C + best]), _walk_blocks(sub, cand, picked), farthest)
        fixed, changed = {}, np.zeros(len(on_street), dtype=bool)
        for r in roles:
            new = np.minimum(dist[r], to_new + dist[r][C + best])
            changed |= new[C:] < dist[r][C:]
            dist[r] = new
            fixed[r] = miss[r] & (dist[r][:n_h] <= max_m[r] + _TOL)
        any_fixed = np.any([fixed[r] for r in roles], axis=0)
        gained = [r for r in roles if fixed[r].any()]
        gained_m = float(sum(w[fixed[r]].sum() for r in roles))
        rows.append([int(on_street[best]), float(w[any_fixed].sum()), gained_m, ", ".join(gained)])
        miss = {r: miss[r] & ~fixed[r] for r in roles}
        # only the estimates of sites near the fixed homes, near the new bench or with a shorter walk onward change
        redo = _affected(sub, cand, np.flatnonzero(any_fixed), changed)
        gain[redo] = _estimated_gain(sub, cand, picked, miss, {r: dist[r][C:] for r in roles}, max_m, w, redo)[redo]
        fb.progress(0.6 + 0.4 * step / k, f"Proposing new benches ({step} of {k})")
    return pd.DataFrame(rows, columns=columns)


def _affected(g: RestGraph, cand: _Candidates, fixed_homes: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """The sites whose estimated gain may change after a pick: those within one or two stretches
    (through a rest or a picked site) of a home that gained access, those within a stretch of a
    picked site, and those whose rest-aware walk onward got shorter."""
    out = changed.copy()
    out[cand.hc[fixed_homes].tocsr().indices] = True
    rests = np.unique(g.hr[fixed_homes].indices)
    out[cand.rc[rests].indices] = True
    for row in cand.cc:
        out[row.indices] = True
    return out


def _estimated_gain(g: RestGraph, cand: _Candidates, picked: list[int], miss: dict[str, np.ndarray],
                    site_m: dict[str, np.ndarray], max_m: dict[str, float], w: np.ndarray,
                    only: np.ndarray | None = None) -> np.ndarray:
    """Residents per candidate site who would gain rest-aware access to a role they miss, counting
    walks home -> site directly or through one rest (existing or picked) - a lower bound of the
    true gain. With ``only`` (a mask of sites), the others get 0."""
    n_c, n_h = len(cand.sites.edge), len(w)
    with np.errstate(invalid="ignore"):
        slack = np.max([max_m[r] - site_m[r] for r in miss], axis=0) + _TOL  # metres left to reach a site
    useful = np.isfinite(slack) & (slack >= 0)
    if only is not None:
        useful &= only
    open_home = np.any([miss[r] for r in miss], axis=0)
    hc = _kept(cand.hc.tocoo(), open_home, useful, slack)
    left = sp.hstack([g.hr, cand.hc[:, picked]]).tocoo() if picked else g.hr.tocoo()
    right = sp.vstack([cand.rc, *cand.cc]).tocoo() if picked else cand.rc.tocoo()
    left = _kept(left, open_home, None, None)
    right = _kept(right, None, useful, slack)
    found = sp.csr_matrix((n_c, n_h))
    for h, c, f in [(hc.row, hc.col, hc.data), *_join(left, right)]:
        fixed = np.zeros(len(h), dtype=bool)
        for r in miss:
            fixed |= miss[r][h] & (f + site_m[r][c] <= max_m[r] + _TOL)
        found = found + sp.csr_matrix((np.ones(int(fixed.sum())), (c[fixed], h[fixed])), shape=(n_c, n_h))
    found.data[:] = 1.0  # a home counts once per site
    return found @ w


def _kept(m: sp.coo_matrix, rows: np.ndarray | None, cols: np.ndarray | None, slack: np.ndarray | None):
    """``m`` without the entries of rows or columns not kept, or longer than the column's slack."""
    keep = m.data > 0
    if rows is not None:
        keep &= rows[m.row]
    if cols is not None:
        keep &= cols[m.col] & (m.data <= slack[m.col])
    return sp.coo_matrix((m.data[keep], (m.row[keep], m.col[keep])), shape=m.shape)


def _join(left: sp.coo_matrix, right: sp.coo_matrix, chunk: int = 2_000_000):
    """(home, site, home->rest + rest->site) for every pair of stretches meeting at a rest, in
    chunks of about ``chunk`` pairs."""
    order = np.argsort(right.row, kind="stable")
    r_mid, r_site, r_m = right.row[order], right.col[order], right.data[order]
    count = np.bincount(r_mid, minlength=left.shape[1])
    start = np.cumsum(count) - count
    keep = (left.data > 0) & (count[left.col] > 0)
    l_home, l_mid, l_m = left.row[keep], left.col[keep], left.data[keep]
    rep = count[l_mid]
    bounds = np.searchsorted(np.cumsum(rep), np.arange(chunk, rep.sum() + chunk, chunk), side="right")
    lo = 0
    for hi in np.unique(np.append(bounds, len(rep))):
        if hi <= lo:
            continue
        n = rep[lo:hi]
        i = np.repeat(np.arange(lo, hi), n)
        j = start[l_mid[i]] + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        yield l_home[i], r_site[j], l_m[i] + r_m[j]
        lo = hi
