"""The statistics RESULTS.md is written with: values over seeds, head-to-head comparisons, the verdict rule,
and markdown tables. One definition, shared by every section of the report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

RULE = (
    "For each comparison (one arch, objective and budget; or one held-out class and score) "
    "let d = mean(ours) − mean(equivalent) over seeds and s_p the pooled sample standard deviation of the two "
    "groups (ddof = 1, pooled over all seeds that have a spread). The comparison is **won** if d > s_p, "
    "**lost** if d < −s_p, and a **tie** otherwise. When neither side has two seeds there is no spread: the "
    "comparison is **indicative** only (its sign is shown) and counts neither as won nor as lost. A claim "
    "**holds** if every comparison with a spread is won, **does not hold** if none is, and **holds partly** "
    "otherwise. A verdict on fewer comparisons than the full grid is marked *provisional*."
)


@dataclass
class Stat:
    """Values over seeds."""

    values: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof = 1); 0 for a single seed."""
        return float(np.std(self.values, ddof=1)) if self.n > 1 else 0.0


def fmt(s: Stat | None, digits: int = 2, n: bool = True) -> str:
    if s is None or s.n == 0:
        return "–"
    text = f"{s.mean:.{digits}f}" + (f" ± {s.std:.{digits}f}" if s.n > 1 else "")
    return text + (f" (n={s.n})" if n else "")


@dataclass
class Comparison:
    """One head-to-head: ours minus the equivalent, with the rule's outcome."""

    what: str
    ours: Stat
    other: Stat

    @property
    def d(self) -> float:
        return self.ours.mean - self.other.mean

    @property
    def pooled_std(self) -> float | None:
        dof = self.ours.n + self.other.n - 2
        if dof <= 0:
            return None
        return math.sqrt(((self.ours.n - 1) * self.ours.std**2 + (self.other.n - 1) * self.other.std**2) / dof)

    @property
    def outcome(self) -> str:
        s = self.pooled_std
        if s is None:  # no seed spread on either side: the sign alone is no evidence
            return "indicative"
        return "won" if self.d > s else "lost" if self.d < -s else "tie"

    def describe(self, digits: int = 2) -> str:
        sp = self.pooled_std
        spread = f"s_p {sp:.{digits}f}" if sp is not None else "1 seed"
        return f"{self.d:+.{digits}f} ({spread}, n {self.ours.n}/{self.other.n}): {self.outcome}"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), line(["---"] * len(header)), *map(line, rows), ""]


def verdict(comps: list[Comparison], n_possible: int, n_cells: int, expected: int | None) -> str:
    if not comps:
        return f"verdict: **{not_measured(n_cells, expected)}**"
    counted = [c for c in comps if c.outcome != "indicative"]
    indicative = len(comps) - len(counted)
    ind = f", {indicative} indicative (1 seed)" if indicative else ""
    tail = (
        f"; *provisional*: {len(comps)} of {n_possible} comparisons measurable, {n_cells} of {expected or '?'} cells"
        if len(comps) < n_possible
        else ""
    )
    if not counted:
        return f"verdict: **indicative only** ({indicative} comparisons on 1 seed{tail})"
    won = sum(c.outcome == "won" for c in counted)
    lost = sum(c.outcome == "lost" for c in counted)
    word = "holds" if won == len(counted) else "does not hold" if won == 0 else "holds partly"
    return (f"verdict: **{word}** ({won} of {len(counted)} comparisons won, {lost} lost, "
            f"{len(counted) - won - lost} tied{ind}{tail})")


def not_measured(n: int, expected: int | None) -> str:
    return f"not measured yet ({n} of {expected if expected is not None else '?'} cells)"
