"""The validation report of a GTFS feed: each problem names the file, the line and the field.

Problems do not stop the reading: the rows they touch are left out (or repaired, e.g. a bad time
between two good ones is interpolated) and the rest of the feed is used. The report keeps the first
few examples of each kind of problem and counts them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXAMPLES = 5  # examples kept per kind of problem


@dataclass(frozen=True)
class Issue:
    """One problem: ``file`` (e.g. ``stop_times.txt``), ``line`` (1 = the header line, None for the
    whole file), ``field`` (a column, None for the whole row or file), what is wrong and what was done."""

    file: str
    line: int | None
    field: str | None
    problem: str
    action: str = ""
    kind: str = ""  # groups issues of one kind in the report

    def text(self) -> str:
        where = self.file + (f" line {self.line:,}" if self.line is not None else "")
        where += f", field {self.field}" if self.field else ""
        return f"{where}: {self.problem}" + (f" ({self.action})" if self.action else "")


@dataclass
class FeedReport:
    """The problems found in a feed, by kind (file, field, problem without the row's values)."""

    path: str = ""
    issues: list[Issue] = field(default_factory=list)
    counts: dict[tuple[str, str | None, str], int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # facts, e.g. "no calendar_dates.txt"

    def add(self, file: str, line: int | None, field_name: str | None, problem: str, *, kind: str = "",
            action: str = "", count: int = 1) -> None:
        """Record ``count`` problems of one kind (``kind`` groups them; default: the problem text)."""
        key = (file, field_name, kind or problem)
        seen = self.counts.get(key, 0)
        self.counts[key] = seen + count
        if seen < EXAMPLES:
            self.issues.append(Issue(file, line, field_name, problem, action, key[2]))

    def add_rows(self, file: str, lines, field_name: str | None, problems, *, kind: str, action: str = "") -> None:
        """Many problems of one kind at once: ``lines`` and ``problems`` are sequences (only the
        first few are turned into text)."""
        n = len(lines)
        if n == 0:
            return
        seen = self.counts.get((file, field_name, kind), 0)
        for i in range(max(0, min(n, EXAMPLES - seen))):
            self.issues.append(Issue(file, int(lines[i]), field_name, str(problems[i]), action, kind))
        self.counts[(file, field_name, kind)] = seen + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __bool__(self) -> bool:
        return self.total > 0

    def lines(self) -> list[str]:
        """The report as lines of text: per kind, its count, then its examples."""
        out = list(self.notes)
        for (file, field_name, kind), n in self.counts.items():
            examples = [i for i in self.issues if (i.file, i.field, i.kind) == (file, field_name, kind)]
            head = f"{file}" + (f", field {field_name}" if field_name else "") + f": {kind} — {n:,} time(s)"
            out.append(head)
            out.extend("    " + i.text() for i in examples[:EXAMPLES])
        return out

    def text(self) -> str:
        return "\n".join(self.lines()) if (self.counts or self.notes) else "No problems found."

