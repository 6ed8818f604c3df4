"""The closed form: least squares in float64 that says how sure it is.

``least_squares`` solves ``min sum_i (y_i - (x_i . w + b))^2`` by QR on centered
columns scaled by powers of two, built a block of rows at a time, then refines
the answer with residuals kept to about twice float64's precision, and reports
its own error estimate, its condition number and whether it can be trusted
(``RELIABLE_CONDITION``). ``closed_form_cost`` is ``mse`` at given params, in
float64.
"""

import dataclasses
import math
from typing import NamedTuple

import jax
import numpy as np

from .certificate import value_and_grad64
from .display import compact
from .losses import mse
from .model import Linear
from .processes import ONE, Processes

RELIABLE_CONDITION = 1e10
"""Above this condition number of the standardized design the closed form is not trusted.

At 1e10 a relative change of one rounding (2.2e-16) in the data can move the
least-squares coefficients by 2e-6 or more, relative: 6 digits of theirs are all that
such data determine. Past it ``least_squares`` says the answer is unreliable, whatever
it reached."""

EPS = float(np.finfo(np.float64).eps)

# Singular values of R below NOISE * eps * ||R||_F * sqrt(blocks) are rounding: see Solver.
NOISE = 4.0

# The widest design whose triangle is applied by double-double substitution (Solver).
SUBSTITUTION_MAX_WIDTH = 256

# 2**27 + 1 splits a float64 into two halves of 26 bits, whose products are exact.
SPLITTER = 2.0**27 + 1

# A refinement pass over the data costs about 1.5 times the QR pass (in NumPy, double-double:
# each product split in halves). On a design of more than REFINE_ALWAYS_ENTRIES entries the
# closed form refines only where Wedin's first-order bound (an estimate, as the error of any
# solve without refinement is) leaves its unrefined answer further than REFINE_TARGET: closer
# than any descent it is compared with certifies (rtol 1e-10 at most by default). So on big,
# well-conditioned data it costs about one QR, as np.linalg.lstsq does (docs/benchmarks.md).
# Below it, refining costs milliseconds.
REFINE_ALWAYS_ENTRIES = 2**22
REFINE_TARGET = 1e-12


@dataclasses.dataclass(frozen=True)
class LeastSquares:
    """The least-squares answer, and how sure it is.

    Attributes:
        params: a ``Linear`` of NumPy float64 arrays (``b=None`` without an intercept).
        condition_number: the 2-norm condition number of the standardized design
            ``[Z 1]`` (``Z`` without an intercept), each column scaled to the same norm:
            largest over smallest singular value; infinite when a singular value is
            exactly zero. It is the design ``steepest.linear`` descends on with its
            default standardized features (constant columns aside: the solve drops them,
            the descent keeps them, whose Hessian is then singular), so its square is the
            condition number of that cost's Hessian, the certificate's.
        relative_error: the estimated norm-wise relative distance, in scaled coordinates
            (see ``least_squares``), between ``params`` and the exact least-squares
            answer for ``X`` and ``y`` as given.
        correct_digits: ``floor(-log10(relative_error))``, between 0 and 15.
        reliable: ``condition_number <= RELIABLE_CONDITION`` (and full rank).
        rank: the number of singular values of the standardized design kept by the solve.
        refinements: how many steps of iterative refinement were applied.
        message: one sentence saying all this.
    """

    params: Linear
    condition_number: float
    relative_error: float
    correct_digits: int
    reliable: bool
    rank: int
    refinements: int
    message: str


def least_squares(
    X: np.ndarray,
    y: np.ndarray,
    *,
    fit_intercept: bool = True,
    block_rows: int = 2**16,
    max_refinements: int | None = None,
    across_processes: bool = False,
) -> LeastSquares:
    """The least-squares answer in float64, with its condition number and its own error.

    Minimizes :math:`\\sum_i (y_i - x_i \\cdot w - b)^2` (``b = 0`` when
    ``fit_intercept=False``) in three steps, reading ``block_rows`` rows at a time so
    that memory stays a block's whatever N is:

    1. **Scale.** Each feature is centered on its mean (not without an intercept) and
       divided by the power of two just above its largest deviation: the solve sees
       :math:`A = [Z \\; 1]` with entries in (-1, 1), and the coefficients
       :math:`v = (s \\odot w, \\; b + c \\cdot w)`. A constant feature (a zero column
       of ``Z``) gets the weight 0 and is left out.
    2. **Solve.** The R factor of ``[A y]`` is built block by block (the R so far
       stacked on the next block), and :math:`R v = Q^\\top y` is solved by
       substitution; or, if R is rank-deficient, through its SVD, dropping only the
       singular values below its rounding noise (see ``Solver``): the least-norm ``v``.
    3. **Refine.** :math:`v \\leftarrow v + \\delta v` with
       :math:`R^\\top R \\, \\delta v = A^\\top r` and :math:`r = y - A v`, where ``v``, ``r``,
       :math:`A^\\top r` and :math:`\\delta v` are all held in double-double (Ogita, Rump
       and Oishi's error-free sums and products) and ``A`` is formed exactly from ``X``.
       This is Björck's refinement of the seminormal equations with every rounding but
       R's pushed down to about :math:`\\epsilon^2`: each step shrinks the error by a
       factor of about :math:`\\kappa \\epsilon`, so two or three steps reach float64's
       last digit wherever :math:`\\kappa \\epsilon \\ll 1`. Each step is one more pass
       over ``X``, about 1.5 times the cost of the QR pass: on a design of more than
       ``REFINE_ALWAYS_ENTRIES`` entries, the steps are taken only when the unrefined
       answer is not within ``REFINE_TARGET`` by Wedin's first-order bound (below),
       which is then the error it reports: an estimate, not a measured one.

    The error estimate, norm-wise relative in the coordinates ``v``:

    .. math::

        \\frac{2 \\|R \\, \\delta v\\| / \\sigma_{\\min} + \\nu
        + \\text{rounding}}{\\|v\\|}

    with :math:`\\delta v` the last correction computed (checked to be at most half the
    one before, so that it is within a factor 2 of the error, measured in the fitted
    values, :math:`\\|R e\\| = \\|A e\\|`, and :math:`\\|e\\| \\le \\|R e\\| / \\sigma_{\\min}`),
    :math:`\\nu` what the double-double rounding in ``r`` and :math:`A^\\top r` can
    still move ``v`` (``Solver.noise``), and ``rounding`` what the rounding of
    ``params`` to float64 moves it (``Scaling.rounding``). Without refinement its first
    two terms are replaced by Wedin's first-order bound for a backward-stable solve,
    with ``p`` columns in ``A``, ``B`` blocks of rows, and
    :math:`p \\sqrt{B} \\epsilon` standing for the backward error of the blocked QR;
    beyond ``RELIABLE_CONDITION``, where the refinement is not trusted, the estimate is
    at least that bound:

    .. math::

        p \\sqrt{B} \\epsilon \\left(2 \\kappa + \\kappa (\\kappa + 1)
        \\frac{\\|r\\|}{\\|A\\| \\|v\\|}\\right).

    It says how close ``params`` are to the exact answer for ``X`` and ``y`` as
    given. An error already in the data (a rounding, a measurement) moves that answer by
    up to :math:`\\kappa` times its relative size, hence ``RELIABLE_CONDITION``.

    Args:
        X: features, shape ``(N,)`` or ``(N, d)``; any float dtype, read a block at a time.
        y: targets, shape ``(N,)``.
        fit_intercept: fit ``b``; without it the model goes through the origin.
        block_rows: rows per block.
        max_refinements: at most this many refinement steps (0: none). None: 5, or 0
            on a design of more than ``REFINE_ALWAYS_ENTRIES`` entries whose unrefined
            answer is within ``REFINE_TARGET`` by Wedin's first-order bound.
        across_processes: in a run of several processes (``jax.distributed``), ``X`` and
            ``y`` are this process's rows, and the answer is that for every process's
            rows together: each passes its R factor and its sums, and every process
            gets the same answer. Every process must call it.

    Example:
        >>> import numpy as np
        >>> x = np.linspace(0.0, 1.0, 50)
        >>> fitted = least_squares(np.column_stack([x**k for k in range(1, 9)]), 1 + x**8)
        >>> (np.round(fitted.params.w, 9) + 0.0).tolist(), round(float(fitted.params.b), 9)
        ([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], 1.0)
        >>> fitted.reliable, fitted.correct_digits >= 12, compact(fitted.condition_number)
        (True, True, '3.3e5')
        >>> far = 1000 + x  # the same powers, badly placed
        >>> badly = least_squares(np.column_stack([far**k for k in range(1, 5)]), 1 + x**2)
        >>> badly.reliable, badly.message.split(" exceeds")[0]
        (False, 'closed form unreliable: condition number 2e12 of the standardized design')
    """
    features = np.asarray(X)
    features = features[:, None] if features.ndim == 1 else features
    y = np.asarray(y)
    processes = Processes.current() if across_processes else ONE
    scaling = Scaling.of(features, fit_intercept, block_rows, processes)
    R = triangle(features, y, scaling, block_rows, processes)
    width = R.shape[1] - 1
    blocks = max(1, int(processes.sum(math.ceil(len(y) / block_rows))))
    solver = Solver(R[:width, :width], blocks)
    v, kappa = solver.solve(R[:width, width]), standardized_condition(R[:, :width])
    residual_norm = abs(R[width, width]) if len(R) > width else 0.0
    bound = perturbation_bound(
        solver.condition_number, width, blocks, residual_norm, solver.norm, v
    )
    if max_refinements is None:
        big = processes.sum(features.size) > REFINE_ALWAYS_ENTRIES
        max_refinements = 0 if big and bound <= REFINE_TARGET else 5
    refined = refine(v, solver, features, y, scaling, block_rows, max_refinements, processes)
    params = scaling.params(refined.high, refined.low, features.shape[1])
    norm = float(np.linalg.norm(refined.high + refined.low))
    rounding = relative(scaling.rounding(params), norm)
    error = rounding + (bound if refined.error is None else relative(refined.error, norm))
    reliable = kappa <= RELIABLE_CONDITION and solver.rank == width
    if not reliable:
        error = max(error, rounding + bound)
    digits = correct_digits(error)
    return LeastSquares(
        params=params,
        condition_number=kappa,
        relative_error=float(error),
        correct_digits=digits,
        reliable=reliable,
        rank=solver.rank,
        refinements=refined.steps,
        message=describe(kappa, digits, solver.rank, width),
    )


def closed_form(
    X: np.ndarray, y: np.ndarray, *, fit_intercept: bool = True, block_rows: int = 2**16
) -> Linear:
    """The least-squares answer, in float64: ``least_squares(...).params``.

    See ``least_squares`` for how it is solved and how sure it is.

    Example:
        >>> import numpy as np
        >>> p = closed_form(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]))
        >>> p.w.tolist(), float(p.b)
        ([2.0], 1.0)
    """
    return least_squares(X, y, fit_intercept=fit_intercept, block_rows=block_rows).params


def standardized_condition(R: np.ndarray) -> float:
    """The condition number of ``A = Q R`` with each column scaled to unit norm: that of
    the standardized design (centered, each column divided by its standard deviation,
    beside a column of ones; or each divided by its root mean square without an
    intercept), whose columns all have norm ``sqrt(N)``. Scaling the columns of ``A``
    scales those of ``R`` alike, and ``Q`` keeps every norm.

    Example:
        >>> R = np.linalg.qr(np.array([[1.0, 1.0], [0.0, 1e-3]]), mode="r")
        >>> compact(standardized_condition(R))
        '2e3'
    """
    if R.shape[1] == 0:
        return 1.0  # no column kept (every one constant, no intercept): as the solve's
    if R.shape[0] < R.shape[1]:
        return math.inf  # fewer rows than columns: singular
    norms = np.linalg.norm(R, axis=0)
    if not np.all(norms > 0):
        return math.inf
    singular = np.linalg.svd(R / norms, compute_uv=False)
    return float(singular[0] / singular[-1]) if singular[-1] > 0 else math.inf


def describe(kappa: float, digits: int, rank: int, width: int) -> str:
    """The one-line message of a ``LeastSquares``."""
    if rank < width:
        return (
            f"closed form unreliable: the standardized design is rank-deficient (rank {rank} of "
            f"{width}, condition number {compact(kappa)}); its coefficients are the "
            "least-norm answer, one of many"
        )
    if kappa > RELIABLE_CONDITION:
        return (
            f"closed form unreliable: condition number {compact(kappa)} of the standardized "
            f"design exceeds {compact(RELIABLE_CONDITION)}; its coefficients may have no "
            "correct digit"
        )
    return (
        f"closed form certain to about {digits} digits (condition number {compact(kappa)} of "
        f"the standardized design, {compact(kappa**2)} of its cost's Hessian)"
    )


class Refined(NamedTuple):
    """What ``refine`` reached: ``v = high + low``, and how far from the exact answer."""

    high: np.ndarray
    low: np.ndarray
    steps: int  # corrections applied
    error: float | None  # bound on ||v - v*|| (None: no step taken)


def refine(
    v, solver, features, y, scaling, block_rows: int, max_steps: int, processes: Processes = ONE
) -> Refined:
    """Refinement steps, with ``v`` held in double-double, while they still help.

    The error ``e`` of ``v`` is measured through ``R``: a step shrinks ``||R e||`` by a
    factor of about ``kappa eps``, so the correction ``dv`` computed at ``v`` has
    ``||R dv||`` within a factor 2 of ``||R e||`` (checked: each ``||R dv||`` is at most
    half the one before) and ``||e|| <= 2 ||R dv|| / sigma_min``; plus the effect of the
    rounding in the pass (``Solver.noise``). The factor-2 check can vouch for this norm
    only: in it ``(R^T R)^-1 A^T A`` is within about ``kappa eps`` of the identity, in
    the plain norm it need not be. The steps stop when the bound is below float64's
    rounding of ``v``, or when a correction no longer shrinks (rounding noise by then:
    it is left out).
    """
    high, low = v, np.zeros_like(v)
    steps, error, previous = 0, None, math.inf
    for _ in range(max_steps):
        found = residual_and_gradient(features, y, high, low, scaling, block_rows, processes)
        (step, step_low), size = solver.correct(*found.gradient)
        # Each decision is every process's (each pass is a collective: all must stop alike).
        overflow, stalled = processes.max([not math.isfinite(size), size > previous / 2])
        if overflow:
            break  # an overflow in the double-double products (|x| > 1e290)
        error = 2 * size / solver.smallest + solver.noise(found)
        if stalled:
            break
        high, carry = two_sum(high, step)
        low, steps, previous = low + carry + step_low, steps + 1, size
        if processes.max(error <= EPS * np.linalg.norm(high)):
            break
    return Refined(high, low, steps, error)


def perturbation_bound(kappa, width: int, blocks: int, residual_norm, norm_A, v) -> float:
    """Wedin's first-order bound on the relative error of a backward-stable solve.

    ``eps' (2 kappa + kappa (kappa + 1) ||r|| / (||A|| ||v||))``, with the backward error
    of the blocked QR taken as ``eps' = width sqrt(blocks) eps`` (Higham, *Accuracy and
    Stability of Numerical Algorithms*, 2002, theorems 20.1 and 19.4; the growth with
    the number of blocks as measured for ``Solver``).
    """
    if not math.isfinite(kappa):
        return math.inf
    ratio = relative(residual_norm, norm_A * float(np.linalg.norm(v)))
    return width * math.sqrt(blocks) * EPS * (2 * kappa + kappa * (kappa + 1) * ratio)


def correct_digits(error: float) -> int:
    """``floor(-log10(error))`` clipped to 0..15 (float64 holds no 16th)."""
    if not error > 0:
        return 15
    return int(min(15, max(0, math.floor(-math.log10(error))))) if math.isfinite(error) else 0


def relative(error: float, norm: float) -> float:
    """``error / norm``, with 0 / 0 = 0."""
    return error / norm if norm else (0.0 if error == 0 else math.inf)


def row_blocks(rows: int, block_rows: int):
    """Slices of ``block_rows`` consecutive rows covering ``rows``."""
    return (slice(start, start + block_rows) for start in range(0, rows, block_rows))


@dataclasses.dataclass(frozen=True)
class Scaling:
    """The map between the original coefficients ``(w, b)`` and the scaled ones ``v``.

    ``v`` weighs the columns of ``A = [(X[:, columns] - center) / scale, 1]`` (no 1
    without an intercept): ``w[columns] = v[:k] / scale``, exactly, as ``scale`` holds
    powers of two, and ``b = v[k] - center . w``.
    """

    columns: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    fit_intercept: bool

    @classmethod
    def of(
        cls, features: np.ndarray, fit_intercept: bool, block_rows: int, processes=ONE
    ) -> "Scaling":
        """Center on the column means (with an intercept); scale to below 1; drop zeros."""
        rows, width = features.shape
        center = np.zeros(width)
        if fit_intercept:  # summed at 2**-64 of size, so that 1e308-sized columns do not overflow
            for block in row_blocks(rows, block_rows):
                center += (np.asarray(features[block], np.float64) * 2.0**-64).sum(axis=0)
            center = processes.sum(center) / max(int(processes.sum(rows)), 1) * 2.0**64
        spread = np.zeros(width)
        for block in row_blocks(rows, block_rows):  # halves: x - center may exceed 1.8e308
            deviation = np.abs(np.asarray(features[block], np.float64) / 2 - center / 2)
            spread = np.maximum(spread, deviation.max(axis=0, initial=0.0))
        spread = processes.max(spread) * 2
        columns = np.flatnonzero(spread > 0)
        _, exponent = np.frexp(spread[columns])  # spread = m 2**e, 1/2 <= m < 1
        # 2**1024 overflows: a spread near 1.8e308 is scaled to below 2 instead of below 1.
        scale = np.ldexp(1.0, np.minimum(exponent, 1023))
        return cls(columns, center[columns], scale, fit_intercept)

    def features(self, features: np.ndarray, block: slice) -> np.ndarray:
        """The kept columns of one block of rows, in float64."""
        values = np.asarray(features[block], np.float64)
        if len(self.columns) == values.shape[1]:  # every column: no copy to pick them
            return values
        return values[:, self.columns]

    def design_into(self, x: np.ndarray, out: np.ndarray) -> None:
        """``A`` for the rows ``x``, rounded (good enough for R, never for the residual),
        written into the first columns of ``out``: ``fl(x - center) / scale``, the high
        part of ``exact_design`` (its division by a power of two is exact)."""
        k = len(self.columns)
        np.subtract(x, self.center, out=out[:, :k])
        out[:, :k] /= self.scale
        if self.fit_intercept:
            out[:, k] = 1.0

    def exact_design(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``A`` for the rows ``x`` as ``high + low``, exactly (division by 2**e is exact)."""
        high, low = two_sum(x, -self.center)
        ones = np.ones((len(x), int(self.fit_intercept)))
        return (
            np.column_stack([high / self.scale, ones]),
            np.column_stack([low / self.scale, np.zeros_like(ones)]),
        )

    def params(self, high: np.ndarray, low: np.ndarray, width: int) -> Linear:
        """``w`` and ``b`` for ``v = high + low``, each correctly rounded from it."""
        k = len(self.columns)
        w = np.zeros(width)
        w[self.columns] = (high[:k] + low[:k]) / self.scale
        if not self.fit_intercept:
            return Linear(w=w)
        # b = v[k] - center . v[:k] / scale, summed exactly, then rounded once.
        product, error = two_product(-self.center, high[:k] / self.scale)
        rest = -self.center * low[:k] / self.scale
        return Linear(w=w, b=np.float64(math.fsum([high[k], low[k], *product, *error, *rest])))

    def rounding(self, params: Linear) -> float:
        """How far rounding ``params`` to float64 moves ``v``, at most (twice, for margin).

        ``v[:k] = scale * w`` moves by half an ulp of each; ``v[k] = b + center . w`` by
        half an ulp of ``b`` and of each ``center_j w_j``.
        """
        w = params.w[self.columns]
        rounded = np.linalg.norm(w * self.scale)
        if self.fit_intercept:
            assert params.b is not None, "a fit with an intercept has a b"
            rounded += abs(params.b) + np.abs(self.center * w).sum()
        return EPS * float(rounded)


def triangle(features: np.ndarray, y: np.ndarray, scaling: Scaling, block_rows: int, processes=ONE):
    """The R factor of ``[A y]``, built block by block (each the R so far on the next): square,
    or ``N`` by ``width`` for ``N`` rows fewer than the columns (never padded: a wide design
    of 8000 columns would make it 8000 x 8000). Over several processes, each builds the R
    of its rows, and the R of them all is that of their R factors stacked (tall-skinny QR)."""
    width = len(scaling.columns) + scaling.fit_intercept + 1
    R = np.zeros((0, width))
    # One buffer for every block: the R so far on top, the block's [A y] below it.
    stacked = np.empty((width + min(block_rows, len(y)), width))
    for block in row_blocks(len(y), block_rows):
        rows = len(R) + len(y[block])
        stacked[: len(R)] = R
        scaling.design_into(scaling.features(features, block), stacked[len(R) : rows])
        stacked[len(R) : rows, -1] = y[block]
        # numpy's stub types every mode's result as QRResult; mode="r" returns R alone.
        R = np.linalg.qr(stacked[:rows], mode="r")  # type: ignore[assignment]
    if processes.many:  # padded to square with zero rows, which change no R
        square = np.zeros((width, width))
        square[: len(R)] = R
        R = np.linalg.qr(np.vstack(processes.gather(square)), mode="r")  # type: ignore[assignment]
    return R  # fewer rows than columns when there are fewer data rows


class Solver:
    """Least squares with the triangle ``R`` of ``A``: by substitution, or through its SVD.

    Full rank: ``R`` is applied by substitution in double-double, so that a refinement
    step is as good as ``R`` itself along every singular direction. (Through the SVD,
    or by substitution in float64, the rounding relative to the largest components
    stalled the refinement near a condition number of 1e9.)

    Rank-deficient: the SVD of ``R``, whose singular values below the rounding noise of
    ``R`` carry no information about the data: they are dropped (the least-norm
    answer). The noise: ``NOISE * eps * ||R||_F * sqrt(blocks)``, ``blocks`` the number
    of row blocks ``R`` was built from. For exactly dependent columns (duplicated, or
    combinations of others) the smallest singular value came out below
    ``0.9 * eps * ||R||_F * sqrt(blocks)`` for up to 4e6 rows, where numpy's default
    cutoff (``p eps sigma_max``, fixed whatever N) no longer catches it.
    """

    def __init__(self, R: np.ndarray, blocks: int):
        u, s, vt = np.linalg.svd(R, full_matrices=False)
        kept = s > NOISE * EPS * np.linalg.norm(s) * math.sqrt(blocks)
        self.triangle = R
        self.rank = int(kept.sum())
        self.full_rank = self.rank == R.shape[1]
        # Substitution runs row by row in Python, O(d^2) float operations: above this width
        # the SVD (vectorized) applies R^+ instead (4 s against 69 s at d = 2000).
        self.by_substitution = self.full_rank and R.shape[1] <= SUBSTITUTION_MAX_WIDTH
        self.norm = float(s[0]) if len(s) else 1.0
        wide = R.shape[0] < R.shape[1]  # fewer rows than columns: singular
        smallest = 0.0 if wide else float(s[-1]) if len(s) else 1.0
        self.condition_number = self.norm / smallest if smallest > 0 else math.inf
        self.left, self.singular, self.right = u[:, kept], s[kept], vt[kept].T
        self.smallest = float(self.singular[-1]) if self.rank else math.inf

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``R^+ rhs``: the least-squares answer given ``rhs = Q^T y``."""
        if self.by_substitution:
            return np.sum(substitute(self.triangle, rhs, np.zeros_like(rhs)), axis=0)
        return self.right @ ((self.left.T @ rhs) / self.singular)

    def correct(self, high: np.ndarray, low: np.ndarray):
        """The refinement step ``dv = (R^T R)^+ (high + low)`` given ``A^T r = high + low``:
        ``dv`` as ``(high, low)``, and ``||R dv||``, its size in the fitted values."""
        if self.by_substitution:
            z = substitute(self.triangle, high, low, transposed=True)
            step = substitute(self.triangle, *z)
            return step, float(np.linalg.norm(z[0] + z[1]))
        dv = self.right @ ((self.right.T @ (high + low)) / self.singular**2)
        return (dv, np.zeros_like(dv)), float(np.linalg.norm(self.triangle @ dv))

    def noise(self, found: "Pass") -> float:
        """How far the rounding in a pass's ``r`` and ``A^T r`` moves the answer, at most.

        ``A^+ dr`` and ``(A^T A)^+ dg``: ``||dr|| / sigma`` and ``||dg|| / sigma^2``, with
        ``sigma`` the smallest singular value kept.
        """
        gradient_noise = float(np.linalg.norm(found.gradient_noise))
        return found.residual_noise / self.smallest + gradient_noise / self.smallest**2


def substitute(R: np.ndarray, high: np.ndarray, low: np.ndarray, *, transposed=False):
    """``R^-1 (high + low)`` (``R^-T`` when ``transposed``) as a double-double
    ``(high, low)``; ``R`` upper triangular, solved row by row."""
    x, x_low = np.zeros(len(high)), np.zeros(len(high))
    for i in range(len(high)) if transposed else reversed(range(len(high))):
        known = slice(None, i) if transposed else slice(i + 1, None)
        row = R[known, i] if transposed else R[i, known]
        product, error = two_product(row, x[known])
        terms = [high[i], low[i], *-product, *-error, *-(row * x_low[known])]
        total = math.fsum(terms)
        x[i], x_low[i] = divide(total, math.fsum([*terms, -total]), R[i, i])
    return x, x_low


def divide(high: float, low: float, divisor: float) -> tuple[float, float]:
    """``(high + low) / divisor`` as a double-double (the remainder by an exact product)."""
    quotient = high / divisor
    product, error = two_product(quotient, divisor)
    return two_sum(quotient, ((high - product) - error + low) / divisor)


class Pass(NamedTuple):
    """``A^T r`` for ``r = y - A v``, from one pass over the rows, and bounds on the errors."""

    gradient: tuple[np.ndarray, np.ndarray]  # high + low
    residual_noise: float  # bound on ||r computed - r||
    gradient_noise: np.ndarray  # bound on |A^T r computed - A^T r|, per column


def residual_and_gradient(
    features, y, v, v_low, scaling: Scaling, block_rows: int, processes: Processes = ONE
) -> Pass:
    """``r`` and ``A^T r`` in double-double, from ``A`` held exactly as ``high + low``.

    So neither the rounding in forming ``A`` nor any cancellation costs digits. The
    noise bounds are first-order, for pairwise double-double sums of ``n`` terms: about
    ``(2 log2(n) + 4) eps^2`` times the sum of the terms' magnitudes. Over several
    processes, their double-double sums are added as blocks are (one block more each).
    """
    high_total = np.zeros(len(v))
    low_total = np.zeros(len(v))
    magnitude_squares = 0.0
    magnitudes = np.zeros(len(v))
    rows = 1
    for block in row_blocks(len(y), block_rows):
        high, low = scaling.exact_design(scaling.features(features, block))
        halves = split(high)  # once for both products
        target = np.asarray(y[block], np.float64)
        r, r_low = residual(high, low, target, v, v_low, halves)
        magnitude_squares += float(np.sum((np.abs(target) + np.abs(high) @ np.abs(v)) ** 2))
        magnitudes += np.abs(high).T @ np.abs(r)
        block_high, block_low = transposed_product(high, low, r, r_low, halves)
        high_total, carry = two_sum(high_total, block_high)
        low_total = low_total + carry + block_low
        rows = max(rows, len(r))
    if processes.many:  # one gather of all five, then added up as blocks are
        width = len(v)
        parts = processes.gather(
            np.concatenate([high_total, low_total, magnitudes, [magnitude_squares, rows]])
        )
        high_total, low_total = parts[0, :width], parts[0, width : 2 * width]
        for part in parts[1:]:
            high_total, carry = two_sum(high_total, part[:width])
            low_total = low_total + carry + part[width : 2 * width]
        magnitudes = parts[:, 2 * width : 3 * width].sum(axis=0)
        magnitude_squares = float(parts[:, -2].sum())
        rows = int(parts[:, -1].max()) + processes.count
    residual_noise = (2 * math.log2(len(v) + 1) + 4) * EPS**2 * math.sqrt(magnitude_squares)
    gradient_noise = (2 * math.log2(rows) + 4) * EPS**2 * magnitudes
    return Pass((high_total, low_total), residual_noise, gradient_noise)


def residual(high, low, y, v, v_low, halves=None):
    """``y - (high + low) @ (v + v_low)`` as a double-double ``(high, low)`` (``halves``:
    ``split(high)``, when known)."""
    product, product_error = two_product(high, -v, halves)
    total, error = pairwise_sum(np.column_stack([y, product]).T)
    rest = product_error.sum(axis=1) - low @ v - high @ v_low
    return two_sum(total, error + rest)


def transposed_product(high, low, r, r_low, halves=None):
    """``(high + low)^T (r + r_low)`` as a double-double ``(high, low)`` (``halves``:
    ``split(high)``, when known)."""
    product, product_error = two_product(high, r[:, None], halves)
    total, error = pairwise_sum(product)
    return total, error + product_error.sum(axis=0) + high.T @ r_low + low.T @ r


def pairwise_sum(values):
    """The sum over axis 0 as ``(high, low)``: pairwise, keeping every rounding error."""
    low = np.zeros(values.shape[1:])
    while len(values) > 1:
        half = len(values) // 2
        total, error = two_sum(values[:half], values[half : 2 * half])
        low = low + error.sum(axis=0)
        values = np.concatenate([total, values[2 * half :]])
    return (values[0] if len(values) else np.zeros(values.shape[1:])), low


def two_sum(a, b):
    """``(s, e)`` with ``s = fl(a + b)`` and ``s + e = a + b`` exactly (Knuth)."""
    total = a + b
    b_part = total - a
    return total, (a - (total - b_part)) + (b - b_part)


def two_product(a, b, a_halves=None):
    """``(p, e)`` with ``p = fl(a b)`` and ``p + e = a b`` exactly (Dekker), for a product
    that does not overflow (``a_halves``: ``split(a)``, when known)."""
    product = a * b
    a_high, a_low = split(a) if a_halves is None else a_halves
    b_high, b_low = split(b)
    error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
    return product, error


def split(a):
    """``a = high + low`` with both halves of at most 26 significant bits (Veltkamp; a
    magnitude above 2**995 is split at 2**-28 of its size, exactly, so as not to overflow)."""
    a = np.asarray(a, np.float64)
    big = np.abs(a) > 2.0**995
    shrunk = np.where(big, a * 2.0**-28, a)
    scaled = SPLITTER * shrunk
    high = scaled - (scaled - shrunk)
    low = shrunk - high
    return np.where(big, high * 2.0**28, high), np.where(big, low * 2.0**28, low)


def closed_form_cost(
    params: Linear,
    X: np.ndarray,
    y: np.ndarray,
    *,
    block_rows: int = 2**16,
    across_processes: bool = False,
):
    """``mse`` at ``params``, in float64 whatever the run's dtype: the cost to compare with.

    ``params`` may have ``b=None`` (a model through the origin). Evaluated a block of
    rows at a time (a weighted mean of the blocks' costs), so the data is never copied
    whole to the device. ``across_processes``: X and y are this process's rows, and the
    cost is that of every process's rows (every process must call it).

    Example:
        >>> import numpy as np
        >>> closed_form_cost(Linear(np.array([2.0]), np.float64(1.0)), np.arange(3.0), np.ones(3))
        np.float64(6.666666666666667)
        >>> closed_form_cost(Linear(np.array([2.0])), np.arange(3.0), np.ones(3))  # (1+1+9)/3
        np.float64(3.6666666666666665)
    """
    with jax.enable_x64(True):
        params = jax.tree.map(lambda leaf: np.asarray(leaf, np.float64), params)
        total = 0.0
        for start in range(0, len(y), block_rows):
            block = slice(start, start + block_rows)
            rows = len(y[block])
            X_block, y_block = (np.asarray(a[block], np.float64) for a in (X, y))
            # The certificate's compiled float64 evaluation, its gradient unused: the linear
            # model's fit evaluates its answer so, on data of the same shapes (up to 2**16
            # rows), and then loads one program less.
            total += rows * float(value_and_grad64(mse, params, X_block, y_block)[0])
        processes = Processes.current() if across_processes else ONE
        return np.float64(processes.sum(total) / processes.sum(len(y)))


def cost_rounding(
    params: Linear,
    X: np.ndarray,
    y: np.ndarray,
    cost: float,
    *,
    offset: float = 0.0,
    block_rows: int = 2**16,
    across_processes: bool = False,
) -> float:
    """A bound on the rounding error of ``cost``, ``mse`` at ``params`` in float64.

    Each residual ``r_i = y_i - x_i . w - b`` is computed within ``(d + 3) eps u_i``,
    ``u_i = |y_i| + |x_i| . |w| + |b| + offset`` (``offset``: what a shift of the data
    before the evaluation, a standardization's, adds to each row), so the mean of their
    squares is within ``2 sqrt(f) delta + delta^2`` (Cauchy-Schwarz), with
    ``delta = 4 (d + 3) eps rms(u)`` (a margin of 4); the sum itself adds
    ``eps (32 + sqrt(N)) f``.

    Example:
        >>> X, y = np.arange(4.0), np.array([1.0, 3.0, 5.0, 7.5])
        >>> fitted = Linear(np.array([2.0]), np.float64(1.0))
        >>> cost_rounding(fitted, X, y, float(closed_form_cost(fitted, X, y))) < 1e-13
        True
    """
    processes = Processes.current() if across_processes else ONE
    w = np.abs(np.asarray(params.w, np.float64))
    b = 0.0 if params.b is None else abs(float(params.b))
    features = np.asarray(X).reshape(len(y), -1)
    squares = 0.0
    for block in row_blocks(len(y), block_rows):
        fitted = np.abs(np.asarray(features[block], np.float64)) @ w
        size = np.abs(np.asarray(y[block], np.float64)) + fitted + (b + offset)
        squares += float(np.sum(np.square(size)))
    rows = max(int(processes.sum(len(y))), 1)
    delta = 4 * (features.shape[1] + 3) * EPS * math.sqrt(processes.sum(squares) / rows)
    return 2 * math.sqrt(cost) * delta + delta**2 + EPS * (32 + math.sqrt(rows)) * cost
