package backtest

import (
	"math"
	"time"

	"github.com/shopspring/decimal"
)

// Metrics are the figures a trader compares runs by, derived from a
// [Result] by [Result.Metrics]. Money is in the quote currency as
// decimals; ratios are float64, NaN where a figure does not apply (too
// short a run, nothing recorded, no round trips).
type Metrics struct {
	// ReturnPct is PnL as a percentage of the initial balance (4 decimals).
	ReturnPct decimal.Decimal
	// AnnualizedPct compounds ReturnPct to a 365-day year; NaN for a run
	// shorter than a day.
	AnnualizedPct float64
	// BuyAndHoldPct is the buy-and-hold comparison's return (4 decimals).
	BuyAndHoldPct decimal.Decimal

	MaxDrawdown    decimal.Decimal // Result.MaxDrawdown
	MaxDrawdownPct decimal.Decimal // Result.MaxDrawdownPct
	// DrawdownPeak and DrawdownTrough date the largest drawdown
	// (Series.DrawdownPeak/Trough; zero when not recorded or none).
	DrawdownPeak, DrawdownTrough time.Time

	// Days is the number of daily returns Sharpe and Sortino use.
	Days int
	// Sharpe is the mean daily return over its standard deviation, times
	// √365; NaN with fewer than two days or no variation.
	Sharpe float64
	// Sortino is the mean daily return over its downside deviation (the
	// root mean square of the negative returns, over all days), times
	// √365; +Inf when no day lost, NaN with fewer than two days.
	Sortino float64

	RoundTrips int
	// Wins counts the recorded round trips with a positive TripNet;
	// WinRatePct is their share (NaN without recorded trips).
	Wins       int
	WinRatePct float64
	// AvgTripNet is the mean TripNet of the recorded round trips (zero
	// without any).
	AvgTripNet decimal.Decimal

	Fees    decimal.Decimal // Result.Fees
	Funding decimal.Decimal // Result.Funding

	// TimeInMarketPct is the share of candles that closed with a position
	// open (NaN when not recorded).
	TimeInMarketPct float64
	// FillRatePct is the share of placed orders that filled at least in
	// part (NaN when not recorded or nothing was placed).
	FillRatePct float64

	Liquidations int64
}

// Metrics derives the summary figures from the result.
func (r Result) Metrics() Metrics {
	m := Metrics{
		ReturnPct: ratioPct(r.PnL, r.InitialBalance), BuyAndHoldPct: ratioPct(r.BuyAndHold.Sub(r.InitialBalance), r.InitialBalance),
		MaxDrawdown: r.MaxDrawdown, MaxDrawdownPct: r.MaxDrawdownPct,
		DrawdownPeak: r.Series.DrawdownPeak, DrawdownTrough: r.Series.DrawdownTrough,
		RoundTrips: r.RoundTrips, Fees: r.Fees, Funding: r.Funding, Liquidations: r.Liquidations,
		AnnualizedPct: math.NaN(), WinRatePct: math.NaN(), TimeInMarketPct: math.NaN(), FillRatePct: math.NaN(),
	}
	if d := r.End.Sub(r.Start); d >= 24*time.Hour && r.InitialBalance.IsPositive() {
		growth := r.FinalEquity.Div(r.InitialBalance).InexactFloat64()
		if growth > 0 {
			m.AnnualizedPct = (math.Pow(growth, float64(365*24*time.Hour)/float64(d)) - 1) * 100
		} else {
			m.AnnualizedPct = -100
		}
	}
	rets := r.DailyReturns()
	m.Days = len(rets)
	m.Sharpe, m.Sortino = sharpeSortino(rets)

	trips := 0
	sum := decimal.Zero
	for i := range r.Trades {
		t := &r.Trades[i]
		if !t.RoundTrip {
			continue
		}
		trips++
		sum = sum.Add(t.TripNet)
		if t.TripNet.IsPositive() {
			m.Wins++
		}
	}
	m.AvgTripNet = decimal.Zero
	if trips > 0 {
		m.WinRatePct = float64(m.Wins) * 100 / float64(trips)
		m.AvgTripNet = sum.Div(decimal.NewFromInt(int64(trips)))
	}
	if len(r.Series.Buckets) > 0 && r.Candles > 0 {
		m.TimeInMarketPct = float64(r.Series.InMarket) * 100 / float64(r.Candles)
		if r.Orders > 0 {
			m.FillRatePct = float64(r.Series.FilledOrders) * 100 / float64(r.Orders)
		}
	}
	return m
}

// ratioPct is part / whole in percent, rounded to 4 decimals (zero when
// whole is not positive).
func ratioPct(part, whole decimal.Decimal) decimal.Decimal {
	if !whole.IsPositive() {
		return decimal.Zero
	}
	return part.Mul(decimal.NewFromInt(100)).DivRound(whole, 4)
}

// DailyReturns are the run's returns from one UTC day's closing equity to
// the next, the first from the initial balance. A day's close is its last
// equity sample (Result.Equity; a sample at midnight closes the day before).
func (r Result) DailyReturns() []float64 {
	if !r.InitialBalance.IsPositive() || len(r.Equity) == 0 {
		return nil
	}
	var rets []float64
	prev := r.InitialBalance.InexactFloat64()
	day := dayOf(r.Equity[0].Time)
	last := prev
	for _, p := range r.Equity {
		if d := dayOf(p.Time); !d.Equal(day) {
			rets = append(rets, last/prev-1)
			prev, day = last, d
		}
		last = p.Equity.InexactFloat64()
	}
	return append(rets, last/prev-1)
}

func dayOf(t time.Time) time.Time { return t.Add(-time.Millisecond).UTC().Truncate(24 * time.Hour) }

// sharpeSortino annualises daily returns' Sharpe and Sortino ratios.
func sharpeSortino(rets []float64) (sharpe, sortino float64) {
	n := float64(len(rets))
	if len(rets) < 2 {
		return math.NaN(), math.NaN()
	}
	var sum, down float64
	for _, x := range rets {
		sum += x
		if x < 0 {
			down += x * x
		}
	}
	mean := sum / n
	var ss float64
	for _, x := range rets {
		ss += (x - mean) * (x - mean)
	}
	scale := math.Sqrt(365)
	sharpe, sortino = math.NaN(), math.NaN()
	if sd := math.Sqrt(ss / (n - 1)); sd > 0 {
		sharpe = mean / sd * scale
	}
	switch dd := math.Sqrt(down / n); {
	case dd > 0:
		sortino = mean / dd * scale
	case mean > 0:
		sortino = math.Inf(1)
	}
	return sharpe, sortino
}
