/*  Background knowledge for schedule repair.

    Relations over the facts of one schedule state (rrl/relational/facts.py, listed in
    docs/state.md).  Every predicate here is defined from those facts only, so the same
    file serves the learner (which keys each state as its own interpretation) and plain
    swipl consulting a learned policy.pl.
*/

:- discontiguous op_kind/2, op_side/2, op_alt/2.

% ---- projections of task(Task, Resource, Position, Start, End, Product, Size, Due, Tardiness)
task_resource(T, R)  :- task(T, R, _, _, _, _, _, _, _).
task_position(T, P)  :- task(T, _, P, _, _, _, _, _, _).
task_start(T, S)     :- task(T, _, _, S, _, _, _, _, _).
task_end(T, E)       :- task(T, _, _, _, E, _, _, _, _).
task_product(T, P)   :- task(T, _, _, _, _, P, _, _, _).
task_size(T, S)      :- task(T, _, _, _, _, _, S, _, _).
task_due(T, D)       :- task(T, _, _, _, _, _, _, D, _).
task_tardiness(T, X) :- task(T, _, _, _, _, _, _, _, X).

% ---- properties of tasks
tardy(T) :- task_tardiness(T, X), X > 0.
on_time(T) :- task_tardiness(T, X), X =:= 0.
task_slack(T, S) :- task_due(T, D), task_end(T, E), S is D - E.     % negative: tardy by -S hours
movable(T) :- task(T, _, _, _, _, _, _, _, _), \+ started(T).
has_cleanout(T) :- cleanout_before(T, H), H > 0.
first_on_resource(T) :- task_position(T, 0).

% ---- relations between tasks
same_resource(T, U) :- task_resource(T, R), task_resource(U, R), T \== U.
% The two clauses of each look the known task up first (on large plans the other order
% would scan every task for every answer).
precedes(T, U) :- nonvar(U), !, task(U, R, Q, _, _, _, _, _, _), task(T, R, P, _, _, _, _, _, _), P < Q.
precedes(T, U) :- task(T, R, P, _, _, _, _, _, _), task(U, R, Q, _, _, _, _, _, _), P < Q.
immediately_precedes(T, U) :- nonvar(U), !, task(U, R, Q, _, _, _, _, _, _), P is Q - 1, task(T, R, P, _, _, _, _, _, _).
immediately_precedes(T, U) :- task(T, R, P, _, _, _, _, _, _), Q is P + 1, task(U, R, Q, _, _, _, _, _, _).
later_due(T, U) :- task_due(T, DT), task_due(U, DU), DT > DU.       % T is due later than U
earlier_due(T, U) :- task_due(T, DT), task_due(U, DU), DT < DU.
more_tardy(T, U) :- task_tardiness(T, XT), task_tardiness(U, XU), XT > XU.
less_tardy(T, U) :- task_tardiness(T, XT), task_tardiness(U, XU), XT < XU.
same_product(T, U) :- task_product(T, P), task_product(U, P), T \== U.
larger(T, U) :- task_size(T, ST), task_size(U, SU), ST > SU.
starts_earlier(T, U) :- task_start(T, ST), task_start(U, SU), ST < SU.
inversion(T, U) :- immediately_precedes(T, U), later_due(T, U).      % T runs right before U, due later
waits_for(T, U) :- after(T, U).                                      % T may start only after U ends
chain_started(T) :- after(T, U), started(U).                         % T continues a chain already running
busiest_resource(R) :- aggregate_all(max(L, R0), res_load(R0, L), max(_, R)).

% ---- the focal task's neighbourhood (deictic)
focal_resource(R) :- focal(F), task_resource(F, R).
focal_tardy :- focal(F), tardy(F).
focal_first :- focal(F), first_on_resource(F).
after_focal(T) :- focal(F), precedes(F, T).
tardy_after_focal :- after_focal(T), tardy(T), !.
due_later_before_focal :- focal(F), precedes(T, F), later_due(T, F), !.   % some earlier task could wait
alternative_resource(R) :- focal(F), can_run(F, R), \+ task_resource(F, R).
less_loaded_alternative :- focal_resource(R0), res_load(R0, L0), alternative_resource(R), res_load(R, L), L < L0, !.
focal_inverted :- focal(F), ( inversion(F, _) ; inversion(_, F) ), !.  % F and a neighbour are out of due order
focal_in_chain :- focal(F), ( after(F, _) ; after(_, F) ), !.

% ---- where to look next: candidates for the focal task (DESIGN section 9)
% focus_candidate(Reason, T, Key): T is worth repairing for Reason.  At each step the
% policy looks at the few candidates of largest Key of each Reason (in this order) that
% have not started; the Q-tree then scores every action of every candidate, and the rule
% of the Reason that proposed the chosen focus is printed with the step.
focus_candidate(event, T, X) :-                % the disruption's own task(s)
    event_focal(T), task_tardiness(T, X).
focus_candidate(most_tardy, T, X) :-           % the orders that are latest
    task_tardiness(T, X), X > 0.
focus_candidate(delayed, T, X) :-              % tardy orders the last step pushed back
    delayed(T), task_tardiness(T, X), X > 0.
focus_candidate(ahead_of_tardy, T, X) :-       % due later, yet runs right before a tardy order
    tardy(U), task_tardiness(U, X), inversion(T, U).
focus_candidate(holds_up_tardy, T, X) :-       % runs earlier on its resource than a tardy order
    tardy(U), task_tardiness(U, X), precedes(T, U).
focus_candidate(scattered_product, T, H) :-    % a cleanout that grouping with its product could save
    cleanout_before(T, H), same_resource(T, U), same_product(T, U).
focus_candidate(busiest_resource, T, E) :-     % the last orders of the busiest resource, if they can go elsewhere
    busiest_resource(R), task(T, R, _, _, E, _, _, _, _), flexible(T).
focus_reason(R) :- focal(F), focus_candidate(R, F, _).

% focus_operator(Reason, Op): the operators worth trying on a focus proposed for Reason
% (a late order goes earlier or elsewhere, an order blocking a late one goes later or
% elsewhere, a scattered product joins its group); a Reason without clauses tries all.
focus_operator(most_tardy, Op) :- op_kind(Op, _), ( op_side(Op, left) ; op_alt(Op, alternative) ).
focus_operator(delayed, Op) :- op_kind(Op, _), ( op_side(Op, left) ; op_alt(Op, alternative) ).
focus_operator(ahead_of_tardy, Op) :- op_kind(Op, _), ( op_side(Op, right) ; op_alt(Op, alternative) ).
focus_operator(holds_up_tardy, Op) :- op_kind(Op, _), ( op_side(Op, right) ; op_alt(Op, alternative) ).
focus_operator(scattered_product, Op) :- op_kind(Op, K), K \== swap.
focus_operator(busiest_resource, Op) :- op_kind(Op, _), op_alt(Op, alternative).

% ---- the action under evaluation: action(Operator, Focal, Other)
op_kind(left_swap, swap).  op_kind(right_swap, swap).  op_kind(left_swap_alt, swap).  op_kind(right_swap_alt, swap).
op_kind(left_move, move).  op_kind(right_move, move).  op_kind(left_move_alt, move).  op_kind(right_move_alt, move).
op_kind(left_jump, jump).  op_kind(right_jump, jump).  op_kind(left_jump_alt, jump).  op_kind(right_jump_alt, jump).
op_side(Op, left) :- sub_atom(Op, 0, _, _, left_).
op_side(Op, right) :- sub_atom(Op, 0, _, _, right_).
op_alt(Op, alternative) :- sub_atom(Op, _, _, 0, '_alt').
op_alt(Op, same) :- \+ sub_atom(Op, _, _, 0, '_alt').

action_kind(K) :- action(Op, _, _), op_kind(Op, K).
action_side(S) :- action(Op, _, _), op_side(Op, S).
action_place(A) :- action(Op, _, _), op_alt(Op, A).
action_other(U) :- action(_, _, U), U \== none.
improves :- action_delta_tardiness(D), D < 0.
worsens :- action_delta_tardiness(D), D > 0.
adds_cleanout :- action_delta_cleanout(D), D > 0.
target_load(L) :- action_resource(R), res_load(R, L).               % load of the resource F ends up on
target_tardiness(X) :- action_resource(R), res_tardiness(R, X).
target_less_loaded :- focal_resource(R0), action_resource(R), R \== R0, res_load(R0, L0), res_load(R, L), L < L0.
other_due_later :- action(_, F, U), U \== none, later_due(U, F).     % the other task of the action is due later than F
other_tardy :- action(_, _, U), U \== none, tardy(U).
moves_more :- action_delta_moved(D), D > 0.                          % disturbs orders not moved so far
removes_cleanout :- action_delta_cleanout(D), D < 0.
