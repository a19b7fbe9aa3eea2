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
has_cleanout(T) :- cleanout_before(T, H), H > 0.
first_on_resource(T) :- task_position(T, 0).

% ---- relations between tasks
same_resource(T, U) :- task_resource(T, R), task_resource(U, R), T \== U.
precedes(T, U) :- task(T, R, P, _, _, _, _, _, _), task(U, R, Q, _, _, _, _, _, _), P < Q.
immediately_precedes(T, U) :- task(T, R, P, _, _, _, _, _, _), task(U, R, Q, _, _, _, _, _, _), Q =:= P + 1.
later_due(T, U) :- task_due(T, DT), task_due(U, DU), DT > DU.       % T is due later than U
earlier_due(T, U) :- task_due(T, DT), task_due(U, DU), DT < DU.
more_tardy(T, U) :- task_tardiness(T, XT), task_tardiness(U, XU), XT > XU.
less_tardy(T, U) :- task_tardiness(T, XT), task_tardiness(U, XU), XT < XU.
same_product(T, U) :- task_product(T, P), task_product(U, P), T \== U.
larger(T, U) :- task_size(T, ST), task_size(U, SU), ST > SU.
starts_earlier(T, U) :- task_start(T, ST), task_start(U, SU), ST < SU.

% ---- the focal task's neighbourhood (deictic)
focal_resource(R) :- focal(F), task_resource(F, R).
focal_tardy :- focal(F), tardy(F).
focal_first :- focal(F), first_on_resource(F).
after_focal(T) :- focal(F), precedes(F, T).
tardy_after_focal :- after_focal(T), tardy(T), !.
due_later_before_focal :- focal(F), precedes(T, F), later_due(T, F), !.   % some earlier task could wait
alternative_resource(R) :- focal(F), can_run(F, R), \+ task_resource(F, R).
less_loaded_alternative :- focal_resource(R0), res_load(R0, L0), alternative_resource(R), res_load(R, L), L < L0, !.

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
removes_cleanout :- action_delta_cleanout(D), D < 0.
