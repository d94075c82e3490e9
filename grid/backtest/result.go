package backtest

import (
	"errors"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// equitySample is an equity point in integers, while running.
type equitySample struct {
	ms    int64
	price exchange.Ticks
	eq    exact
}

// track updates drawdown and exposure after a candle; sample records an
// equity point; final says the run ends with the candle. Equity is exact (see exact): the booked equity at each
// price plus what rounding fees and funding to the Money unit left out,
// which no price changes.
func (r *run) track(c *pricefeed.Candle, sample, final bool) {
	pos := r.eng.Position()
	if r.adjDirty {
		w, f := r.core.ExactWalletUnits()
		r.adj, r.adjDirty = exact{w - r.core.Wallet(), f}, false
	}
	eqM := r.core.Equity(c.Close)
	worstM := eqM
	switch {
	case pos == 0:
	case r.liquidatedAt.IsZero():
		// Equity is wallet + price × net position − cost: linear in the
		// price, so a long is worst at the low and a short at the high.
		// The engine's position is the venue's net (DESIGN §3, invariant 3,
		// checked at the end of the run and by verifyWorst in tests).
		if pos > 0 {
			worstM += exchange.Notional(c.Low-c.Close, pos)
		} else {
			worstM += exchange.Notional(c.High-c.Close, pos)
		}
	default: // the venue closed the position under the engine
		worstM = min(worstM, r.core.Equity(c.Low), r.core.Equity(c.High))
	}
	if verifyWorst != nil {
		verifyWorst(worstM, min(eqM, r.core.Equity(c.Low), r.core.Equity(c.High)))
	}
	eq, worst := r.adj.plus(eqM), r.adj.plus(worstM)
	d := drawdown{peak: r.peak}
	if worst.less(r.peak) {
		d.dd = r.peak.sub(worst)
		if r.maxDD.less(d.dd) {
			r.maxDD, r.ddPeak, d.newMax = d.dd, r.peak, true
		}
	}
	if r.peak.less(eq) {
		r.peak, d.newPeak = eq, true
	}
	signed := pos
	if pos < 0 {
		pos = -pos
	}
	if pos > r.maxPos {
		r.maxPos = pos
	}
	if n := exchange.Notional(max(c.High, c.Close), pos); n > r.maxNotional {
		r.maxNotional = n
	}
	r.rec.candle(c, r.core, eq, &d, signed, sample, final)
	if sample {
		r.equity = append(r.equity, equitySample{ms: c.OpenTime + 60_000, price: c.Close, eq: eq})
	}
}

// drawdown is a candle's fall below the equity's running peak (zero when
// none), the peak it fell from, and whether it set the run's largest
// drawdown or a new peak.
type drawdown struct {
	dd, peak        exact
	newMax, newPeak bool
}

// verifyWorst, set by a test, compares the run's worst equity of a candle
// with the venue's equity walked at the candle's low, high and close.
var verifyWorst func(fast, walked exchange.Money)

func (r *run) result(candles []pricefeed.Candle) Result {
	rules := r.cfg.Rules
	m := rules.MoneyToDecimal
	cs := r.core.Stats()
	st := r.eng.Stats()
	b := r.eng.Books()
	init := r.cfg.Sim.InitialBalance
	open := rules.TicksToPrice(candles[0].Open)
	closeP := rules.TicksToPrice(r.last)
	fees, funding, final := r.core.ExactFees(), r.core.ExactFunding(), r.core.ExactEquity(r.last)
	money := newConv(rules.MoneyUnit())
	res := Result{
		Candles: r.replayed, Start: time.UnixMilli(candles[0].OpenTime), End: r.lastTime,
		OpenPrice: open, ClosePrice: closeP,
		RoundTrips: b.RoundTrips, Realized: m(b.Realized), Fees: fees, Funding: funding,
		NetRealized: m(b.Realized).Sub(fees).Sub(funding), Unrealized: m(b.Unrealized(r.last)),
		Position:       rules.StepsToQty(b.Position),
		InitialBalance: m(init), FinalEquity: final, PnL: final.Sub(m(init)),
		BuyAndHold:  m(init).Mul(closeP).Div(open).Round(8),
		MaxDrawdown: money.ofExact(r.maxDD), MaxDrawdownPct: pctExact(r.maxDD, r.ddPeak),
		MaxPosition: rules.StepsToQty(r.maxPos), MaxNotional: m(r.maxNotional),
		Fills: cs.Fills, MakerFills: cs.MakerFills, TakerFills: cs.TakerFills,
		Orders: b.Placed, Cancels: b.Canceled, Rejections: b.Rejected,
		Liquidations: cs.Liquidations, LiquidatedAt: r.liquidatedAt, Halted: r.halted, PausedCandles: r.pausedCandles, TrendCandles: r.trendCandles,
		Stopped: r.stopped, StoppedAt: r.stoppedAt,
		Equity: make([]EquityPoint, len(r.equity)), Engine: st,
		FundingPayments: r.fundingApplied, MarginRefusals: r.marginRefusals, Liquidated: r.liquidated,
		Insurance: m(cs.Insurance), Slippage: m(cs.Slippage), Volume: m(cs.Volume), TakerVolume: m(cs.TakerVolume),
	}
	price := newConv(rules.TickSize)
	for i, p := range r.equity {
		res.Equity[i] = EquityPoint{Time: time.UnixMilli(p.ms), Price: price.of(int64(p.price)), Equity: money.ofExact(p.eq)}
	}
	res.Trades, res.Series = r.rec.finish(r.eng)
	return res
}

// ErrDisagree is matched by the error of a run whose engine and venue books
// disagree at the end: a bug, never a market condition.
var ErrDisagree = errors.New("backtest: engine and venue disagree")

// agree checks, at the end of a run, that the engine's books are the
// venue's: the engine's position (the signed sum of its slots' holdings)
// is the venue's position, and the engine's equity change (realized net
// of fees and funding, plus unrealized at the last price) is the venue's.
// After a liquidation the venue closed the position under the engine, so
// there is nothing to compare.
func (r *run) agree() error {
	if !r.liquidatedAt.IsZero() {
		return nil
	}
	if err := r.eng.CheckInvariants(); err != nil {
		return fmt.Errorf("%w: %w", ErrDisagree, err)
	}
	b := r.eng.Books()
	long, _ := r.core.Position(exchange.PositionLong)
	short, _ := r.core.Position(exchange.PositionShort)
	both, _ := r.core.Position(exchange.PositionBoth)
	if venue := long + short + both; venue != b.Position {
		return fmt.Errorf("%w: position: engine %d steps, venue %d", ErrDisagree, b.Position, venue)
	}
	cs := r.core.Stats()
	engine := b.Realized - b.Fees - cs.Funding + b.Unrealized(r.last)
	if venue := r.core.Equity(r.last) - r.cfg.Sim.InitialBalance; venue != engine {
		return fmt.Errorf("%w: equity change: engine %d, venue %d (money units)", ErrDisagree, engine, venue)
	}
	return nil
}
