"""Block steps: a run of consecutive orders moved together, written as single operators.

A block is the focal task F with the one or more orders that run right after it, or
right before it, on its resource. Moving the run as a whole keeps its own sequence and
the cleanouts inside it. In the stability measure (DESIGN section 3: an order counts as
moved when its resource or its immediate predecessor changes), a block moves about as few
orders as one jump does: its first order and the orders after the two gaps. Jumping its members one at a
time passes through plans that move more, so a search that steps by single jumps rarely
gets there.

An exchange step moves the focal task F to another resource, to the place where that
sequence is least tardy once an order T of it has left, and T to the least tardy place
on another resource T may run on: F's own (the two trade resources) or a third one (an
ejection chain of two). Moving F alone can cost more than it saves (the resource it
joins gets longer); with T making room, load moves from a late resource to another
without lengthening it, which a descent over single steps cannot see.

Block and exchange steps are made of the operators of DESIGN section 5 and nothing else:
:func:`block_chain` writes it as one jump (or move) per member, F first, each applicable
(:func:`~rrl.operators.repair.changes_of`) to the plan the one before it left. A search
can price the whole block as one candidate (:func:`block_proposals`) and pay for the
chain only when it takes the step. :func:`exchange_chain` writes an exchange as the two
orders' single steps, the focal task's first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rrl.domain.plan import Plan
from rrl.domain.schedule import Schedule
from rrl.domain.timing import sequence_tardiness
from rrl.errors import CycleError, NotApplicable
from rrl.operators.repair import Action, Changes, changes_of, timed


@dataclass(frozen=True, slots=True)
class Block:
    """A run of orders and where it goes.

    Parameters
    ----------
    orders : tuple of str
        The run, in sequence.
    focal : str
        The focal task: the run's first or last order (its step comes first).
    resource : str
        The resource the run ends up on.
    index : int
        Where the run starts on ``resource``, counted in that resource's sequence without
        the run.
    """

    orders: tuple[str, ...]
    focal: str
    resource: str
    index: int


def block_proposals(plan: Plan, focal: str, longest: int) -> Iterator[tuple[Block, Action, Changes]]:
    """Each block of 2..``longest`` orders that starts or ends at ``focal``, at each place
    it may go: its own resource or one on which every member may run, never inside a
    started prefix. None on a plant with ``after``: a member's step could break a chain.

    Yields the block, the action of the focal task (the step a Q-value scores and the
    chain starts with) and the sequences it changes.
    """
    problem = plan.problem
    schedule = plan.schedule
    if longest < 2 or problem.dependents or focal not in schedule.where or focal in problem.frozen:
        return
    durations = problem.durations
    resource, i = schedule.where[focal]
    seq = schedule.sequence(resource)
    floor = plan.frozen_prefix(resource)
    runs = [(i, end) for end in range(i + 2, min(len(seq), i + longest) + 1)]  # F first
    runs += [(begin, i + 1) for begin in range(i - 1, max(floor, i - longest + 1) - 1, -1)]  # F last
    for begin, end in runs:
        run = seq[begin:end]
        rest = seq[:begin] + seq[end:]
        for index in range(floor, len(rest) + 1):
            if index == begin:
                continue  # where it is
            action = _first_action(plan, focal, begin, len(run), resource, index)
            yield Block(run, focal, resource, index), action, {resource: rest[:index] + run + rest[index:]}
        for target in durations[focal]:
            if target == resource or any(target not in durations[order] for order in run):
                continue
            other = schedule.sequence(target)
            for index in range(plan.frozen_prefix(target), len(other) + 1):
                action = _first_action(plan, focal, begin, len(run), target, index)
                yield Block(run, focal, target, index), action, {resource: rest, target: other[:index] + run + other[index:]}


def block_chain(plan: Plan, block: Block) -> list[tuple[Action, Changes, Plan]]:
    """The block step as single operators: for each member in turn, the action that puts
    it in place, the sequences it changes and the plan it leads to.

    The focal task goes first: to the block's place on another resource; on its own,
    right after the order the run must follow (going later) or right before the one it
    must precede (going earlier). The members after it in the run then follow it one by
    one, each right after the one before; the members before it come back the other way,
    each right before the one after it.

    Raises
    ------
    NotApplicable
        When a member's action does not apply (a bug: every block proposed has a chain).
    """
    run = block.orders
    f = run.index(block.focal)
    home = plan.schedule.where[block.focal][0]
    seq = plan.schedule.sequence(home)
    members = set(run)
    rest = [o for o in seq if o not in members]
    later = block.resource == home and block.index > seq.index(run[0])
    # Each member after F goes right after the member before it, each member before F
    # right before the member after it.
    steps = [(run[k], run[k - 1], 1) for k in range(f + 1, len(run))]
    steps += [(run[k], run[k + 1], 0) for k in range(f - 1, -1, -1)]
    chain: list[tuple[Action, Changes, Plan]] = []
    current = plan
    for order, neighbour, after in [(block.focal, None, 0), *steps]:
        where = [o for o in current.schedule.sequence(block.resource) if o != order]
        if neighbour is not None:
            index = where.index(neighbour) + after
        elif block.resource != home:
            index = block.index
        elif later:  # right after the order the run must follow
            index = where.index(rest[block.index - 1]) + 1
        else:  # right before the order the run must precede
            index = where.index(rest[block.index])
        action = placement(current, order, block.resource, index)
        changes = changes_of(current, action)
        expected = tuple(where[:index]) + (order,) + tuple(where[index:])
        if changes.get(block.resource) != expected:
            raise NotApplicable(f"{action}: does not put {order} at place {index} of {block.resource}")
        current = timed(current, changes)
        chain.append((action, changes, current))
    return chain


def exchange_partners(plan: Plan, focal: str) -> Iterator[tuple[str, str]]:
    """The orders ``focal`` may displace, with where each may go: (T, resource) for every
    unstarted T on another resource that may run ``focal``, and every other resource T
    may run on (``focal``'s own included). None on a plant with ``after`` (a step on the
    way could break a chain)."""
    problem = plan.problem
    where = plan.schedule.where
    if problem.dependents or focal not in where or focal in problem.frozen:
        return
    home = where[focal][0]
    durations = problem.durations
    for target in durations[focal]:
        if target == home:
            continue
        for partner in plan.schedule.sequence(target)[plan.frozen_prefix(target):]:
            for resource in durations[partner]:
                if resource != target:
                    yield partner, resource


def insertions(plan: Plan, order: str, resource: str, without: str) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Each place for ``order`` on ``resource`` once ``without`` has left it, after its
    started prefix: (index in that shorter sequence, the sequence with ``order`` there)."""
    rest = tuple(o for o in plan.schedule.sequence(resource) if o != without)
    for index in range(plan.frozen_prefix(resource), len(rest) + 1):
        yield index, rest[:index] + (order,) + rest[index:]


def exchange(plan: Plan, focal: str, partner: str, focal_index: int, resource: str,
             partner_index: int) -> tuple[Block, Block]:
    """The two single-order blocks of an exchange step, in the order they are taken:
    ``focal`` to ``partner``'s resource at ``focal_index``, then ``partner`` to
    ``resource`` at ``partner_index`` (both counted in the final sequences, without the
    other order)."""
    where = plan.schedule.where
    target, at = where[partner]
    # The focal task goes first, while the partner still runs on the target: past the
    # partner's place, its index counts the partner too.
    index = focal_index if focal_index <= at else focal_index + 1
    return Block((focal,), focal, target, index), Block((partner,), partner, resource, partner_index)


def exchange_chain(plan: Plan, blocks: tuple[Block, Block]) -> list[tuple[Action, Changes, Plan]]:
    """An exchange (:func:`exchange`) as its two single operators, each applicable to the
    plan the one before it left (see :func:`block_chain`)."""
    first = block_chain(plan, blocks[0])
    return first + block_chain(first[-1][2], blocks[1])


def placement_chain(plan: Plan, target: Schedule) -> list[tuple[Action, Changes, Plan]]:
    """``target`` (the same orders as ``plan``, started ones in place) reached by single
    operators, one per order whose place changed: on each resource, the orders off a
    longest common subsequence of its old and new sequences. An order is placed next to
    a neighbour it has in ``target`` that is in place already (right after the order it
    follows, or right before the one it precedes); of the orders that can be placed, the
    step leaving the least total tardiness goes first, so that the plans on the way stay
    close to the start and the goal. With ``after``, a step on the way may close a
    precedence cycle: the next option is taken then, and the steps are ordered by
    their sequences' tardiness under ``plan``'s chains (:meth:`~rrl.domain.plan.Plan.released_problem`).

    Raises
    ------
    NotApplicable
        When no order can be placed (with ``after``: every option closes a cycle) or
        the chain misses ``target`` (a bug).
    """
    # (with ``after``, the steps are ordered by their sequences' tardiness under ``plan``'s chains)
    problem = plan.released_problem() if plan.problem.dependents else plan.problem
    settled: set[str] = set()
    movers: dict[str, tuple[str, int]] = {}  # order -> (its resource in ``target``, index there)
    for resource, seq in target.sequences.items():
        stay = _common(plan.schedule.sequence(resource), seq)
        settled |= stay
        movers.update((order, (resource, k)) for k, order in enumerate(seq) if order not in stay)
    chain: list[tuple[Action, Changes, Plan]] = []
    current = plan
    while movers:
        options: list[tuple[float, str, str, int]] = []
        held: dict[str, float] = {}  # the current sequences' tardiness, as the options need them
        for order, (resource, k) in movers.items():
            seq = target.sequence(resource)
            rest = [o for o in current.schedule.sequence(resource) if o != order]
            if k == 0:
                index = 0
            elif seq[k - 1] in settled:
                index = rest.index(seq[k - 1]) + 1
            elif k + 1 < len(seq) and seq[k + 1] in settled:
                index = rest.index(seq[k + 1])
            else:
                continue
            home = current.schedule.where[order][0]
            changed = {home: tuple(o for o in current.schedule.sequence(home) if o != order)}
            changed[resource] = (*rest[:index], order, *rest[index:])
            for r in changed:
                if r not in held:
                    held[r] = sequence_tardiness(problem, r, current.schedule.sequence(r))
            late = sum(sequence_tardiness(problem, r, seq) - held[r] for r, seq in changed.items())
            options.append((late, order, resource, index))
        for _, order, resource, index in sorted(options, key=lambda option: option[0]):
            home, i = current.schedule.where[order]
            if home == resource and index == i:
                break  # already where it goes
            try:  # (with ``after``, a step on the way may close a cycle: the next option, then)
                chain += block_chain(current, Block((order,), order, resource, index))
            except CycleError:
                continue
            current = chain[-1][2]
            break
        else:
            raise NotApplicable("no order can be placed next to a neighbour in place")
        del movers[order]
        settled.add(order)
    if current.schedule != target:
        raise NotApplicable("the placements do not lead to the plan they were written for")
    return chain


def _common(old: Sequence[str], new: Sequence[str]) -> set[str]:
    """The orders of a longest common subsequence of ``old`` and ``new``."""
    lengths = [[0] * (len(new) + 1) for _ in range(len(old) + 1)]
    for i in range(len(old) - 1, -1, -1):
        for j in range(len(new) - 1, -1, -1):
            lengths[i][j] = lengths[i + 1][j + 1] + 1 if old[i] == new[j] else max(lengths[i + 1][j], lengths[i][j + 1])
    common: set[str] = set()
    i = j = 0
    while i < len(old) and j < len(new):
        if old[i] == new[j]:
            common.add(old[i])
            i, j = i + 1, j + 1
        elif lengths[i + 1][j] >= lengths[i][j + 1]:
            i += 1
        else:
            j += 1
    return common


def placement(plan: Plan, order: str, resource: str, index: int) -> Action:
    """The single operator that puts ``order`` at ``index`` of ``resource`` (counted in
    that resource's sequence without ``order``): a move next door, a jump further on its
    own resource; on another one, the jump or move that DESIGN section 5 names by start
    times. Not checked here: :func:`~rrl.operators.repair.changes_of` decides."""
    home, i = plan.schedule.where[order]
    if resource == home:
        seq = plan.schedule.sequence(home)
        if index == i - 1:
            return Action("left_move", order, seq[i - 1], home)
        if index == i + 1:
            return Action("right_move", order, seq[i + 1], home)
        return Action("left_jump" if index < i else "right_jump", order, seq[index], home)
    other = plan.schedule.sequence(resource)
    start = plan.times.start
    at = start[order]
    before = other[index - 1] if index > 0 else None
    after = other[index] if index < len(other) else None
    if after is not None and start[after] <= at:
        return Action("left_jump_alt", order, after, resource)  # right before a task starting no later
    if before is not None and start[before] > at:
        return Action("right_jump_alt", order, before, resource)  # right after a task starting later
    if before is not None:
        return Action("right_move_alt", order, before, resource)  # the task running at its start
    return Action("left_move_alt", order, after, resource)  # first, nothing starts before it


def _first_action(plan: Plan, focal: str, begin: int, length: int, resource: str, index: int) -> Action:
    """The action of the focal task, which moves first, for the run of ``length`` orders
    from ``begin`` going to ``index`` of ``resource`` (counted without the run)."""
    home = plan.schedule.where[focal][0]
    if resource != home or index < begin:
        return placement(plan, focal, resource, index)
    # Going later on its own resource: right after the order the run must follow, which
    # stands behind the whole run now (index counts without it, the place without F only).
    return placement(plan, focal, resource, index + length - 1)
