"""The candidate-scoring network and its MaskablePPO policy (torch; training only).

Every candidate row is scored by the same weights, so the network has the same
parameters whatever the number of candidates, orders or machines:

1. embed: ``h_i = MLP([row_i, global])`` (two layers of ``hidden``, ReLU);
2. context: the mean and the maximum of ``h`` over the valid rows;
3. score: ``s_i = MLP([h_i, mean, max])`` (one hidden layer, one output): the logit of
   choosing candidate ``i`` (padding rows are masked by MaskablePPO);
4. value: ``MLP([mean, max, global])`` (one hidden layer) feeds SB3's value head.

:class:`CandidatePolicy` plugs this into sb3-contrib's ``MaskableActorCriticPolicy``: the
network's scores are the action logits (the usual linear action head is replaced by the
identity). :mod:`rrl.generative.policy` runs the same computation in numpy for inference,
so that scheduling with a model needs neither torch nor SB3 at run time.
"""

from __future__ import annotations

from typing import Any

import torch as th
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from torch import nn

from rrl.generative.candidates import F, G


class CandidateNet(nn.Module):
    """Scores for ``max_candidates`` rows and a value latent, from the flat observation."""

    def __init__(self, max_candidates: int, hidden: int = 64) -> None:
        super().__init__()
        self.max_candidates = max_candidates
        self.hidden = hidden
        self.embed = nn.Sequential(nn.Linear(F + G, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.score = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.value = nn.Sequential(nn.Linear(2 * hidden + G, hidden), nn.ReLU())
        self.latent_dim_pi = max_candidates
        self.latent_dim_vf = hidden

    def _encode(self, obs: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor, th.Tensor]:
        batch = obs.shape[0]
        glob = obs[:, :G]
        rows = obs[:, G:].reshape(batch, self.max_candidates, F)
        valid = rows[:, :, :1]
        h = self.embed(th.cat([rows, glob.unsqueeze(1).expand(-1, self.max_candidates, -1)], dim=2))
        count = valid.sum(dim=1).clamp(min=1.0)
        mean = (h * valid).sum(dim=1) / count
        top = th.where(valid > 0, h, th.full_like(h, -1e9)).max(dim=1).values
        top = th.where(valid.sum(dim=1) > 0, top, th.zeros_like(top))
        return h, mean, top, glob

    def forward(self, obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        h, mean, top, glob = self._encode(obs)
        return self._scores(h, mean, top), self.value(th.cat([mean, top, glob], dim=1))

    def _scores(self, h: th.Tensor, mean: th.Tensor, top: th.Tensor) -> th.Tensor:
        context = th.cat([mean, top], dim=1).unsqueeze(1).expand(-1, self.max_candidates, -1)
        return self.score(th.cat([h, context], dim=2)).squeeze(2)

    def forward_actor(self, obs: th.Tensor) -> th.Tensor:
        h, mean, top, _ = self._encode(obs)
        return self._scores(h, mean, top)

    def forward_critic(self, obs: th.Tensor) -> th.Tensor:
        _, mean, top, glob = self._encode(obs)
        return self.value(th.cat([mean, top, glob], dim=1))


class CandidatePolicy(MaskableActorCriticPolicy):
    """MaskablePPO policy whose action logits are :class:`CandidateNet`'s scores.

    Extra keyword arguments: ``max_candidates`` (rows of the observation; must match the
    environment), ``hidden`` (width of the network), and the environment settings the
    model is trained for (``objective``, ``scope``, ``route``), kept with the model so
    that inference builds the same candidates.
    """

    def __init__(self, *args: Any, max_candidates: int, hidden: int = 64, objective: str = "tardiness",
                 scope: str = "active", route: str = "all", **kwargs: Any) -> None:
        self.max_candidates = max_candidates
        self.hidden = hidden
        self.objective = objective
        self.scope = scope
        self.route = route
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = CandidateNet(self.max_candidates, self.hidden)  # type: ignore[assignment]

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        # the scores are the logits: no linear head on top of them
        self.action_net = nn.Identity()
        net: Any = self.mlp_extractor
        last = net.score[-1]
        nn.init.orthogonal_(last.weight, gain=0.01)
        nn.init.zeros_(last.bias)
        optimizer: Any = self.optimizer_class
        self.optimizer = optimizer(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(max_candidates=self.max_candidates, hidden=self.hidden, objective=self.objective,
                    scope=self.scope, route=self.route)
        return data


def numpy_weights(policy: CandidatePolicy) -> dict[str, Any]:
    """The weights :class:`rrl.generative.policy.NumpyPolicy` needs, as numpy arrays, and
    the policy's settings under ``"config"``."""
    state = {k: v.detach().cpu().numpy() for k, v in policy.state_dict().items()}
    names = {
        "embed0": "mlp_extractor.embed.0", "embed1": "mlp_extractor.embed.2",
        "score0": "mlp_extractor.score.0", "score1": "mlp_extractor.score.2",
        "value0": "mlp_extractor.value.0", "value1": "value_net",
    }
    out: dict[str, Any] = {}
    for short, long in names.items():
        out[f"{short}.w"] = state[f"{long}.weight"]
        out[f"{short}.b"] = state[f"{long}.bias"]
    out["config"] = {"objective": policy.objective, "scope": policy.scope, "route": policy.route,
                     "features": F, "global": G, "hidden": policy.hidden}
    return out
