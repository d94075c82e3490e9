package grid

import (
	"strings"

	"github.com/gridmesh/gridmesh/exchange"
)

// venueFill converts one of the grid's trades for a Snapshot: its fee in
// quote money, or apart when the venue charged it in another asset.
func (r *Runner) venueFill(ref OrderRef, f exchange.Fill) VenueFill {
	v := VenueFill{Ref: ref, Side: f.Side, Price: r.ticks(f.Price), Qty: r.steps(f.Quantity), TradeID: f.TradeID, Time: f.Time}
	if f.Fee.IsZero() {
		return v
	}
	if f.FeeAsset != "" && !strings.HasSuffix(r.rules.Symbol, f.FeeAsset) {
		v.FeeAsset, v.OtherFee = f.FeeAsset, f.Fee
		return v
	}
	fee, err := r.rules.DecimalToMoney(f.Fee)
	if err != nil {
		r.log.Error("grid: fee cannot be booked", "trade", f.TradeID, "fee", f.Fee.String(), "err", err)
		return v
	}
	v.Fee = fee
	return v
}
