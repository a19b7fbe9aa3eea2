/*  rrl_policy.pl -- runs a learned repair policy (a decision list defining predict/1)
    on schedule states, the way plain swipl would, only without leaving the process.

    A policy lives in its own module with the background knowledge.  A state's facts
    are asserted once; each candidate action's facts are asserted, predict/1 is asked,
    and they are retracted again: one call scores every action of a state.

    The background files and the rules are data (rrl_safe.pl): read term by term, no
    directive runs, every clause body is checked safe before it is added, and every
    call of predict/1 is bounded in inferences and time.
*/
:- module(rrl_policy,
          [ rrl_policy_module/4,      % +Module, +BackgroundFiles, +DynamicSpecs, -Status
            rrl_policy_rules/4,       % +Module, +SourceId, +RulesText, -Status
            rrl_q_values/4,           % +Module, +StateText, +ActionsText, -ValuesText
            rrl_policy_clause/4       % +Module, +StateText, +ActionText, -ClauseIndex
          ]).
:- use_module(library(apply)).
:- use_module(library(lists)).
:- use_module(rrl_safe).

%!  rrl_policy_module(+M, +Files, +Dynamic, -Status) is det.
%   Adds the checked clauses of the background files to module M and declares the
%   state's fact predicates (a list of Name/Arity) dynamic there, so that absent facts
%   fail quietly.  The clauses are read and added one by one (not consulted): that is
%   how they are checked, and SWI-Prolog loads a non-module file into one module only,
%   while every policy has its own.  Status is "ok" or "File\tLine\tMessage".
rrl_policy_module(M, Files, Dynamic, Status) :-
    set_module(M:base(system)),
    rrl_checker(M, C),
    dynamic([M:'$rrl_rules'/1, M:'$rrl_line'/2]),
    forall(member(PI, Dynamic), dynamic(M:PI)),
    rrl_own(C, Dynamic),
    catch(( forall(member(F, Files), add_file(M, C, F)), Status = "ok" ),
          rrl_error(File, Line, Msg),
          format(string(Status), '~w\t~w\t~w', [File, Line, Msg])).

add_file(M, C, File) :-
    catch(rrl_read_program(C, file(File), error, Items), rrl_error(Line, Msg),
          throw(rrl_error(File, Line, Msg))),
    add_items(M, Items).

add_items(M, Items) :-
    forall(member(decl(_, dynamic, PIs), Items), forall(member(PI, PIs), dynamic(M:PI))),
    forall(member(cl(Line, H, B), Items),
           ( assertz(M:(H :- B), Ref), assertz(M:'$rrl_line'(Ref, Line)) )).

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
                \+ memberchk(N/A, Old), background_pi(M, N/A)
            ->  format(string(Msg), "~q/~w is defined by the background knowledge or the state", [N, A]),
                throw(rrl_error(Line, Msg))
            ;   true ),
            findall(N/A, ( member(cl(_, H, _), Items), functor(H, N, A) ), PIs0),
            sort(PIs0, PIs),
            forall(member(PI, PIs), ( dynamic(M:PI), assertz(M:'$rrl_rules'(PI)) )),
            add_items(M, Items),
            Status = "ok" ),
          rrl_error(Line, Msg),
          format(string(Status), '~w\t~w', [Line, Msg])).

background_pi(M, N/A) :-
    functor(H, N, A),
    predicate_property(M:H, defined),
    \+ predicate_property(M:H, imported_from(_)).

drop_clauses(M, N/A) :-
    functor(H, N, A),
    forall(clause(M:H, _, Ref), ( retractall(M:'$rrl_line'(Ref, _)), erase(Ref) )).

%!  rrl_q_values(+M, +StateText, +ActionsText, -Out) is det.
%   StateText is a Prolog list of facts, ActionsText a list of lists of facts (one per
%   action).  Out holds one predicted value per action, separated by spaces, or is
%   "!error\tLine\tMessage": predict/1 raised, ran out of limits, or answered something
%   that is not a finite number (Line: the rule's, 0 when unknown).
rrl_q_values(M, StateText, ActionsText, Out) :-
    term_string(State, StateText),
    term_string(Actions, ActionsText),
    length(Actions, N),
    setup_call_cleanup(assert_all(M, State),
                       catch(rrl_bounded(maplist(value_of(M), Actions, Values), N), E, true),
                       retract_all(M, State)),
    (   var(E)
    ->  atomic_list_concat(Values, ' ', Out)
    ;   failure(M, State, Actions, E, Out)
    ).

value_of(M, Facts, Value) :-
    setup_call_cleanup(assert_all(M, Facts),
                       ( M:predict(V) -> checked_value(V, Value) ; Value = 0 ),
                       retract_all(M, Facts)).

checked_value(V, V) :-
    number(V), \+ ( float(V), float_class(V, C), memberchk(C, [nan, infinite]) ), !.
checked_value(V, _) :- throw(rrl_bad_value(V)).

%   failure(+M, +State, +Actions, +Error, -Out): the one-line error of a failed
%   scoring, with the line of the predict/1 rule behind it when one can be found.
failure(M, State, Actions, E, Out) :-
    error_message(E, Msg),
    (   E = rrl_limit(_, _) -> Line = 0
    ;   culprit(M, State, Actions, Line) -> true
    ;   Line = 0 ),
    format(string(Out), '!error\t~w\t~w', [Line, Msg]).

error_message(rrl_limit(inferences, L), Msg) :- !,
    format(string(Msg), 'predict/1 ran out of ~D inferences (rrl stops an evaluation there: see docs/security.md)', [L]).
error_message(rrl_limit(seconds, L), Msg) :- !,
    format(string(Msg), 'predict/1 ran for more than ~2f s (rrl stops an evaluation there: see docs/security.md)', [L]).
error_message(rrl_bad_value(V), Msg) :- !,
    format(string(Msg), 'predict/1 answered ~q, which is not a finite number', [V]).
error_message(E, Msg) :-
    rrl_message(E, Msg0),
    format(string(Msg), 'predict/1 raised an error: ~w', [Msg0]).

%   The first predict/1 rule whose body raises or answers a bad value for one of the
%   actions (rules tried one by one, each bounded: this runs on the error path only).
culprit(M, State, Actions, Line) :-
    member(Facts, Actions),
    append(State, Facts, All),
    setup_call_cleanup(assert_all(M, All), bad_rule(M, Line), retract_all(M, All)), !.

bad_rule(M, Line) :-
    clause(M:predict(V), Body, Ref),
    catch(rrl_bounded(( M:Body -> checked_value(V, _) ; true ), 1), E, true),
    nonvar(E), E \= rrl_limit(_, _), !,
    M:'$rrl_line'(Ref, Line).

%!  rrl_policy_clause(+M, +StateText, +ActionText, -N) is det.
%   N is the index of the first predict/1 clause whose body holds for the state and
%   the action: the abstract state that gives the action its value.
rrl_policy_clause(M, StateText, ActionText, N) :-
    term_string(State, StateText),
    term_string(Action, ActionText),
    append(State, Action, Facts),
    setup_call_cleanup(assert_all(M, Facts),
                       catch(rrl_bounded(first_clause(M, N), 1), _, N = 0),
                       retract_all(M, Facts)).

first_clause(M, N) :-
    nth_clause(M:predict(_), N, Ref),
    clause(M:predict(_), Body, Ref),
    call(M:Body),
    !.
first_clause(_, 0).

assert_all(M, Facts) :- forall(member(F, Facts), assertz(M:F)).
retract_all(M, Facts) :- forall(member(F, Facts), retract(M:F)).
