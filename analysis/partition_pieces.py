"""The connected pieces of a whole street network, found tile by tile (no Qt, no Dask).

What an analysis needs to know of the *whole* network — which street lines lie on pieces shorter
than ``min_piece_m``, which lie off the largest piece, how many nodes and pieces it has — is
found without ever building the whole network in one place: the streets' extent is cut into a
grid of cells (each with about ``tile_rows`` lines), and each cell builds the network of the
lines around it. Every join of the whole network (two lines meeting at a node) lies in some cell,
where both lines are read; and every join a cell finds is a join of the whole network (a cell's
network is built from whole lines, with their clusters of line ends complete, so it is a
sub-network of the whole one). A line is one piece of connectivity (its parts meet at its own
nodes). Hence the pieces of the whole network are the connected groups of (line, cell piece)
pairs over all cells, found on the client with scipy's ``connected_components`` over the pairs:
a few integers per line, never geometries.

A piece's figures are summed over owners, so nothing is counted twice: a node is counted by the
cell it lies in (half-open cells), a line's length (the length of its edges after the ends were
joined) by the cell its first point lies in, read with a margin around the whole line so that
every line touching it — and so its joins — is there. The largest piece is the one with the most
nodes; a tie goes to the piece whose first node comes first in the network's node numbering
(250 m bands from the south, then west to east), as in :func:`analysis.network.build_network`.
Lengths are summed line by line rather than edge by edge: a piece within a rounding error
(~1e-9 m) of ``min_piece_m`` may be judged differently from the single run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from analysis.network import build_network
from analysis.partition_sources import Box, extent_of
from layers.feedback import Feedback, ensure

#: Metres read around a cell's own lines (more than the 0.5 m the network joins ends and lines within).
MARGIN_M = 10.0
#: Height of the bands the network numbers its nodes in (see ``network_build._assemble``).
BAND_M = 250.0


@dataclass
class PiecesTask:
    source: object  # FrameSource or FileSource of the streets
    cell: Box
    origin_y: float  # the whole network's local origin (its bands start there)


@dataclass
class PiecesTile:
    line_ids: np.ndarray  # (line, cell piece) pairs
    line_piece: np.ndarray
    owned_ids: np.ndarray  # the lines whose first point lies in the cell, and their lengths
    owned_len: np.ndarray
    piece_nodes: np.ndarray  # per cell piece: its nodes in the cell, and the first one's (band, x, y)
    piece_key: np.ndarray


def grid_cells(bounds: Box, count: int, tile_rows: int) -> list[Box]:
    """A grid over ``bounds`` of about ``tile_rows`` of ``count`` features per cell on average,
    in Hilbert order (neighbouring cells one after the other), half-open cells whose last row and
    column reach just past the bounds (every point of the extent lies in exactly one cell)."""
    from analysis.partition_sources import hilbert_order

    x0, y0, x1, y1 = bounds
    n = max(1, int(np.ceil(count / max(tile_rows, 1))))
    side = max(1, int(np.ceil(np.sqrt(n))))
    w, h = (x1 - x0) / side or 1.0, (y1 - y0) / side or 1.0
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    i, j = i.ravel(), j.ravel()
    order = hilbert_order(np.c_[i, j].astype(float))
    cells = []
    for a, b in zip(i[order], j[order], strict=True):
        cx1 = x0 + (a + 1) * w if a < side - 1 else np.nextafter(x1, np.inf)
        cy1 = y0 + (b + 1) * h if b < side - 1 else np.nextafter(y1, np.inf)
        cells.append((x0 + a * w, y0 + b * h, float(cx1), float(cy1)))
    return cells


def in_cell(xy: np.ndarray, cell: Box) -> np.ndarray:
    x0, y0, x1, y1 = cell
    return (xy[:, 0] >= x0) & (xy[:, 1] >= y0) & (xy[:, 0] < x1) & (xy[:, 1] < y1)


def first_points(geoms: np.ndarray) -> np.ndarray:
    """The first point (n, 2) of each line (of its first part); NaN for other or missing geometries."""
    xy = np.full((len(geoms), 2), np.nan)
    lines = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (1, 5)))
    if len(lines):
        coords, owner = shapely.get_coordinates(geoms[lines], return_index=True)
        if len(owner):
            first = np.r_[True, owner[1:] != owner[:-1]]
            xy[lines[owner[first]]] = coords[first]
    return xy


def pieces_tile(task: PiecesTask) -> PiecesTile:
    """Runs on a worker: the pieces of the network of the lines around one cell."""
    none = np.empty(0, np.int64)
    empty = PiecesTile(none, none, none, np.empty(0), none, np.empty((0, 3)))
    gdf, ids = task.source.select(task.cell)
    if len(ids) == 0:
        return empty
    start = first_points(gdf.geometry.to_numpy())
    owned = np.isfinite(start).all(axis=1) & in_cell(np.nan_to_num(start, nan=np.inf), task.cell)
    box = task.cell
    if owned.any():
        b = shapely.bounds(gdf.geometry.to_numpy()[owned])
        box = (min(box[0], b[:, 0].min()), min(box[1], b[:, 1].min()), max(box[2], b[:, 2].max()),
               max(box[3], b[:, 3].max()))
    owned_ids = ids[owned]
    box = (box[0] - MARGIN_M, box[1] - MARGIN_M, box[2] + MARGIN_M, box[3] + MARGIN_M)
    gdf, ids = task.source.select_lines(box)
    ids = np.asarray(ids)
    geoms = gdf.geometry
    if len(gdf) == 0 or not (geoms.notna() & ~geoms.is_empty).any():
        return empty
    net = build_network(gdf.reset_index(drop=True))
    if len(net.edge_u) == 0:
        return empty
    comp = net.component[net.edge_u]
    pairs = np.unique(np.c_[ids[net.edge_source], comp], axis=0)
    length = np.bincount(net.edge_source, weights=net.edge_len_m, minlength=len(ids))
    own_rows = np.searchsorted(ids, owned_ids)
    n_comp = int(net.component.max()) + 1
    mine = in_cell(net.node_xy, task.cell)
    nodes = np.bincount(net.component[mine], minlength=n_comp)
    key = np.full((n_comp, 3), np.inf)
    if mine.any():
        xy = net.node_xy[mine]
        k = np.c_[np.floor((xy[:, 1] - task.origin_y) / BAND_M), xy[:, 0], xy[:, 1]]
        c = net.component[mine]
        order = np.lexsort((k[:, 2], k[:, 1], k[:, 0], c))
        first = order[np.r_[True, c[order][1:] != c[order][:-1]]]
        key[c[first]] = k[first]
    return PiecesTile(pairs[:, 0], pairs[:, 1], owned_ids, length[own_rows], nodes, key)


@dataclass
class Pieces:
    """The pieces of the whole network, per line id (``ids``, sorted)."""

    ids: np.ndarray
    piece: np.ndarray  # per line: its piece (0 = the largest)
    piece_len_m: np.ndarray  # per piece
    nodes: int

    @property
    def count(self) -> int:
        return len(self.piece_len_m)

    def small_ids(self, min_piece_m: float) -> np.ndarray:
        """Lines on pieces shorter than ``min_piece_m`` (never the largest piece)."""
        if min_piece_m <= 0:
            return np.empty(0, np.int64)
        small = self.piece_len_m < float(min_piece_m)
        small[:1] = False
        return self.ids[small[self.piece]]

    def off_main_ids(self) -> np.ndarray:
        return self.ids[self.piece != 0]


def street_pieces(source, engine, *, tile_rows: int, feedback: Feedback | None = None) -> Pieces:
    """The pieces of the network of ``source`` (a FrameSource or FileSource of street lines),
    cell by cell on ``engine`` (see the module docstring)."""
    fb = ensure(feedback)
    bounds = extent_of([source.bounds()])
    cells = grid_cells(bounds, source.count(), tile_rows)
    origin_y = float(np.floor(bounds[1]))
    tiles = []
    for done, tile in enumerate(engine.map(pieces_tile, [PiecesTask(source, c, origin_y) for c in cells], fb), 1):
        tiles.append(tile)
        fb.progress(done / len(cells), f"streets: cell {done} of {len(cells)}")
    return merge_pieces(tiles)


def merge_pieces(tiles: list[PiecesTile]) -> Pieces:
    line_ids = np.concatenate([t.line_ids for t in tiles] + [np.empty(0, np.int64)])
    ids = np.unique(line_ids)
    if len(ids) == 0:
        return Pieces(ids, np.empty(0, np.int64), np.empty(0), 0)
    offsets = np.cumsum([0] + [len(t.piece_nodes) for t in tiles])
    n_lines, n_cell_pieces = len(ids), int(offsets[-1])
    rows = np.searchsorted(ids, line_ids)
    cols = n_lines + np.concatenate([t.line_piece + o for t, o in zip(tiles, offsets[:-1], strict=True)])
    n = n_lines + n_cell_pieces
    graph = sp.coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    cell_label = label[n_lines:]
    used, piece = np.unique(label[:n_lines], return_inverse=True)
    cell_piece = np.searchsorted(used, cell_label)  # every cell piece holds a line, so it is among them
    nodes = np.bincount(cell_piece, weights=np.concatenate([t.piece_nodes for t in tiles]), minlength=len(used))
    keys = np.concatenate([t.piece_key for t in tiles])
    order = np.lexsort((keys[:, 2], keys[:, 1], keys[:, 0], cell_piece))
    first = order[np.r_[True, cell_piece[order][1:] != cell_piece[order][:-1]]]
    key = np.full((len(used), 3), np.inf)
    key[cell_piece[first]] = keys[first]
    owned = np.concatenate([t.owned_ids for t in tiles])
    owned_len = np.concatenate([t.owned_len for t in tiles])
    on_net = np.isin(owned, ids)
    length = np.bincount(piece[np.searchsorted(ids, owned[on_net])], weights=owned_len[on_net], minlength=len(used))
    rank = np.empty(len(used), np.int64)
    rank[np.lexsort((key[:, 2], key[:, 1], key[:, 0], -nodes))] = np.arange(len(used))
    piece_len = np.empty(len(used))
    piece_len[rank] = length
    return Pieces(ids, rank[piece], piece_len, int(nodes.sum()))

