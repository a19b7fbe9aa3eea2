"""Upper bounds on the sizes a user may ask for (docs/security.md).

Every loop a flag, a policy file or a scenario can lengthen has a documented ceiling,
so that no input makes rrl run without end. The bounds are far above what the
benchmarks and the seed scale need (152 machines, 500+ orders, 15 repair steps).
"""

from __future__ import annotations

#: Repair steps of one episode or one consult (``--max-steps``, ``parameters.max_steps``).
MAX_STEPS = 1_000
#: Wall-time budget of one consult's search, in ms (``--budget-ms``: ten minutes).
MAX_BUDGET_MS = 600_000.0
#: Node expansions of one consult's search (``--node-limit``; the walk gets ten tries each).
MAX_NODE_LIMIT = 100_000
#: Training episodes of one ``rrl train`` run (``--episodes``).
MAX_EPISODES = 1_000_000
#: Held-out cases of one ``rrl evaluate`` run (``--cases``).
MAX_CASES = 100_000
#: Orders per training or evaluation case (``--orders N-M``).
MAX_CASE_ORDERS = 10_000
#: PPO training decisions of one ``rrl ppo train`` run (``--timesteps``).
MAX_TIMESTEPS = 1_000_000_000
#: Parallel PPO environments (``--envs``).
MAX_ENVS = 64
#: Ruin-and-recreate walks of one consult run at once, each in a process (``--walkers``).
MAX_WALKERS = 16
#: Generated plants and order books (``scenario generate``, ``ppo --machines``).
MAX_MACHINES = 10_000
MAX_ORDERS = 100_000
MAX_FAMILY_STEPS = 100
#: Hours: any time, processing time (size / rate) or cleanout in a scenario, and the
#: sum of the processing times of all its orders; beyond it float times lose the
#: precision the validator checks to (1e-9 h).
MAX_HOURS = 1_000_000.0
