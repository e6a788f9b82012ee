"""Small-sample statistics of a study: mean +- 95 % Student-t interval, Welch and paired t tests.

scipy is imported inside the functions (``arz`` must start fast). A sample of one value has no
interval: its half-width is NaN and is shown as ``n/a``, never as 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05
"""Two-sided level of every test and interval here (95 %)."""


@dataclass(frozen=True)
class Estimate:
    """Mean of ``n`` values and the half-width of its 95 % Student-t interval (NaN when n < 2)."""

    mean: float
    ci95: float
    n: int

    def text(self) -> str:
        """``12.3 ± 1.2``, ``12.3 ± n/a`` from one value, ``n/a`` from none."""
        if self.n == 0:
            return "n/a"
        spread = "n/a" if math.isnan(self.ci95) else number_text(self.ci95)
        return f"{number_text(self.mean)} ± {spread}"


@dataclass(frozen=True)
class Test:
    """A two-sided t test of "no difference".

    Attributes:
        kind: ``paired`` (same draws on both sides) or ``welch`` (independent samples).
        n_a, n_b: sample sizes (for ``paired`` both are the number of pairs).
        p_value: two-sided p, or NaN when the test is undefined (no spread at all).
        significant: p < 0.05; None when the test is undefined.
    """

    kind: str
    n_a: int
    n_b: int
    p_value: float
    significant: bool | None


def t_quantile(dof: int) -> float:
    """The 97.5 % quantile of Student's t with ``dof`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(1 - ALPHA / 2, dof))


def mean_ci(values: Sequence[float]) -> Estimate:
    """Mean and 95 % t-interval half-width of ``values`` (``sd / sqrt(n) * t(0.975, n-1)``)."""
    n = len(values)
    if n == 0:
        return Estimate(math.nan, math.nan, 0)
    mean = math.fsum(values) / n
    if n < 2:
        return Estimate(mean, math.nan, 1)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    return Estimate(mean, t_quantile(n - 1) * sd / math.sqrt(n), n)


def welch_test(a: Sequence[float], b: Sequence[float]) -> Test | None:
    """Welch's unequal-variance t test of mean(a) = mean(b); None below two values a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    if len(set(a)) == 1 and len(set(b)) == 1:  # no spread on either side: t is undefined
        return _test("welch", len(a), len(b), math.nan, same=a[0] == b[0])
    from scipy.stats import ttest_ind

    p = float(ttest_ind(list(b), list(a), equal_var=False).pvalue)
    return _test("welch", len(a), len(b), p, same=False)


def paired_test(differences: Sequence[float]) -> Test | None:
    """Paired t test of mean(differences) = 0; None below two pairs. All-zero differences are
    "no difference" (p = 1); a constant non-zero difference has no spread (p undefined)."""
    n = len(differences)
    if n < 2:
        return None
    if all(d == 0 for d in differences):
        return Test("paired", n, n, 1.0, False)
    if len(set(differences)) == 1:
        return Test("paired", n, n, math.nan, None)
    from scipy.stats import ttest_1samp

    p = float(ttest_1samp(list(differences), 0.0).pvalue)
    return _test("paired", n, n, p, same=False)


def _test(kind: str, n_a: int, n_b: int, p: float, same: bool) -> Test:
    if same:
        return Test(kind, n_a, n_b, 1.0, False)
    if math.isnan(p):
        return Test(kind, n_a, n_b, math.nan, None)
    return Test(kind, n_a, n_b, p, p < ALPHA)


def number_text(value: float) -> str:
    """A number for a table: 3 significant digits, exponent form when tiny or huge, ``n/a`` for NaN."""
    if value is None or math.isnan(value):
        return "n/a"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-2):
        return f"{value:.2e}"
    return f"{value:,.3g}" if abs(value) < 999.5 else f"{value:,.0f}"
