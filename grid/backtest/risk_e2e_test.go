package backtest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// TestPositionModeMismatchIsRefused is the regression test of issue 10's
// misconfiguration: a grid in one position mode against a simulator in the
// other used to run to the end with no error, 0 trades and every order
// refused. Run refuses it at start, naming both settings.
func TestPositionModeMismatchIsRefused(t *testing.T) {
	candles := []pricefeed.Candle{candle(t, 0, "102", "103", "99", "101"), candle(t, 1, "101", "106", "100.5", "106")}
	for _, tc := range []struct {
		gridMode, simMode exchange.PositionMode
		want              string
	}{
		{exchange.Hedge, exchange.OneWay, "backtest: the grid's position mode (grid.WithPositionMode) is HEDGE but the simulator's (Config.Sim.PositionMode) is ONE_WAY: they must match"},
		{exchange.OneWay, exchange.Hedge, "backtest: the grid's position mode (grid.WithPositionMode) is ONE_WAY but the simulator's (Config.Sim.PositionMode) is HEDGE: they must match"},
	} {
		sc := sim.DefaultCoreConfig(handRules)
		sc.InitialBalance, _ = handRules.DecimalToMoney(dec("1000"))
		sc.PositionMode = tc.simMode
		_, err := Run(candles, Config{Rules: handRules, Sim: sc, Grid: []grid.Option{
			grid.WithMode(grid.Neutral), grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1")), grid.WithPositionMode(tc.gridMode),
		}})
		require.Error(t, err)
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%T", err)
		assert.ErrorIs(t, err, exchange.ErrPositionMode)
		assert.Contains(t, err.Error(), tc.want)
	}
}

// recorder is a monitor that records what it sees and never triggers.
type recorder struct{ obs []risk.Observation }

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Observe(o risk.Observation) risk.Status {
	r.obs = append(r.obs, o)
	return risk.Status{}
}

// TestObservationsCarryTheReplayClockAndTheirData checks what every
// built-in monitor is fed in a backtest: observations in time order, each
// stamped with the replay's clock (a fill with its tick's time, the rest
// with the candle's end), never the wall clock; account observations
// carrying the venue's positions (quantity, mark, liquidation price) and
// equity; and the grid's own books.
func TestObservationsCarryTheReplayClockAndTheirData(t *testing.T) {
	sc := sim.DefaultCoreConfig(handRules)
	sc.InitialBalance, _ = handRules.DecimalToMoney(dec("1000"))
	sc.Leverage = 10
	candles := []pricefeed.Candle{
		candle(t, 0, "102", "103", "99", "101"),
		candle(t, 1, "101", "106", "100.5", "106"),
		candle(t, 2, "106", "111", "94", "96"),
		candle(t, 3, "96", "101", "96", "101"),
	}
	rec := &recorder{}
	_, err := Run(candles, Config{Rules: handRules, Sim: sc, Slippage: &Slippage{}, Grid: []grid.Option{
		grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1")), grid.WithRiskMonitors(0, rec),
	}})
	require.NoError(t, err)
	start := time.UnixMilli(candles[0].OpenTime)
	end := time.UnixMilli(candles[len(candles)-1].OpenTime).Add(time.Minute)
	kinds := map[risk.ObservationKind]int{}
	var last time.Time
	for i, o := range rec.obs {
		kinds[o.Kind]++
		require.False(t, o.Time.Before(last), "observation %d (%s) at %s is before the one before it at %s", i, o.Kind, o.Time, last)
		require.False(t, o.Time.Before(start) || o.Time.After(end), "observation %d (%s) at %s is outside the replay", i, o.Kind, o.Time)
		last = o.Time
		if o.Kind != risk.KindFill {
			assert.Zero(t, o.Time.Sub(start)%time.Minute, "observation %d (%s) at %s is not at a candle's end", i, o.Kind, o.Time)
		}
	}
	assert.Equal(t, 4, kinds[risk.KindKline])
	assert.Equal(t, 4, kinds[risk.KindPrice])
	assert.Equal(t, 4, kinds[risk.KindAccount])
	assert.Equal(t, 4, kinds[risk.KindBooks])
	assert.Equal(t, 8, kinds[risk.KindFill], "one per fill, at its tick's time")

	// After the last candle: 2 held at 101, in one-way mode. The venue
	// books average entry (buys 102, 100; sells 105, 110; buys 105, 100,
	// 95 → 3 at 100; sell 100 → 2 at 100): entry 100, unrealized +2, wallet
	// 1012.806. The grid books per slot (1 @105, 1 @100): unrealized −3,
	// realized 18. Both come to the same equity change, 14.806.
	var acct, books risk.Observation
	for _, o := range rec.obs {
		switch o.Kind {
		case risk.KindAccount:
			acct = o
		case risk.KindBooks:
			books = o
		}
	}
	require.Len(t, acct.Positions, 1)
	p := acct.Positions[0]
	assert.Equal(t, "TESTUSDT", p.Symbol)
	assert.Equal(t, exchange.PositionBoth, p.PositionSide)
	assert.Equal(t, "2", p.Quantity.String())
	assert.Equal(t, "100", p.EntryPrice.String())
	assert.Equal(t, "101", p.MarkPrice.String())
	assert.Equal(t, "2", p.UnrealizedPnL.String())
	assert.True(t, p.LiquidationPrice.IsZero(), "1000 USDT carries 2 units at 10x: no liquidation price above zero")
	assert.Equal(t, "1014.806", acct.Account.TotalMargin.String())
	assert.Equal(t, "1012.806", acct.Account.TotalWallet.String())
	// The grid's own books: realized 18, fees 0.194, unrealized −3 at 101.
	b := books.Books
	assert.Equal(t, []string{"18", "-3", "0.194", "0"}, []string{b.Realized.String(), b.Unrealized.String(), b.Fees.String(), b.Funding.String()})
	assert.Equal(t, "14.806", books.Books.Net().String())
}
