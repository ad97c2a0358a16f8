"""Adapter to the spopt regionalisation heuristics (optional extra ``grouping``).

The spopt solvers minimise within-region attribute dissimilarity, not the straddle
count of :mod:`geodecoupage.grouping.regionalise`. To make them comparable each base
unit is described by the one-hot vector of the institutional units it straddles
(one column per unit of every layer), so that units in the same institutions are
similar; their labels are then scored with the same objective.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from geodecoupage.errors import InfeasibleGroupingError, InvalidParameterError

logger = logging.getLogger(__name__)

__all__ = ["solve_spopt"]


def _import() -> tuple[object, object]:
    try:
        import libpysal
        import spopt.region
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = (
            "The spopt solvers need the optional extra 'grouping': "
            "pip install 'geodecoupage[grouping]' (spopt, libpysal). "
            "method='local' needs nothing more."
        )
        raise InvalidParameterError(msg) from err
    return libpysal, spopt.region


def solve_spopt(
    method: str,
    pop: np.ndarray,
    adj: list[list[int]],
    keys: list[tuple[int, ...]],
    n_keys: int,
    *,
    floor: float,
    n_groups: int | None,
    seed: int,
) -> np.ndarray:
    """Run spopt ``MaxPHeuristic`` / ``AZP`` / ``Skater``; return integer labels.

    Raises
    ------
    InvalidParameterError
        If spopt is missing, or a method needs ``n_groups``.
    InfeasibleGroupingError
        If the spopt solver returns no valid partition.
    """
    libpysal, region = _import()
    n = len(pop)
    onehot = np.zeros((n, max(n_keys, 1)))
    for u, ks in enumerate(keys):
        onehot[u, list(ks)] = 1.0
    cols = [f"k{j}" for j in range(onehot.shape[1])]
    frame = pd.DataFrame(onehot, columns=cols)
    frame["population"] = pop
    neighbors = {i: list(a) for i, a in enumerate(adj)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libpysal warns about islands/components
        w = libpysal.weights.W(neighbors, silence_warnings=True)  # type: ignore[attr-defined]
        state = np.random.get_state()
        np.random.seed(seed)  # spopt draws from the global RNG; restored below
        try:
            if method == "maxp":
                model = region.MaxPHeuristic(  # type: ignore[attr-defined]
                    frame, w, cols, "population", float(floor), top_n=2
                )
            elif method == "azp":
                if n_groups is None:
                    msg = "method='azp' needs n_groups."
                    raise InvalidParameterError(msg)
                model = region.AZP(  # type: ignore[attr-defined]
                    frame, w, cols, n_clusters=int(n_groups), random_state=seed
                )
            elif method == "skater":
                if n_groups is None:
                    msg = "method='skater' needs n_groups."
                    raise InvalidParameterError(msg)
                model = region.Skater(  # type: ignore[attr-defined]
                    frame, w, cols, n_clusters=int(n_groups), islands="ignore"
                )
            else:  # pragma: no cover - checked by the caller
                msg = f"unknown spopt method {method!r}"
                raise InvalidParameterError(msg)
            model.solve()
        finally:
            np.random.set_state(state)
    labels = np.asarray(model.labels_)
    if labels.shape != (n,) or (labels < 0).any():
        msg = (
            f"spopt {method} returned no complete partition "
            f"({int((labels < 0).sum()) if labels.shape == (n,) else 'no'} unit(s) "
            f"left unassigned): the floor {floor:,.0f} may be too high."
        )
        raise InfeasibleGroupingError(msg)
    return labels.astype(np.int64)
