"""Running a candidate-scoring policy: numpy inference, model files, whole schedules.

A model file is the ``.zip`` that MaskablePPO saves (for ``--resume`` and SB3 users) with
one more member, ``rrl_policy.npz``: the network's weights as numpy arrays and the
settings it was trained for (objective, candidate scope, routing, feature counts).
Scheduling reads only that member and scores candidates with numpy, so it needs neither
torch nor SB3, and it has no cap on the number of candidates: the same weights score 5
or 5,000 rows (:class:`NumpyPolicy`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.errors import RRLError
from rrl.generative.candidates import CandidateState, F, G, Observation

#: The member of a model file that holds the numpy weights and settings.
MEMBER = "rrl_policy.npz"


class ModelError(RRLError):
    """A PPO model file is missing, unreadable or made for another observation."""


class NumpyPolicy:
    """The candidate-scoring network of :mod:`rrl.generative.network`, in numpy.

    Parameters
    ----------
    weights : mapping
        ``"<layer>.w"`` / ``"<layer>.b"`` arrays (torch layout: out x in).
    config : dict
        ``objective``, ``scope``, ``route`` (how candidates are built), ``features`` and
        ``global`` (row and global widths, checked against this version).
    """

    def __init__(self, weights: dict[str, np.ndarray], config: dict[str, Any]) -> None:
        self.config = dict(config)
        self.objective = str(config.get("objective", "tardiness"))
        self.scope = str(config.get("scope", "active"))
        self.route = str(config.get("route", "all"))
        w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        hidden = w["embed0.w"].shape[0]
        # split the first layers so that the global part is computed once per decision
        self._e0_rows, self._e0_glob = w["embed0.w"][:, :F].T.copy(), w["embed0.w"][:, F:].T.copy()
        self._e0_b, self._e1_w, self._e1_b = w["embed0.b"], w["embed1.w"].T.copy(), w["embed1.b"]
        self._s0_h = w["score0.w"][:, :hidden].T.copy()
        self._s0_ctx = w["score0.w"][:, hidden:].T.copy()
        self._s0_b, self._s1_w, self._s1_b = w["score0.b"], w["score1.w"][0], w["score1.b"][0]

    def scores(self, obs: Observation) -> np.ndarray:
        """One logit per candidate row."""
        rows = obs.rows.astype(np.float32, copy=False)
        h = rows @ self._e0_rows + (obs.global_.astype(np.float32, copy=False) @ self._e0_glob + self._e0_b)
        np.maximum(h, 0.0, out=h)
        h = h @ self._e1_w + self._e1_b
        np.maximum(h, 0.0, out=h)
        context = np.concatenate([h.mean(axis=0), h.max(axis=0)])
        s = h @ self._s0_h + (context @ self._s0_ctx + self._s0_b)
        np.maximum(s, 0.0, out=s)
        return s @ self._s1_w + self._s1_b

    def choose(self, obs: Observation, rng: np.random.Generator | None = None, temperature: float = 1.0) -> int:
        """The row of highest score, or with ``rng`` a row drawn from the softmax of the
        scores divided by ``temperature``."""
        s = self.scores(obs)
        if rng is None:
            return int(np.argmax(s))
        z = s / temperature
        p = np.exp(z - z.max())
        return int(rng.choice(s.size, p=p / p.sum()))

    @classmethod
    def from_sb3(cls, model: Any) -> NumpyPolicy:
        """The numpy twin of a MaskablePPO model with a :class:`CandidatePolicy`."""
        from rrl.generative.network import numpy_weights

        weights = numpy_weights(model.policy)
        return cls(weights, weights.pop("config"))


def npz_bytes(weights: dict[str, Any]) -> bytes:
    """``weights`` (with its ``"config"`` dict) as the bytes of an ``.npz`` member."""
    arrays = {k: v for k, v in weights.items() if k != "config"}
    buffer = io.BytesIO()
    np.savez(buffer, config=np.array(json.dumps(weights["config"])), **arrays)
    return buffer.getvalue()


def load_model(path: str | Path) -> NumpyPolicy:
    """Load a model file (``.zip`` written by ``rrl ppo train``) for inference.

    Raises
    ------
    ModelError
        One line naming the file: missing, not a model, made by an earlier version (the
        slot-based environment) or for other features than this version's.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"PPO model {path}: no such file")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"PPO model {path}: not a model file (expected the .zip written by 'rrl ppo train')")
    try:
        with zipfile.ZipFile(path) as archive:
            if MEMBER not in archive.namelist():
                raise ModelError(f"PPO model {path}: no candidate-scoring network in it (a model of an earlier "
                                 "rrl version, or a bare SB3 checkpoint); retrain it with 'rrl ppo train'")
            with np.load(io.BytesIO(archive.read(MEMBER)), allow_pickle=False) as data:
                config = json.loads(str(data["config"]))
                weights = {k: data[k] for k in data.files if k != "config"}
    except ModelError:
        raise
    except Exception as error:  # a damaged archive or member
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"PPO model {path}: cannot be read ({first})") from None
    if config.get("features") != F or config.get("global") != G:
        raise ModelError(f"PPO model {path}: made for {config.get('features')} candidate and "
                         f"{config.get('global')} global features, this version uses {F} and {G}; retrain it")
    try:
        return NumpyPolicy(weights, config)
    except (KeyError, IndexError, ValueError) as error:
        raise ModelError(f"PPO model {path}: its network is incomplete ({error})") from None


def _one_blas_thread() -> Any:
    """The products are small (candidates x 64): BLAS threads only contend for the cores
    (measured: 14 ms per decision with the default threads on a busy 2-core machine,
    0.4 ms with one)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def as_policy(model: Any) -> Any:
    """A policy with ``choose``, ``scope`` and ``route`` (a :class:`NumpyPolicy` or alike),
    or the numpy twin of a MaskablePPO model being trained."""
    if all(hasattr(model, name) for name in ("choose", "scope", "route")):
        return model
    if hasattr(model, "policy"):
        return NumpyPolicy.from_sb3(model)
    raise RRLError(f"not a PPO policy: {type(model).__name__}")


def run_policy(problem: Problem, model: Any, *, keep: Schedule | None = None,
               rng: np.random.Generator | None = None, temperature: float = 1.0) -> tuple[Schedule, dict[str, float]]:
    """Let ``model`` place every order of ``problem`` (greedy; sampled with ``rng``, from
    the softmax of the scores divided by ``temperature``).

    Returns the schedule and the end time the builder gave each placed order (the safety
    wrapper compares them with the schedule world's own timing).
    """
    policy = as_policy(model)
    with _one_blas_thread():
        return _run(problem, policy, keep, rng, temperature)


def _run(problem: Problem, policy: Any, keep: Schedule | None, rng: np.random.Generator | None,
         temperature: float = 1.0) -> tuple[Schedule, dict[str, float]]:
    state = CandidateState(problem, keep, scope=policy.scope, route=policy.route)
    # (policies written for the plain call need not take a temperature)
    choose = policy.choose if temperature == 1.0 else functools.partial(policy.choose, temperature=temperature)
    while not state.done:
        obs = state.observe()
        index = choose(obs, rng) if len(obs.slots) > 1 else 0
        if not 0 <= index < len(obs.slots):
            raise RRLError(f"the policy chose candidate {index} of {len(obs.slots)}")
        state.place(obs.slots[index])
    return state.schedule(), dict(state.builder.end)
