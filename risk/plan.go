package risk

import (
	"errors"
	"fmt"
	"sort"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// Direction is the side a grid trades. The zero value is invalid: a plan or
// a monitor configuration must name its direction.
type Direction uint8

const (
	// Long buys at each level and sells one level up; it loses when the
	// price falls.
	Long Direction = iota + 1
	// Short sells at each level and buys back one level down; it loses when
	// the price rises.
	Short
	// Neutral buys below the start price and sells above it; it loses when
	// the price runs far either way.
	Neutral
)

// String returns "LONG", "SHORT" or "NEUTRAL".
func (d Direction) String() string {
	switch d {
	case Long:
		return "LONG"
	case Short:
		return "SHORT"
	case Neutral:
		return "NEUTRAL"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// Valid reports whether d is Long, Short or Neutral.
func (d Direction) Valid() bool { return d >= Long && d <= Neutral }

// PlanLevel is one grid level as the grid will trade it: an entry order of
// Qty at Price on EntrySide, whose exit closes the same quantity at
// ExitPrice. Initial marks a level whose entry is bought (long) or sold
// (short) at once at the start price, as a taker, as part of the grid's
// initial position; its exit rests at ExitPrice from the start. The zero
// value is not a valid level. PlanLevel is a plain value.
type PlanLevel struct {
	Price     decimal.Decimal
	Qty       decimal.Decimal
	EntrySide exchange.Side
	ExitPrice decimal.Decimal
	Initial   bool
	// Notional is the entry's actual notional, Price × Qty, after the
	// quantity was rounded to the step (with fixed-amount sizing it
	// differs from the amount asked for; zero when the planner left it
	// out: checks that need it compute Price × Qty).
	Notional decimal.Decimal
}

// Plan is what the grid is about to trade, filled in by the grid engine and
// handed to the pre-start checks, so that risk never imports grid.
//
// Lower and Upper bound a bounded grid and are zero for a trailing one;
// a trailing grid must have a LayerCap (the most slots it may hold), since
// without one its worst case has no bound. For a trailing grid Levels lists
// at least the first LayerCap levels on each side the grid enters from
// (nearest the start first is not required: the checks sort them).
//
// Fees and MaintenanceRate are decimal fractions: 0.0002 is 0.02 %. A
// negative MakerFee is a rebate.
//
// The zero value is not a valid plan; [Plan.Validate] names every missing or
// inconsistent field. A Plan is a plain value, safe to share read-only.
type Plan struct {
	Symbol          string
	Rules           exchange.Rules
	Direction       Direction
	StartPrice      decimal.Decimal
	Lower           decimal.Decimal // zero for trailing grids
	Upper           decimal.Decimal // zero for trailing grids
	Trailing        bool
	LayerCap        int // most slots held at once; required (> 0) when Trailing, ignored by the checks of bounded grids (every level may fill)
	Levels          []PlanLevel
	Leverage        int
	MarginMode      exchange.MarginMode
	PositionMode    exchange.PositionMode
	MakerFee        decimal.Decimal
	TakerFee        decimal.Decimal
	MaintenanceRate decimal.Decimal
}

// FieldError reports a plan field or a configuration field whose value is
// missing, out of range or inconsistent. Field is the field's path, e.g.
// "Plan.Levels[3].Qty" or "PriceBandConfig.Window".
type FieldError struct {
	Field  string
	Value  string
	Reason string
}

// Error returns "risk: <Field> = <Value>: <Reason>".
func (e *FieldError) Error() string {
	return fmt.Sprintf("risk: %s = %s: %s", e.Field, e.Value, e.Reason)
}

// Validate reports every problem with the plan at once (errors.Join of
// [*FieldError]s), or nil.
func (p Plan) Validate() error {
	var errs []error
	bad := func(field string, v any, reason string) {
		errs = append(errs, &FieldError{Field: "Plan." + field, Value: fmt.Sprint(v), Reason: reason})
	}
	if p.Symbol == "" {
		bad("Symbol", `""`, "must not be empty")
	}
	if !p.Direction.Valid() {
		bad("Direction", p.Direction, "must be LONG, SHORT or NEUTRAL")
	}
	if !p.StartPrice.IsPositive() {
		bad("StartPrice", p.StartPrice, "must be positive")
	}
	if p.Trailing {
		if p.LayerCap <= 0 {
			bad("LayerCap", p.LayerCap, "must be positive for a trailing grid: without it the worst case has no bound")
		}
	} else {
		if !p.Lower.IsPositive() {
			bad("Lower", p.Lower, "must be positive for a bounded grid")
		}
		if !p.Upper.GreaterThan(p.Lower) {
			bad("Upper", p.Upper, "must be above Lower "+p.Lower.String())
		}
		if p.StartPrice.IsPositive() && p.Lower.IsPositive() && p.Upper.GreaterThan(p.Lower) &&
			(p.StartPrice.LessThan(p.Lower) || p.StartPrice.GreaterThan(p.Upper)) {
			bad("StartPrice", p.StartPrice, "must be within [Lower, Upper] = ["+p.Lower.String()+", "+p.Upper.String()+"]")
		}
		if p.LayerCap < 0 {
			bad("LayerCap", p.LayerCap, "must not be negative")
		}
	}
	if p.Leverage < 1 {
		bad("Leverage", p.Leverage, "must be at least 1")
	}
	if p.MarginMode != exchange.Cross && p.MarginMode != exchange.Isolated {
		bad("MarginMode", fmt.Sprintf("MarginMode(%d)", uint8(p.MarginMode)), "must be CROSSED or ISOLATED")
	}
	if p.PositionMode != exchange.OneWay && p.PositionMode != exchange.Hedge {
		bad("PositionMode", fmt.Sprintf("PositionMode(%d)", uint8(p.PositionMode)), "must be ONE_WAY or HEDGE")
	}
	one := decimal.NewFromInt(1)
	if p.MakerFee.Abs().GreaterThanOrEqual(one) {
		bad("MakerFee", p.MakerFee, "must be a fraction between -1 and 1 (0.0002 is 0.02%)")
	}
	if p.TakerFee.Abs().GreaterThanOrEqual(one) {
		bad("TakerFee", p.TakerFee, "must be a fraction between -1 and 1 (0.0005 is 0.05%)")
	}
	if !p.MaintenanceRate.IsPositive() || p.MaintenanceRate.GreaterThanOrEqual(one) {
		bad("MaintenanceRate", p.MaintenanceRate, "must be a fraction in (0, 1) (0.005 is 0.5%)")
	}
	if len(p.Levels) == 0 {
		bad("Levels", "[]", "must not be empty")
	}
	for i, l := range p.Levels {
		f := fmt.Sprintf("Levels[%d].", i)
		if !l.Price.IsPositive() {
			bad(f+"Price", l.Price, "must be positive")
		}
		if !l.Qty.IsPositive() {
			bad(f+"Qty", l.Qty, "must be positive")
		}
		if !l.ExitPrice.IsPositive() {
			bad(f+"ExitPrice", l.ExitPrice, "must be positive")
		}
		switch l.EntrySide {
		case exchange.Buy:
			if l.ExitPrice.LessThanOrEqual(l.Price) {
				bad(f+"ExitPrice", l.ExitPrice, "must be above the BUY entry price "+l.Price.String())
			}
		case exchange.Sell:
			if l.ExitPrice.GreaterThanOrEqual(l.Price) {
				bad(f+"ExitPrice", l.ExitPrice, "must be below the SELL entry price "+l.Price.String())
			}
		default:
			bad(f+"EntrySide", l.EntrySide, "must be BUY or SELL")
		}
		if l.Initial && p.Direction == Neutral {
			bad(f+"Initial", true, "a NEUTRAL grid has no initial position")
		}
		if l.Initial && p.Direction == Long && l.EntrySide != exchange.Buy {
			bad(f+"Initial", true, "the initial position of a LONG grid is bought")
		}
		if l.Initial && p.Direction == Short && l.EntrySide != exchange.Sell {
			bad(f+"Initial", true, "the initial position of a SHORT grid is sold")
		}
	}
	return errors.Join(errs...)
}

// scenario is one worst case of a plan: the price runs from the start to
// the far bound on the losing side and every level that enters on that
// side is filled (for trailing grids: up to LayerCap of them).
type scenario struct {
	side     exchange.Side   // entry side of the filled levels: Buy builds a long position
	far      decimal.Decimal // the far bound the price reaches
	qty      decimal.Decimal // grid position at the far bound (positive)
	cost     decimal.Decimal // Σ entry price × qty of the grid's fills
	fees     decimal.Decimal // entry fees paid (rebates not counted)
	levels   int             // number of filled levels
	baseQty  decimal.Decimal // same-direction position found at start (positive)
	baseCost decimal.Decimal // its entry price × quantity
}

// long reports whether the scenario builds a long position.
func (s scenario) long() bool { return s.side == exchange.Buy }

// totalQty is the grid's position plus the same-direction baseline.
func (s scenario) totalQty() decimal.Decimal { return s.qty.Add(s.baseQty) }

// avgEntry is the average entry price of the whole worst-case position.
func (s scenario) avgEntry() decimal.Decimal {
	q := s.totalQty()
	if q.IsZero() {
		return decimal.Zero
	}
	return s.cost.Add(s.baseCost).Div(q)
}

// loss is the unrealized loss of the whole position at the far bound (≥ 0).
func (s scenario) loss() decimal.Decimal {
	cost := s.cost.Add(s.baseCost)
	atFar := s.totalQty().Mul(s.far)
	l := cost.Sub(atFar)
	if !s.long() {
		l = atFar.Sub(cost)
	}
	if l.IsNegative() {
		return decimal.Zero
	}
	return l
}

// fall describes where the price goes in the scenario, for messages.
func (s scenario) fall() string {
	if s.long() {
		return "falls to " + s.far.String()
	}
	return "rises to " + s.far.String()
}

// position describes the worst-case position, for messages.
func (s scenario) position() string {
	kind := "long"
	if !s.long() {
		kind = "short"
	}
	msg := fmt.Sprintf("%s %s at average entry %s", kind, s.totalQty(), round(s.avgEntry()))
	if s.baseQty.IsPositive() {
		msg += fmt.Sprintf(" (incl. %s held before the start)", s.baseQty)
	}
	return msg
}

// scenarios returns the worst cases of a plan that has passed Validate:
// one for LONG and SHORT grids, two (down, then up) for NEUTRAL ones.
func (p Plan) scenarios(positions []exchange.Position) ([]scenario, error) {
	var sides []exchange.Side
	switch p.Direction {
	case Long:
		sides = []exchange.Side{exchange.Buy}
	case Short:
		sides = []exchange.Side{exchange.Sell}
	case Neutral:
		sides = []exchange.Side{exchange.Buy, exchange.Sell}
	default:
		return nil, &FieldError{Field: "Plan.Direction", Value: p.Direction.String(), Reason: "must be LONG, SHORT or NEUTRAL"}
	}
	out := make([]scenario, 0, len(sides))
	for _, side := range sides {
		s, err := p.scenario(side, positions)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p Plan) scenario(side exchange.Side, positions []exchange.Position) (scenario, error) {
	s := scenario{side: side}
	var initial, entries []PlanLevel
	for _, l := range p.Levels {
		if l.EntrySide != side {
			continue
		}
		if l.Initial {
			initial = append(initial, l)
		} else {
			entries = append(entries, l)
		}
	}
	if len(initial)+len(entries) == 0 {
		return s, &FieldError{Field: "Plan.Levels", Value: fmt.Sprintf("%d levels", len(p.Levels)),
			Reason: fmt.Sprintf("has no %s level for a %s grid", side, p.Direction)}
	}
	if p.Trailing {
		// Nearest the start first: the highest buys, the lowest sells.
		sort.SliceStable(entries, func(i, j int) bool {
			if side == exchange.Buy {
				return entries[i].Price.GreaterThan(entries[j].Price)
			}
			return entries[i].Price.LessThan(entries[j].Price)
		})
		room := p.LayerCap - len(initial)
		if room < 0 {
			room = 0
		}
		if len(entries) < room {
			return s, &FieldError{Field: "Plan.Levels", Value: fmt.Sprintf("%d %s entry levels", len(entries), side),
				Reason: fmt.Sprintf("a trailing grid must list at least LayerCap %d levels (%d initial)", p.LayerCap, len(initial))}
		}
		entries = entries[:room]
	}
	for _, l := range initial {
		n := p.StartPrice.Mul(l.Qty)
		s.qty = s.qty.Add(l.Qty)
		s.cost = s.cost.Add(n)
		s.fees = s.fees.Add(positiveFee(n, p.TakerFee))
		s.levels++
	}
	for _, l := range entries {
		n := l.Price.Mul(l.Qty)
		s.qty = s.qty.Add(l.Qty)
		s.cost = s.cost.Add(n)
		s.fees = s.fees.Add(positiveFee(n, p.MakerFee))
		s.levels++
	}
	switch {
	case !p.Trailing && side == exchange.Buy:
		s.far = p.Lower
	case !p.Trailing:
		s.far = p.Upper
	default:
		s.far = p.StartPrice
		for _, l := range entries {
			if (side == exchange.Buy && l.Price.LessThan(s.far)) || (side == exchange.Sell && l.Price.GreaterThan(s.far)) {
				s.far = l.Price
			}
		}
	}
	for _, pos := range positions {
		if pos.Symbol != p.Symbol || pos.EntryPrice.IsZero() {
			continue
		}
		q := pos.Quantity
		if side == exchange.Sell {
			q = q.Neg()
		}
		if q.IsPositive() {
			s.baseQty = s.baseQty.Add(q)
			s.baseCost = s.baseCost.Add(q.Mul(pos.EntryPrice))
		}
	}
	return s, nil
}

// positiveFee is notional × rate when the rate is a charge, zero for a rebate.
func positiveFee(notional, rate decimal.Decimal) decimal.Decimal {
	if rate.IsPositive() {
		return notional.Mul(rate)
	}
	return decimal.Zero
}

// round trims a computed decimal to 8 places for messages.
func round(d decimal.Decimal) decimal.Decimal { return d.Round(8) }
