package sim

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// TestIsolatedLiquidationLosesThePositionMargin: wallet 1000 USDT
// (10,000,000 Money), leverage 10, long 0.1 at 10000 (notional 10,000,000,
// taker fee 5,000, position margin 1,000,000). Isolated, the position is
// liquidated when 1,000,000 + 100(p − 100000) < 0.4 % × 100p, i.e.
// p < 9,000,000 / 99.6 = 90361.45: safe at 90362 (equity 36,200 ≥ MM
// 36,144.8), liquidated at 90361 (36,100 < 36,144.4). The wallet then ends
// at 9,995,000 − 1,000,000: the loss is the margin, whatever the close.
// In cross margin the same account is nowhere near liquidation.
func TestIsolatedLiquidationLosesThePositionMargin(t *testing.T) {
	open := func(mode exchange.MarginMode) *Core {
		c := newTestCore(t, func(cfg *CoreConfig) {
			cfg.InitialBalance, cfg.Leverage, cfg.MarginMode = 10_000_000, 10, mode
		})
		place(t, c, mkt(exchange.Buy, 100))
		place(t, c, buy(80000, 1))
		c.Events()
		require.Equal(t, exchange.Money(1_000_000), c.PositionMargin(exchange.PositionBoth))
		return c
	}
	c := open(exchange.Isolated)
	below, above, ok := c.LiquidationPrices()
	require.True(t, ok)
	assert.Equal(t, []exchange.Ticks{90361, 0}, []exchange.Ticks{below, above})
	assert.Equal(t, exchange.Money(36145), c.MaintenanceMargin(90362))
	c.Tick(at(1), 90362)
	assert.Empty(t, c.Events())
	c.Tick(at(2), 90361)
	evs := c.Events()
	// close 100 at 90361: realized −963,900, fee 4,518.05 (booked 4,518)
	assert.Equal(t, []brief{
		{EventCanceled, 2, 80000, 1, 0, 0, false, 0},
		{EventLiquidation, 3, 90361, 100, 100, 4518, false, -963900},
	}, briefs(evs))
	assert.Equal(t, exchange.Money(9_995_000-1_000_000), c.Wallet())
	// the close left 9,995,000 − 963,900 − 4,518 = 9,026,582: 31,582 above the bankruptcy price
	assert.Equal(t, exchange.Money(31_582), c.Stats().Insurance)
	assert.Equal(t, "899.5", c.ExactWallet().String(), "exactly the margin lost, the fee's sub-unit rest included")

	cross := open(exchange.Cross)
	below, _, ok = cross.LiquidationPrices()
	require.True(t, ok)
	assert.Equal(t, exchange.Ticks(50), below, "cross: the whole wallet backs the position")
	cross.Tick(at(1), 90361)
	assert.Empty(t, cross.Events())
}

// TestIsolatedHedgeLiquidatesOnlyTheSideBelowItsMargin: in hedge mode each
// side is its own isolated position; a fall liquidates the long only.
func TestIsolatedHedgeLiquidatesOnlyTheSideBelowItsMargin(t *testing.T) {
	c := newTestCore(t, func(cfg *CoreConfig) {
		cfg.InitialBalance, cfg.Leverage, cfg.MarginMode, cfg.PositionMode = 10_000_000, 10, exchange.Isolated, exchange.Hedge
	})
	place(t, c, OrderSpec{Side: exchange.Buy, PositionSide: exchange.PositionLong, Market: true, Qty: 100})
	place(t, c, OrderSpec{Side: exchange.Sell, PositionSide: exchange.PositionShort, Market: true, Qty: 50})
	c.Events()
	walletBefore := c.Wallet() // 10,000,000 − 5,000 − 2,500
	c.Tick(at(1), 90361)
	evs := c.Events()
	require.Len(t, evs, 1)
	assert.Equal(t, EventLiquidation, evs[0].Kind)
	assert.Equal(t, exchange.PositionLong, evs[0].PositionSide)
	q, _ := c.Position(exchange.PositionShort)
	assert.Equal(t, exchange.Steps(-50), q, "the short is untouched")
	assert.Equal(t, walletBefore-1_000_000, c.Wallet())
}

// TestBracketsRaiseTheMaintenanceMargin: tier 1 up to 500 USDT at 0.4 %,
// tier 2 above at 1 % less 30,000 Money (500 USDT × 0.6 %, Binance's cum).
// Long 0.1 at 10000 on a 100 USDT wallet (995,000 after the fee), notional
// 10,000,000 in tier 2: liquidated when 995,000 − 10,000,000 + 100p <
// p − 30,000, i.e. p < 8,975,000 / 99 = 90656.57: safe at 90657 (equity
// 60,700 ≥ 60,657), liquidated at 90656 (60,600 < 60,656). With the one
// 0.4 % tier of the default it would be 90411 (TestLiquidationLong).
func TestBracketsRaiseTheMaintenanceMargin(t *testing.T) {
	brackets := []Bracket{{NotionalCap: 5_000_000, Rate: 400_000}, {Rate: 1_000_000, Amount: 30_000}}
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.InitialBalance = 1_000_000; cfg.Brackets = brackets })
	place(t, c, mkt(exchange.Buy, 100))
	c.Events()
	assert.Equal(t, exchange.Money(16_000), c.MaintenanceMargin(40000), "tier 1: 4,000,000 × 0.4 %")
	assert.Equal(t, exchange.Money(60_657), c.MaintenanceMargin(90657), "tier 2: 9,065,700 × 1 % − 30,000")
	below, _, ok := c.LiquidationPrices()
	require.True(t, ok)
	assert.Equal(t, exchange.Ticks(90656), below)
	c.Tick(at(1), 90657)
	assert.Empty(t, c.Events())
	c.Tick(at(2), 90656)
	assert.Equal(t, int64(1), c.Stats().Liquidations)
}

func TestBracketValidation(t *testing.T) {
	cfg := DefaultCoreConfig(testRules())
	cfg.Brackets = []Bracket{{NotionalCap: 5_000_000, Rate: 400_000}, {NotionalCap: 4_000_000, Rate: 300_000, Amount: 7}, {Rate: 1_000_000, Amount: 1}}
	_, err := NewCore(cfg)
	require.ErrorIs(t, err, ErrInvalidConfig)
	for _, want := range []string{
		"CoreConfig.Brackets[1].NotionalCap = 4000000: must be above the previous tier's 5000000",
		"CoreConfig.Brackets[1].Rate = 300000: must not be below the previous tier's 400000",
		"CoreConfig.Brackets[2].Amount = 1: must be 28007",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

// TestSlippageMovesTakerFills: 2 ticks + 1 bp of 100000 (10 ticks) = 12
// ticks against the order; a crossing limit never fills beyond its price.
func TestSlippageMovesTakerFills(t *testing.T) {
	c := newTestCore(t, func(cfg *CoreConfig) {
		cfg.SlippageTicks, cfg.SlippageRate = 2, 10_000
		cfg.MakerFee, cfg.TakerFee = 0, 0
	})
	place(t, c, mkt(exchange.Buy, 10))
	place(t, c, mkt(exchange.Sell, 10))
	place(t, c, buy(100005, 1))
	evs := briefs(c.Events())
	assert.Equal(t, []exchange.Ticks{100012, 99988, 100005}, []exchange.Ticks{evs[0].Price, evs[1].Price, evs[2].Price})
	assert.Equal(t, exchange.Money(12*10+12*10+5), c.Stats().Slippage)
	// the round trip lost 24 ticks × 10 steps
	assert.Equal(t, exchange.Money(1_000_000_000-240-100005+100000), c.Equity(100000))
}

// TestExactFeesAndFunding: fees and funding are exact in total, and the
// booked whole-Money amounts sum to that total rounded.
func TestExactFeesAndFunding(t *testing.T) {
	c := newTestCore(t, nil)
	var booked exchange.Money
	for i := range 3 {
		c.Tick(at(2*i), 100000)
		place(t, c, mkt(exchange.Buy, 3)) // 300,000 × 0.05 % = 150
		c.Tick(at(2*i+1), 99999)
		place(t, c, mkt(exchange.Buy, 7)) // 699,993 × 0.05 % = 349.9965
	}
	for _, e := range c.Events() {
		booked += e.Fee
	}
	// 3 × (150 + 349.9965) = 1499.9895 Money → 0.14999895 USDT
	assert.Equal(t, "0.14999895", c.ExactFees().String())
	assert.Equal(t, exchange.Money(1500), booked)
	assert.Equal(t, booked, c.Stats().FeesPaid)

	// long 30 steps (0.03 BTC); funding 0.01 % at mark 10000.12345678:
	// 0.03 × 10000.12345678 × 0.0001 = 0.0300003703703 4 USDT: 300.0037037034 Money
	c.ApplyFundingAtMark(at(1), 10_000, decimal.RequireFromString("10000.12345678"))
	evs := c.Events()
	require.Len(t, evs, 1)
	assert.Equal(t, exchange.Ticks(100001), evs[0].Price)
	assert.Equal(t, exchange.Money(300), evs[0].Funding)
	assert.Equal(t, "0.030000370370", c.ExactFunding().StringFixed(12))
	// wallet 100,000 − 0.14999895 − 0.0300003703700 (to a fine unit, 1e-12 USDT)
	assert.Equal(t, "99999.82000067963", c.ExactWallet().String())

	// The same exact figures as integers: whole Money units and 1e-8 of one.
	unit := decimal.New(1, -4)
	units := func(whole exchange.Money, frac int64) string {
		return decimal.NewFromInt(int64(whole)).Add(decimal.New(frac, -8)).Mul(unit).String()
	}
	assert.Equal(t, c.ExactWallet().String(), units(c.ExactWalletUnits()))
	assert.Equal(t, c.ExactFunding().String(), units(c.ExactFundingUnits()))
	whole, frac := c.ExactWalletUnits()
	// booked 1e9 − 1500 − 300; exact 0.0067963 of a unit more (fees 0.0105
	// and funding −0.0037037 below what was booked)
	assert.Equal(t, exchange.Money(999998200), whole)
	assert.Equal(t, int64(679630), frac)
	assert.Equal(t, c.Wallet(), whole)
}
