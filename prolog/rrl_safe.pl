/*  rrl_safe.pl -- the Prolog files that come from users are data, not programs.

    A policy (policy.pl and its background.pl), a tree written by `rrl tilde fit` and a
    background file of `rrl tilde` are read term by term, never consulted: no directive
    runs (dynamic and discontiguous declarations are read as declarations), and every
    clause body is checked with SWI-Prolog's library(sandbox), the checker SWISH and
    Pengines rely on, before rrl adds the clause anywhere.

    The check of one clause trusts the predicates that the checked files define and the
    facts rrl asserts (a state's facts, a knowledge base's examples): their own clauses
    are checked too, when they are read, and facts run nothing.  rrl registers them as
    safe primitives of one *checker* module per world or policy, an empty module that
    only the check ever sees; the sandbox stays as strict as it is everywhere else.

    On top of the sandbox, catch/3 and the cleanup and limit built-ins are refused in
    user clauses: a recovery or cleanup goal could catch the exception that ends a
    runaway evaluation and carry on.  Evaluations run through rrl_bounded/2, under an
    inference limit and a time limit, with their output and messages swallowed.
*/
:- module(rrl_safe,
          [ rrl_checker/2,            % +Module, -Checker
            rrl_drop_checker/1,       % +Module
            rrl_own/2,                % +Checker, +PIs
            rrl_disown/2,             % +Checker, +PIs
            rrl_is_own/2,             % +Checker, +PI
            rrl_read_program/4,       % +Checker, +Source, +Undefined, -Items
            rrl_check_goal/3,         % +Checker, +Undefined, +Goal
            rrl_bounded/2,            % :Goal, +Units
            rrl_limit_ball/1,         % @Exception
            rrl_set_limits/3,         % +InferencesPerUnit, +Seconds, +SecondsPerUnit
            rrl_error_line/4,         % +Error, +Stream, -Line, -Message
            rrl_message/2,            % +Error, -Message
            strip_carets/2            % +Goal, -Inner: Goal without its V^ prefixes
          ]).
:- use_module(library(sandbox)).
:- use_module(library(time)).
:- use_module(library(lists)).
:- use_module(library(apply)).

:- dynamic own/2, limits/3.
:- dynamic checked/2.                   % checked(Key, FactPIs): a program that passed the check
:- meta_predicate rrl_bounded(0, +).

%   Default limits, documented in docs/security.md: inferences per evaluation (one
%   test on one example, one candidate action), and seconds per call plus seconds per
%   evaluation.
limits(1000000, 10.0, 0.001).

%!  rrl_set_limits(+InferencesPerUnit, +Seconds, +SecondsPerUnit) is det.
rrl_set_limits(I, S, SU) :-
    must_be(positive_integer, I),
    must_be(number, S),
    must_be(number, SU),
    retractall(limits(_, _, _)),
    assertz(limits(I, S, SU)).

% ---------------------------------------------------------------- checker modules

%!  rrl_checker(+Module, -Checker) is det.
%   The checker module of Module (created on first use): it sees the system
%   predicates and the autoloadable libraries, nothing of `user`.
rrl_checker(M, C) :-
    atom_concat(M, '$chk', C),
    (   current_module(C)
    ->  true
    ;   dynamic(C:'$rrl_checker'/0),
        set_module(C:base(system))
    ).

%!  rrl_drop_checker(+Module) is det.
rrl_drop_checker(M) :-
    atom_concat(M, '$chk', C),
    retractall(own(C, _)),
    forall(( current_predicate(C:N/A), functor(H, N, A),
             \+ predicate_property(C:H, imported_from(_)) ),
           abolish(C:N/A)).

%!  rrl_own(+Checker, +PIs) is det.
%   Declares the predicates Name/Arity of PIs safe to call from clauses checked in
%   Checker: their clauses are checked (or they hold facts only).
rrl_own(C, PIs) :-
    forall(( member(PI, PIs), \+ own(C, PI) ), assertz(own(C, PI))).

rrl_disown(C, PIs) :-
    forall(member(PI, PIs), retractall(own(C, PI))).

rrl_is_own(C, PI) :- own(C, PI).

:- multifile sandbox:safe_primitive/1.

%   Written as Module:(Head :- Body) so that library(sandbox)'s term expansion, which
%   only admits declarations of fixed built-ins, leaves this rule alone: it admits the
%   registered predicates of checker modules, and nothing else.
sandbox:(safe_primitive(C:G) :-
            atom(C), callable(G),
            functor(G, N, A),
            rrl_safe:own(C, N/A), !).

% ---------------------------------------------------------------- reading a program

%!  rrl_read_program(+Checker, +Source, +Undefined, -Items) is det.
%   Reads Source (file(Path), UTF-8, or text(String)) as terms.  Items are
%   cl(Line, Head, Body) for clauses (DCG rules translated) and decl(Line, dynamic,
%   PIs) for dynamic declarations.  Every head and every body is checked; Undefined
%   says what a called predicate that neither the files nor Prolog define is: `fact`
%   (a knowledge base's example facts: it is registered as one) or `error`.
%   The predicates the clauses define are registered with Checker.
%   Throws rrl_error(Line, Message) at the first problem, and then registers nothing.
%   A program already checked in the same context (the same clauses, the same
%   predicates registered before) is not checked again: the shipped background is read
%   by every policy and every learner's world.
rrl_read_program(C, Source, Undefined, Items) :-
    setup_call_cleanup(open_source(Source, S),
                       read_items(S, Items),
                       close(S)),
    findall(PI, ( member(cl(_, H, _), Items), functor(H, N, A), PI = N/A ), Defined0),
    findall(PI, ( member(decl(_, dynamic, PIs), Items), member(PI, PIs) ), Declared),
    append(Defined0, Declared, PIs0),
    sort(PIs0, PIs1),
    findall(PI, own(C, PI), Before0),
    msort(Before0, Before),
    variant_sha1(checked(Items, Undefined, Before), Key),
    exclude(rrl_is_own(C), PIs1, New),
    rrl_own(C, New),
    (   checked(Key, Facts)             % the same clauses, checked in the same context
    ->  rrl_own(C, Facts)
    ;   catch(forall(member(cl(Line, _, B), Items), check_body(C, Undefined, Line, B)),
              E,
              ( findall(PI, ( own(C, PI), \+ memberchk(PI, Before) ), Added),
                rrl_disown(C, Added),
                throw(E) )),
        findall(PI, ( own(C, PI), \+ memberchk(PI, Before), \+ memberchk(PI, New) ), Facts),
        assertz(checked(Key, Facts))
    ).

open_source(file(F), S) :- open(F, read, S, [encoding(utf8)]).
open_source(text(T), S) :- open_string(T, S).

read_items(S, Items) :-
    catch(read_term(S, T, [term_position(P), quasi_quotations(Q)]), E, true),
    (   nonvar(E)
    ->  rrl_error_line(E, S, Line, Msg), throw(rrl_error(Line, Msg))
    ;   T == end_of_file
    ->  Items = []
    ;   stream_position_data(line_count, P, Line),
        (   Q == [] -> true
        ;   throw(rrl_error(Line, "quasi quotations are not allowed")) ),
        item(T, Line, Item),
        Items = [Item|Rest],
        read_items(S, Rest)
    ).

item(T, Line, _) :-
    var(T), !,
    throw(rrl_error(Line, "a clause is a variable")).
item((:- D), Line, Item) :- !, directive(D, Line, Item).
item((?- _), Line, _) :- !, not_allowed(Line).
item((H --> B), Line, cl(Line, H2, B2)) :- !,
    catch(dcg_translate_rule((H --> B), (H2 :- B2)), E,
          ( rrl_message(E, Msg), throw(rrl_error(Line, Msg)) )),
    check_head(H2, Line).
item((H :- B), Line, cl(Line, H, B)) :- !, check_head(H, Line).
item(H, Line, cl(Line, H, true)) :- check_head(H, Line).

directive(D, Line, _) :- var(D), !, not_allowed(Line).
directive(dynamic(Specs), Line, decl(Line, dynamic, PIs)) :- !, declared(Specs, Line, PIs).
directive(discontiguous(Specs), Line, decl(Line, discontiguous, PIs)) :- !, declared(Specs, Line, PIs).
directive(_, Line, _) :- not_allowed(Line).

not_allowed(Line) :-
    throw(rrl_error(Line, "directives are not allowed (only :- dynamic and :- discontiguous declarations are read)")).

declared(Specs, Line, PIs) :-
    (   catch(spec_list(Specs, PIs0), _, fail)
    ->  forall(member(N/A, PIs0), ( functor(H, N, A), check_head(H, Line) )),
        PIs = PIs0
    ;   format(string(Msg), "malformed declaration ~q: expected Name/Arity, ...", [Specs]),
        throw(rrl_error(Line, Msg))
    ).

spec_list(V, _) :- var(V), !, fail.
spec_list((A, B), PIs) :- !, spec_list(A, P1), spec_list(B, P2), append(P1, P2, PIs).
spec_list([], []) :- !.
spec_list([H|T], PIs) :- !, spec_list(H, P1), spec_list(T, P2), append(P1, P2, PIs).
spec_list(N/A, [N/A]) :- atom(N), integer(A), between(0, 1024, A).

%   A head rrl may add: no module, not a built-in, no reserved ('$') name.
check_head(H, Line) :-
    (   var(H)
    ->  throw(rrl_error(Line, "a clause head is a variable"))
    ;   H = _:_
    ->  throw(rrl_error(Line, "a clause head may not name a module"))
    ;   \+ callable(H)
    ->  format(string(Msg), "clause head ~q is not callable", [H]),
        throw(rrl_error(Line, Msg))
    ;   functor(H, N, A), sub_atom(N, 0, _, _, $)
    ->  format(string(Msg), "~q/~w: names that start with $ are reserved", [N, A]),
        throw(rrl_error(Line, Msg))
    ;   predicate_property(system:H, built_in)
    ->  functor(H, N, A),
        format(string(Msg), "~q/~w is a built-in predicate and cannot be redefined", [N, A]),
        throw(rrl_error(Line, Msg))
    ;   true
    ).

% ---------------------------------------------------------------- checking bodies

%!  rrl_check_goal(+Checker, +Undefined, +Goal) is det.
%   Checks Goal as a clause body; throws rrl_error(0, Message) when it is not safe.
rrl_check_goal(C, _, G) :-
    trusted(C, G), !.
rrl_check_goal(C, Undefined, G) :-
    check_body(C, Undefined, 0, G).

%   The common shape of a test (a conjunction of the checked predicates, example facts
%   and comparisons), recognised without running the sandbox: the learners evaluate
%   thousands of such goals.
trusted(_, G) :- var(G), !, fail.
trusted(C, (A, B)) :- !, trusted(C, A), trusted(C, B).
trusted(C, \+ A) :- !, trusted(C, A).
trusted(_, true) :- !.
trusted(_, G) :- compound(G), compound_name_arity(G, N, 2), comparison(N), !.
trusted(C, G) :- callable(G), functor(G, N, A), own(C, N/A).

comparison(<).
comparison(=<).
comparison(>).
comparison(>=).
comparison(=:=).
comparison(=\=).
comparison(=).
comparison(\=).
comparison(==).
comparison(\==).

check_body(_, _, _, B) :- B == true, !.
check_body(C, Undefined, Line, B) :-
    (   denied(C, B, Bad)
    ->  functor(Bad, N, A),
        format(string(Msg), "~q/~w is not allowed (a recovery or cleanup goal could outlive rrl's limits)", [N, A]),
        throw(rrl_error(Line, Msg))
    ;   sandboxed(C, Undefined, Line, B)
    ).

sandboxed(C, Undefined, Line, B) :-
    catch(safe_goal(C:B), E, true),
    (   var(E)
    ->  true
    ;   Undefined == fact,
        E = error(existence_error(procedure, Missing), _),
        fact_pi(C, Missing, PI)
    ->  rrl_own(C, [PI]),
        sandboxed(C, Undefined, Line, B)
    ;   unsafe_message(E, Msg),
        throw(rrl_error(Line, Msg))
    ).

fact_pi(C, Goal, N/A) :-
    nonvar(Goal),
    (   Goal = Q:G -> Q == C ; G = Goal ),
    callable(G),
    functor(G, N, A),
    \+ sub_atom(N, 0, _, _, $).

unsafe_message(error(permission_error(call, sandboxed, G0), Ctx), Msg) :- !,
    (   nonvar(Ctx), Ctx = sandbox(_, Parents), is_list(Parents),
        reverse(Parents, Outer), member(G, Outer), nonvar(G), G = _:_
    ->  true                            % the goal as the clause wrote it
    ;   G = G0 ),
    goal_pi(G, PI),
    format(string(Msg), "calls ~w, which is not safe (SWI-Prolog's library(sandbox) refuses it)", [PI]).
unsafe_message(error(instantiation_error, _), Msg) :- !,
    Msg = "calls a goal that is a variable when the file is read, which cannot be checked safe (write the goal out)".
unsafe_message(error(existence_error(procedure, G), _), Msg) :- !,
    goal_pi(G, PI),
    format(string(Msg), "calls ~w, which is neither defined by the loaded files nor a built-in", [PI]).
unsafe_message(E, Msg) :-
    rrl_message(E, Msg0),
    format(string(Msg), "cannot be checked safe: ~w", [Msg0]).

goal_pi(G, PI) :-
    (   var(G) -> PI = '_'
    ;   G = _:G1 -> goal_pi(G1, PI)
    ;   G = N/A -> format(atom(PI), "~q/~w", [N, A])
    ;   callable(G) -> functor(G, N, A), format(atom(PI), "~q/~w", [N, A])
    ;   format(atom(PI), "~q", [G]) ).

%   Goals that could catch the exception that ends a runaway evaluation (and then carry
%   on), or that run code rrl's limits cannot interrupt.
denied_pi(catch/3).
denied_pi(catch_with_backtrace/3).
denied_pi(call_cleanup/2).
denied_pi(call_cleanup/3).
denied_pi(setup_call_cleanup/3).
denied_pi(setup_call_catcher_cleanup/4).
denied_pi(call_with_inference_limit/3).
denied_pi(call_with_time_limit/2).
denied_pi(call_with_time_limit/3).

%!  denied(+Checker, +Goal, -Bad) is semidet.
%   Bad is a denied goal that Goal calls, directly or through the goal and closure
%   arguments of control constructs and meta-predicates.
denied(_, G, _) :- var(G), !, fail.
denied(C, _:G, Bad) :- !, denied(C, G, Bad).
denied(_, G, G) :- callable(G), functor(G, N, A), denied_pi(N/A), !.
denied(C, G, Bad) :-
    callable(G),
    functor(G, N, A), functor(H, N, A),
    \+ own(C, N/A),
    catch(predicate_property(C:H, meta_predicate(Spec)), _, fail),
    arg(I, Spec, S), arg(I, G, Arg),
    meta_goal(S, Arg, Called),
    denied(C, Called, Bad), !.

meta_goal(0, A, A).
meta_goal(^, A, B) :- strip_carets(A, B).
meta_goal(N, A, G) :- integer(N), N > 0, closure_goal(A, N, G).

strip_carets(A, A) :- var(A), !.
strip_carets(_^A, B) :- !, strip_carets(A, B).
strip_carets(A, A).

closure_goal(A, _, _) :- var(A), !, fail.
closure_goal(_:A, N, G) :- !, closure_goal(A, N, G).
closure_goal(_>>B, _, B) :- !.
closure_goal(_/L, _, B) :- nonvar(L), L = (_>>B), !.
closure_goal(\X, _, B) :- !, strip_lambda(X, B).
closure_goal(A, N, G) :-
    callable(A),
    length(Extra, N),
    (   compound(A) -> compound_name_arguments(A, F, As0), append(As0, Extra, As)
    ;   F = A, As = Extra ),
    G =.. [F|As].

strip_lambda(X, X) :- var(X), !.
strip_lambda(_^X, B) :- !, strip_lambda(X, B).
strip_lambda(X, X).

% ---------------------------------------------------------------- bounded evaluation

%!  rrl_bounded(:Goal, +Units) is semidet.
%   Runs Goal once under limits(PerUnit, Seconds, SecondsPerUnit): at most Units *
%   PerUnit inferences and Seconds + Units * SecondsPerUnit seconds.  What Goal writes
%   to the current output is dropped and the messages it prints are swallowed.
%   Throws rrl_limit(inferences, Limit) or rrl_limit(seconds, Limit).
rrl_bounded(G, Units) :-
    limits(PerUnit, Seconds, PerUnitSeconds),
    Inferences is PerUnit * max(1, Units),
    Time is Seconds + PerUnitSeconds * Units,
    (   nb_current('$rrl_quiet', Old) -> true ; Old = false ),
    setup_call_cleanup(nb_setval('$rrl_quiet', true),
                       bounded(G, Inferences, Time),
                       nb_setval('$rrl_quiet', Old)).

bounded(G, Inferences, Time) :-
    catch(call_with_time_limit(Time,
                               with_output_to(string(_),
                                              call_with_inference_limit(G, Inferences, R))),
          E,
          (   time_ball(E) -> throw(rrl_limit(seconds, Time)) ; throw(E) )),
    (   R == inference_limit_exceeded -> throw(rrl_limit(inferences, Inferences)) ; true ).

time_ball(time_limit_exceeded).
time_ball(time_limit_exceeded(_)).

%!  rrl_limit_ball(@E) is semidet.
%   E is an exception that ends a bounded evaluation: rrl code that catches
%   exceptions inside rrl_bounded/2 must pass these on.
rrl_limit_ball(E) :- nonvar(E), ( E == inference_limit_exceeded ; time_ball(E) ; E = rrl_limit(_, _) ), !.

%   Defence in depth: should a halt ever get past the checks, it must not end the
%   process (in Python that would look like a clean exit) while user clauses run.
:- at_halt(rrl_safe:keep_running).

keep_running :-
    (   nb_current('$rrl_quiet', true)
    ->  cancel_halt('user clauses may not halt rrl')
    ;   true
    ).

:- multifile user:message_hook/3.

user:message_hook(_, _, _) :-
    nb_current('$rrl_quiet', true).

% ---------------------------------------------------------------- messages

%!  rrl_error_line(+Error, +Stream, -Line, -Message) is det.
%   Where a read on Stream failed: the line a syntax error names, else the line the
%   stream had reached (never 0 for an error inside a file).
rrl_error_line(error(syntax_error(What), Ctx), S, Line, Msg) :-
    !,
    (   nonvar(Ctx), Ctx = file(_, Line, _, _) -> true
    ;   nonvar(Ctx), Ctx = stream(_, Line, _, _) -> true
    ;   stream_line(S, Line) ),
    format(string(Msg), 'syntax error: ~w', [What]).
rrl_error_line(E, S, Line, Msg) :-
    stream_line(S, Line),
    rrl_message(E, Msg).

stream_line(S, Line) :-
    (   catch(line_count(S, Line0), _, fail) -> Line = Line0 ; Line = 1 ).

%!  rrl_message(+Error, -Message) is det.
%   The error as SWI-Prolog would print it, on one line.
rrl_message(E, Msg) :-
    catch(( '$messages':translate_message(E, Lines, []),
            with_output_to(string(Msg0), print_message_lines(current_output, '', Lines)),
            split_string(Msg0, "\n", " \n", Parts),
            atomic_list_concat(Parts, ' ', A),
            atom_string(A, Msg1),
            normalize_space(string(Msg), Msg1)
          ), _, format(string(Msg), '~q', [E])).
