% Mutagenesis (188 molecules), language B1 of Srinivasan et al.: atoms and bonds,
% no partial charges.  Data: ../shared/benchmarks/mutagenesis/muta188_class.kb with
% muta.pl (sbond/3, bonds in both directions); run benchmarks/bench_mutagenesis.py.
%
% atm(Atom, Element, AtomType, Charge): AtomType is a code such as t22 (aromatic carbon).
type(atm(atom, element, atomtype, charge)).
type(sbond(atom, atom, bondtype)).

% The targets are 1 (active) and 0: classes, not numbers to regress.
classes([1, 0]).

rmode(atm(-A, #, -, -)).                        % the molecule has an atom of element E
rmode(atm(-A, -, #, -)).                        % ... an atom of type T
rmode(atm(+A, -, #, -)).                        % atom A is of type T
rmode(sbond(+A, -B, #)).                        % A has a bond of type K
rmode((sbond(+A, -B, #), atm(B, -, #, -))).     % ... to an atom of type T (lookahead)

% information gain and C4.5 pruning, as ACE's own Mutagenesis example sets them (the
% best of the variants tried on the same ten folds: see docs/benchmarks.md).
heuristic(gain).
prune(true).
minimal_cases(2).
