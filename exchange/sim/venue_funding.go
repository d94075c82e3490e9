package sim

import (
	"context"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// FundingHistory lists the settlements [Venue.ApplyFunding] charged at or
// after since, oldest first, as a venue's funding history does (Binance:
// GET /fapi/v1/fundingRate): each with its time on the venue's clock, its
// rate and its mark price. It is a query like OpenOrders: latency and
// request faults apply; a symbol other than the venue's fails with
// [ErrUnknownSymbol].
func (v *Venue) FundingHistory(ctx context.Context, symbol string, since time.Time) ([]exchange.FundingSettlement, error) {
	unlock, err := v.enterQuery(ctx, symbol)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []exchange.FundingSettlement
	for _, s := range v.settled {
		if !s.Time.Before(since) {
			out = append(out, s)
		}
	}
	return out, nil
}
