/*  rrl_policy.pl -- runs a learned repair policy (a decision list defining predict/1)
    on schedule states, the way plain swipl would, only without leaving the process.

    A policy lives in its own module with the background knowledge.  The module holds
    one state's facts at a time (a search moving to another plan sends what differs);
    the background's focus_candidate/3 rules name where to look next; each candidate
    action's facts (with its focus's) are asserted, q_value/1 or predict/1 is asked,
    and they are retracted again: one call scores every action of a search node.
*/
:- module(rrl_policy,
          [ rrl_policy_module/3,      % +Module, +BackgroundFiles, +DynamicSpecs
            rrl_policy_rules/3,       % +Module, +SourceId, +RulesText
            rrl_held_clause/3,        % +Module, +FactsText, -Index
            rrl_state/2,              % +Module, +StateText
            rrl_state_text/3,         % +Module, +StateText, -Empty
            rrl_state_change/4,       % +Module, +RemovedText, +AddedText, -Empty
            rrl_state_change_focus/5, % +Module, +RemovedText, +AddedText, +PerReason, -CandidatesText
            rrl_focus/3,              % +Module, +PerReason, -CandidatesText
            rrl_state_focus/4,        % +Module, +StateText, +PerReason, -CandidatesText
            rrl_focus_operators/2,    % +Module, -PairsText
            rrl_q_groups/3            % +Module, +GroupsText, -ValuesText
          ]).
:- use_module(library(apply)).
:- use_module(library(lists)).

:- dynamic fact_spec/2.                 % fact_spec(Module, Name/Arity): a state fact predicate

%!  rrl_policy_module(+M, +Files, +Dynamic) is det.
%   Adds the clauses of the background files to module M and declares the state's fact
%   predicates (a list of Name/Arity) dynamic there, so that absent facts fail quietly.
%   The clauses are read and added one by one (not consulted) because SWI-Prolog loads
%   a non-module file into one module only, and every policy has its own module.
rrl_policy_module(M, Files, Dynamic) :-
    forall(member(PI, Dynamic), dynamic(M:PI)),
    retractall(fact_spec(M, _)),
    forall(member(PI, Dynamic), assertz(fact_spec(M, PI))),
    forall(member(F, Files), add_file(M, F)).

add_file(M, File) :-
    setup_call_cleanup(open(File, read, S), add_terms(M, S), close(S)).

add_terms(M, S) :-
    read_term(S, T, []),
    (   T == end_of_file
    ->  true
    ;   add_term(M, T),
        add_terms(M, S)
    ).

add_term(_, (:- _)) :- !.               % directives of a BK file (discontiguous, ...)
add_term(M, T) :- assertz(M:T).

%!  rrl_policy_rules(+M, +Id, +Text) is det.
%   Loads (or reloads: the clauses of an earlier load of Id are replaced) the rules in
%   Text into module M.
rrl_policy_rules(M, Id, Text) :-
    setup_call_cleanup(open_string(Text, S),
                       load_files(M:Id, [stream(S), silent(true)]),
                       close(S)).

%   A policy's Q-value is q_value/1 when it defines one (the immediate reward plus the
%   discounted value the tree predicts), else the tree's predict/1 itself.
value_goal(M, q_value) :- current_predicate(M:q_value/1), !.
value_goal(_, predict).

value_of(M, Name, Facts, Value) :-
    Goal =.. [Name, V],
    setup_call_cleanup(assert_all(M, Facts),
                       ( M:Goal -> Value = V ; Value = 0 ),
                       retract_all(M, Facts)).

%!  rrl_held_clause(+M, +FactsText, -N) is det.
%   N is the index of the first predict/1 clause whose body holds in the state held by
%   rrl_state/2 with the facts of FactsText (a focus's and an action's) added: the
%   abstract state that gives the action its value (0 when none holds).
rrl_held_clause(M, Text, N) :-
    term_string(Facts, Text),
    example_clause(M, Facts, N).

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
    assert_all(M, State).

%!  rrl_focus(+M, +PerReason, -Out) is det.
%   The focal-task candidates of the held state: for each reason of focus_candidate/3 (in
%   the order of its clauses), the PerReason candidates of largest key that have not
%   started and were not proposed for an earlier reason.  Out holds "Task<US>Reason" per
%   candidate, separated by <RS> (ASCII unit and record separators: ids may hold spaces).
rrl_focus(M, PerReason, Out) :-
    findall(R, ( clause(M:focus_candidate(R, _, _), _), atom(R) ), Rs0),
    list_to_set(Rs0, Rs),
    foldl(reason_candidates(M, PerReason), Rs, [], Chosen0),
    reverse(Chosen0, Chosen),
    findall(Line, ( member(T-R, Chosen), format(string(Line), "~w\x1f\~w", [T, R]) ), Lines),
    atomic_list_concat(Lines, '\x1e\', Out).

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
    assert_all(M, Added).

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
%   The background's focus_operator(Reason, Op) pairs as "Reason<US>Op" joined by <RS>.
rrl_focus_operators(M, Out) :-
    findall(Line, ( catch(M:focus_operator(R, O), error(existence_error(_, _), _), fail),
                    format(string(Line), "~w\x1f\~w", [R, O]) ), Lines),
    atomic_list_concat(Lines, '\x1e\', Out).

%!  rrl_q_groups(+M, +GroupsText, -Out) is det.
%   GroupsText is a list of Focus-Actions pairs: the facts of one focal task and a list of
%   its actions (each a list of facts).  With the state held by rrl_state/2, Out holds one
%   value per action, in order, separated by spaces.
rrl_q_groups(M, Text, Out) :-
    term_string(Groups, Text),
    value_goal(M, Goal),
    maplist(group_values(M, Goal), Groups, Nested),
    append(Nested, Values),
    atomic_list_concat(Values, ' ', Out).

group_values(M, Goal, Focus-Actions, Values) :-
    setup_call_cleanup(assert_all(M, Focus),
                       maplist(value_of(M, Goal), Actions, Values),
                       retract_all(M, Focus)).
