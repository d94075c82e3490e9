package sim

import (
	"context"

	"github.com/gridmesh/gridmesh/exchange"
)

var _ exchange.AllPositionsReader = (*Venue)(nil)

// AllPositions returns the positions of every symbol of the account — the
// venue trades one symbol, so the positions Positions returns for it — in
// one request, as [exchange.AllPositionsReader] asks. It fails as
// Positions does (closed venue, injected request faults).
func (v *Venue) AllPositions(ctx context.Context) ([]exchange.Position, error) {
	unlock, err := v.enterQuery(ctx, v.rules.Symbol)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return v.positionsLocked(), nil
}
