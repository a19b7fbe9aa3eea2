% Mutagenesis (188 molecules), language B3: B2 plus the molecule's lumo (energy of the
% lowest unoccupied molecular orbital) and logP (hydrophobicity).
% Data: ../shared/benchmarks/mutagenesis/muta188_class.kb with muta.pl; run
% benchmarks/bench_mutagenesis.py.
type(atm(atom, element, atomtype, charge)).
type(sbond(atom, atom, bondtype)).
type(lumo(energy)).
type(logp(hydrophobicity)).
classes([1, 0]).

% B1
rmode(atm(-A, #, -, -)).
rmode(atm(-A, -, #, -)).
rmode(atm(+A, -, #, -)).
rmode(sbond(+A, -B, #)).
rmode((sbond(+A, -B, #), atm(B, -, #, -))).

% B2: partial charges against thresholds
rmode((atm(-A, #, -, -C), C >= #)).
rmode((atm(-A, #, -, -C), C =< #)).
rmode((atm(-A, -, #, -C), C >= #)).
rmode((atm(-A, -, #, -C), C =< #)).

% B3: the two molecule-level numbers against thresholds
rmode((lumo(-L), L >= #)).
rmode((lumo(-L), L =< #)).
rmode((logp(-P), P >= #)).
rmode((logp(-P), P =< #)).

% Tilde's default heuristic (gain ratio) with C4.5 pruning, and 19 thresholds (the
% 5 %, 10 %, ... 95 % quantiles) per numeric variable.  B1 and B2 use information gain
% and 9 thresholds: each level's choice is the best of the variants tried on the same
% ten folds (docs/benchmarks.md lists them and a nested estimate free of that choice).
heuristic(gainratio).
prune(true).
discretization(bounds(19)).
minimal_cases(2).
