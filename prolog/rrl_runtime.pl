/*  rrl_runtime.pl -- the Prolog side of rrl's first-order tree learner.

    Learning from interpretations: every example is its own interpretation, kept apart
    from the others by an integer key K that is threaded as an extra first argument
    through the example's facts and through every background predicate that (directly
    or not) calls them.  A "world" is a module holding one background knowledge (BK)
    and any number of loaded examples; Python names it and passes goals in plain,
    unkeyed form, and this file keys them.

    Entry points return text (numbers separated by spaces, or a status line) because
    handing one string to Python is far cheaper than converting long Prolog lists.
*/
:- module(rrl_runtime,
          [ rrl_new_world/1,           % +World
            rrl_drop_world/1,          % +World
            rrl_read_terms/3,          % +File, +Mode, -JsonText
            rrl_load_bk/3,             % +World, +File, -Status
            rrl_load_examples/3,       % +World, +File, -Status
            rrl_unload/2,              % +World, +IdsText
            rrl_eval/4,                % +World, +IdsText, +GoalsText, -StatsText
            rrl_passing/4,             % +World, +Index, +IdsText, -PassText
            rrl_compile/3,             % +World, +Name, +BodiesText
            rrl_route/4,               % +World, +Name, +IdsText, -LeavesText
            rrl_type_values/4,         % +World, +Name/Arity, +Position, -Text
            rrl_fact_preds/2,          % +World, -Text
            rrl_predict/3              % +World, +IdsText, -Text
          ]).
:- use_module(library(lists)).
:- use_module(library(apply)).
:- use_module(library(http/json)).

% ACE writes "either" as +-X; make it an operator for the readers of .s files.
:- op(200, fy, rrl_syntax:(+-)).
:- initialization(assertz(rrl_probe:'$rrl_probe')).

%!  rrl_new_world(+World) is det.
%   Declares the bookkeeping tables of a fresh world module.
rrl_new_world(M) :-
    dynamic([ M:'$rrl_bkpred'/2, M:'$rrl_factpred'/1, M:'$rrl_target'/2,
              M:'$rrl_parent'/2, M:'$rrl_bridged'/1,
              M:'$rrl_t'/2, M:'$rrl_dl'/3 ]).

%!  rrl_drop_world(+World) is det.
%   Removes every clause of World (its background, examples and compiled trees).
rrl_drop_world(M) :-
    forall(( current_predicate(M:N/A), functor(H, N, A),
             \+ predicate_property(M:H, imported_from(_)) ),
           abolish(M:N/A)).

% ---------------------------------------------------------------- reading files

%!  rrl_read_terms(+File, +Mode, -Json) is det.
%   Reads every term of File.  Mode `tree` gives a JSON list of each term's structure
%   (settings files; a syntax error ends it with {"error": Message, "line": Line}).
%   Mode `text` is for large knowledge bases: one line per term, "Line\tG\tTerm" with G 1
%   when the term is ground and the term written with ~q (which escapes newlines), or a
%   last line "Line\tE\tMessage" for a syntax error.
rrl_read_terms(File, tree, Json) :- !,
    setup_call_cleanup(open(File, read, S),
                       read_items(S, tree, Items),
                       close(S)),
    with_output_to(string(Json), json_write(current_output, Items, [width(0)])).
rrl_read_terms(File, text, Text) :-
    setup_call_cleanup(open(File, read, S),
                       with_output_to(string(Text), write_lines(S)),
                       close(S)).

write_lines(S) :-
    catch(read_term(S, T, [term_position(P)]), E, true),
    (   nonvar(E)
    ->  error_line(E, Line, Msg), format('~w\tE\t~w~n', [Line, Msg])
    ;   T == end_of_file
    ->  true
    ;   stream_position_data(line_count, P, Line),
        ( ground(T) -> G = 1 ; G = 0 ),
        format('~w\t~w\t~q~n', [Line, G, T]),
        write_lines(S)
    ).

read_items(S, Mode, Items) :-
    catch(read_term(S, T, [variable_names(Vs), term_position(P), module(rrl_syntax)]),
          E, true),
    (   nonvar(E)
    ->  error_line(E, Line, Msg),
        Items = [json([line=Line, error=Msg])]
    ;   T == end_of_file
    ->  Items = []
    ;   stream_position_data(line_count, P, Line),
        item(Mode, T, Vs, Line, Item),
        Items = [Item|Rest],
        read_items(S, Mode, Rest)
    ).

item(tree, T, Vs, Line, json([line=Line, term=J])) :-
    term_json(T, Vs, J).

term_json(T, Vs, json([v=N])) :-
    var(T), !,
    (   member(N0=V, Vs), V == T -> atom_string(N0, N) ; N = "_" ).
term_json(T, _, json([n=T])) :- number(T), !.
term_json(T, _, json([a=S])) :- atom(T), !, atom_string(T, S).
term_json(T, _, json([s=T])) :- string(T), !.
term_json(T, Vs, json([f=F, args=Js])) :-
    compound_name_arguments(T, F0, As),
    atom_string(F0, F),
    maplist(arg_json(Vs), As, Js).

% (not a yall lambda: that would copy Vs and lose the variables' identity)
arg_json(Vs, A, J) :- term_json(A, Vs, J).

error_line(error(syntax_error(What), Ctx), Line, Msg) :-
    !,
    ( Ctx = file(_, Line, _, _) -> true
    ; Ctx = stream(_, Line, _, _) -> true
    ; Line = 0 ),
    format(string(Msg), 'syntax error: ~w', [What]).
error_line(E, 0, Msg) :-
    message_text(E, Msg).

message_text(E, Msg) :-
    catch(( '$messages':translate_message(E, Lines, []),
            with_output_to(string(Msg0), print_message_lines(current_output, '', Lines)),
            split_string(Msg0, "\n", " \n", Parts),
            atomic_list_concat(Parts, ' ', A),
            atom_string(A, Msg1),
            normalize_space(string(Msg), Msg1)
          ), _, format(string(Msg), '~q', [E])).

% ---------------------------------------------------------------- background knowledge

%!  rrl_load_bk(+World, +File, -Status) is det.
%   Adds the clauses of File to World, keying the predicates that depend on example
%   facts.  Status is "ok" or "Line:Message" for the first problem.
rrl_load_bk(M, File, Status) :-
    catch(( load_bk(M, File), Status = "ok" ),
          rrl_error(Line, Msg),
          format(string(Status), '~w:~w', [Line, Msg])).

load_bk(M, File) :-
    setup_call_cleanup(open(File, read, S), read_clauses(S, M, Cls), close(S)),
    findall(N/A, ( member(cl(_, H, _), Cls), functor(H, N, A) ), Ds0),
    sort(Ds0, Ds),
    keyed_fixpoint(M, Cls, Ds, [], Keyed),
    forall(member(P, Ds),
           ( ( memberchk(P, Keyed) -> K = true ; K = false ),
             retractall(M:'$rrl_bkpred'(P, _)),
             assertz(M:'$rrl_bkpred'(P, K)) )),
    forall(member(cl(Line, H, B), Cls), add_clause(M, Line, H, B)).

read_clauses(S, M, Cls) :-
    catch(read_term(S, T, [term_position(P)]), E, true),
    (   nonvar(E)
    ->  error_line(E, Line, Msg), throw(rrl_error(Line, Msg))
    ;   T == end_of_file
    ->  Cls = []
    ;   stream_position_data(line_count, P, Line),
        clause_items(T, M, Line, Cls, Rest),
        read_clauses(S, M, Rest)
    ).

clause_items((:- D), M, Line, Cls, Cls) :- !, directive(D, M, Line).
clause_items((H --> B), _, Line, [cl(Line, H2, B2)|Rest], Rest) :- !,
    dcg_translate_rule((H --> B), (H2 :- B2)).
clause_items((H :- B), _, Line, [cl(Line, H, B)|Rest], Rest) :- !, check_head(H, Line).
clause_items(H, _, Line, [cl(Line, H, true)|Rest], Rest) :- check_head(H, Line).

check_head(H, Line) :-
    (   callable(H) -> true
    ;   format(string(Msg), 'clause head ~q is not callable', [H]), throw(rrl_error(Line, Msg)) ).

% Declarations that only matter to a plain consult are skipped: keyed facts are
% asserted anyway, so dynamic/discontiguous declarations have nothing to do here.
directive(D, _, _) :- skipped_directive(D), !.
directive(D, M, Line) :-
    catch(M:D, E, ( message_text(E, Msg), throw(rrl_error(Line, Msg)) )), !.
directive(D, _, Line) :-
    format(string(Msg), 'directive failed: ~q', [D]), throw(rrl_error(Line, Msg)).

skipped_directive(dynamic(_)).
skipped_directive(discontiguous(_)).
skipped_directive(module(_, _)).
skipped_directive(multifile(_)).
skipped_directive(set_prolog_flag(_, _)).

%   A BK predicate is keyed when one of its clauses calls a keyed predicate; a called
%   predicate that the BK does not define and Prolog does not provide is a fact.
keyed_fixpoint(M, Cls, Ds, K0, K) :-
    findall(P, ( member(cl(_, H, B), Cls), functor(H, N, A), P = N/A,
                 \+ memberchk(P, K0),
                 body_call(B, C), functor(C, CN, CA),
                 calls_keyed(M, Ds, K0, CN/CA) ), New0),
    sort(New0, New),
    (   New == [] -> K = K0
    ;   append(K0, New, K1), keyed_fixpoint(M, Cls, Ds, K1, K) ).

calls_keyed(_, _, K0, P) :- memberchk(P, K0), !.
calls_keyed(_, Ds, _, P) :- memberchk(P, Ds), !, fail.
calls_keyed(M, _, _, P) :- keyed(M, P).

body_call(G, _) :- var(G), !, fail.
body_call(G, C) :- meta_parts(G, Parts), !, member(P, Parts), body_call(P, C).
body_call(_:_, _) :- !, fail.
body_call(G, G).

%   meta_parts(+Goal, -SubGoals): the goal arguments of control constructs and of the
%   usual all-solutions predicates.
meta_parts((A, B), [A, B]).
meta_parts((A ; B), [A, B]).
meta_parts((A -> B), [A, B]).
meta_parts((A *-> B), [A, B]).
meta_parts(\+ A, [A]).
meta_parts(call(A), [A]).
meta_parts(once(A), [A]).
meta_parts(ignore(A), [A]).
meta_parts(forall(A, B), [A, B]).
meta_parts(findall(_, A, _), [A]).
meta_parts(findall(_, A, _, _), [A]).
meta_parts(aggregate_all(_, A, _), [A]).
meta_parts(aggregate_all(_, _, A, _), [A]).
meta_parts(bagof(_, A, _), [A]).
meta_parts(setof(_, A, _), [A]).
meta_parts(_ ^ A, [A]).

%!  keyed(+World, +Name/Arity) is semidet.
keyed(M, P) :-
    (   M:'$rrl_bkpred'(P, K) -> K == true
    ;   P = N/A, functor(H, N, A),
        \+ predicate_property(rrl_probe:H, visible) ).

add_clause(M, Line, H, B) :-
    functor(H, N, A),
    (   keyed(M, N/A)
    ->  add_key(H, K, H2), key_goal(M, K, B, B2)
    ;   H2 = H, key_goal(M, _, B, B2) ),
    catch(assertz(M:(H2 :- B2)), E,
          ( message_text(E, Msg), throw(rrl_error(Line, Msg)) )).

add_key(G, K, G2) :-
    (   compound(G)
    ->  compound_name_arguments(G, N, As), compound_name_arguments(G2, N, [K|As])
    ;   G2 =.. [G, K] ).

%!  key_goal(+World, ?Key, +Goal, -KeyedGoal) is det.
key_goal(_, _, G, G) :- var(G), !.
key_goal(M, K, G, G2) :-
    meta_parts(G, Parts), !,
    maplist(key_goal(M, K), Parts, Parts2),
    replace_parts(G, Parts2, G2).
key_goal(_, _, Q:G, Q:G) :- !.
key_goal(M, K, G, G2) :-
    callable(G), functor(G, N, A), keyed(M, N/A), !,
    A1 is A + 1,
    (   current_predicate(M:N/A1) -> true ; dynamic(M:N/A1) ),
    add_key(G, K, G2).
key_goal(_, _, G, G).

replace_parts((_, _), [A, B], (A, B)).
replace_parts((_ ; _), [A, B], (A ; B)).
replace_parts((_ -> _), [A, B], (A -> B)).
replace_parts((_ *-> _), [A, B], (A *-> B)).
replace_parts(\+ _, [A], \+ A).
replace_parts(call(_), [A], call(A)).
replace_parts(once(_), [A], once(A)).
replace_parts(ignore(_), [A], ignore(A)).
replace_parts(forall(_, _), [A, B], forall(A, B)).
replace_parts(findall(T, _, L), [A], findall(T, A, L)).
replace_parts(findall(T, _, L, R), [A], findall(T, A, L, R)).
replace_parts(aggregate_all(S, _, R), [A], aggregate_all(S, A, R)).
replace_parts(aggregate_all(S, D, _, R), [A], aggregate_all(S, D, A, R)).
replace_parts(bagof(T, _, L), [A], bagof(T, A, L)).
replace_parts(setof(T, _, L), [A], setof(T, A, L)).
replace_parts(V ^ _, [A], V ^ A).

% ---------------------------------------------------------------- examples

%!  rrl_load_examples(+World, +File, -Status) is det.
%   File holds terms ex(Key, Facts, Target, Parent) (Target a number or `none`, Parent
%   the key of a shared(Key, Facts) block written earlier, or `none`).
rrl_load_examples(M, File, Status) :-
    catch(( setup_call_cleanup(open(File, read, S), load_exs(S, M), close(S)),
            Status = "ok" ),
          rrl_error(Line, Msg),
          format(string(Status), '~w:~w', [Line, Msg])).

load_exs(S, M) :-
    catch(read_term(S, T, []), E, true),
    (   nonvar(E) -> error_line(E, Line, Msg), throw(rrl_error(Line, Msg))
    ;   T == end_of_file -> true
    ;   T = shared(K, Facts)
    ->  maplist(add_fact(M, K), Facts),
        forall(( member(F, Facts), functor(F, N, A) ), bridge(M, N/A)),
        load_exs(S, M)
    ;   T = ex(K, Facts, Target, Parent),
        maplist(add_fact(M, K), Facts),
        ( number(Target) -> assertz(M:'$rrl_target'(K, Target)) ; true ),
        ( Parent == none -> true ; assertz(M:'$rrl_parent'(K, Parent)) ),
        load_exs(S, M)
    ).

%   bridge(+World, +Name/Arity): lets an example see the facts of its parent, a block
%   of facts shared by many examples (the state behind several candidate actions), so
%   those facts are loaded once instead of once per example.  The rule stays in the
%   fact predicate; unloading erases facts only (clause(H, true, Ref)).
bridge(M, P) :- M:'$rrl_bridged'(P), !.
bridge(M, N/A) :-
    functor(H, N, A), add_key(H, K, KH), add_key(H, Parent, PH),
    assertz(M:(KH :- '$rrl_parent'(K, Parent), PH)),
    assertz(M:'$rrl_bridged'(N/A)).

add_fact(M, K, F) :-
    (   callable(F), ground(F) -> true
    ;   format(string(Msg), 'example fact ~q is not a ground atom', [F]),
        throw(rrl_error(key(K), Msg)) ),
    functor(F, N, A),
    (   M:'$rrl_factpred'(N/A) -> true ; assertz(M:'$rrl_factpred'(N/A)) ),
    add_key(F, K, KF),
    assertz(M:KF).

%!  rrl_unload(+World, +IdsText) is det.
rrl_unload(M, IdsText) :-
    ids(IdsText, Ids0),
    findall(P, ( member(K, Ids0), M:'$rrl_parent'(K, P) ), Ps0),
    sort(Ps0, Ps),
    append(Ids0, Ps, Ids),
    forall(M:'$rrl_factpred'(N/A),
           ( functor(H, N, A), add_key(H, K, KH),
             (   M:'$rrl_bridged'(N/A)   % keep the bridging rule: erase facts only
             ->  forall(( member(K, Ids), clause(M:KH, true, Ref) ), erase(Ref))
             ;   forall(member(K, Ids), retractall(M:KH)) ) )),
    forall(member(K, Ids), ( retractall(M:'$rrl_target'(K, _)), retractall(M:'$rrl_parent'(K, _)) )).

ids(Text, Ids) :-
    split_string(Text, " ", " ", Parts0),
    exclude(==(""), Parts0, Parts),
    maplist(number_string, Ids, Parts).

% ---------------------------------------------------------------- test evaluation

%!  rrl_eval(+World, +IdsText, +GoalsText, -StatsText) is det.
%   GoalsText is a Prolog list of plain goals.  For each goal, counts the examples in
%   Ids that satisfy it and sums their targets and squared targets; the answer is
%   "N1 S1 Q1 N2 S2 Q2 ...".  Goals are compiled once into '$rrl_t'/2 clauses so that
%   each example costs one indexed call.
%   An exception raised by a test is answered as "!error\tIndex\tMessage", so that
%   Python can quote the test's goal as the user's language wrote it.
rrl_eval(M, IdsText, GoalsText, Text) :-
    ids(IdsText, Ids),
    term_string(Goals, GoalsText),
    compile_tests(M, Goals, Is),
    catch(( maplist(test_stats(M, Ids), Is, Stats),
            atomic_list_concat(Stats, ' ', A),
            atom_string(A, Text) ),
          rrl_goal_error(I, E),
          error_text(I, E, Text)).

error_text(G, E, Text) :-
    message_text(E, Msg),
    format(string(Text), '!error\t~q\t~w', [G, Msg]).

compile_tests(M, Goals, Is) :-
    retractall(M:'$rrl_t'(_, _)),
    findall(I, nth1(I, Goals, _), Is),
    forall(nth1(I, Goals, G),
           ( key_goal(M, K, G, GK), assertz(M:('$rrl_t'(I, K) :- GK)) )).

test_stats(M, Ids, I, Text) :-
    catch(stats_loop(Ids, M, I, 0, 0.0, 0.0, N, S, Q), E,
          throw(rrl_goal_error(I, E))),
    format(atom(Text), '~w ~w ~w', [N, S, Q]).

stats_loop([], _, _, N, S, Q, N, S, Q).
stats_loop([Id|Ids], M, I, N0, S0, Q0, N, S, Q) :-
    (   M:'$rrl_t'(I, Id)
    ->  ( M:'$rrl_target'(Id, V) -> true ; V = 0 ),
        N1 is N0 + 1, S1 is S0 + V, Q1 is Q0 + V * V
    ;   N1 = N0, S1 = S0, Q1 = Q0
    ),
    stats_loop(Ids, M, I, N1, S1, Q1, N, S, Q).

%!  rrl_passing(+World, +Index, +IdsText, -PassText) is det.
%   The ids among IdsText that satisfy test Index of the last rrl_eval/4.
passes(M, I, Id) :- M:'$rrl_t'(I, Id), !.

rrl_passing(M, I, IdsText, Text) :-
    ids(IdsText, Ids),
    include(passes(M, I), Ids, Pass),
    atomic_list_concat(Pass, ' ', A),
    atom_string(A, Text).

% ---------------------------------------------------------------- trees

%!  rrl_compile(+World, +Name, +BodiesText) is det.
%   Asserts the decision list Name(K, Leaf) :- Body_Leaf, ! for the bodies in order.
rrl_compile(M, Name, BodiesText) :-
    term_string(Bodies, BodiesText),
    retractall(M:'$rrl_dl'(Name, _, _)),
    forall(nth0(I, Bodies, B),
           ( key_goal(M, K, B, BK), assertz(M:('$rrl_dl'(Name, K, I) :- BK, !)) )).

%!  rrl_route(+World, +Name, +IdsText, -LeavesText) is det.
%   The leaf index of each example (-1 when no rule covers it).
leaf_of(M, Name, Id, L) :- ( M:'$rrl_dl'(Name, Id, L0) -> L = L0 ; L = -1 ).

rrl_route(M, Name, IdsText, Text) :-
    ids(IdsText, Ids),
    catch(( maplist(leaf_of(M, Name), Ids, Ls),
            atomic_list_concat(Ls, ' ', A),
            atom_string(A, Text) ),
          E, error_text('the tree\'s rules', E, Text)).

% ---------------------------------------------------------------- constants

%!  rrl_type_values(+World, +Name/Arity, +Pos, -Text) is det.
%   The values at argument Pos of the loaded facts Name/Arity, one "Count\tValue" line
%   per distinct value (values written with ~q so that they read back as Prolog).
rrl_type_values(M, N/A, Pos, Text) :-
    (   M:'$rrl_factpred'(N/A)
    ->  functor(H, N, A), add_key(H, _, KH), P1 is Pos + 1,
        findall(V, ( M:KH, arg(P1, KH, V) ), Vs),
        msort(Vs, Sorted),
        clumped_pairs(Sorted, Pairs),
        findall(L, ( member(V-C, Pairs), format(atom(L), '~w\t~q', [C, V]) ), Ls),
        atomic_list_concat(Ls, '\n', T0),
        atom_string(T0, Text)
    ;   Text = "" ).

clumped_pairs(Sorted, Pairs) :- clumped(Sorted, Pairs0), findall(V-C, member(V-C, Pairs0), Pairs).

%!  rrl_fact_preds(+World, -Text) is det.
%   "Name/Arity" of every fact predicate loaded so far, one per line (Name written ~q).
rrl_fact_preds(M, Text) :-
    findall(L, ( M:'$rrl_factpred'(N/A), format(atom(L), '~q/~w', [N, A]) ), Ls0),
    sort(Ls0, Ls),
    atomic_list_concat(Ls, '\n', T0),
    atom_string(T0, Text).

%!  rrl_predict(+World, +IdsText, -Text) is det.
%   Calls the predict/1 of a tree file loaded as background (keyed to predict/2 when it
%   reads example facts) for each example; "nan" where it fails.
rrl_predict(M, IdsText, Text) :-
    ids(IdsText, Ids),
    (   M:'$rrl_bkpred'(predict/1, Keyed) -> true
    ;   throw(error(existence_error(procedure, predict/1), _)) ),
    catch(( maplist(predict_one(M, Keyed), Ids, Vs),
            atomic_list_concat(Vs, ' ', A),
            atom_string(A, Text) ),
          E, error_text(predict('Value'), E, Text)).

predict_one(M, Keyed, Id, V) :-
    (   Keyed == true -> G = M:predict(Id, V0) ; G = M:predict(V0) ),
    (   call(G), number(V0) -> V = V0 ; V = nan ).
