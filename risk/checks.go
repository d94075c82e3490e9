package risk

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// Defaults of the built-in checks (the seed system's values where it had one).
const (
	// DefaultMaxLeverage is LeverageCheck's maximum, as in the seed.
	DefaultMaxLeverage = 10
	// DefaultMinPositions is PositionCapacityCheck's requirement, as in the seed.
	DefaultMinPositions = 5
)

// DefaultSafetyFactor returns MarginCheck's factor on the worst-case need:
// 1.2, as in the seed.
func DefaultSafetyFactor() decimal.Decimal { return decimal.New(12, -1) }

// planError turns an invalid plan into the check's failure.
func planError(check string, p Plan) error {
	if err := p.Validate(); err != nil {
		return &CheckError{Check: check, Reason: "invalid plan: " + strings.ReplaceAll(err.Error(), "\n", "; "), Err: err}
	}
	return nil
}

// ---------------------------------------------------------------- account

// AccountConfigCheck refuses to start when the account is not set up the
// way the plan trades, naming the setting to change:
//
//   - the account can trade (Account.CanTrade);
//   - the account's position mode is the plan's, and a NEUTRAL grid trades
//     in HEDGE mode (unless AllowOneWayNeutral: a venue without hedge mode
//     can run a neutral grid in one-way mode, where its exits cannot be
//     reduce-only and the net position is what the grid holds);
//   - multi-assets (multi-currency margin) mode is off, unless AllowMultiAssets;
//   - the symbol's leverage and margin mode, read from the venue's position
//     entries for the plan's symbol (venues such as Binance report one per
//     position side even when flat), equal the plan's. A venue that reports
//     no entry leaves them unverified, which fails unless AllowUnreported.
//
// The zero value is the strict default. It is a plain value, safe for
// concurrent use.
type AccountConfigCheck struct {
	AllowMultiAssets   bool
	AllowOneWayNeutral bool
	AllowUnreported    bool
}

// Name returns "account-config".
func (AccountConfigCheck) Name() string { return "account-config" }

// Check implements [Check]; every mismatch is its own [*CheckError].
func (c AccountConfigCheck) Check(in CheckInput) error {
	const name = "account-config"
	if err := planError(name, in.Plan); err != nil {
		return err
	}
	p, a := in.Plan, in.Account
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, &CheckError{Check: name, Reason: fmt.Sprintf(format, args...)})
	}
	if !a.CanTrade {
		fail("the account cannot trade (CanTrade is false): enable trading for the account and the API key")
	}
	if p.Direction == Neutral && p.PositionMode != exchange.Hedge && !c.AllowOneWayNeutral {
		fail("a NEUTRAL grid trades in HEDGE position mode but the plan says %s: plan the grid in HEDGE mode", p.PositionMode)
	}
	if a.PositionMode != p.PositionMode {
		fail("position mode is %s, the plan needs %s: change the account's position mode to %s (with no open position or order)",
			a.PositionMode, p.PositionMode, p.PositionMode)
	}
	if a.MultiAssets && !c.AllowMultiAssets {
		fail("multi-assets mode is on: turn multi-assets (multi-currency margin) mode off")
	}
	var leverages []int
	var modes []exchange.MarginMode
	reported := false
	for _, pos := range in.Positions {
		if pos.Symbol != p.Symbol {
			continue
		}
		reported = true
		if pos.Leverage != p.Leverage && !containsInt(leverages, pos.Leverage) {
			leverages = append(leverages, pos.Leverage)
			fail("leverage of %s is %dx, the plan needs %dx: set the symbol's leverage to %d", p.Symbol, pos.Leverage, p.Leverage, p.Leverage)
		}
		if pos.MarginMode != p.MarginMode && !containsMode(modes, pos.MarginMode) {
			modes = append(modes, pos.MarginMode)
			fail("margin mode of %s is %s, the plan needs %s: change the symbol's margin mode to %s", p.Symbol, pos.MarginMode, p.MarginMode, p.MarginMode)
		}
	}
	if !reported && !c.AllowUnreported {
		fail("the venue reported no position entry for %s, so its leverage and margin mode cannot be verified: fetch the symbol's positions (flat entries included) or allow unreported settings", p.Symbol)
	}
	return errors.Join(errs...)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsMode(s []exchange.MarginMode, v exchange.MarginMode) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- leverage

// LeverageCheck refuses a plan whose leverage exceeds a maximum. The zero
// value uses [DefaultMaxLeverage] (10, as in the seed). Short is the
// excess in leverage steps. It is a plain value, safe for concurrent use.
type LeverageCheck struct {
	max int
}

// NewLeverageCheck returns a LeverageCheck with the given maximum, which
// must be at least 1.
func NewLeverageCheck(max int) (LeverageCheck, error) {
	if max < 1 {
		return LeverageCheck{}, &FieldError{Field: "LeverageCheck.Max", Value: fmt.Sprint(max), Reason: "must be at least 1"}
	}
	return LeverageCheck{max: max}, nil
}

// Max returns the maximum leverage the check allows.
func (c LeverageCheck) Max() int {
	if c.max == 0 {
		return DefaultMaxLeverage
	}
	return c.max
}

// Name returns "leverage".
func (LeverageCheck) Name() string { return "leverage" }

// Check implements [Check].
func (c LeverageCheck) Check(in CheckInput) error {
	if in.Plan.Leverage < 1 {
		return &CheckError{Check: "leverage", Reason: fmt.Sprintf("plan leverage %d must be at least 1", in.Plan.Leverage)}
	}
	if in.Plan.Leverage > c.Max() {
		return &CheckError{Check: "leverage",
			Reason: fmt.Sprintf("leverage %dx is above the maximum %dx: lower the plan's leverage", in.Plan.Leverage, c.Max()),
			Short:  decimal.NewFromInt(int64(in.Plan.Leverage - c.Max()))}
	}
	return nil
}

// ---------------------------------------------------------------- rules

// RulesCheck refuses a plan any of whose orders breaks the symbol's rules
// ([exchange.Rules.CheckOrder]: tick, step, MinQty, MinNotional): every
// level's entry (Price, Qty) and exit (ExitPrice, Qty). It also refuses a
// plan built with rules other than the venue's current ones (a tick or step
// size changed since). The error names the first failing levels and how
// many fail, and wraps the first [*exchange.RuleError] (so it matches
// [exchange.ErrInvalidOrder]). The zero value is ready; safe for
// concurrent use.
type RulesCheck struct{}

// Name returns "rules".
func (RulesCheck) Name() string { return "rules" }

// Check implements [Check].
func (RulesCheck) Check(in CheckInput) error {
	const name = "rules"
	if err := planError(name, in.Plan); err != nil {
		return err
	}
	p, r := in.Plan, in.rules()
	var errs []error
	if in.Rules.TickSize.IsPositive() && p.Rules.TickSize.IsPositive() {
		for _, d := range []struct {
			field      string
			plan, live decimal.Decimal
		}{
			{"TickSize", p.Rules.TickSize, in.Rules.TickSize},
			{"StepSize", p.Rules.StepSize, in.Rules.StepSize},
			{"MinQty", p.Rules.MinQty, in.Rules.MinQty},
			{"MinNotional", p.Rules.MinNotional, in.Rules.MinNotional},
		} {
			if !d.plan.Equal(d.live) {
				errs = append(errs, &CheckError{Check: name,
					Reason: fmt.Sprintf("the plan was built with %s %s but the venue's %s is %s: rebuild the grid with the current rules", d.field, d.plan, d.field, d.live)})
			}
		}
	}
	if r.Symbol != "" && r.Symbol != p.Symbol {
		errs = append(errs, &CheckError{Check: name, Reason: fmt.Sprintf("rules are for %s, the plan trades %s", r.Symbol, p.Symbol)})
	}
	var first error
	var shown []string
	failing := 0
	for i, l := range p.Levels {
		var lerrs []string
		for _, o := range []struct {
			what  string
			price decimal.Decimal
		}{{"entry", l.Price}, {"exit", l.ExitPrice}} {
			if err := r.CheckOrder(o.price, l.Qty); err != nil {
				if first == nil {
					first = err
				}
				lerrs = append(lerrs, fmt.Sprintf("%s %s × %s: %v", o.what, o.price, l.Qty, err))
			}
		}
		if len(lerrs) > 0 {
			failing++
			if len(shown) < 3 {
				shown = append(shown, fmt.Sprintf("level %d %s", i, strings.Join(lerrs, ", ")))
			}
		}
	}
	if failing > 0 {
		errs = append(errs, &CheckError{Check: name,
			Reason: fmt.Sprintf("%d of %d levels break the symbol's rules: %s", failing, len(p.Levels), strings.Join(shown, "; ")),
			Err:    first})
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------- profit

// ProfitCheck refuses a plan any of whose round trips does not net a profit
// after fees. A level's round trip enters at Price and exits at ExitPrice,
// both as maker orders (the grid rests post-only orders), so
//
//	gross = |ExitPrice − Price| × Qty
//	fees  = (Price + ExitPrice) × Qty × MakerFee   (a rebate is a negative fee)
//	net   = gross − fees,  margin = net / (Price × Qty)
//
// and every level needs margin > MinMargin (zero by default: any profit).
// The error names the worst level with its numbers and how many levels
// fail; Short is the net profit per round trip that the worst level lacks.
// A bounded grid's one-off initial purchase (a taker fill at the start
// price) is not a round trip of its own and is left to the margin check.
//
// The zero value requires a positive net; build others with
// [NewProfitCheck]. Safe for concurrent use.
type ProfitCheck struct {
	minMargin decimal.Decimal
}

// NewProfitCheck returns a ProfitCheck requiring each round trip's net
// margin (net profit / entry notional) to exceed minMargin, a fraction in
// [0, 1): 0.001 asks for more than 0.1 % per round trip.
func NewProfitCheck(minMargin decimal.Decimal) (ProfitCheck, error) {
	if err := checkFractionOrZero("ProfitCheck.MinMargin", minMargin); err != nil {
		return ProfitCheck{}, err
	}
	return ProfitCheck{minMargin: minMargin}, nil
}

// Name returns "profit".
func (ProfitCheck) Name() string { return "profit" }

// Check implements [Check].
func (c ProfitCheck) Check(in CheckInput) error {
	const name = "profit"
	if err := planError(name, in.Plan); err != nil {
		return err
	}
	p := in.Plan
	failing, worst := 0, -1
	var worstMargin, worstNet, worstGross, worstFees, worstNeed decimal.Decimal
	for i, l := range p.Levels {
		gross := l.ExitPrice.Sub(l.Price).Abs().Mul(l.Qty)
		fees := l.Price.Add(l.ExitPrice).Mul(l.Qty).Mul(p.MakerFee)
		net := gross.Sub(fees)
		entry := l.Price.Mul(l.Qty)
		margin := net.Div(entry)
		if margin.GreaterThan(c.minMargin) {
			continue
		}
		failing++
		if worst < 0 || margin.LessThan(worstMargin) {
			worst, worstMargin, worstNet, worstGross, worstFees = i, margin, net, gross, fees
			worstNeed = c.minMargin.Mul(entry).Sub(net)
		}
	}
	if failing == 0 {
		return nil
	}
	l := p.Levels[worst]
	need := "needs a net profit above zero"
	if c.minMargin.IsPositive() {
		need = "needs a net margin above " + pct(c.minMargin)
	}
	return &CheckError{Check: name,
		Reason: fmt.Sprintf("%d of %d round trips lose after fees; worst level %d (%s %s → %s %s, qty %s): interval %s, fees %s at maker fee %s each side, net %s = %s of the entry notional; %s: widen the grid interval or lower the fees",
			failing, len(p.Levels), worst, l.EntrySide, l.Price, l.EntrySide.Opposite(), l.ExitPrice, l.Qty,
			round(worstGross), round(worstFees), pct(p.MakerFee), round(worstNet), pct(worstMargin), need),
		Short: round(worstNeed)}
}

// pct formats a fraction as a percentage with up to 4 decimals: 0.0002 → "0.02%".
func pct(f decimal.Decimal) string { return f.Shift(2).Round(4).String() + "%" }

// ---------------------------------------------------------------- capacity

// PositionCapacityCheck is the seed's "position safety check": the
// available balance, at the plan's leverage, must carry the initial
// position plus at least MinPositions entry levels (5 by default), taken
// nearest the start price first — or every entry level when the plan has
// fewer. A level's margin is its notional / leverage. For NEUTRAL grids
// each side is checked on its own. Short is the missing balance.
//
// It is a quick floor that fails fast with a readable number; the margin
// check covers the whole worst case. The zero value uses
// [DefaultMinPositions]; safe for concurrent use.
type PositionCapacityCheck struct {
	min int
}

// NewPositionCapacityCheck returns a PositionCapacityCheck requiring n ≥ 1 positions.
func NewPositionCapacityCheck(n int) (PositionCapacityCheck, error) {
	if n < 1 {
		return PositionCapacityCheck{}, &FieldError{Field: "PositionCapacityCheck.MinPositions", Value: fmt.Sprint(n), Reason: "must be at least 1"}
	}
	return PositionCapacityCheck{min: n}, nil
}

// MinPositions returns the number of entry levels the account must carry.
func (c PositionCapacityCheck) MinPositions() int {
	if c.min == 0 {
		return DefaultMinPositions
	}
	return c.min
}

// Name returns "position-capacity".
func (PositionCapacityCheck) Name() string { return "position-capacity" }

// Check implements [Check].
func (c PositionCapacityCheck) Check(in CheckInput) error {
	const name = "position-capacity"
	if err := planError(name, in.Plan); err != nil {
		return err
	}
	p := in.Plan
	lev := decimal.NewFromInt(int64(p.Leverage))
	avail := in.Account.AvailableBalance
	var errs []error
	sides := []exchange.Side{exchange.Buy}
	switch p.Direction {
	case Short:
		sides = []exchange.Side{exchange.Sell}
	case Neutral:
		sides = []exchange.Side{exchange.Buy, exchange.Sell}
	}
	for _, side := range sides {
		var initial decimal.Decimal
		var entries []PlanLevel
		for _, l := range p.Levels {
			if l.EntrySide != side {
				continue
			}
			if l.Initial {
				initial = initial.Add(p.StartPrice.Mul(l.Qty).Div(lev))
				continue
			}
			entries = append(entries, l)
		}
		sort.SliceStable(entries, func(i, j int) bool {
			di := entries[i].Price.Sub(p.StartPrice).Abs()
			dj := entries[j].Price.Sub(p.StartPrice).Abs()
			return di.LessThan(dj)
		})
		want := c.MinPositions()
		if len(entries) < want {
			want = len(entries)
		}
		need := initial
		carried := -1
		for i := 0; i < want; i++ {
			need = need.Add(entries[i].Price.Mul(entries[i].Qty).Div(lev))
			if carried < 0 && need.GreaterThan(avail) {
				carried = i
			}
		}
		if !need.GreaterThan(avail) {
			continue
		}
		carries := fmt.Sprintf("carries %d of the %d %s entry levels required", carried, want, side)
		switch {
		case initial.GreaterThan(avail):
			carries = fmt.Sprintf("does not carry even the initial position (margin %s), let alone the %d %s entry levels required", round(initial), want, side)
		case initial.IsPositive():
			carries = fmt.Sprintf("carries the initial position (margin %s) and %d of the %d %s entry levels required", round(initial), carried, want, side)
		}
		errs = append(errs, &CheckError{Check: name,
			Reason: fmt.Sprintf("available balance %s at %dx leverage %s (margin needed %s): add balance or lower the order size",
				avail, p.Leverage, carries, round(need)),
			Short: round(need.Sub(avail))})
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------- margin

// MarginCheck refuses to start unless the available balance covers the
// worst case times a safety factor (1.2 by default, as in the seed).
//
// The worst case is the price running from the start to the far bound on
// the grid's losing side (down to Lower for LONG, up to Upper for SHORT,
// both ways in turn for NEUTRAL) with every level that enters on that side
// filled — for a trailing grid the LayerCap levels nearest the start, its
// far bound being the farthest of them — plus the initial position, bought
// or sold at the start price. It needs
//
//	margin = Σ entry price × qty / leverage
//	fees   = Σ entry notional × fee   (maker for resting levels, taker for
//	                                   the initial position; rebates not counted)
//	loss   = the whole position's unrealized loss at the far bound
//	         (a position held before the start in the same direction included)
//	need   = (margin + fees + loss) × SafetyFactor ≤ Account.AvailableBalance
//
// Counting the loss is conservative for isolated margin, where it falls on
// the position's own margin (see [LiquidationCheck]). Short is need −
// available. The zero value uses [DefaultSafetyFactor]; build others with
// [NewMarginCheck]. Safe for concurrent use.
type MarginCheck struct {
	factor decimal.Decimal
}

// NewMarginCheck returns a MarginCheck with the given safety factor, at least 1.
func NewMarginCheck(safetyFactor decimal.Decimal) (MarginCheck, error) {
	if safetyFactor.LessThan(decimal.NewFromInt(1)) {
		return MarginCheck{}, &FieldError{Field: "MarginCheck.SafetyFactor", Value: safetyFactor.String(), Reason: "must be at least 1"}
	}
	return MarginCheck{factor: safetyFactor}, nil
}

// SafetyFactor returns the factor applied to the worst-case need.
func (c MarginCheck) SafetyFactor() decimal.Decimal {
	if c.factor.IsZero() {
		return DefaultSafetyFactor()
	}
	return c.factor
}

// Name returns "margin".
func (MarginCheck) Name() string { return "margin" }

// Check implements [Check].
func (c MarginCheck) Check(in CheckInput) error {
	const name = "margin"
	if err := planError(name, in.Plan); err != nil {
		return err
	}
	p := in.Plan
	scs, err := p.scenarios(in.Positions)
	if err != nil {
		return &CheckError{Check: name, Reason: err.Error(), Err: err}
	}
	avail := in.Account.AvailableBalance
	lev := decimal.NewFromInt(int64(p.Leverage))
	var errs []error
	for _, s := range scs {
		margin := s.cost.Div(lev)
		loss := s.loss()
		need := margin.Add(s.fees).Add(loss).Mul(c.SafetyFactor())
		if !need.GreaterThan(avail) {
			continue
		}
		errs = append(errs, &CheckError{Check: name,
			Reason: fmt.Sprintf("worst case: price %s with %d levels filled (%s): margin %s + fees %s + loss %s = %s, × safety factor %s = %s needed, %s available; short by %s: add balance, lower the order size or narrow the range",
				s.fall(), s.levels, s.position(), round(margin), round(s.fees), round(loss), round(margin.Add(s.fees).Add(loss)),
				c.SafetyFactor(), round(need), avail, round(need.Sub(avail))),
			Short: round(need.Sub(avail))})
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------- liquidation

// LiquidationCheck refuses to start when the worst-case position (see
// [MarginCheck]) would be liquidated before the price reaches the far
// bound. With Q the position, E its average entry, L the leverage and m
// the plan's MaintenanceRate, the liquidation price is where equity meets
// the maintenance margin m × Q × P:
//
//	isolated long:  P = E × (1 − 1/L) / (1 − m)   (margin E×Q/L posted with the position)
//	isolated short: P = E × (1 + 1/L) / (1 + m)
//	cross long:     P = (E×Q − W) / (Q × (1 − m))
//	cross short:    P = (E×Q + W) / (Q × (1 + m))
//
// where W is the account's AvailableBalance before the start, all of which
// backs the position in cross mode. These are approximations: venues use
// tiered maintenance rates with a maintenance amount, and count fees and
// other positions; a flat rate at the tier the worst-case notional falls
// in is the host's to supply. A long needs P below the far bound by at
// least Buffer × far bound, a short P above it likewise (Buffer 0 by
// default: strictly beyond). The error says where P falls; Short is the
// distance in price by which it misses.
//
// The zero value is ready; build others with [NewLiquidationCheck]. Safe
// for concurrent use.
type LiquidationCheck struct {
	buffer decimal.Decimal
}

// NewLiquidationCheck returns a LiquidationCheck requiring the liquidation
// price to lie beyond the far bound by buffer, a fraction of the far bound
// in [0, 1): 0.05 asks for 5 % of room beyond it.
func NewLiquidationCheck(buffer decimal.Decimal) (LiquidationCheck, error) {
	if err := checkFractionOrZero("LiquidationCheck.Buffer", buffer); err != nil {
		return LiquidationCheck{}, err
	}
	return LiquidationCheck{buffer: buffer}, nil
}

// Name returns "liquidation".
func (LiquidationCheck) Name() string { return "liquidation" }

// LiquidationPrice returns the approximate liquidation price of a position
// of qty (> 0) at average entry price entry, as [LiquidationCheck]
// documents; collateral is W, used in cross mode only. A result ≤ 0 means
// the position cannot be liquidated by a fall (long); for a short it is
// always positive.
func LiquidationPrice(long bool, mode exchange.MarginMode, entry, qty, collateral, maintRate decimal.Decimal, leverage int) decimal.Decimal {
	one := decimal.NewFromInt(1)
	if mode == exchange.Isolated {
		inv := one.Div(decimal.NewFromInt(int64(leverage)))
		if long {
			return entry.Mul(one.Sub(inv)).Div(one.Sub(maintRate))
		}
		return entry.Mul(one.Add(inv)).Div(one.Add(maintRate))
	}
	if qty.IsZero() {
		return decimal.Zero
	}
	if long {
		return entry.Mul(qty).Sub(collateral).Div(qty.Mul(one.Sub(maintRate)))
	}
	return entry.Mul(qty).Add(collateral).Div(qty.Mul(one.Add(maintRate)))
}

// Check implements [Check].
func (c LiquidationCheck) Check(in CheckInput) error {
	const name = "liquidation"
	if err := planError(name, in.Plan); err != nil {
		return err
	}
	p := in.Plan
	scs, err := p.scenarios(in.Positions)
	if err != nil {
		return &CheckError{Check: name, Reason: err.Error(), Err: err}
	}
	one := decimal.NewFromInt(1)
	var errs []error
	for _, s := range scs {
		liq := LiquidationPrice(s.long(), p.MarginMode, s.avgEntry(), s.totalQty(), in.Account.AvailableBalance, p.MaintenanceRate, p.Leverage)
		var limit decimal.Decimal
		var ok bool
		if s.long() {
			limit = s.far.Mul(one.Sub(c.buffer))
			ok = liq.LessThan(limit) || (c.buffer.IsZero() && !liq.IsPositive())
		} else {
			limit = s.far.Mul(one.Add(c.buffer))
			ok = liq.GreaterThan(limit)
		}
		if ok {
			continue
		}
		rng := "[" + p.Lower.String() + ", " + p.Upper.String() + "]"
		if p.Trailing {
			lo, hi := s.far, p.StartPrice
			if !s.long() {
				lo, hi = p.StartPrice, s.far
			}
			rng = "[" + lo.String() + ", " + hi.String() + "] (LayerCap " + fmt.Sprint(p.LayerCap) + ")"
		}
		how := fmt.Sprintf("isolated, leverage %dx", p.Leverage)
		if p.MarginMode == exchange.Cross {
			how = fmt.Sprintf("cross, collateral %s", in.Account.AvailableBalance)
		}
		where := "inside the range " + rng
		if s.long() && liq.GreaterThan(p.StartPrice) || !s.long() && liq.LessThan(p.StartPrice) {
			where = "beyond the start price " + p.StartPrice.String()
		}
		dir, sign := "below", "less"
		if !s.long() {
			dir, sign = "above", "plus"
		}
		want := dir + " the far bound " + s.far.String()
		if c.buffer.IsPositive() {
			want = fmt.Sprintf("%s %s (the far bound %s %s %s)", dir, round(limit), s.far, sign, pct(c.buffer))
		}
		errs = append(errs, &CheckError{Check: name,
			Reason: fmt.Sprintf("worst case: price %s with %d levels filled (%s): liquidation at %s (%s, maintenance %s), %s; it must lie %s: lower the leverage, add balance or narrow the range",
				s.fall(), s.levels, s.position(), round(liq), how, pct(p.MaintenanceRate), where, want),
			Short: round(liq.Sub(limit).Abs())})
	}
	return errors.Join(errs...)
}
