"""How an analysis runs partitioned (see :mod:`analysis.partition`): the declaration an analysis
module puts in its ``SPEC`` (``partition=PartitionSpec(...)``). No heavy imports: the registry
imports this module."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PartitionSpec:
    """``demand``: the role cut into tiles (each of its features is answered by exactly one tile);
    ``context``: the roles read within the halo of a tile; ``halo_m(params)``: the first halo width
    in metres, wide enough that most answers are certain at once (the maximum distance + snap
    distances; answers farther than the halo are computed again with a wider one, see
    :mod:`analysis.partition`); ``adapter``: the module with the per-tile and merge functions;
    ``global_roles``: small context layers the merge needs whole (e.g. the bins, whose loads are
    summed over all tiles); ``not_exact(params)``: why these parameters cannot be partitioned
    exactly (None when they can)."""

    demand: str
    context: tuple[str, ...]
    halo_m: Callable[[Mapping[str, object]], float]
    adapter: str
    global_roles: tuple[str, ...] = ()
    not_exact: Callable[[Mapping[str, object]], str | None] | None = field(default=None, compare=False)

    def reason(self, params: Mapping[str, object]) -> str | None:
        """Why the analysis with ``params`` must run on one machine, or None."""
        return self.not_exact(params) if self.not_exact is not None else None
