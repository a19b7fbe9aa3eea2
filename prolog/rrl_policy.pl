/*  rrl_policy.pl -- runs a learned repair policy (a decision list defining predict/1)
    on schedule states, the way plain swipl would, only without leaving the process.

    A policy lives in its own module with the background knowledge.  A state's facts
    are asserted once; each candidate action's facts are asserted, predict/1 is asked,
    and they are retracted again: one call scores every action of a state.
*/
:- module(rrl_policy,
          [ rrl_policy_module/3,      % +Module, +BackgroundFiles, +DynamicSpecs
            rrl_policy_rules/3,       % +Module, +SourceId, +RulesText
            rrl_q_values/4,           % +Module, +StateText, +ActionsText, -ValuesText
            rrl_policy_clause/4       % +Module, +StateText, +ActionText, -ClauseIndex
          ]).
:- use_module(library(apply)).
:- use_module(library(lists)).

%!  rrl_policy_module(+M, +Files, +Dynamic) is det.
%   Adds the clauses of the background files to module M and declares the state's fact
%   predicates (a list of Name/Arity) dynamic there, so that absent facts fail quietly.
%   The clauses are read and added one by one (not consulted) because SWI-Prolog loads
%   a non-module file into one module only, and every policy has its own module.
rrl_policy_module(M, Files, Dynamic) :-
    forall(member(PI, Dynamic), dynamic(M:PI)),
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

%!  rrl_q_values(+M, +StateText, +ActionsText, -Out) is det.
%   StateText is a Prolog list of facts, ActionsText a list of lists of facts (one per
%   action).  Out holds one predicted value per action, separated by spaces.
rrl_q_values(M, StateText, ActionsText, Out) :-
    term_string(State, StateText),
    term_string(Actions, ActionsText),
    setup_call_cleanup(assert_all(M, State),
                       maplist(value_of(M), Actions, Values),
                       retract_all(M, State)),
    atomic_list_concat(Values, ' ', Out).

value_of(M, Facts, Value) :-
    setup_call_cleanup(assert_all(M, Facts),
                       ( M:predict(V) -> Value = V ; Value = 0 ),
                       retract_all(M, Facts)).

%!  rrl_policy_clause(+M, +StateText, +ActionText, -N) is det.
%   N is the index of the first predict/1 clause whose body holds for the state and
%   the action: the abstract state that gives the action its value.
rrl_policy_clause(M, StateText, ActionText, N) :-
    term_string(State, StateText),
    term_string(Action, ActionText),
    append(State, Action, Facts),
    setup_call_cleanup(assert_all(M, Facts),
                       first_clause(M, N),
                       retract_all(M, Facts)).

first_clause(M, N) :-
    nth_clause(M:predict(_), N, Ref),
    clause(M:predict(_), Body, Ref),
    call(M:Body),
    !.
first_clause(_, 0).

assert_all(M, Facts) :- forall(member(F, Facts), assertz(M:F)).
retract_all(M, Facts) :- forall(member(F, Facts), retract(M:F)).
