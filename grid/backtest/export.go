package backtest

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/grid"
)

// TimeFormat is the layout of times in the CSV exports: RFC 3339 in UTC
// with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// TradeColumns are the columns of [Result.WriteTradesCSV], in order. They
// are stable: later versions only append columns.
//
//	time        the fill's time (TimeFormat, UTC)
//	level       the grid level's index; "initial" for the initial
//	            position's market order, "close" for a hard stop's
//	            closing orders, empty for a liquidation
//	level_price the level's price (empty without a level)
//	side        BUY or SELL
//	role        entry, exit or liquidation
//	price       the fill's price
//	quantity    the fill's quantity (base)
//	fee         the fee (quote; positive paid, negative a rebate), exact:
//	            price × quantity × the maker or taker rate, not rounded
//	            (finer than the venue's 8 decimals); the column sums to
//	            Result.Fees exactly
//	realized    gross profit booked by the fill (quote)
//	maker       true for a resting order's fill, false for a taker's
//	round_trip  true on the exit fill that completed a round trip
//	trip_net    that round trip's profit net of its fees (else empty), as
//	            the engine booked it: with the fees the venue charged the
//	            wallet in whole Money units (Trade.TripNet)
var TradeColumns = []string{"time", "level", "level_price", "side", "role", "price", "quantity", "fee", "realized", "maker", "round_trip", "trip_net"}

// EquityColumns are the columns of [Result.WriteEquityCSV], in order, one
// row per equity sample (every Config.EquityEvery candles and at the end).
// They are stable: later versions only append columns.
//
// Money columns are exact, as the Result's totals are, not rounded to the
// Money unit (tick size × step size): the last row's equity is
// Result.FinalEquity and its funding Result.Funding, digit for digit, so
// the file reconciles with the summary and the JSON. Round for display.
//
//	time          the sample's time: the candle's close (TimeFormat, UTC)
//	price         the close price
//	equity        the account's equity (quote): the wallet, exact (fees
//	              and funding at full precision), plus the unrealized PnL
//	              at the close
//	buy_and_hold  the initial balance held in the base asset since the open
//	drawdown      the fall of equity from its peak among the samples (quote)
//	drawdown_pct  the same as a percentage of that peak
//	position      the grid's signed position (base; empty if not recorded)
//	margin        initial margin in use, positions and open orders (quote;
//	              empty if not recorded)
//	funding       cumulative funding, positive paid (quote, exact; empty if
//	              not recorded)
var EquityColumns = []string{"time", "price", "equity", "buy_and_hold", "drawdown", "drawdown_pct", "position", "margin", "funding"}

// WriteTradesCSV writes every recorded fill (Result.Trades) as CSV with a
// header row of TradeColumns.
func (r Result) WriteTradesCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(TradeColumns); err != nil {
		return fmt.Errorf("backtest: trades CSV: %w", err)
	}
	row := make([]string, len(TradeColumns))
	for i := range r.Trades {
		t := &r.Trades[i]
		row[0] = t.Time.UTC().Format(TimeFormat)
		row[1], row[2] = levelName(t), ""
		if !t.LevelPrice.IsZero() {
			row[2] = t.LevelPrice.String()
		}
		row[3], row[4] = t.Side.String(), t.Role.String()
		row[5], row[6], row[7], row[8] = t.Price.String(), t.Qty.String(), t.Fee.String(), t.Realized.String()
		row[9], row[10], row[11] = strconv.FormatBool(t.Maker), strconv.FormatBool(t.RoundTrip), ""
		if t.RoundTrip {
			row[11] = t.TripNet.String()
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("backtest: trades CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("backtest: trades CSV: %w", err)
	}
	return nil
}

func levelName(t *Trade) string {
	switch {
	case t.Role == RoleLiquidation:
		return ""
	case t.Level == grid.InitialLevel:
		return "initial"
	case t.Level == grid.CloseLevel:
		return "close"
	}
	return strconv.FormatInt(t.Level, 10)
}

// WriteEquityCSV writes the equity samples (Result.Equity) as CSV with a
// header row of EquityColumns.
func (r Result) WriteEquityCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(EquityColumns); err != nil {
		return fmt.Errorf("backtest: equity CSV: %w", err)
	}
	extra := make(map[time.Time]*Sample, len(r.Series.Samples))
	for i := range r.Series.Samples {
		extra[r.Series.Samples[i].Time.UTC()] = &r.Series.Samples[i]
	}
	peak := r.InitialBalance
	row := make([]string, len(EquityColumns))
	for _, p := range r.Equity {
		if p.Equity.GreaterThan(peak) {
			peak = p.Equity
		}
		dd := peak.Sub(p.Equity)
		row[0], row[1], row[2] = p.Time.UTC().Format(TimeFormat), p.Price.String(), p.Equity.String()
		row[3] = r.buyAndHoldAt(p.Price).String()
		row[4], row[5] = dd.String(), ratioPct(dd, peak).String()
		row[6], row[7], row[8] = "", "", ""
		if s := extra[p.Time.UTC()]; s != nil {
			row[6], row[7], row[8] = s.Position.String(), s.Margin.String(), s.Funding.String()
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("backtest: equity CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("backtest: equity CSV: %w", err)
	}
	return nil
}

// buyAndHoldAt is the buy-and-hold comparison's value at price, rounded
// as Result.BuyAndHold is.
func (r Result) buyAndHoldAt(price decimal.Decimal) decimal.Decimal {
	if !r.OpenPrice.IsPositive() {
		return decimal.Zero
	}
	return r.InitialBalance.Mul(price).Div(r.OpenPrice).Round(8)
}

// WriteJSON writes the whole Result as one indented JSON object: field
// names as in Go, decimals as strings, times in RFC 3339.
func (r Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("backtest: JSON: %w", err)
	}
	return nil
}
