package risk

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var d = decimal.RequireFromString

func buy(p, q, x string, initial bool) PlanLevel {
	return PlanLevel{Price: d(p), Qty: d(q), EntrySide: exchange.Buy, ExitPrice: d(x), Initial: initial}
}

func sell(p, q, x string, initial bool) PlanLevel {
	return PlanLevel{Price: d(p), Qty: d(q), EntrySide: exchange.Sell, ExitPrice: d(x), Initial: initial}
}

var testRules = exchange.Rules{Symbol: "TESTUSDT", TickSize: d("0.1"), StepSize: d("0.001"), MinQty: d("0.001"), MinNotional: d("5")}

// longPlan is a bounded long grid from 96 to 104 started at 100: entries
// rest at 96 and 98, and the pairs 100→102 and 102→104 are bought at once.
func longPlan() Plan {
	return Plan{
		Symbol: "TESTUSDT", Rules: testRules, Direction: Long,
		StartPrice: d("100"), Lower: d("96"), Upper: d("104"),
		Levels:   []PlanLevel{buy("96", "1", "98", false), buy("98", "1", "100", false), buy("100", "1", "102", true), buy("102", "1", "104", true)},
		Leverage: 5, MarginMode: exchange.Cross, PositionMode: exchange.OneWay,
		MakerFee: d("0.0002"), TakerFee: d("0.0005"), MaintenanceRate: d("0.005"),
	}
}

// shortPlan mirrors longPlan: entries rest at 102 and 104, and 100→98 and
// 98→96 are sold at once.
func shortPlan() Plan {
	p := longPlan()
	p.Direction = Short
	p.Levels = []PlanLevel{sell("104", "1", "102", false), sell("102", "1", "100", false), sell("100", "1", "98", true), sell("98", "1", "96", true)}
	return p
}

// neutralPlan buys at 96 and 98 and sells at 102 and 104, in hedge mode.
func neutralPlan() Plan {
	p := longPlan()
	p.Direction = Neutral
	p.PositionMode = exchange.Hedge
	p.Levels = []PlanLevel{buy("96", "1", "98", false), buy("98", "1", "100", false), sell("102", "1", "100", false), sell("104", "1", "102", false)}
	return p
}

// trailingPlan is a trailing long grid holding at most 2 of its levels.
func trailingPlan() Plan {
	p := longPlan()
	p.Lower, p.Upper = decimal.Decimal{}, decimal.Decimal{}
	p.Trailing, p.LayerCap = true, 2
	p.Levels = []PlanLevel{buy("97", "1", "98", false), buy("99", "1", "100", false), buy("96", "1", "97", false), buy("98", "1", "99", false)}
	return p
}

func input(p Plan, avail string) CheckInput {
	return CheckInput{
		Plan:      p,
		Account:   exchange.Account{AvailableBalance: d(avail), CanTrade: true, PositionMode: p.PositionMode},
		Positions: []exchange.Position{{Symbol: p.Symbol, Leverage: p.Leverage, MarginMode: p.MarginMode}},
		Rules:     testRules,
	}
}

// checkErrors returns every *CheckError in err, in order.
func checkErrors(t *testing.T, err error) []*CheckError {
	t.Helper()
	var out []*CheckError
	var walk func(error)
	walk = func(e error) {
		if ce, ok := e.(*CheckError); ok {
			out = append(out, ce)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}

func TestPlanValidate(t *testing.T) {
	require.NoError(t, longPlan().Validate())
	require.NoError(t, shortPlan().Validate())
	require.NoError(t, neutralPlan().Validate())
	require.NoError(t, trailingPlan().Validate())
	tests := []struct {
		name   string
		mutate func(*Plan)
		want   string
	}{
		{"symbol", func(p *Plan) { p.Symbol = "" }, `risk: Plan.Symbol = "": must not be empty`},
		{"direction", func(p *Plan) { p.Direction = 0 }, "risk: Plan.Direction = Direction(0): must be LONG, SHORT or NEUTRAL"},
		{"start", func(p *Plan) { p.StartPrice = d("0") }, "risk: Plan.StartPrice = 0: must be positive"},
		{"start outside", func(p *Plan) { p.StartPrice = d("105") }, "risk: Plan.StartPrice = 105: must be within [Lower, Upper] = [96, 104]"},
		{"upper", func(p *Plan) { p.Upper = d("96") }, "risk: Plan.Upper = 96: must be above Lower 96"},
		{"lower", func(p *Plan) { p.Lower = d("-1") }, "risk: Plan.Lower = -1: must be positive for a bounded grid"},
		{"trailing cap", func(p *Plan) { p.Trailing, p.LayerCap = true, 0 }, "risk: Plan.LayerCap = 0: must be positive for a trailing grid: without it the worst case has no bound"},
		{"leverage", func(p *Plan) { p.Leverage = 0 }, "risk: Plan.Leverage = 0: must be at least 1"},
		{"margin mode", func(p *Plan) { p.MarginMode = 7 }, "risk: Plan.MarginMode = MarginMode(7): must be CROSSED or ISOLATED"},
		{"maker fee", func(p *Plan) { p.MakerFee = d("1") }, "risk: Plan.MakerFee = 1: must be a fraction between -1 and 1 (0.0002 is 0.02%)"},
		{"maintenance", func(p *Plan) { p.MaintenanceRate = d("0") }, "risk: Plan.MaintenanceRate = 0: must be a fraction in (0, 1) (0.005 is 0.5%)"},
		{"no levels", func(p *Plan) { p.Levels = nil }, "risk: Plan.Levels = []: must not be empty"},
		{"level qty", func(p *Plan) { p.Levels[1].Qty = d("-1") }, "risk: Plan.Levels[1].Qty = -1: must be positive"},
		{"level exit", func(p *Plan) { p.Levels[0].ExitPrice = d("95") }, "risk: Plan.Levels[0].ExitPrice = 95: must be above the BUY entry price 96"},
		{"level side", func(p *Plan) { p.Levels[0].EntrySide = 0 }, "risk: Plan.Levels[0].EntrySide = Side(0): must be BUY or SELL"},
		{"initial side", func(p *Plan) { p.Levels[0] = sell("96", "1", "94", true) }, "risk: Plan.Levels[0].Initial = true: the initial position of a LONG grid is bought"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := longPlan()
			p.Levels = append([]PlanLevel(nil), p.Levels...)
			tc.mutate(&p)
			err := p.Validate()
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			var fe *FieldError
			assert.True(t, errors.As(err, &fe))
		})
	}
	// Every problem is reported at once.
	p := longPlan()
	p.Symbol, p.Leverage = "", 0
	assert.Equal(t, "risk: Plan.Symbol = \"\": must not be empty\nrisk: Plan.Leverage = 0: must be at least 1", p.Validate().Error())
}

func TestMarginCheck(t *testing.T) {
	// Long, falling to 96: the initial 2 bought at 100 (cost 200, taker fee
	// 0.1) and the entries at 96 and 98 (cost 194, maker fee 0.0388):
	// position 4 at 98.5. Margin 394/5 = 78.8, loss at 96 = 394 − 384 = 10,
	// need (78.8 + 0.1388 + 10) × 1.2 = 106.72656.
	in := input(longPlan(), "100")
	err := MarginCheck{}.Check(in)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrCheckFailed)
	var ce *CheckError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "margin", ce.Check)
	assert.Equal(t, "worst case: price falls to 96 with 4 levels filled (long 4 at average entry 98.5): margin 78.8 + fees 0.1388 + loss 10 = 88.9388, × safety factor 1.2 = 106.72656 needed, 100 available; short by 6.72656: add balance, lower the order size or narrow the range", ce.Reason)
	assert.Equal(t, "6.72656", ce.Short.String())

	assert.NoError(t, MarginCheck{}.Check(input(longPlan(), "106.72656")), "exactly covered passes")

	one, err := NewMarginCheck(d("1"))
	require.NoError(t, err)
	assert.Equal(t, "1", one.SafetyFactor().String())
	assert.NoError(t, one.Check(input(longPlan(), "88.9388")))
	err = one.Check(input(longPlan(), "88.9387"))
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "0.0001", ce.Short.String())

	_, err = NewMarginCheck(d("0.9"))
	assert.EqualError(t, err, "risk: MarginCheck.SafetyFactor = 0.9: must be at least 1")
	assert.Equal(t, "1.2", MarginCheck{}.SafetyFactor().String())
}

func TestMarginCheckScenarios(t *testing.T) {
	tests := []struct {
		name   string
		plan   Plan
		avail  string
		pos    []exchange.Position
		shorts []string
		reason string
	}{
		// Short, rising to 104: sold 2 at 100 (fee 0.1) and entries at 102
		// and 104 (fee 0.0412): cost 406, margin 81.2, loss 416 − 406 = 10,
		// need 91.3412 × 1.2 = 109.60944.
		{name: "short", plan: shortPlan(), avail: "100", shorts: []string{"9.60944"},
			reason: "worst case: price rises to 104 with 4 levels filled (short 4 at average entry 101.5): margin 81.2 + fees 0.1412 + loss 10 = 91.3412, × safety factor 1.2 = 109.60944 needed, 100 available; short by 9.60944: add balance, lower the order size or narrow the range"},
		{name: "short covered", plan: shortPlan(), avail: "109.60944"},
		// Neutral: down needs (38.8 + 0.0388 + 2) × 1.2 = 49.00656, up
		// needs (41.2 + 0.0412 + 2) × 1.2 = 51.88944: only up fails at 50.
		{name: "neutral up", plan: neutralPlan(), avail: "50", shorts: []string{"1.88944"},
			reason: "worst case: price rises to 104 with 2 levels filled (short 2 at average entry 103): margin 41.2 + fees 0.0412 + loss 2 = 43.2412, × safety factor 1.2 = 51.88944 needed, 50 available; short by 1.88944: add balance, lower the order size or narrow the range"},
		{name: "neutral both", plan: neutralPlan(), avail: "40", shorts: []string{"9.00656", "11.88944"}},
		// Trailing, LayerCap 2: the two nearest buys, 99 and 98, far bound
		// 98: cost 197, margin 39.4, fees 0.0394, loss 1: 40.4394 × 1.2.
		{name: "trailing", plan: trailingPlan(), avail: "48", shorts: []string{"0.52728"},
			reason: "worst case: price falls to 98 with 2 levels filled (long 2 at average entry 98.5): margin 39.4 + fees 0.0394 + loss 1 = 40.4394, × safety factor 1.2 = 48.52728 needed, 48 available; short by 0.52728: add balance, lower the order size or narrow the range"},
		// A long 2 at 100 held before the start loses 8 more at 96; its
		// margin is already out of the available balance.
		{name: "baseline", plan: longPlan(), avail: "116", shorts: []string{"0.32656"},
			pos: []exchange.Position{{Symbol: "TESTUSDT", Quantity: d("2"), EntryPrice: d("100"), Leverage: 5},
				{Symbol: "OTHERUSDT", Quantity: d("50"), EntryPrice: d("1")}},
			reason: "worst case: price falls to 96 with 4 levels filled (long 6 at average entry 99 (incl. 2 held before the start)): margin 78.8 + fees 0.1388 + loss 18 = 96.9388, × safety factor 1.2 = 116.32656 needed, 116 available; short by 0.32656: add balance, lower the order size or narrow the range"},
		// A maker rebate is not counted as income: (78.8 + 0.1 + 10) × 1.2 = 106.68.
		{name: "rebate", plan: func() Plan { p := longPlan(); p.MakerFee = d("-0.0001"); return p }(), avail: "106.6799", shorts: []string{"0.0001"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := input(tc.plan, tc.avail)
			if tc.pos != nil {
				in.Positions = tc.pos
			}
			err := MarginCheck{}.Check(in)
			ces := checkErrors(t, err)
			require.Len(t, ces, len(tc.shorts), "%v", err)
			for i, ce := range ces {
				assert.Equal(t, tc.shorts[i], ce.Short.String())
			}
			if tc.reason != "" {
				assert.Equal(t, tc.reason, ces[0].Reason)
			}
		})
	}
	p := trailingPlan()
	p.LayerCap = 5
	err := MarginCheck{}.Check(input(p, "1000"))
	assert.EqualError(t, err, "risk check margin: risk: Plan.Levels = 4 BUY entry levels: a trailing grid must list at least LayerCap 5 levels (0 initial)")
}

func TestLiquidationPrice(t *testing.T) {
	tests := []struct {
		long       bool
		mode       exchange.MarginMode
		entry, qty string
		collateral string
		lev        int
		want       string
	}{
		{true, exchange.Isolated, "98.5", "4", "0", 5, "79.19597989"},   // 98.5 × 0.8 / 0.995
		{true, exchange.Isolated, "98.5", "4", "0", 50, "97.01507537"},  // 98.5 × 0.98 / 0.995
		{false, exchange.Isolated, "100", "1", "0", 10, "109.45273631"}, // 100 × 1.1 / 1.005
		{true, exchange.Cross, "98.5", "4", "100", 5, "73.86934673"},    // (394 − 100) / 3.98
		{true, exchange.Cross, "98.5", "4", "10", 5, "96.48241206"},     // (394 − 10) / 3.98
		{true, exchange.Cross, "98.5", "4", "500", 5, "-26.63316582"},   // (394 − 500) / 3.98: cannot be liquidated
		{false, exchange.Cross, "101.5", "4", "10", 5, "103.48258706"},  // (406 + 10) / 4.02
		{true, exchange.Cross, "100", "0", "10", 5, "0"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			got := LiquidationPrice(tc.long, tc.mode, d(tc.entry), d(tc.qty), d(tc.collateral), d("0.005"), tc.lev)
			assert.Equal(t, tc.want, got.Truncate(8).String())
		})
	}
}

func TestLiquidationCheck(t *testing.T) {
	assert.NoError(t, LiquidationCheck{}.Check(input(longPlan(), "100")))

	err := LiquidationCheck{}.Check(input(longPlan(), "10"))
	var ce *CheckError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "liquidation", ce.Check)
	assert.Equal(t, "worst case: price falls to 96 with 4 levels filled (long 4 at average entry 98.5): liquidation at 96.48241206 (cross, collateral 10, maintenance 0.5%), inside the range [96, 104]; it must lie below the far bound 96: lower the leverage, add balance or narrow the range", ce.Reason)
	assert.Equal(t, "0.48241206", ce.Short.String())

	p := longPlan()
	p.MarginMode, p.Leverage = exchange.Isolated, 20 // 98.5 × 0.95 / 0.995 = 94.05
	assert.NoError(t, LiquidationCheck{}.Check(input(p, "10")))
	p.Leverage = 50
	err = LiquidationCheck{}.Check(input(p, "10"))
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "worst case: price falls to 96 with 4 levels filled (long 4 at average entry 98.5): liquidation at 97.01507538 (isolated, leverage 50x, maintenance 0.5%), inside the range [96, 104]; it must lie below the far bound 96: lower the leverage, add balance or narrow the range", ce.Reason)
	p.Leverage = 125 // 98.5 × 0.992 / 0.995 = 98.203
	err = LiquidationCheck{}.Check(input(p, "10"))
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Reason, "liquidation at 98.20301508 (isolated, leverage 125x, maintenance 0.5%), inside the range [96, 104]")

	err = LiquidationCheck{}.Check(input(shortPlan(), "10"))
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "worst case: price rises to 104 with 4 levels filled (short 4 at average entry 101.5): liquidation at 103.48258706 (cross, collateral 10, maintenance 0.5%), inside the range [96, 104]; it must lie above the far bound 104: lower the leverage, add balance or narrow the range", ce.Reason)
	assert.Equal(t, "0.51741294", ce.Short.String())

	// A 5 % buffer: the limit is 96 × 0.95 = 91.2.
	buf, err := NewLiquidationCheck(d("0.05"))
	require.NoError(t, err)
	assert.NoError(t, buf.Check(input(longPlan(), "40"))) // (394 − 40) / 3.98 = 88.94
	err = buf.Check(input(longPlan(), "30"))              // (394 − 30) / 3.98 = 91.457
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Reason, "liquidation at 91.45728643 (cross, collateral 30, maintenance 0.5%), inside the range [96, 104]; it must lie below 91.2 (the far bound 96 less 5%)")
	assert.Equal(t, "0.25728643", ce.Short.String())

	tp := trailingPlan()
	err = LiquidationCheck{}.Check(input(tp, "1"))
	require.ErrorAs(t, err, &ce)
	// (197 − 1) / (2 × 0.995) = 98.49: above the start, i.e. liquidated at once.
	assert.Contains(t, ce.Reason, "liquidation at 98.49246231 (cross, collateral 1, maintenance 0.5%), inside the range [98, 100] (LayerCap 2)")

	_, err = NewLiquidationCheck(d("1"))
	assert.EqualError(t, err, "risk: LiquidationCheck.Buffer = 1: must be a fraction in [0, 1)")
}

func TestProfitCheck(t *testing.T) {
	assert.NoError(t, ProfitCheck{}.Check(input(longPlan(), "0")))

	// An interval of 0.03 at 100 against 2 × 0.02 % of about 100 = 0.040006.
	p := longPlan()
	p.Rules.TickSize = d("0.01")
	p.Levels = []PlanLevel{buy("99.97", "1", "100", false), buy("100", "1", "100.03", false)}
	err := ProfitCheck{}.Check(input(p, "0"))
	var ce *CheckError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "profit", ce.Check)
	assert.Equal(t, "2 of 2 round trips lose after fees; worst level 1 (BUY 100 → SELL 100.03, qty 1): interval 0.03, fees 0.040006 at maker fee 0.02% each side, net -0.010006 = -0.01% of the entry notional; needs a net profit above zero: widen the grid interval or lower the fees", ce.Reason)
	assert.Equal(t, "0.010006", ce.Short.String())

	// A maker rebate is a negative fee: 0.03 + 0.020003 profit.
	p.MakerFee = d("-0.0001")
	assert.NoError(t, ProfitCheck{}.Check(input(p, "0")))

	// Asking for a 0.1 % margin: the short-side level earns 2 − 0.0388 on 96.
	sp := shortPlan()
	min, err := NewProfitCheck(d("0.021"))
	require.NoError(t, err)
	err = min.Check(input(sp, "0"))
	require.ErrorAs(t, err, &ce)
	// Level 0 sells 104 → 102: net 2 − 206 × 0.0002 = 1.9588, 1.8835% of 104.
	assert.Equal(t, "4 of 4 round trips lose after fees; worst level 0 (SELL 104 → BUY 102, qty 1): interval 2, fees 0.0412 at maker fee 0.02% each side, net 1.9588 = 1.8835% of the entry notional; needs a net margin above 2.1%: widen the grid interval or lower the fees", ce.Reason)
	assert.Equal(t, "0.2252", ce.Short.String()) // 0.021 × 104 − 1.9588

	_, err = NewProfitCheck(d("-0.1"))
	assert.EqualError(t, err, "risk: ProfitCheck.MinMargin = -0.1: must be a fraction in [0, 1)")
}

func TestPositionCapacityCheck(t *testing.T) {
	// Initial 2 × 100 / 5 = 40, then 98 / 5 = 19.6 and 96 / 5 = 19.2.
	assert.NoError(t, PositionCapacityCheck{}.Check(input(longPlan(), "78.8")))
	err := PositionCapacityCheck{}.Check(input(longPlan(), "60"))
	var ce *CheckError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "available balance 60 at 5x leverage carries the initial position (margin 40) and 1 of the 2 BUY entry levels required (margin needed 78.8): add balance or lower the order size", ce.Reason)
	assert.Equal(t, "18.8", ce.Short.String())

	err = PositionCapacityCheck{}.Check(input(longPlan(), "30"))
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "available balance 30 at 5x leverage does not carry even the initial position (margin 40), let alone the 2 BUY entry levels required (margin needed 78.8): add balance or lower the order size", ce.Reason)

	one, err := NewPositionCapacityCheck(1)
	require.NoError(t, err)
	assert.NoError(t, one.Check(input(longPlan(), "59.6")))
	assert.Equal(t, 5, PositionCapacityCheck{}.MinPositions())

	// Neutral: each side on its own; 98 / 5 + 96 / 5 = 38.8 below,
	// 102 / 5 + 104 / 5 = 41.2 above.
	err = PositionCapacityCheck{}.Check(input(neutralPlan(), "40"))
	ces := checkErrors(t, err)
	require.Len(t, ces, 1)
	assert.Equal(t, "available balance 40 at 5x leverage carries 1 of the 2 SELL entry levels required (margin needed 41.2): add balance or lower the order size", ces[0].Reason)

	_, err = NewPositionCapacityCheck(0)
	assert.EqualError(t, err, "risk: PositionCapacityCheck.MinPositions = 0: must be at least 1")
}

func TestLeverageCheck(t *testing.T) {
	p := longPlan()
	p.Leverage = 10
	assert.NoError(t, LeverageCheck{}.Check(input(p, "0")))
	p.Leverage = 13
	err := LeverageCheck{}.Check(input(p, "0"))
	var ce *CheckError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "leverage 13x is above the maximum 10x: lower the plan's leverage", ce.Reason)
	assert.Equal(t, "3", ce.Short.String())
	c, err := NewLeverageCheck(20)
	require.NoError(t, err)
	assert.NoError(t, c.Check(input(p, "0")))
	_, err = NewLeverageCheck(0)
	assert.EqualError(t, err, "risk: LeverageCheck.Max = 0: must be at least 1")
}

func TestAccountConfigCheck(t *testing.T) {
	assert.NoError(t, AccountConfigCheck{}.Check(input(longPlan(), "0")))
	assert.NoError(t, AccountConfigCheck{}.Check(input(neutralPlan(), "0")))

	in := input(longPlan(), "0")
	in.Account = exchange.Account{PositionMode: exchange.Hedge, MultiAssets: true}
	in.Positions = []exchange.Position{
		{Symbol: "TESTUSDT", PositionSide: exchange.PositionLong, Leverage: 20, MarginMode: exchange.Isolated},
		{Symbol: "TESTUSDT", PositionSide: exchange.PositionShort, Leverage: 20, MarginMode: exchange.Isolated},
		{Symbol: "OTHERUSDT", Leverage: 3},
	}
	var reasons []string
	for _, ce := range checkErrors(t, AccountConfigCheck{}.Check(in)) {
		assert.Equal(t, "account-config", ce.Check)
		reasons = append(reasons, ce.Reason)
	}
	assert.Equal(t, []string{
		"the account cannot trade (CanTrade is false): enable trading for the account and the API key",
		"position mode is HEDGE, the plan needs ONE_WAY: change the account's position mode to ONE_WAY (with no open position or order)",
		"multi-assets mode is on: turn multi-assets (multi-currency margin) mode off",
		"leverage of TESTUSDT is 20x, the plan needs 5x: set the symbol's leverage to 5",
		"margin mode of TESTUSDT is ISOLATED, the plan needs CROSSED: change the symbol's margin mode to CROSSED",
	}, reasons)

	in = input(longPlan(), "0")
	in.Account.MultiAssets = true
	assert.Error(t, AccountConfigCheck{}.Check(in))
	assert.NoError(t, AccountConfigCheck{AllowMultiAssets: true}.Check(in))

	in = input(longPlan(), "0")
	in.Positions = nil
	assert.EqualError(t, AccountConfigCheck{}.Check(in), "risk check account-config: the venue reported no position entry for TESTUSDT, so its leverage and margin mode cannot be verified: fetch the symbol's positions (flat entries included) or allow unreported settings")
	assert.NoError(t, AccountConfigCheck{AllowUnreported: true}.Check(in))

	np := neutralPlan()
	np.PositionMode = exchange.OneWay
	in = input(np, "0")
	assert.EqualError(t, AccountConfigCheck{}.Check(in), "risk check account-config: a NEUTRAL grid trades in HEDGE position mode but the plan says ONE_WAY: plan the grid in HEDGE mode")
	assert.NoError(t, AccountConfigCheck{AllowOneWayNeutral: true}.Check(in))
}

func TestRulesCheck(t *testing.T) {
	assert.NoError(t, RulesCheck{}.Check(input(longPlan(), "0")))

	p := longPlan()
	p.Levels = append([]PlanLevel(nil), p.Levels...)
	p.Levels[0].Qty = d("0.0005")
	p.Levels[1].ExitPrice = d("100.05")
	p.Levels[3].Qty = d("0.04") // 102 × 0.04 = 4.08 < 5
	err := RulesCheck{}.Check(input(p, "0"))
	assert.ErrorIs(t, err, exchange.ErrInvalidOrder)
	var re *exchange.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "quantity", re.Field)
	assert.EqualError(t, err, "risk check rules: 3 of 4 levels break the symbol's rules: "+
		"level 0 entry 96 × 0.0005: TESTUSDT: quantity 0.0005 is not a multiple of 0.001, exit 98 × 0.0005: TESTUSDT: quantity 0.0005 is not a multiple of 0.001; "+
		"level 1 exit 100.05 × 1: TESTUSDT: price 100.05 is not a multiple of 0.1; "+
		"level 3 entry 102 × 0.04: TESTUSDT: notional 4.08 is below MinNotional 5, exit 104 × 0.04: TESTUSDT: notional 4.16 is below MinNotional 5")

	in := input(longPlan(), "0")
	in.Rules.TickSize = d("0.01")
	assert.EqualError(t, RulesCheck{}.Check(in), "risk check rules: the plan was built with TickSize 0.1 but the venue's TickSize is 0.01: rebuild the grid with the current rules")

	in = input(longPlan(), "0")
	in.Rules = exchange.Rules{} // the plan's own rules are used
	assert.NoError(t, RulesCheck{}.Check(in))
}

func TestRunChecks(t *testing.T) {
	assert.NoError(t, RunChecks(input(longPlan(), "200"), DefaultChecks()...))
	assert.NoError(t, RunChecks(input(longPlan(), "200")))

	plain := errors.New("funding too high")
	custom := CheckFunc{Label: "funding", Fn: func(CheckInput) error { return plain }}
	err := RunChecks(input(longPlan(), "100"), LeverageCheck{}, nil, MarginCheck{}, custom, CheckFunc{Label: "noop"})
	ces := checkErrors(t, err)
	require.Len(t, ces, 2)
	assert.Equal(t, "margin", ces[0].Check)
	assert.Equal(t, "funding", ces[1].Check)
	assert.Equal(t, "funding too high", ces[1].Reason)
	assert.ErrorIs(t, err, plain)
	assert.ErrorIs(t, err, ErrCheckFailed)

	// An invalid plan fails alone, and no check runs on it.
	bad := longPlan()
	bad.Leverage = 0
	ran := false
	err = RunChecks(input(bad, "100"), CheckFunc{Label: "spy", Fn: func(CheckInput) error { ran = true; return nil }})
	assert.False(t, ran)
	assert.EqualError(t, err, "risk check plan: invalid plan: risk: Plan.Leverage = 0: must be at least 1")
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "Plan.Leverage", fe.Field)

	// Each built-in refuses an invalid plan on its own too.
	for _, c := range DefaultChecks() {
		if _, ok := c.(LeverageCheck); ok {
			continue
		}
		err := c.Check(input(bad, "100"))
		var ce *CheckError
		require.ErrorAs(t, err, &ce, c.Name())
		assert.Equal(t, c.Name(), ce.Check)
	}
}

func TestDirectionString(t *testing.T) {
	assert.Equal(t, "LONG", Long.String())
	assert.Equal(t, "SHORT", Short.String())
	assert.Equal(t, "NEUTRAL", Neutral.String())
	assert.Equal(t, "Direction(0)", Direction(0).String())
	assert.False(t, Direction(4).Valid())
}
