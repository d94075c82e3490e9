package backtest

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// Slippage moves the fill price of taker orders against them by Ticks
// plus Bps basis points of the price (rounded up to a tick), never beyond
// a limit order's price. The zero value is no slippage. It is a plain value.
type Slippage struct {
	Ticks int64           // whole ticks
	Bps   decimal.Decimal // basis points of the price: 1 is 0.01 %
}

// DefaultSlippage is the backtest's default: 1 bp (0.01 %) of the price,
// about what a market order of a few thousand USDT pays on a mid-cap
// perpetual's book (half the spread plus impact), and more than on
// BTCUSDT, whose book is deeper: a default that errs on the side of cost.
func DefaultSlippage() Slippage { return Slippage{Bps: decimal.NewFromInt(1)} }

// String describes the slippage, e.g. "1 bp" or "2 ticks + 0.5 bp".
func (s Slippage) String() string {
	var parts []string
	if s.Ticks != 0 {
		parts = append(parts, fmt.Sprintf("%d ticks", s.Ticks))
	}
	if !s.Bps.IsZero() {
		unit := " bp"
		if !s.Bps.Equal(decimal.NewFromInt(1)) {
			unit = " bps"
		}
		parts = append(parts, s.Bps.String()+unit)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}

// Liquidation is one position side the venue liquidated. It is a plain value.
type Liquidation struct {
	Time         time.Time
	Price        decimal.Decimal // the price that triggered it, where the position was closed
	PositionSide exchange.PositionSide
	Qty          decimal.Decimal // signed base quantity closed
	Margin       decimal.Decimal // the side's initial margin; in isolated margin, what it lost
}

// ConfigError is a backtest that cannot start because of its input: Err
// names the field or option and the value. Match it with errors.As; its
// message is Err's.
type ConfigError struct{ Err error }

// Error returns Err's message.
func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// settle charges the funding settlements due before or within candle c:
// on the position held at the settlement, at the settlement's mark, else
// at c's close (c's open for a settlement in a gap before c).
func (r *run) settle(c *pricefeed.Candle) error {
	for r.fi < len(r.funding) && r.funding[r.fi].ms < c.OpenTime+60_000 {
		ch := r.funding[r.fi]
		r.fi++
		now := time.UnixMilli(ch.ms)
		paid := r.core.Stats().Funding
		switch {
		case !ch.mark.IsZero():
			r.core.ApplyFundingAtMark(now, ch.rate, ch.mark)
		case ch.ms < c.OpenTime:
			r.core.ApplyFunding(now, ch.rate, c.Open)
		default:
			r.core.ApplyFunding(now, ch.rate, c.Close)
		}
		r.fundingApplied++
		r.bookFunding(paid)
		if r.core.Pending() > 0 {
			if err := r.drain(now); err != nil {
				return err
			}
			if err := r.process(now); err != nil {
				return err
			}
		}
	}
	return nil
}
