/*  rrl_runtime.pl -- the Prolog side of rrl's first-order tree learner.

    Learning from interpretations: every example is its own interpretation, kept apart
    from the others by an integer key K that is threaded as an extra first argument
    through the example's facts and through every background predicate that (directly
    or not) calls them.  A "world" is a module holding one background knowledge (BK)
    and any number of loaded examples; Python names it and passes goals in plain,
    unkeyed form, and this file keys them.

    Entry points return text (numbers separated by spaces, or a status line) because
    handing one string to Python is far cheaper than converting long Prolog lists.

    Background files are data (rrl_safe.pl): read term by term, no directive runs, every
    clause body is checked safe before it is added; test goals are checked the same way,
    and every evaluation of the world's clauses is bounded in inferences and time.
*/
:- module(rrl_runtime,
          [ rrl_new_world/1,           % +World
            rrl_drop_world/1,          % +World
            rrl_read_terms/3,          % +File, +Mode, -JsonText
            rrl_load_bk/3,             % +World, +File, -Status
            rrl_load_examples/3,       % +World, +File, -Status
            rrl_unload/2,              % +World, +IdsText
            rrl_check_test/3,          % +World, +GoalsText, -Status
            rrl_eval/4,                % +World, +IdsText, +PacksText, -StatsText
            rrl_eval_classes/5,        % +World, +IdsText, +PacksText, +K, -CountsText
            rrl_passing/4,             % +World, +Index, +IdsText, -PassText
            rrl_compile/4,             % +World, +Name, +BodiesText, -Status
            rrl_route/4,               % +World, +Name, +IdsText, -LeavesText
            rrl_type_values/4,         % +World, +Name/Arity, +Position, -Text
            rrl_bk_values/5,           % +World, +Name/Arity, +Positions, +IdsText, -Text
            rrl_bk_preds/2,            % +World, -Text
            rrl_fact_preds/2,          % +World, -Text
            rrl_predict/3,             % +World, +IdsText, -Text
            rrl_classify/3             % +World, +IdsText, -Text
          ]).
:- use_module(library(lists)).
:- use_module(library(apply)).
:- use_module(library(http/json)).
:- use_module(rrl_safe).

% ACE writes "either" as +-X; make it an operator for the readers of .s files.
:- op(200, fy, rrl_syntax:(+-)).
%   rrl_probe is a module that sees what a world sees (system and the autoloadable
%   libraries, nothing of `user`): whatever is not visible there is an example fact.
:- initialization(( assertz(rrl_probe:'$rrl_probe'), set_module(rrl_probe:base(system)) )).

%!  rrl_new_world(+World) is det.
%   Declares the bookkeeping tables of a fresh world module.
rrl_new_world(M) :-
    set_module(M:base(system)),
    rrl_checker(M, _),
    dynamic([ M:'$rrl_bkpred'/2, M:'$rrl_factpred'/1, M:'$rrl_target'/2,
              M:'$rrl_parent'/2, M:'$rrl_bridged'/1, M:'$rrl_line'/3,
              M:'$rrl_t'/2, M:'$rrl_dl'/3, M:'$rrl_goals'/1 ]).

%!  rrl_drop_world(+World) is det.
%   Removes every clause of World (its background, examples and compiled trees).
rrl_drop_world(M) :-
    forall(( current_predicate(M:N/A), functor(H, N, A),
             \+ predicate_property(M:H, imported_from(_)) ),
           abolish(M:N/A)),
    rrl_drop_checker(M).

% ---------------------------------------------------------------- reading files

%!  rrl_read_terms(+File, +Mode, -Json) is det.
%   Reads every term of File.  Mode `tree` gives a JSON list of each term's structure
%   (settings files; a syntax error ends it with {"error": Message, "line": Line}).
%   Mode `text` is for large knowledge bases: one line per term, "Line\tG\tTerm" with G 1
%   when the term is ground and the term written with ~q (which escapes newlines), or a
%   last line "Line\tE\tMessage" for a syntax error.
rrl_read_terms(File, tree, Json) :- !,
    setup_call_cleanup(open(File, read, S, [encoding(utf8)]),
                       read_items(S, tree, Items),
                       close(S)),
    with_output_to(string(Json), json_write(current_output, Items, [width(0)])).
rrl_read_terms(File, text, Text) :-
    setup_call_cleanup(open(File, read, S, [encoding(utf8)]),
                       with_output_to(string(Text), write_lines(S)),
                       close(S)).

write_lines(S) :-
    catch(read_term(S, T, [term_position(P)]), E, true),
    (   nonvar(E)
    ->  rrl_error_line(E, S, Line, Msg), format('~w\tE\t~w~n', [Line, Msg])
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
    ->  rrl_error_line(E, S, Line, Msg),
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
term_json(T, _, json([x=S])) :-         % inf and nan: JSON has no number for them
    float(T), \+ ( T > -inf, T < inf ), !,
    format(string(S), "~w", [T]).
term_json(T, _, json([n=T])) :- number(T), !.
term_json(T, _, json([a=S])) :- atom(T), !, atom_string(T, S).
term_json([], _, json([e="[]"])) :- !.   % the empty list (SWI-Prolog 7: not the atom '[]')
term_json(T, _, json([s=T])) :- string(T), !.
term_json(T, Vs, json([f=F, args=Js])) :-
    compound_name_arguments(T, F0, As),
    atom_string(F0, F),
    maplist(arg_json(Vs), As, Js).

% (not a yall lambda: that would copy Vs and lose the variables' identity)
arg_json(Vs, A, J) :- term_json(A, Vs, J).

% ---------------------------------------------------------------- background knowledge

%!  rrl_load_bk(+World, +File, -Status) is det.
%   Adds the clauses of File to World, keying the predicates that depend on example
%   facts.  Status is "ok" or "Line:Message" for the first problem.
rrl_load_bk(M, File, Status) :-
    catch(( load_bk(M, File), Status = "ok" ),
          rrl_error(Line, Msg),
          format(string(Status), '~w:~w', [Line, Msg])).

load_bk(M, File) :-
    rrl_checker(M, C),
    rrl_read_program(C, file(File), fact, Items),
    findall(cl(Line, H, B), member(cl(Line, H, B), Items), Cls),
    findall(N/A, ( member(cl(_, H, _), Cls), functor(H, N, A) ), Ds0),
    sort(Ds0, Ds),
    forall(( member(P, Ds), \+ M:'$rrl_bkpred'(P, _) ), assertz(M:'$rrl_bkpred'(P, false))),
    keyed_fixpoint(M, Cls, Ds, [], Keyed),
    forall(member(P, Ds),
           ( ( memberchk(P, Keyed) -> K = true ; K = false ),
             retractall(M:'$rrl_bkpred'(P, _)),
             assertz(M:'$rrl_bkpred'(P, K)) )),
    forall(member(cl(Line, H, B), Cls), add_clause(M, File, Line, H, B)).

%   A BK predicate is keyed when one of its clauses calls a keyed predicate (or a goal
%   only known at run time, see rrl_call/4); a called predicate that the BK does not
%   define and Prolog does not provide is a fact.
keyed_fixpoint(M, Cls, Ds, K0, K) :-
    findall(P, ( member(cl(_, H, B), Cls), functor(H, N, A), P = N/A,
                 \+ memberchk(P, K0),
                 body_call(M, B, C), functor(C, CN, CA),
                 calls_keyed(M, Ds, K0, CN/CA) ), New0),
    sort(New0, New),
    (   New == [] -> K = K0
    ;   append(K0, New, K1), keyed_fixpoint(M, Cls, Ds, K1, K) ).

calls_keyed(_, _, _, '$rrl_dynamic'/0) :- !.
calls_keyed(_, _, K0, P) :- memberchk(P, K0), !.
calls_keyed(_, Ds, _, P) :- memberchk(P, Ds), !, fail.
calls_keyed(M, _, _, P) :- keyed(M, P).

%   body_call(+World, +Body, -Call): the goals Body calls, looking inside control
%   constructs and meta-predicate arguments; '$rrl_dynamic' for a goal or closure that
%   is a variable when the clause is loaded.
body_call(_, G, '$rrl_dynamic') :- var(G), !.
body_call(M, G, C) :-
    meta_spec(M, G, Spec), !,
    G =.. [_|As], Spec =.. [_|Ss],
    nth1(I, Ss, S), nth1(I, As, A),
    body_arg(M, S, A, C).
body_call(_, _:_, _) :- !, fail.
body_call(_, G, G).

body_arg(M, 0, A, C) :- body_call(M, A, C).
body_arg(M, ^, A, C) :- strip_carets(A, A1), body_call(M, A1, C).
body_arg(M, S, A, C) :- closure_extra(S, A, N), closure_call(M, N, A, C).

closure_call(_, _, A, '$rrl_dynamic') :- var(A), !.
closure_call(M, _, A, C) :- yall_body(A, B, _, _), !, body_call(M, B, C).
closure_call(_, _, _:_, _) :- !, fail.
closure_call(M, N, A, C) :- callable(A), extend(A, N, G, _), body_call(M, G, C).

%   closure_extra(+Spec, +Arg, -N): a meta argument that is a closure called with N
%   more arguments (a DCG body counts as a closure of 2 when it is one non-terminal).
closure_extra(N, _, N) :- integer(N), N > 0.
closure_extra(//, A, 2) :- ( var(A) -> true ; callable(A), \+ dcg_control(A) ).

dcg_control(A) :-
    (   is_list(A) ; string(A) ; A == (!)
    ;   memberchk(A, [(_,_), (_;_), (_->_), {_}, (\+ _), call(_)]) ).

%!  meta_spec(+World, +Goal, -Spec) is semidet.
%   The meta_predicate declaration of Goal when Goal is a control construct or a
%   built-in or library meta-predicate (not one the background defines itself).
meta_spec(M, G, Spec) :-
    callable(G), G \= _:_,
    functor(G, N, A),
    \+ M:'$rrl_bkpred'(N/A, _),
    functor(H, N, A),
    predicate_property(rrl_probe:H, meta_predicate(Spec)),
    Spec =.. [_|Ss],
    once(( member(S, Ss), ( integer(S) ; S == (^) ; S == (//) ) )).

%   yall_body(+Lambda, -Body, -Lambda2, ?Body2): Lambda is a yall lambda [X..]>>Body or
%   Free/([X..]>>Body); Lambda2 is the same lambda with body Body2.
yall_body(A, B, Ps>>B2, B2) :- nonvar(A), A = (Ps>>B), !.
yall_body(A, B, Free/(Ps>>B2), B2) :- nonvar(A), A = Free/L, nonvar(L), L = (Ps>>B).

%   extend(+Closure, +N, -Goal, -Extra): Goal is Closure called with N more arguments.
extend(C, N, G, Extra) :-
    length(Extra, N),
    (   compound(C) -> compound_name_arguments(C, F, As0), append(As0, Extra, As)
    ;   F = C, As = Extra ),
    G =.. [F|As].

%!  keyed(+World, +Name/Arity) is semidet.
keyed(M, P) :-
    (   M:'$rrl_bkpred'(P, K) -> K == true
    ;   P = N/A, functor(H, N, A),
        \+ predicate_property(rrl_probe:H, visible) ).

%   The file and line of each clause are kept ('$rrl_line'/3) for the errors it raises.
add_clause(M, File, Line, H, B) :-
    functor(H, N, A),
    catch(( (   keyed(M, N/A)
            ->  add_key(H, K, H2), key_goal(M, K, B, B2)
            ;   H2 = H, key_goal(M, _, B, B2) ),
            assertz(M:(H2 :- B2), Ref),
            assertz(M:'$rrl_line'(Ref, File, Line)) ),
          E,
          ( E = rrl_unsupported(Msg) -> throw(rrl_error(Line, Msg))
          ; rrl_message(E, Msg), throw(rrl_error(Line, Msg)) )).

add_key(G, K, G2) :-
    (   compound(G)
    ->  compound_name_arguments(G, N, As), compound_name_arguments(G2, N, [K|As])
    ;   G2 =.. [G, K] ).

%!  key_goal(+World, ?Key, +Goal, -KeyedGoal) is det.
%   Adds the key to every call of a keyed predicate in Goal, through control constructs
%   and the goal and closure arguments of meta-predicates (\+, not/1, ;, ->, forall/2,
%   findall/3,4, aggregate_all/3,4, bagof/setof with ^, call/N, maplist/N, foldl/N,
%   include/3, yall lambdas, ...).  A goal or closure that is a variable here is keyed
%   when it is called (rrl_call/4).
key_goal(M, K, G, rrl_runtime:rrl_call(M, K, G, [])) :- var(G), !.
key_goal(M, K, G, G2) :-
    meta_spec(M, G, Spec), !,
    G =.. [F|As], Spec =.. [_|Ss],
    maplist(key_arg(M, K), Ss, As, As2),
    G2 =.. [F|As2].
key_goal(_, _, Q:G, Q:G) :- !.
key_goal(M, K, G, G2) :-
    callable(G), functor(G, N, A), keyed(M, N/A), !,
    A1 is A + 1,
    (   current_predicate(M:N/A1) -> true ; dynamic(M:N/A1) ),
    add_key(G, K, G2).
key_goal(_, _, G, G).

key_arg(M, K, 0, A, A2) :- !, key_goal(M, K, A, A2).
key_arg(M, K, ^, A, A2) :- !, key_caret(M, K, A, A2).
key_arg(M, K, S, A, A2) :- closure_extra(S, A, N), !, key_closure(M, K, N, A, A2).
key_arg(_, _, _, A, A).

key_caret(M, K, A, A2) :- nonvar(A), A = V^B, !, key_caret(M, K, B, B2), A2 = V^B2.
key_caret(M, K, A, A2) :- key_goal(M, K, A, A2).

key_closure(M, K, _, C, rrl_runtime:rrl_closure(M, K, C)) :- var(C), !.
key_closure(M, K, _, C, C2) :- yall_body(C, B, C2, B2), !, key_goal(M, K, B, B2).
key_closure(_, _, _, C, _) :-
    nonvar(C), C = \_, !,
    copy_term(C, C1), numbervars(C1, 0, _),
    format(string(Msg), 'cannot add the example key inside the lambda ~W: write it as [X]>>Goal or as a predicate',
           [C1, [quoted(true), numbervars(true)]]),
    throw(rrl_unsupported(Msg)).
key_closure(_, _, _, Q:C, Q:C) :- !.
key_closure(M, K, N, C, C2) :-
    callable(C), !,
    extend(C, N, G, _),
    key_goal(M, K, G, G2),
    G2 =.. [F|As2],
    length(As2, L), L1 is L - N, length(Front, L1), append(Front, _, As2),
    C2 =.. [F|Front].
key_closure(_, _, _, C, C).

%!  rrl_call(+World, +Key, +Closure, +Extra) is nondet.
%   Calls Closure with the arguments Extra added, keying it first: how a goal that was a
%   variable when the clause was loaded (call(G), maplist(P, L), ...) reaches the facts
%   of the example the key names.
rrl_call(M, K, C, Extra) :-
    (   var(C) -> throw(error(instantiation_error, _)) ; true ),
    (   C = Q:C0 -> Goal0 = C0, Mod = Q ; Goal0 = C, Mod = M ),
    length(Extra, N), extend(Goal0, N, G, Extra),
    (   Mod == M -> key_goal(M, K, G, G2) ; G2 = G ),
    call(Mod:G2).

rrl_closure(M, K, C, A1) :- rrl_call(M, K, C, [A1]).
rrl_closure(M, K, C, A1, A2) :- rrl_call(M, K, C, [A1, A2]).
rrl_closure(M, K, C, A1, A2, A3) :- rrl_call(M, K, C, [A1, A2, A3]).
rrl_closure(M, K, C, A1, A2, A3, A4) :- rrl_call(M, K, C, [A1, A2, A3, A4]).
rrl_closure(M, K, C, A1, A2, A3, A4, A5) :- rrl_call(M, K, C, [A1, A2, A3, A4, A5]).
rrl_closure(M, K, C, A1, A2, A3, A4, A5, A6) :- rrl_call(M, K, C, [A1, A2, A3, A4, A5, A6]).
rrl_closure(M, K, C, A1, A2, A3, A4, A5, A6, A7) :- rrl_call(M, K, C, [A1, A2, A3, A4, A5, A6, A7]).

% ---------------------------------------------------------------- examples

%!  rrl_load_examples(+World, +File, -Status) is det.
%   File holds terms ex(Key, Facts, Target, Parent) (Target a number or `none`, Parent
%   the key of a shared(Key, Facts) block written earlier, or `none`).
rrl_load_examples(M, File, Status) :-
    catch(( setup_call_cleanup(open(File, read, S, [encoding(utf8)]), load_exs(S, M), close(S)),
            Status = "ok" ),
          rrl_error(Line, Msg),
          format(string(Status), '~w:~w', [Line, Msg])).

load_exs(S, M) :-
    catch(read_term(S, T, []), E, true),
    (   nonvar(E) -> rrl_error_line(E, S, Line, Msg), throw(rrl_error(Line, Msg))
    ;   T == end_of_file -> true
    ;   T = shared(K, Facts)
    ->  add_facts(M, K, Facts),
        forall(( member(F, Facts), functor(F, N, A) ), bridge(M, N/A)),
        load_exs(S, M)
    ;   T = ex(K, Facts, Target, Parent),
        add_facts(M, K, Facts),
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

add_facts(M, K, Facts) :-
    forall(nth1(I, Facts, F), add_fact(M, K, I, F)).

%   add_fact(+World, +Key, +Index, +Fact): a problem is reported as fact(Key, Index).
add_fact(M, K, I, F) :-
    (   \+ callable(F)
    ->  format(string(Msg), 'example fact ~q is not an atom or a compound term', [F]),
        throw(rrl_error(fact(K, I), Msg))
    ;   \+ ground(F)
    ->  format(string(Msg), 'example fact ~q is not ground', [F]),
        throw(rrl_error(fact(K, I), Msg))
    ;   true ),
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

%!  rrl_eval(+World, +IdsText, +PacksText, -StatsText) is det.
%   PacksText is a Prolog list of pack(Prefix, Rests): the tests (Prefix, Rest) for
%   each Rest, in order (plain goals as pack(true, [G1, ...])).  For each test, counts the
%   examples in Ids that satisfy it and sums their targets and squared targets; the
%   answer is "N1 S1 Q1 N2 S2 Q2 ...".
%   The tests of a pack are evaluated together, as ACE's query packs are: per example,
%   the prefix's solutions are enumerated once and each rest is tried on them until it
%   succeeds, rather than the prefix being solved again for every test.  Each test is
%   kept, for rrl_passing/4.
%   An exception raised by a test is answered as "!error\tIndex\tMessage", so that
%   Python can quote the test's goal as the user's language wrote it.
rrl_eval(M, IdsText, PacksText, Text) :-
    eval_packs(M, IdsText, PacksText, stats, Text).

eval_packs(M, IdsText, PacksText, Mode, Text) :-
    ids(IdsText, Ids),
    term_string(Packs0, PacksText),
    number_tests(Packs0, 1, Packs),
    pack_tests(Packs, Goals),
    (   unsafe_goal(M, Goals, I, Msg)
    ->  format(string(Text), '!unsafe\t~w\t~w', [I, Msg])
    ;   retractall(M:'$rrl_goals'(_)),
        assertz(M:'$rrl_goals'(Goals)),
        compile_packs(M, Packs, Mode, Spec),
        length(Ids, NIds), length(Goals, NGoals), Units is NIds * NGoals,
        guarded(( pack_totals(Mode, NGoals, Totals),
                  catch(packs_loop(Spec, Ids, M, Totals), E, culprit(M, Ids, NGoals, E)),
                  Totals =.. [_|Ns],
                  atomic_list_concat(Ns, ' ', A),
                  atom_string(A, Text) ),
                Units, 'the tests', Text)
    ).

%   culprit(+World, +Ids, +NGoals, +Error): rethrows Error naming the first test that
%   raises it on one of Ids (error path only: the tests are run one by one).
culprit(_, _, _, E) :- rrl_limit_ball(E), !, throw(E).
culprit(M, _, NGoals, rrl_no_target(Id)) :- !,
    M:'$rrl_goals'(Goals),
    compile_tests(M, Goals),
    (   between(1, NGoals, I), catch(M:'$rrl_t'(I, Id), E, ( ordinary(E), fail ))
    ->  throw(rrl_goal_error(I, rrl_no_target(Id)))
    ;   throw(rrl_no_target(Id)) ).
culprit(M, Ids, NGoals, E) :-
    M:'$rrl_goals'(Goals),
    compile_tests(M, Goals),
    (   between(1, NGoals, I), member(Id, Ids),
        catch(( M:'$rrl_t'(I, Id), fail ), E1, ordinary(E1))
    ->  throw(rrl_goal_error(I, E))
    ;   throw(E) ).

%   ordinary(+E): E is an exception a test raised; a limit is thrown on, ending the
%   search as it ended the evaluation.
ordinary(E) :- rrl_limit_ball(E), !, throw(E).
ordinary(_).

%   number_tests(+Packs0, +I0, -Packs): pack(P, [I-Rest, ...]) with the tests numbered in
%   order; a pack without tests is dropped (its prefix is no test's and is not checked);
%   a rest holding a cut gets a pack of its own, where it cuts the prefix's solutions as
%   it does in the goal (Prefix, Rest).
number_tests([], _, []).
number_tests([pack(P, Rs)|Packs0], I0, Packs) :-
    numbered(Rs, I0, Ns, I1),
    (   P == true
    ->  Own = [pack(P, Ns)]
    ;   partition(has_cut, Ns, Cut, Plain),
        findall(pack(P, [N]), member(N, Cut), Alone),
        ( Plain == [] -> Own = Alone ; Own = [pack(P, Plain)|Alone] )
    ),
    ( Rs == [] -> Packs = Rest ; append(Own, Rest, Packs) ),
    number_tests(Packs0, I1, Rest).

numbered([], I, [], I).
numbered([R|Rs], I, [I-R|Ns], I2) :- I1 is I + 1, numbered(Rs, I1, Ns, I2).

has_cut(_-R) :- sub_term(S, R), S == !, !.

%   pack_tests(+Packs, -Goals): the tests of the packs, by number.
pack_tests(Packs, Goals) :-
    findall(I-G, ( member(pack(P, Ns), Packs), member(I-R, Ns), ( P == true -> G = R ; G = (P, R) ) ), Pairs),
    msort(Pairs, Sorted),
    pairs_values(Sorted, Goals).

%   compile_packs(+World, +Packs, +Mode, -Spec): each pack J of N tests becomes one clause
%   '$rrl_pk'(J, K, Flags, Add) :- Prefix, Try_1, ..., Try_N, AllPassed.  Try_A runs
%   test A's rest, unless it passed on an earlier solution of the prefix, without
%   keeping its bindings; when it succeeds it marks argument A of Flags and adds the
%   example (Add: its target and the counters) to the test's counters, at positions
%   fixed here.  Argument N+1 of Flags counts the tests still open, so that the prefix's
%   solutions stop once all have passed.  A pack of one test is the plain clause
%   Prefix, Rest, !, Update.  Spec lists J-N per pack.
compile_packs(M, Packs, Mode, Spec) :-
    retractall(M:'$rrl_pk'(_, _, _, _)),
    compile_packs(Packs, M, Mode, 1, Spec).

compile_packs([], _, _, _, []).
compile_packs([pack(P, Ns)|Packs], M, Mode, J, [J-N|Spec]) :-
    length(Ns, N),
    N1 is N + 1,
    key_goal(M, K, P, PK),
    (   Ns = [I-R]                      % a lone test needs no flags
    ->  key_goal(M, K, R, RK),
        adder(Mode, I, K, Add, Update),
        assertz(M:('$rrl_pk'(J, K, _, Add) :- PK, RK, !, Update))
    ;   pack_tries(Ns, 1, N1, M, Mode, K, Flags, Add, Tries),
        assertz(M:('$rrl_pk'(J, K, Flags, Add) :- PK, Tries, arg(N1, Flags, 0)))
    ),
    J1 is J + 1,
    compile_packs(Packs, M, Mode, J1, Spec).

pack_tries([], _, _, _, _, _, _, _, true).
pack_tries([I-R|Ns], A, N1, M, Mode, K, Flags, Add, (Try, Tries)) :-
    key_goal(M, K, R, RK),
    adder(Mode, I, K, Add, Update),
    Try = (   arg(A, Flags, F), var(F), \+ \+ RK
          ->  nb_setarg(A, Flags, 1), arg(N1, Flags, L0), L is L0 - 1, nb_setarg(N1, Flags, L),
              Update
          ;   true ),
    A1 is A + 1,
    pack_tries(Ns, A1, N1, M, Mode, K, Flags, Add, Tries).

%   adder(+Mode, +Test, +Key, ?Add, -Goal): Goal adds the example of Add to the counters
%   of test Test: count, sum and sum of squares of the target (stats), or its class's
%   count (classes(K)).
adder(stats, I, Key, add(V, T),
      (   number(V)
      ->  arg(B1, T, N0), N1 is N0 + 1, nb_setarg(B1, T, N1),
          arg(B2, T, S0), S1 is S0 + V, nb_setarg(B2, T, S1),
          arg(B3, T, Q0), Q1 is Q0 + V * V, nb_setarg(B3, T, Q1)
      ;   throw(rrl_no_target(Key)) )) :-
    B1 is 3 * I - 2, B2 is B1 + 1, B3 is B1 + 2.
adder(classes(K), I, Key, add(V, T),
      (   number(V)
      ->  C is integer(V),
          (   C >= 0, C < K -> true
          ;   throw(error(domain_error(class_index_below(K), C), _)) ),
          B is Base + C, arg(B, T, C0), C1 is C0 + 1, nb_setarg(B, T, C1)
      ;   throw(rrl_no_target(Key)) )) :-
    Base is K * (I - 1) + 1.

%   pack_totals(+Mode, +NGoals, -Totals): zeroed counters, three per test (stats) or K
%   per test (classes(K)).
pack_totals(stats, N, Totals) :-
    L is 3 * N, length(Zs, L), maplist(=(0), Zs), Totals =.. [t|Zs].
pack_totals(classes(K), N, Totals) :-
    L is K * N, length(Zs, L), maplist(=(0), Zs), Totals =.. [t|Zs].

packs_loop([], _, _, _).
packs_loop([J-N|Spec], Ids, M, Totals) :-
    pack_loop(Ids, M, J, N, Totals),
    packs_loop(Spec, Ids, M, Totals).

%   pack_loop(+Ids, +World, +J, +N, !Totals): adds the examples passing the tests of
%   pack J to their counters.
pack_loop([], _, _, _, _).
pack_loop([Id|Ids], M, J, N, Totals) :-
    (   M:'$rrl_target'(Id, V) -> true ; V = none ),
    (   N =:= 1
    ->  true
    ;   N1 is N + 1,
        functor(Flags, f, N1),          % an argument stays unbound until its test passes
        nb_setarg(N1, Flags, N)
    ),
    ( M:'$rrl_pk'(J, Id, Flags, add(V, Totals)) -> true ; true ),
    pack_loop(Ids, M, J, N, Totals).

%!  rrl_check_test(+World, +GoalsText, -Status) is det.
%   Status is "ok" when every goal of the list is safe to run as a test (rrl_safe.pl),
%   else "Index\tWhy" for the first that is not.
rrl_check_test(M, GoalsText, Status) :-
    term_string(Goals, GoalsText),
    (   unsafe_goal(M, Goals, I, Msg) -> format(string(Status), '~w\t~w', [I, Msg]) ; Status = "ok" ).

%   unsafe_goal(+World, +Goals, -Index, -Message): goal Index (from 1) of Goals is not
%   safe to run (rrl_safe.pl); undefined predicates are example facts.
unsafe_goal(M, Goals, I, Msg) :-
    rrl_checker(M, C),
    nth1(I, Goals, G),
    catch(( rrl_check_goal(C, fact, G), fail ), rrl_error(_, Msg), true), !.

%!  guarded(:Goal, +Units, +Where, -Text) is det.
%   Runs Goal (which binds Text) bounded by rrl_bounded/2; an exception is answered
%   as "!error\tWhere\tMessage" (Where a test's index when the error names one), a
%   limit as "!limit\tMessage".
guarded(G, Units, Where, Text) :-
    catch(rrl_bounded(G, Units), E, error_text(Where, E, Text)).

error_text(_, rrl_limit(Kind, Limit), Text) :- !,
    limit_message(Kind, Limit, Msg),
    format(string(Text), '!limit\t~w', [Msg]).
error_text(_, rrl_goal_error(I, E), Text) :- !,
    error_text(I, E, Text).
error_text(G, E, Text) :-
    (   E = rrl_no_target(Id)
    ->  format(string(Msg), 'example ~w has no target: sums of targets need one for every example', [Id])
    ;   rrl_message(E, Msg) ),
    format(string(Text), '!error\t~w\t~w', [G, Msg]).

limit_message(inferences, Limit, Msg) :-
    format(string(Msg), 'ran out of ~D inferences (rrl stops an evaluation there: see docs/security.md)', [Limit]).
limit_message(seconds, Limit, Msg) :-
    format(string(Msg), 'ran for more than ~2f s (rrl stops an evaluation there: see docs/security.md)', [Limit]).

%   compile_tests(+World, +Goals): each goal I as a '$rrl_t'(I, Key) clause (the error
%   search runs the tests one by one with them).
compile_tests(M, Goals) :-
    retractall(M:'$rrl_t'(_, _)),
    forall(nth1(I, Goals, G),
           ( key_goal(M, K, G, GK), assertz(M:('$rrl_t'(I, K) :- GK)) )).

%!  rrl_eval_classes(+World, +IdsText, +PacksText, +K, -CountsText) is det.
%   As rrl_eval/4 for classification: each example's target is its class index 0..K-1,
%   and the answer holds, per test, the K counts of the passing examples of each class
%   ("C1_0 .. C1_K-1 C2_0 ..."); an id listed twice counts twice (bootstrap samples).
rrl_eval_classes(M, IdsText, PacksText, K, Text) :-
    eval_packs(M, IdsText, PacksText, classes(K), Text).

%!  rrl_passing(+World, +Index, +IdsText, -PassText) is det.
%   The ids among IdsText that satisfy test Index of the last rrl_eval/4 (compiled here:
%   one test of the many evaluated is asked for).
passes(M, I, Id) :- M:'$rrl_t'(I, Id), !.

rrl_passing(M, I, IdsText, Text) :-
    retractall(M:'$rrl_t'(_, _)),
    (   M:'$rrl_goals'(Goals), nth1(I, Goals, G)   % else no test: none passes
    ->  key_goal(M, K, G, GK),
        assertz(M:('$rrl_t'(I, K) :- GK))
    ;   true ),
    ids(IdsText, Ids),
    length(Ids, N),
    guarded(( include(passes(M, I), Ids, Pass),
              atomic_list_concat(Pass, ' ', A),
              atom_string(A, Text) ),
            N, I, Text).

% ---------------------------------------------------------------- trees

%!  rrl_compile(+World, +Name, +BodiesText, -Status) is det.
%   Asserts the decision list Name(K, Leaf) :- Body_Leaf, ! for the bodies in order.
%   Status is "ok", or "!unsafe\tIndex\tMessage" for a body that is not safe.
rrl_compile(M, _, BodiesText, Status) :-
    term_string(Bodies, BodiesText),
    unsafe_goal(M, Bodies, I, Msg), !,
    format(string(Status), '!unsafe\t~w\t~w', [I, Msg]).
rrl_compile(M, Name, BodiesText, "ok") :-
    term_string(Bodies, BodiesText),
    retractall(M:'$rrl_dl'(Name, _, _)),
    forall(nth0(I, Bodies, B),
           ( key_goal(M, K, B, BK), assertz(M:('$rrl_dl'(Name, K, I) :- BK, !)) )).

%!  rrl_route(+World, +Name, +IdsText, -LeavesText) is det.
%   The leaf index of each example (-1 when no rule covers it).
leaf_of(M, Name, Id, L) :- ( M:'$rrl_dl'(Name, Id, L0) -> L = L0 ; L = -1 ).

rrl_route(M, Name, IdsText, Text) :-
    ids(IdsText, Ids),
    length(Ids, N),
    guarded(( maplist(leaf_of(M, Name), Ids, Ls),
              atomic_list_concat(Ls, ' ', A),
              atom_string(A, Text) ),
            N, 'the tree\'s rules', Text).

% ---------------------------------------------------------------- constants

%!  rrl_type_values(+World, +Name/Arity, +Pos, -Text) is det.
%   The values at argument Pos of the loaded facts Name/Arity, one "Count\tValue" line
%   per distinct value (values written with ~q so that they read back as Prolog).
rrl_type_values(M, N/A, Pos, Text) :-
    (   M:'$rrl_factpred'(N/A)
    ->  functor(H, N, A), add_key(H, _, KH), P1 is Pos + 1,
        findall(V, ( M:KH, arg(P1, KH, V) ), Vs),
        msort(Vs, Sorted),
        clumped(Sorted, Pairs),
        findall(L, ( member(V-C, Pairs), format(atom(L), '~w\t~q', [C, V]) ), Ls),
        atomic_list_concat(Ls, '\n', T0),
        atom_string(T0, Text)
    ;   Text = "" ).

%!  rrl_bk_values(+World, +Name/Arity, +Positions, +IdsText, -Text) is det.
%   Values at the argument positions Positions (1-based) of the answers of background
%   predicate Name/Arity called with free arguments: on each example of IdsText when it
%   uses example facts, else once; at most 1000 answers and 10^6 inferences per call.
%   One "Position\tCount\tValue" line per distinct ground value.  A call that raises
%   (e.g. a predicate that needs bound inputs) contributes the answers it gave before.
rrl_bk_values(M, N/A, Ps, IdsText, Text) :-
    ids(IdsText, Ids),
    length(Ids, Units),
    functor(H, N, A),
    guarded(( (   M:'$rrl_bkpred'(N/A, true)
              ->  add_key(H, K, G),
                  findall(P-V, ( member(K, Ids), bk_answer(M, G, H, Ps, P, V) ), PVs)
              ;   findall(P-V, bk_answer(M, H, H, Ps, P, V), PVs) ),
              msort(PVs, Sorted),
              clumped(Sorted, Pairs),
              findall(L, ( member((P-V)-C, Pairs), format(atom(L), '~w\t~w\t~q', [P, C, V]) ), Ls),
              atomic_list_concat(Ls, '\n', T0),
              atom_string(T0, Text) ),
            Units, N/A, Text).

bk_answer(M, G, H, Ps, P, V) :-
    catch(call_with_inference_limit(limit(1000, M:G), 1000000, R), E,
          ( rrl_limit_ball(E) -> throw(E) ; fail )),
    R \== inference_limit_exceeded,
    member(P, Ps), arg(P, H, V), ground(V).

%!  rrl_bk_preds(+World, -Text) is det.
%   "Name/Arity" of every predicate the background defines, one per line.
rrl_bk_preds(M, Text) :-
    findall(L, ( M:'$rrl_bkpred'(N/A, _), format(atom(L), '~q/~w', [N, A]) ), Ls0),
    sort(Ls0, Ls),
    atomic_list_concat(Ls, '\n', T0),
    atom_string(T0, Text).

%!  rrl_fact_preds(+World, -Text) is det.
%   "Name/Arity" of every fact predicate loaded so far, one per line (Name written ~q).
rrl_fact_preds(M, Text) :-
    findall(L, ( M:'$rrl_factpred'(N/A), format(atom(L), '~q/~w', [N, A]) ), Ls0),
    sort(Ls0, Ls),
    atomic_list_concat(Ls, '\n', T0),
    atom_string(T0, Text).

%!  rrl_predict(+World, +IdsText, -Json) is det.
%   Calls the predict/1 of a tree file loaded as background (keyed to predict/2 when it
%   reads example facts) for each example: Json is a list with the first answer of
%   each, as plain swipl would give it (a number, an atom's or string's text, any
%   other term written as Prolog), null where predict/1 fails.  "!nopredict" when no
%   file loaded into World defines predict/1; "!error...", "!at..." (the line of a
%   rule that raises) or "!limit...".
rrl_predict(M, _, "!nopredict") :-
    \+ M:'$rrl_bkpred'(predict/1, _), !.
rrl_predict(M, IdsText, Text) :-
    ids(IdsText, Ids),
    rule_answers(M, Ids, predict/1, predict_one, Text).

%   rule_answers(+World, +Ids, +PI, :Answer, -Json): call(Answer, World, Keyed, Id, V)
%   for each example, bounded, as one JSON list; an error as rule_error/6 reports it.
rule_answers(M, Ids, PI, Answer, Text) :-
    length(Ids, N),
    M:'$rrl_bkpred'(PI, Keyed),
    catch(rrl_bounded(( maplist(call(Answer, M, Keyed), Ids, Vs),
                        with_output_to(string(Text), json_write(current_output, Vs, [width(0)])) ),
                      N),
          E,
          rule_error(M, Keyed, Ids, PI, E, Text)).

%   The error of a failed evaluation of the rules Name/Arity, at the file and line of
%   the first rule that raises it when one is found (rules tried one by one: error path
%   only).
rule_error(M, Keyed, Ids, Name/Arity, E, Text) :-
    E \= rrl_limit(_, _),
    rrl_message(E, Msg),
    member(Id, Ids),
    length(Args, Arity),
    (   Keyed == true -> H =.. [Name, Id|Args] ; H =.. [Name|Args] ),
    clause(M:H, Body, Ref),
    catch(rrl_bounded(M:Body, 1), E1, true),
    nonvar(E1), E1 \= rrl_limit(_, _),
    M:'$rrl_line'(Ref, File, Line), !,
    format(string(Text), '!at\t~w\t~w\t~w raised an error: ~w', [File, Line, Name/Arity, Msg]).
rule_error(_, _, _, PI, E, Text) :-
    error_text(PI, E, Text).

predict_one(M, Keyed, Id, V) :-
    (   Keyed == true -> G = M:predict(Id, V0) ; G = M:predict(V0) ),
    (   call(G) -> answer_json(V0, V) ; V = @(null) ).

answer_json(V, J) :-
    float(V), float_class(V, Class), memberchk(Class, [nan, infinite]), !,
    format(string(J), '~w', [V]).
answer_json(V, V) :- number(V), !.
answer_json(V, J) :- ( atom(V) ; string(V) ), !, atom_string(V, J).
answer_json(V, J) :-
    copy_term(V, V1), numbervars(V1, 0, _),
    format(string(J), '~W', [V1, [quoted(true), numbervars(true)]]).

%!  rrl_classify(+World, +IdsText, -Json) is det.
%   Calls the classify(Class, Probabilities) of a classification tree file for each
%   example: Json is a list with, per example, [Class, [[C1, P1], [C2, P2], ...]]
%   (classes as rrl_predict/3 writes answers) or null where classify/2 fails.
%   "!noclassify" when no file loaded into World defines classify/2; "!error...",
%   "!at..." or "!limit..." as for rrl_predict/3.
rrl_classify(M, _, "!noclassify") :-
    \+ M:'$rrl_bkpred'(classify/2, _), !.
rrl_classify(M, IdsText, Text) :-
    ids(IdsText, Ids),
    rule_answers(M, Ids, classify/2, classify_one, Text).

classify_one(M, Keyed, Id, V) :-
    (   Keyed == true -> G = M:classify(Id, C, Ps) ; G = M:classify(C, Ps) ),
    (   call(G)
    ->  must_be(list, Ps),
        maplist(class_probability, Ps, Pairs),
        answer_json(C, J),
        V = [J, Pairs]
    ;   V = @(null) ).

class_probability(X, [J, P]) :-
    (   nonvar(X), X = K-P, number(P)
    ->  answer_json(K, J)
    ;   type_error('Class-Probability', X) ).
