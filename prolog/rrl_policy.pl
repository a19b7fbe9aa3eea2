/*  rrl_policy.pl -- runs a learned repair policy (a decision list defining predict/1)
    on schedule states, the way plain swipl would, only without leaving the process.

    A policy lives in its own module with the background knowledge.  The module holds
    one state's facts at a time (a search moving to another plan sends what differs);
    the background's focus_candidate/3 rules name where to look next; each candidate
    action's facts (with its focus's) are asserted, q_value/1 or predict/1 is asked,
    and they are retracted again: one call scores every action of a search node.

    The background files and the rules are data (rrl_safe.pl): read term by term, no
    directive runs, every clause body is checked safe before it is added, and every call
    of the policy's or the background's clauses is bounded in inferences and time.  A
    call that fails that way answers "!error<TAB>File<TAB>Line<TAB>Message" (bounded/6).
*/
:- module(rrl_policy,
          [ rrl_policy_module/4,      % +Module, +BackgroundFiles, +DynamicSpecs, -Status
            rrl_policy_rules/4,       % +Module, +SourceId, +RulesText, -Status
            rrl_held_clause/3,        % +Module, +FactsText, -Index
            rrl_q_clause/3,           % +Module, +FactsText, -ValueIndexText
            rrl_state/2,              % +Module, +StateText
            rrl_state_text/3,         % +Module, +StateText, -Empty
            rrl_state_change/4,       % +Module, +RemovedText, +AddedText, -Empty
            rrl_state_change_focus/5, % +Module, +RemovedText, +AddedText, +PerReason, -CandidatesText
            rrl_focus/3,              % +Module, +PerReason, -CandidatesText
            rrl_state_focus/4,        % +Module, +StateText, +PerReason, -CandidatesText
            rrl_reason/3,             % +Module, +TaskText, -ReasonText
            rrl_state_reason/4,       % +Module, +StateText, +TaskText, -ReasonText
            rrl_state_change_reason/5, % +Module, +RemovedText, +AddedText, +TaskText, -ReasonText
            rrl_focus_operators/2,    % +Module, -PairsText
            rrl_q_groups/3,           % +Module, +GroupsText, -ValuesText
            rrl_value_facts/2         % +Module, -NamesText
          ]).
:- use_module(library(apply)).
:- use_module(library(lists)).
:- use_module(library(http/json)).
:- use_module(rrl_safe).

:- dynamic fact_spec/2.                 % fact_spec(Module, Name/Arity): a state fact predicate
:- dynamic held/2.                      % held(Module, Count): facts in the held state

%!  rrl_policy_module(+M, +Files, +Dynamic, -Status) is det.
%   Adds the checked clauses of the background files to module M and declares the
%   state's fact predicates (a list of Name/Arity) dynamic there, so that absent facts
%   fail quietly.  The clauses are read and added one by one (not consulted): that is
%   how they are checked, and SWI-Prolog loads a non-module file into one module only,
%   while every policy has its own.  Status is "ok" or "File\tLine\tMessage".
rrl_policy_module(M, Files, Dynamic, Status) :-
    set_module(M:base(system)),
    rrl_checker(M, C),
    dynamic([M:'$rrl_rules'/1, M:'$rrl_line'/3]),
    forall(member(PI, Dynamic), dynamic(M:PI)),
    rrl_own(C, Dynamic),
    retractall(fact_spec(M, _)),
    forall(member(PI, Dynamic), assertz(fact_spec(M, PI))),
    catch(( forall(member(F, Files), add_file(M, C, F)), Status = "ok" ),
          rrl_error(File, Line, Msg),
          format(string(Status), '~w\t~w\t~w', [File, Line, Msg])).

add_file(M, C, File) :-
    catch(rrl_read_program(C, file(File), error, Items), rrl_error(Line, Msg),
          throw(rrl_error(File, Line, Msg))),
    add_items(M, File, Items).

%   Each clause keeps its file (`rules` for the rules) and line, for the errors it raises.
add_items(M, File, Items) :-
    forall(member(decl(_, dynamic, PIs), Items), forall(member(PI, PIs), dynamic(M:PI))),
    forall(member(cl(Line, H, B), Items),
           ( assertz(M:(H :- B), Ref), assertz(M:'$rrl_line'(Ref, File, Line)) )).

%!  rrl_policy_rules(+M, +Id, +Text, -Status) is det.
%   Loads (or reloads: the clauses of an earlier load are replaced) the rules in Text
%   into module M.  The rules may define predicates of their own, not those of the
%   background or the state.  Status is "ok" or "Line\tMessage".
rrl_policy_rules(M, _Id, Text, Status) :-
    rrl_checker(M, C),
    findall(PI, M:'$rrl_rules'(PI), Old),
    rrl_disown(C, Old),
    forall(member(PI, Old), drop_clauses(M, PI)),
    retractall(M:'$rrl_rules'(_)),
    catch(( rrl_read_program(C, text(Text), error, Items),
            (   member(cl(Line, H, _), Items), functor(H, N, A),
                \+ memberchk(N/A, Old), taken_name(M, H, Why)
            ->  format(string(Msg), "~q/~w ~w", [N, A, Why]),
                throw(rrl_error(Line, Msg))
            ;   true ),
            findall(N/A, ( member(cl(_, H, _), Items), functor(H, N, A) ), PIs0),
            sort(PIs0, PIs),
            forall(member(PI, PIs), ( dynamic(M:PI), assertz(M:'$rrl_rules'(PI)) )),
            add_items(M, rules, Items),
            Status = "ok" ),
          rrl_error(Line, Msg),
          format(string(Status), '~w\t~w', [Line, Msg])).

%   Why the rules may not define a clause for head H: the background knowledge or the
%   state has it, or it is a library's or the system's (redefining it would be refused).
taken_name(M, H, "is defined by the background knowledge or the state") :-
    functor(H, N, A),
    background_pi(M, N/A), !.
taken_name(M, H, Why) :-
    (   predicate_property(M:H, imported_from(From)) -> true
    ;   predicate_property(M:H, built_in), From = system
    ),
    format(string(Why), "is a predicate of the ~w library: name yours otherwise", [From]).

background_pi(M, N/A) :-
    functor(H, N, A),
    predicate_property(M:H, defined),
    \+ predicate_property(M:H, imported_from(_)).

drop_clauses(M, N/A) :-
    functor(H, N, A),
    forall(clause(M:H, _, Ref), ( retractall(M:'$rrl_line'(Ref, _, _)), erase(Ref) )).

%!  bounded(+M, :Goal, +Units, +Where, +Suspects, -Out) is det.
%   Runs Goal (which binds Out) bounded by rrl_bounded/2; an error or a limit answers
%   "!error\tFile\tLine\tMessage": the file (`rules` for the rules) and line of the
%   clause behind it, looked for among the predicates Suspects, or "\t0" when none is
%   found.  Where names what was asked, for the message.
bounded(M, G, Units, Where, Suspects, Out) :-
    catch(rrl_bounded(G, Units), E, failure(M, Where, Suspects, E, Out)).

failure(M, Where, Suspects, E, Out) :-
    error_message(Where, E, Msg),
    (   E = rrl_limit(_, _) -> Kind = limit ; Kind = error ),
    (   ( E = rrl_bad_value(_, Ref) ; E = rrl_raised(_, Ref) ; culprit(M, Suspects, Kind, Ref) ),
        M:'$rrl_line'(Ref, File, Line)
    ->  true
    ;   File = '', Line = 0 ),
    format(string(Out), '!error\t~w\t~w\t~w', [File, Line, Msg]).

error_message(Where, rrl_limit(inferences, L), Msg) :- !,
    format(string(Msg), '~w ran out of ~D inferences (rrl stops an evaluation there: see docs/security.md)', [Where, L]).
error_message(Where, rrl_limit(seconds, L), Msg) :- !,
    format(string(Msg), '~w ran for more than ~2f s (rrl stops an evaluation there: see docs/security.md)', [Where, L]).
error_message(_, rrl_bad_value(Goal, _), Msg) :- !,
    functor(Goal, N, _), arg(1, Goal, V),
    format(string(Msg), '~w/1 answered ~q, which is not a finite number', [N, V]).
error_message(Where, rrl_raised(E, _), Msg) :- !,
    error_message(Where, E, Msg).
error_message(Where, E, Msg) :-
    rrl_message(E, Msg0),
    format(string(Msg), '~w raised an error: ~w', [Where, Msg0]).

%   The first clause of the predicates Suspects (`rules`: those of the rules) whose body
%   raises (Kind `error`) or runs out of a limit (Kind `limit`) with the facts asserted
%   now (clauses tried one by one, each bounded: the error path only).
culprit(M, rules, Kind, Ref) :- !,
    findall(PI, M:'$rrl_rules'(PI), PIs),
    culprit(M, PIs, Kind, Ref).
culprit(M, Suspects, Kind, Ref) :-
    member(N/A, Suspects),
    functor(H, N, A),
    catch(clause(M:H, Body, Ref), _, fail),
    catch(rrl_bounded(M:Body, 1), E, true),
    nonvar(E),
    (   rrl_limit_ball(E) -> Kind == limit ; Kind == error ), !.

%   A policy's Q-value is q_value/1 when it defines one (the immediate reward plus the
%   discounted value the tree predicts), else the tree's predict/1 itself.
value_goal(M, q_value) :-               % (rules that dropped it leave it declared, with no clause)
    current_predicate(M:q_value/1),
    predicate_property(M:q_value(_), number_of_clauses(N)), N > 0, !.
value_goal(_, predict).

value_of(M, Name, Facts, Value) :-
    setup_call_cleanup(assert_all(M, Facts), held_value(M, Name, Value), retract_all(M, Facts)).

held_value(M, Name, Value) :-
    functor(Goal, Name, 1),
    catch(( M:Goal -> checked_value(M, Goal, Value) ; Value = 0 ), E, located(M, E)).

%   An error of the rules is passed on with the clause that raises it, found while the
%   action's facts are still there (rrl_raised(Error, Ref)).
located(_, E) :-
    ( rrl_limit_ball(E) ; E = rrl_bad_value(_, _) ), !,
    throw(E).
located(M, E) :-
    (   culprit(M, rules, error, Ref) -> true ; Ref = none ),
    throw(rrl_raised(E, Ref)).

%   A value must be a finite number; else rrl_bad_value(Goal, Ref), Ref the clause of
%   the rules that gave it when one is found (the error path only).
checked_value(_, Goal, V) :-
    arg(1, Goal, V), number(V),
    \+ ( float(V), float_class(V, C), memberchk(C, [nan, infinite]) ), !.
checked_value(M, Goal, _) :-
    arg(1, Goal, V),
    (   copy_term(Goal, G), arg(1, G, V), clause(M:G, Body, Ref),
        catch(rrl_bounded(M:Body, 1), _, fail), !
    ->  true
    ;   Ref = none ),
    throw(rrl_bad_value(Goal, Ref)).

%!  rrl_held_clause(+M, +FactsText, -N) is det.
%   N is the index of the first predict/1 clause whose body holds in the state held by
%   rrl_state/2 with the facts of FactsText (a focus's and an action's) added: the
%   abstract state that gives the action its value (0 when none holds).
rrl_held_clause(M, Text, Out) :-
    term_string(Facts, Text),
    bounded(M, example_clause(M, Facts, Out), 1, 'predict/1', [predict/1], Out).

%!  rrl_q_clause(+M, +FactsText, -Out) is det.
%   rrl_q_groups/3 and rrl_held_clause/3 for one action at once: with the state held
%   and the facts of FactsText (a focus's and an action's) added, Out is "Value Index",
%   the action's Q-value and the first predict/1 clause that holds (the facts are
%   asserted once for both: a repair's steps are explained this way, one call each).
%   Each half is bounded on its own, as in those two calls, so that an error names the
%   predicate asked (Goal/1 for the value, predict/1 for the clause).
rrl_q_clause(M, Text, Out) :-
    term_string(Facts, Text),
    value_goal(M, Goal),
    setup_call_cleanup(assert_all(M, Facts), value_and_clause(M, Goal, Out), retract_all(M, Facts)).

value_and_clause(M, Goal, Out) :-
    bounded(M, held_value(M, Goal, Value), 1, Goal/1, rules, Value),
    (   string(Value)                   % "!error..."
    ->  Out = Value
    ;   bounded(M, first_clause(M, N), 1, 'predict/1', [predict/1], N),
        (   string(N)
        ->  Out = N
        ;   format(string(Out), '~w ~w', [Value, N])
        )
    ).

example_clause(M, Facts, N) :-
    setup_call_cleanup(assert_all(M, Facts), first_clause(M, N), retract_all(M, Facts)).

first_clause(M, N) :-
    nth_clause(M:predict(_), N, Ref),
    clause(M:predict(_), Body, Ref),
    call(M:Body),
    !.
first_clause(_, 0).

assert_all(M, Facts) :- forall(member(F, Facts), assertz(M:F)).
retract_all(M, Facts) :- forall(member(F, Facts), retract(M:F)).

%!  rrl_state(+M, +StateText) is det.
%   Replaces the state held in module M by the facts of StateText (a list), for the
%   rrl_focus/3 and rrl_q_groups/3 calls that follow.
rrl_state(M, StateText) :-
    term_string(State, StateText),
    forall(fact_spec(M, N/A), ( functor(H, N, A), retractall(M:H) )),
    assert_all(M, State),
    length(State, Count),
    retractall(held(M, _)),
    assertz(held(M, Count)).

%!  rrl_focus(+M, +PerReason, -Out) is det.
%   The focal-task candidates of the held state: for each reason of focus_candidate/3 (in
%   the order of its clauses), the PerReason candidates of largest key that have not
%   started and were not proposed for an earlier reason.  Out is a JSON list of
%   [Task, Reason] pairs (ids may hold any character).
rrl_focus(M, PerReason, Out) :-
    (   held(M, Units) -> true ; Units = 1 ),
    bounded(M, focus(M, PerReason, Out), Units, 'focus_candidate/3', [focus_candidate/3], Out).

focus(M, PerReason, Out) :-
    reasons(M, Rs),
    foldl(reason_candidates(M, PerReason), Rs, [], Chosen0),
    reverse(Chosen0, Chosen),
    findall([T, R], member(T-R, Chosen), Pairs),
    json_text(Pairs, Out).

%   The reasons of focus_candidate/3, in the order of its clauses, each once.
reasons(M, Rs) :-
    findall(R, ( clause(M:focus_candidate(R, _, _), _), atom(R) ), Rs0),
    list_to_set(Rs0, Rs).

%   JSON keeps any id whole (atoms are written as strings, every character escaped).
json_text(Pairs, Out) :-
    with_output_to(string(Out), json_write(current_output, Pairs, [width(0)])).

%!  rrl_state_text(+M, +StateText, -Out) is det.
%   rrl_state/2 with an (empty) answer, for callers that always read one.
rrl_state_text(M, StateText, '') :-
    rrl_state(M, StateText).

%!  rrl_state_change(+M, +RemovedText, +AddedText, -Out) is det.
%   Changes the held state by a difference: the facts of RemovedText (a list) go, those
%   of AddedText come (a search moves between plans that share most of their facts).
rrl_state_change(M, RemovedText, AddedText, '') :-
    term_string(Removed, RemovedText),
    term_string(Added, AddedText),
    forall(member(F, Removed), ignore(retract(M:F))),
    assert_all(M, Added),
    (   retract(held(M, N0)) -> true ; N0 = 0 ),
    length(Removed, NR), length(Added, NA),
    N is max(1, N0 - NR + NA),
    assertz(held(M, N)).

%!  rrl_state_change_focus(+M, +RemovedText, +AddedText, +PerReason, -Out) is det.
%   rrl_state_change/4 then rrl_focus/3, in one call.
rrl_state_change_focus(M, RemovedText, AddedText, PerReason, Out) :-
    rrl_state_change(M, RemovedText, AddedText, _),
    rrl_focus(M, PerReason, Out).

%!  rrl_state_focus(+M, +StateText, +PerReason, -Out) is det.
%   rrl_state/2 then rrl_focus/3, in one call.
rrl_state_focus(M, StateText, PerReason, Out) :-
    rrl_state(M, StateText),
    rrl_focus(M, PerReason, Out).

%!  rrl_state_reason(+M, +StateText, +TaskText, -Out) is det.
%   rrl_state/2, then the reason under which rrl_focus/3 would list the task TaskText (an
%   atom written as the facts write it): the first reason of focus_candidate/3 (in the
%   order of its clauses) that proposes it, unstarted ('' where none does).  Each reason's
%   rules are called as rrl_focus/3 calls them (the task is compared, not bound: a rule
%   need not be steadfast) until the first that proposes it; the later ones not at all.
rrl_state_reason(M, StateText, TaskText, Out) :-
    rrl_state(M, StateText),
    rrl_reason(M, TaskText, Out).

%!  rrl_state_change_reason(+M, +RemovedText, +AddedText, +TaskText, -Out) is det.
%   rrl_state_change/4 then the reason of rrl_state_reason/4, in one call.
rrl_state_change_reason(M, RemovedText, AddedText, TaskText, Out) :-
    rrl_state_change(M, RemovedText, AddedText, _),
    rrl_reason(M, TaskText, Out).

%!  rrl_reason(+M, +TaskText, -Out) is det.
%   The reason of rrl_state_reason/4 in the held state.
rrl_reason(M, TaskText, Out) :-
    (   held(M, Units) -> true ; Units = 1 ),
    term_string(Task, TaskText),
    bounded(M, reason(M, Task, Out), Units, 'focus_candidate/3', [focus_candidate/3], Out).

reason(M, Task, Out) :-
    reasons(M, Rs),
    (   \+ M:started(Task),
        member(R, Rs),
        once(( M:focus_candidate(R, T, _), T == Task ))
    ->  atom_string(R, Out)
    ;   Out = "" ).

reason_candidates(M, N, R, Acc0, Acc) :-
    findall(K-T, ( M:focus_candidate(R, T, K), \+ M:started(T) ), Pairs),
    sort(0, @>=, Pairs, Ranked),                    % ties by task id: the same whatever the facts' order
    take_new(Ranked, N, R, Acc0, Acc).

take_new(_, 0, _, Acc, Acc) :- !.
take_new([], _, _, Acc, Acc).
take_new([_-T|Ps], N, R, Acc0, Acc) :-
    (   memberchk(T-_, Acc0)
    ->  take_new(Ps, N, R, Acc0, Acc)
    ;   N1 is N - 1,
        take_new(Ps, N1, R, [T-R|Acc0], Acc)
    ).

%!  rrl_focus_operators(+M, -Out) is det.
%   The background's focus_operator(Reason, Op) pairs, as a JSON list of [Reason, Op].
rrl_focus_operators(M, Out) :-
    bounded(M, focus_operators(M, Out), 1, 'focus_operator/2', [focus_operator/2], Out).

focus_operators(M, Out) :-
    (   current_predicate(M:focus_operator/2)
    ->  findall([R, O], M:focus_operator(R, O), Pairs)
    ;   Pairs = [] ),
    json_text(Pairs, Out).

%!  rrl_q_groups(+M, +GroupsText, -Out) is det.
%   GroupsText is a list of Focus-Actions pairs: the facts of one focal task and a list of
%   its actions (each a list of facts).  With the state held by rrl_state/2, Out holds one
%   value per action, in order, separated by spaces.
rrl_q_groups(M, Text, Out) :-
    term_string(Groups, Text),
    value_goal(M, Goal),
    aggregate_all(sum(L), ( member(_-As, Groups), length(As, L) ), Units),
    bounded(M, ( maplist(group_values(M, Goal), Groups, Nested),
                 append(Nested, Values),
                 atomic_list_concat(Values, ' ', Out) ),
            Units, Goal/1, rules, Out).

group_values(M, Goal, Focus-Actions, Values) :-
    setup_call_cleanup(assert_all(M, Focus),
                       maplist(value_of(M, Goal), Actions, Values),
                       retract_all(M, Focus)).

%!  rrl_value_facts(+M, -Out) is det.
%   The state's fact predicates that the value goal (q_value/1, else predict/1) can read,
%   through every clause of the rules and the background it may call: a JSON list of
%   their names, or "all" when a goal is not known before it runs (a variable, another
%   module's).  A state restricted to these facts gives every action the value, and the
%   same first predict/1 clause, that the whole state gives: an explanation sends no more.
rrl_value_facts(M, Out) :-
    value_goal(M, Goal),
    % (rrl_opaque, or anything unforeseen, answers "all")
    (   catch(reached(M, [Goal/1, predict/1], [], Seen), _, fail)
    ->  findall(N, ( member(N/A, Seen), fact_spec(M, N/A) ), Names0),
        sort(Names0, Names),
        json_text(Names, Out)
    ;   Out = "all"
    ).

reached(_, [], Seen, Seen).
reached(M, [PI|Queue], Seen0, Seen) :-
    (   memberchk(PI, Seen0)
    ->  reached(M, Queue, Seen0, Seen)
    ;   PI = N/A,
        functor(H, N, A),
        findall(B, ( clause(M:H, B), B \== true ), Bodies),      % (a state's facts call nothing)
        foldl(goal_pis(M), Bodies, Queue, Queue1),
        reached(M, Queue1, [PI|Seen0], Seen)
    ).

%   The predicates of module M that goal G may call (added to the queue), looking into
%   control constructs and the goal arguments of meta-predicates (findall/3, forall/2,
%   aggregate_all/3, ...).  A built-in or library predicate that takes no goal reads no
%   fact of the state.
goal_pis(_, G, _, _) :-
    var(G), !,
    throw(rrl_opaque).
goal_pis(M, Q:G, P0, P) :- !,
    (   Q == M -> goal_pis(M, G, P0, P) ; throw(rrl_opaque) ).
goal_pis(M, G, P0, P) :-
    control(G, Goals), !,
    foldl(goal_pis(M), Goals, P0, P).
goal_pis(_, G, _, _) :-                 % an attribute's hooks run on unification
    attribute_setter(G), !,
    throw(rrl_opaque).
goal_pis(M, G, P0, P) :-
    functor(G, N, A),
    (   own_predicate(M, N/A)
    ->  P = [N/A|P0]
    ;   predicate_property(M:G, meta_predicate(Spec))
    ->  Spec =.. [_|Kinds],
        foldl(meta_arg_pis(M, G), Kinds, 1-P0, _-P)
    ;   predicate_property(M:G, defined)
    ->  P = P0
    ;   throw(rrl_opaque)               % not loaded yet: what it calls is not known
    ).

attribute_setter(put_attr(_, _, _)).
attribute_setter(put_attrs(_, _)).

control((A, B), [A, B]).
control((A ; B), [A, B]).
control((A -> B), [A, B]).
control((A *-> B), [A, B]).
control(\+ A, [A]).
control(call(A), [A]).
control(_^A, [A]).

own_predicate(M, N/A) :-
    (   fact_spec(M, N/A)
    ->  true
    ;   functor(H, N, A),
        current_predicate(M:N/A),
        \+ predicate_property(M:H, imported_from(_))
    ).

%   Argument I of G, as a meta-predicate's Kind says: a goal (0, ^), a closure taking K
%   more arguments, or a head or predicate indicator (:, //: clause/2 and its kind may
%   read any fact, so nothing is known).
meta_arg_pis(M, G, Kind, I-P0, I1-P) :-
    I1 is I + 1,
    arg(I, G, Arg),
    (   ( Kind == 0 ; Kind == (^) )
    ->  goal_pis(M, Arg, P0, P)
    ;   ( Kind == (:) ; Kind == (//) )
    ->  throw(rrl_opaque)
    ;   integer(Kind), Kind > 0
    ->  (   var(Arg)
        ->  throw(rrl_opaque)
        ;   Arg =.. List,
            length(Extra, Kind),
            append(List, Extra, Full),
            Goal =.. Full,
            goal_pis(M, Goal, P0, P)
        )
    ;   P = P0
    ).
