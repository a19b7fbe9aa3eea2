% Language bias for repair Q-trees: which tests a tree may put in a node.
% Examples are (state, action) pairs: the facts of rrl/relational/facts.py.
% Types
type(focal(task)).
type(action(op, task, task)).
type(action_kind(kind)).
type(action_side(side)).
type(action_place(place)).
type(action_delta_tardiness(num)).
type(action_delta_cleanout(num)).
type(improves).
type(worsens).
type(adds_cleanout).
type(removes_cleanout).
type(total_tardiness(num)).
type(max_tardiness(num)).
type(focal_left_tardiness(num)).
type(focal_right_tardiness(num)).
type(task_tardiness(task, num)).
type(task_due(task, num)).
type(tardy(task)).
type(important(task)).
type(has_cleanout(task)).
type(first_on_resource(task)).
type(later_due(task, task)).
type(earlier_due(task, task)).
type(more_tardy(task, task)).
type(less_tardy(task, task)).
type(same_product(task, task)).
type(same_resource(task, task)).
type(precedes(task, task)).
type(immediately_precedes(task, task)).
type(larger(task, task)).
type(starts_earlier(task, task)).
type(focal_first).
type(tardy_after_focal).
type(due_later_before_focal).
type(less_loaded_alternative).
% Moving focus and the concepts a planner reasons with (docs/state.md)
type(focus_by(reason)).
type(focus_reason(reason)).
type(event_focal(task)).
type(delayed(task)).
type(previous_focus(task)).
type(focal_slack(num)).
type(focal_tardy_block(count)).
type(focal_inverted).
type(focal_in_chain).
type(inversion(task, task)).
type(waits_for(task, task)).
type(chain_started(task)).
type(target_load(num)).
type(target_tardiness(num)).
type(target_less_loaded).
type(other_due_later).
type(other_tardy).
type(moves_more).
type(action_frees_chain).
type(action_delta_moved(count)).

% Root: every path starts from the focal task and the action under evaluation.
root((focal(F), action(Op, F, U))).

% What the action is and what it does at once.
rmode(action_kind(#)).
rmode(action_side(#)).
rmode(action_place(#)).
rmode(improves).
rmode(worsens).
rmode(adds_cleanout).
rmode(removes_cleanout).
rmode(2: (action_delta_tardiness(-D), D >= #)).
rmode(1: (action_delta_cleanout(-C), C >= #)).

% The state: global figures and the focal neighbourhood.
rmode(1: (total_tardiness(-X), X >= #)).
rmode(1: (focal_right_tardiness(-X), X >= #)).
rmode(1: (focal_left_tardiness(-X), X >= #)).
rmode(tardy(+F)).
rmode(important(+F)).
rmode(tardy_after_focal).
rmode(due_later_before_focal).
rmode(less_loaded_alternative).

% Relations between the focal task F and the other task U of the action.
rmode(tardy(+U)).
rmode(important(+U)).
rmode(later_due(+U, +F)).
rmode(earlier_due(+U, +F)).
rmode(more_tardy(+U, +F)).
rmode(same_product(+U, +F)).
rmode(has_cleanout(+U)).
rmode(immediately_precedes(+U, +F)).
rmode(larger(+U, +F)).
rmode(starts_earlier(+U, +F)).
rmode(focal_first).

% Where the focus came from, and what the planner sees around it.
rmode(focus_by(#)).
rmode(focus_reason(#)).
rmode(event_focal(+F)).
rmode(delayed(+F)).
rmode(previous_focus(+F)).
rmode(1: (focal_slack(-S), S >= #)).
rmode(1: (focal_tardy_block(-N), N >= #)).
rmode(focal_inverted).
rmode(focal_in_chain).
rmode(chain_started(+F)).
rmode(inversion(+U, +F)).
rmode(inversion(+F, +U)).
rmode(waits_for(+U, +F)).
rmode(waits_for(+F, +U)).

% Where F goes, and what else the action disturbs.
rmode(1: (target_load(-L), L >= #)).
rmode(1: (target_tardiness(-X), X >= #)).
rmode(target_less_loaded).
rmode(other_due_later).
rmode(other_tardy).
rmode(moves_more).
rmode(action_frees_chain).
rmode(1: (action_delta_moved(-D), D >= #)).

minimal_cases(10).
max_depth(6).
significance(0.001).
