package grid

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
)

// ErrSymbolShared: [Runner.Run] refuses to start a grid on a symbol that
// another running grid of the process trades on the same account (venue or
// executor) when either of the two was not given [WithSharedSymbol] — the
// venue's position is then the grids' together, and a grid that took it
// for its own (reduce-only orders, a refused close settled from it) would
// lose track of what it holds — or when the other is a runner of the same
// grid, whose client order IDs would collide.
var ErrSymbolShared = errors.New("grid: symbol traded by another running grid")

// symbolClaims are the symbols the running grids of this process trade,
// per account.
var symbolClaims = struct {
	mu sync.Mutex
	m  map[symbolKey][]*symbolClaim
}{m: map[symbolKey][]*symbolClaim{}}

// symbolKey is a symbol of one account: the venue given to NewRunner, or
// the executor the runner's lane is on (runners may share an executor
// through venues of their own).
type symbolKey struct {
	account any
	symbol  string
}

type symbolClaim struct {
	grid   string
	shared bool
}

// claimSymbol records that the runner trades its symbol on its account (its
// venue and its executor), and refuses when another running grid trades it
// too and either of the two was not given WithSharedSymbol, or the other
// is a runner of the same grid. release ends the claim. Runners are
// checked within one process only; a venue whose type cannot be compared
// (not a pointer, say) is checked through the executor alone.
func (r *Runner) claimSymbol() (release func(), err error) {
	var keys []symbolKey
	if r.ex != nil && reflect.TypeOf(r.ex).Comparable() {
		keys = append(keys, symbolKey{account: r.ex, symbol: r.rules.Symbol})
	}
	if r.exec != nil {
		keys = append(keys, symbolKey{account: r.exec, symbol: r.rules.Symbol})
	}
	c := &symbolClaim{grid: r.gridID, shared: r.eng.cfg.shared}
	symbolClaims.mu.Lock()
	defer symbolClaims.mu.Unlock()
	for _, k := range keys {
		for _, o := range symbolClaims.m[k] {
			switch {
			case o.grid == c.grid:
				return nil, fmt.Errorf("%w: grid %q already runs on %s of this account: one runner per grid (their client order IDs would collide)",
					ErrSymbolShared, c.grid, k.symbol)
			case !o.shared || !c.shared:
				return nil, fmt.Errorf("%w: grids %q and %q both trade %s on one account: give each grid.WithSharedSymbol() (the venue's position is theirs together)",
					ErrSymbolShared, o.grid, c.grid, k.symbol)
			}
		}
	}
	for _, k := range keys {
		symbolClaims.m[k] = append(symbolClaims.m[k], c)
	}
	return func() {
		symbolClaims.mu.Lock()
		defer symbolClaims.mu.Unlock()
		for _, k := range keys {
			cs := slices.DeleteFunc(symbolClaims.m[k], func(o *symbolClaim) bool { return o == c })
			if len(cs) == 0 {
				delete(symbolClaims.m, k)
			} else {
				symbolClaims.m[k] = cs
			}
		}
	}, nil
}
