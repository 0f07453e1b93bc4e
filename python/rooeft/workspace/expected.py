"""Expected events: the names and formulas shared by the workspace builder, inference and toy pools.

The workspace convention (``docs/workspace_convention.md``) names its datasets and functions here:

>>> DATA_OBS, ASIMOV_DATA, CATEGORY, WEIGHT
('data_obs', 'data_asimov', 'CMS_channel', '_weight_')
>>> sim_name("unb"), yield_name("unb", "sig")
('sim_unb', 'n_exp_final_binunb_proc_sig')
>>> term_columns(["c1", "c2"])
['w_sm', 'w_c1', 'w_c2', 'w_c1_c1', 'w_c1_c2', 'w_c2_c2']

The simulation of an unbinned channel (``sim_<ch>``) holds one row per simulated event: its
observables and the per-term weight columns ``w_<term>`` in canonical term order
(:mod:`rooeft.terms`), normalised so that the SM term sums to the process's nominal weight sum
(:func:`process_terms`). The expected events of event ``i`` at θ are ``Σ_t m_t(θ) w_it``
(:func:`expected_weights`); the Asimov data of an unbinned channel is that simulation with these
weights, of a binned channel the expected counts at the bin centres (:func:`bin_centres`).

>>> terms = process_terms([1.0, 3.0], [[2.0, 1.0, 0.5], [6.0, 0.0, 1.0]], sum_weights=4.0, sm_term_sum=8.0)
>>> terms.tolist()
[[1.0, 0.5, 0.25], [3.0, 0.0, 0.5]]
>>> expected_weights(terms, [2.0]).tolist()
[3.0, 5.0]

Importable without ROOT (numpy only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from rooeft.terms import n_terms, quadratic_pairs, term_labels

__all__ = [
    "ASIMOV_DATA",
    "CATEGORY",
    "DATA_OBS",
    "SIM_PREFIX",
    "WEIGHT",
    "MissingColumn",
    "bin_centres",
    "column_weights",
    "expected_weights",
    "process_terms",
    "sim_columns",
    "sim_name",
    "term_columns",
    "theta_vector",
    "yield_name",
]

F64 = npt.NDArray[np.float64]

DATA_OBS = "data_obs"
"""The observed data (or the configured Asimov data) of every channel."""
ASIMOV_DATA = "data_asimov"
"""The Asimov dataset at the SM with nominal nuisances, for Combine's ``-D``."""
CATEGORY = "CMS_channel"
"""The channel category of the datasets and of ``model_s``."""
WEIGHT = "_weight_"
"""The weight column of the datasets."""
SIM_PREFIX = "sim_"
"""The prefix of the simulation datasets of unbinned channels."""


class MissingColumn(KeyError):
    """A per-term weight column is absent (``name`` is the column)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def sim_name(channel: str) -> str:
    """The simulation dataset of an unbinned channel: ``sim_<channel>``."""
    return f"{SIM_PREFIX}{channel}"


def yield_name(channel: str, process: str) -> str:
    """The expected-events function of a process (Combine's name): ``n_exp_final_bin<ch>_proc_<p>``."""
    return f"n_exp_final_bin{channel}_proc_{process}"


def term_columns(coefficients: Sequence[str]) -> list[str]:
    """The per-term weight columns ``w_<term>`` in canonical order (``w_sm``, ``w_c``, ``w_c_d``)."""
    return [f"w_{t.replace('*', '_')}" for t in term_labels(coefficients)]


def theta_vector(names: Sequence[str], point: Mapping[str, float], defaults: Mapping[str, float]) -> list[float]:
    """θ in the order of ``names``: values of ``point``, the ``defaults`` for the others.

    >>> theta_vector(["a", "b"], {"b": 2}, {"a": 0.5, "b": 0.0})
    [0.5, 2.0]
    """
    return [float(point.get(n, defaults[n])) for n in names]


def bin_centres(edges: npt.ArrayLike) -> F64:
    """Centres of the bins with these edges (where Asimov counts of a binned channel sit).

    >>> bin_centres([0.0, 1.0, 3.0]).tolist()
    [0.5, 2.0]
    """
    e = np.asarray(edges, dtype=np.float64)
    return np.asarray(0.5 * (e[1:] + e[:-1]), dtype=np.float64)


def _accumulate(column: Callable[[int], F64], n_coefficients: int, theta: Sequence[float]) -> F64:
    """``Σ_t m_t(θ) w_t`` over columns in canonical order, accumulated in that order; quadratic
    columns whose monomial is zero are not read (nor added)."""
    th = [float(v) for v in theta]
    if len(th) != n_coefficients:
        raise ValueError(f"theta has {len(th)} values for {n_coefficients} coefficients")
    w = np.array(column(0), dtype=np.float64, copy=True)
    for a in range(n_coefficients):
        w += th[a] * column(1 + a)
    for k, (a, b) in enumerate(quadratic_pairs(n_coefficients)):
        if th[a] * th[b] != 0.0:
            w += th[a] * th[b] * column(1 + n_coefficients + k)
    return w


def _n_coefficients(n_columns: int) -> int:
    n = 0
    while n_terms(n) < n_columns:
        n += 1
    if n_terms(n) != n_columns:
        raise ValueError(f"{n_columns} term columns is not the number of terms of a quadratic polynomial")
    return n


def expected_weights(terms: npt.ArrayLike, theta: Sequence[float]) -> F64:
    """Expected events per event at ``theta``, ``Σ_t m_t(θ) w_it``, of a term matrix ``(N, T)``."""
    matrix = np.asarray(terms, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"the term matrix must be 2-d (events, terms), got shape {matrix.shape}")
    return _accumulate(lambda j: matrix[:, j], _n_coefficients(matrix.shape[1]), theta)


def column_weights(columns: Mapping[str, npt.ArrayLike], coefficients: Sequence[str], theta: Sequence[float]) -> F64:
    """:func:`expected_weights` of ``w_<term>`` columns by name (e.g. those of ``sim_<ch>``);
    :class:`MissingColumn` names an absent column that is needed."""
    names = term_columns(coefficients)

    def column(j: int) -> F64:
        c = columns.get(names[j])
        if c is None:
            raise MissingColumn(names[j])
        return np.asarray(c, dtype=np.float64)

    return _accumulate(column, len(coefficients), theta)


def process_terms(
    weights: npt.ArrayLike,
    structure_constants: npt.ArrayLike | None,
    *,
    n_terms_: int | None = None,
    sum_weights: float | None = None,
    sm_term_sum: float | None = None,
) -> F64:
    """The ``(N, T)`` term matrix of one process's events.

    An EFT process (``structure_constants`` given) has its structure constants scaled by
    ``sum_weights / sm_term_sum``, so its SM term sums to the nominal weight sum; any other
    process has its weights in the SM column and zeros elsewhere (``n_terms_`` columns).
    """
    w = np.asarray(weights, dtype=np.float64)
    if structure_constants is not None:
        if sum_weights is None or sm_term_sum is None:
            raise ValueError("an EFT process needs sum_weights and sm_term_sum")
        sc = np.asarray(structure_constants, dtype=np.float64)
        return np.asarray(sc * (sum_weights / sm_term_sum), dtype=np.float64)
    if n_terms_ is None:
        raise ValueError("a process without structure constants needs n_terms_")
    block = np.zeros((w.size, n_terms_))
    block[:, 0] = w
    return block


def sim_columns(
    coefficients: Sequence[str],
    observables: Sequence[str],
    processes: Sequence[tuple[Mapping[str, npt.ArrayLike], F64]],
) -> tuple[dict[str, F64], F64]:
    """The columns of ``sim_<ch>`` (observables, then ``w_<term>``) and the term matrix, from
    per-process (observable columns, term matrix) in the channel's process order."""
    obs = {n: np.concatenate([np.asarray(o[n], dtype=np.float64) for o, _ in processes]) for n in observables}
    matrix = np.concatenate([t for _, t in processes], axis=0)
    cols = dict(obs)
    cols.update({label: matrix[:, j] for j, label in enumerate(term_columns(coefficients))})
    return cols, matrix
