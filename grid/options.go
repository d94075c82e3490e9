package grid

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/risk"
)

// Mode is the grid's direction. Its values are those of [risk.Direction]
// — grid.Long == Mode(risk.Long), and [Mode.Direction] converts — so the
// one idea has one set of values in both packages. (A position side,
// [exchange.PositionLong] and [exchange.PositionShort], is another idea:
// the side of a hedge-mode position an order trades, which a neutral grid
// uses both of.) The zero value is not a mode; [WithMode] defaults to Long.
type Mode uint8

const (
	// Long buys at each level and sells one level up.
	Long = Mode(risk.Long)
	// Short sells at each level and buys back one level down.
	Short = Mode(risk.Short)
	// Neutral buys below the start price and sells short above it.
	Neutral = Mode(risk.Neutral)
)

// Direction is the mode as the risk package names it.
func (m Mode) Direction() risk.Direction { return risk.Direction(m) }

// String returns "long", "short" or "neutral".
func (m Mode) String() string {
	switch m {
	case Long:
		return "long"
	case Short:
		return "short"
	case Neutral:
		return "neutral"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode parses "long", "short" or "neutral".
func ParseMode(s string) (Mode, error) {
	for _, m := range []Mode{Long, Short, Neutral} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("grid mode %q: want long, short or neutral", s)
}

// Option configures an [Engine]. Options are applied in order by [New],
// which then validates the result as a whole.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	gridID      string
	mode        Mode
	start       decimal.Decimal
	geometric   bool
	bounded     bool
	lower       decimal.Decimal
	upper       decimal.Decimal
	intervals   int
	trailing    bool
	interval    decimal.Decimal
	layerCap    int
	floor       decimal.Decimal
	amount      decimal.Decimal
	quantity    decimal.Decimal
	buyWindow   int
	sellWindow  int
	hysteresis  int
	initial     *bool
	posMode     exchange.PositionMode
	shared      bool // WithSharedSymbol: the venue's position is not the grid's alone
	recvWindow  time.Duration
	recvSet     bool // WithReceiveWindow was given
	ackTimeout  time.Duration
	sendTimeout time.Duration
	logger      *slog.Logger
	observer    Observer
	errs        []error

	cancelBurst   int
	cancelPerFill int

	monitors      []risk.Monitor
	riskCooldown  time.Duration
	pauseCancels  bool
	hardStop      bool
	hardStopClose bool
	checks        []risk.Check
	planBase      risk.Plan

	// grid controls (controls.go) and sizing (sizing.go)
	trigger        Trigger
	takeProfit     Target
	stopLoss       Target
	stopTop        decimal.Decimal
	stopBottom     decimal.Decimal
	timeLimit      time.Duration
	timeLimitClose bool
	timeLimitSet   bool
	closeOffset    decimal.Decimal
	closeTimeout   time.Duration
	closeSet       bool
	rounding       Rounding
	roundingSet    bool
	compound       bool

	// trend filter (trend.go) and maker-only re-pricing (reprice.go)
	trend         *risk.TrendConfig
	trendCancels  bool
	repriceTicks  int64
	fallback      bool
	fallbackAfter int
}

// WithGridID names the grid. The ID prefixes every client order ID, so that
// a restarted engine with the same ID recognises its orders and never
// touches anyone else's: 1 to 9 letters or digits. Default "grid".
func WithGridID(id string) Option { return optionFunc(func(c *config) { c.gridID = id }) }

// WithMode sets the direction: Long (the default), Short or Neutral.
func WithMode(m Mode) Option { return optionFunc(func(c *config) { c.mode = m }) }

// WithStartPrice sets the price the grid starts from: it splits a neutral
// grid into its long and short halves, decides which levels of a bounded
// grid start with a position, and anchors a trailing grid's levels.
// Required.
func WithStartPrice(p decimal.Decimal) Option {
	return optionFunc(func(c *config) { c.start = p })
}

// WithBounds makes a bounded grid of intervals equal steps between lower
// and upper (intervals+1 price levels): equal differences, or equal ratios
// with [WithGeometric]. Each level is rounded to the tick.
func WithBounds(lower, upper decimal.Decimal, intervals int) Option {
	return optionFunc(func(c *config) {
		c.bounded, c.lower, c.upper, c.intervals = true, lower, upper, intervals
	})
}

// WithTrailing makes an unbounded grid whose levels are counted from the
// start price in steps of interval (a price difference; with
// [WithGeometric], a fraction of the price such as 0.002 for 0.2 %).
// Slots are made as the price reaches them. layerCap is the most slots
// that may hold a position (or have an entry working) at once: without it
// a falling market has no bound, so it is required and positive.
func WithTrailing(interval decimal.Decimal, layerCap int) Option {
	return optionFunc(func(c *config) { c.trailing, c.interval, c.layerCap = true, interval, layerCap })
}

// WithFloorPrice states the lowest price a trailing grid is checked
// against at New: every level down to it must satisfy the sizing rule and
// the symbol's rules. Default: the lowest level the layer cap can reach.
func WithFloorPrice(p decimal.Decimal) Option {
	return optionFunc(func(c *config) { c.floor = p })
}

// WithGeometric spaces levels by a constant ratio instead of a constant difference.
func WithGeometric() Option { return optionFunc(func(c *config) { c.geometric = true }) }

// WithAmount sets fixed-amount sizing, the default sizing: every order has
// the same notional in quote currency (price × quantity), and a level's
// quantity is amount / price rounded to the step, down unless
// [WithAmountRounding] says otherwise; [WithCompounding] grows the amount
// with realized profit.
func WithAmount(quote decimal.Decimal) Option {
	return optionFunc(func(c *config) { c.amount = quote })
}

// WithQuantity sets fixed-quantity sizing: every order has this quantity,
// which must be a whole number of steps (New refuses one that is not,
// rather than trade less than asked).
func WithQuantity(qty decimal.Decimal) Option {
	return optionFunc(func(c *config) { c.quantity = qty })
}

// WithWindows keeps entries live only on the buy nearest levels and exits
// only on the sell nearest levels (the names follow a long grid: for a
// short grid "buy" is the entry side too). An order further than its
// window plus hysteresis levels from the price is canceled. Defaults: 10,
// 10 and 2. A window of at least the number of levels keeps every level live.
func WithWindows(buy, sell, hysteresis int) Option {
	return optionFunc(func(c *config) { c.buyWindow, c.sellWindow, c.hysteresis = buy, sell, hysteresis })
}

// WithInitialPosition says whether a bounded long (short) grid buys
// (sells) at start, as one market order, the position of every level above
// (below) the start price, so that it can sell into a rally from the first
// level. Default on for bounded long and short grids; trailing and neutral
// grids never start with a position.
func WithInitialPosition(on bool) Option {
	return optionFunc(func(c *config) { c.initial = &on })
}

// WithPositionMode tells the engine the account's position mode. In hedge
// mode long slots trade the LONG side and short slots the SHORT side; in
// one-way mode (default) exits of long or short grids are reduce-only
// (see [WithSharedSymbol]).
func WithPositionMode(m exchange.PositionMode) Option {
	return optionFunc(func(c *config) { c.posMode = m })
}

// WithSharedSymbol tells the engine that other grids (or other positions
// that change while it runs) trade its symbol on the same account, so the
// venue's position is not the grid's alone, less the baseline it found at
// start. Then, in one-way mode, no order of the grid goes reduce-only —
// neither a long or short grid's exits nor a stop's close — because the
// account's net position may stand on the other side (another grid's
// short under this grid's long), where a reduce-only order is refused or
// trimmed; and a stop's close the venue refuses is never settled from the
// venue's position ("closed elsewhere": the venue shows the other grids'
// positions too), but backs off and tries again. Position drift is then
// the others' positions, reported as such. Default off: a grid alone on
// its symbol, whose reduce-only orders keep a position closed behind its
// back from being opened the other way. [Runner.Run] refuses
// ([ErrSymbolShared]) to run a grid beside another of the process on one
// symbol of one account unless both were given this option.
func WithSharedSymbol() Option { return optionFunc(func(c *config) { c.shared = true }) }

// WithReceiveWindow is how long after sending a request the venue may still
// execute it. An order whose placement had an unknown outcome is only
// declared absent (and its slot freed) when a query finds nothing after
// this has passed. Default 60 s (exchange.DefaultReceiveWindow); a
// [Runner] takes the venue's declared window ([exchange.ReceiveWindower])
// instead, and refuses a shorter one given here.
func WithReceiveWindow(d time.Duration) Option {
	return optionFunc(func(c *config) { c.recvWindow, c.recvSet = d, true })
}

// defaultSendTimeout is WithSendTimeout's default (capped at the ack timeout).
const defaultSendTimeout = 10 * time.Second

// WithSendTimeout is how long after the engine asks for an order the host
// may still start sending it ([Intent.SendBy]); a placement queued longer
// (behind a venue's rate-limit pause, a ban, a backlog of other grids) is
// dropped unsent, and the slot tries again later. It bounds how long a
// "not found" answer must wait to prove an order absent. Default 10 s, or
// the ack timeout if shorter; at most the ack timeout.
func WithSendTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.sendTimeout = d })
}

// WithAckTimeout is how long a placement or cancel may go unanswered before
// the engine queries the order (a stuck state). Default 30 s.
func WithAckTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.ackTimeout = d })
}

// WithCancelBudget limits the cancels the windows may make, to keep the
// grid under the venues' order-to-fill policing (Binance's quantitative
// rules): the budget starts at burst, each window cancel spends one, and
// each fill earns perFill back (up to burst). When it is spent, orders that
// left their window stay live instead. Cancels the grid must make (a halt,
// a risk pause that cancels entries) are never held back. Default: no
// budget. Books.CancelsDeferred counts what it held back.
func WithCancelBudget(burst, perFill int) Option {
	return optionFunc(func(c *config) { c.cancelBurst, c.cancelPerFill = burst, perFill })
}

// WithEngineLogger sets the engine's logger; nil (the default) discards.
// A [Runner] logs with it too unless given its own ([WithRunnerLogger]).
func WithEngineLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.logger = l }) }

// WithLogger is the old name of [WithEngineLogger].
//
// Deprecated: use WithEngineLogger: beside [WithRunnerLogger] the old name
// did not say which of the two it configures. The alias stays while
// branches written against it merge, and goes before the first release.
func WithLogger(l *slog.Logger) Option { return WithEngineLogger(l) }

// WithObserver sets the observer of fills, round trips and risk changes.
func WithObserver(o Observer) Option { return optionFunc(func(c *config) { c.observer = o }) }

func defaultConfig() config {
	return config{
		gridID:     "grid",
		mode:       Long,
		buyWindow:  10,
		sellWindow: 10,
		hysteresis: 2,
		recvWindow: exchange.DefaultReceiveWindow,
		ackTimeout: 30 * time.Second,

		repriceTicks:  DefaultRepriceTicks,
		fallbackAfter: DefaultFallbackAfter,
	}
}

// OptionError is one invalid option: its name and the value given.
type OptionError struct {
	Option string
	Value  string
	Reason string
}

// Error names the option, the value and the reason.
func (e *OptionError) Error() string {
	return fmt.Sprintf("grid: %s = %s: %s", e.Option, e.Value, e.Reason)
}

// ErrInvalidOption is matched by every *OptionError.
var ErrInvalidOption = errors.New("invalid grid option")

// Is makes every OptionError match ErrInvalidOption.
func (e *OptionError) Is(target error) bool { return target == ErrInvalidOption }

func (c *config) fail(option, value, format string, a ...any) {
	c.errs = append(c.errs, &OptionError{Option: option, Value: value, Reason: fmt.Sprintf(format, a...)})
}

// validate checks the options themselves; level maths and the symbol's
// rules are checked when the levels are built.
func (c *config) validate() {
	if err := ValidGridID(c.gridID); err != nil {
		c.fail("WithGridID", fmt.Sprintf("%q", c.gridID), "%v", err)
	}
	if c.mode < Long || c.mode > Neutral {
		c.fail("WithMode", c.mode.String(), "want Long, Short or Neutral")
	}
	if !c.start.IsPositive() {
		c.fail("WithStartPrice", c.start.String(), "must be positive (required)")
	}
	switch {
	case c.bounded && c.trailing:
		c.fail("WithBounds", c.lower.String()+".."+c.upper.String(), "a grid is bounded (WithBounds) or trailing (WithTrailing), not both")
	case !c.bounded && !c.trailing:
		c.fail("WithBounds", "unset", "choose WithBounds or WithTrailing")
	case c.bounded:
		rng := c.lower.String() + ".." + c.upper.String()
		if !c.lower.IsPositive() {
			c.fail("WithBounds", rng, "lower must be positive")
		}
		if !c.upper.GreaterThan(c.lower) {
			c.fail("WithBounds", rng, "upper must be above lower")
		}
		if c.intervals < 1 || c.intervals > 100_000 {
			c.fail("WithBounds", fmt.Sprint(c.intervals), "intervals must be 1 to 100000")
		}
		if c.start.IsPositive() && c.mode == Neutral && (c.start.LessThan(c.lower) || c.start.GreaterThan(c.upper)) {
			c.fail("WithStartPrice", c.start.String(), "a neutral grid must start inside %s", rng)
		}
	case c.trailing:
		if !c.interval.IsPositive() {
			c.fail("WithTrailing", c.interval.String(), "interval must be positive")
		}
		if c.geometric && c.interval.GreaterThanOrEqual(decimal.NewFromInt(1)) {
			c.fail("WithTrailing", c.interval.String(), "a geometric interval is a fraction of the price, below 1")
		}
		if c.layerCap < 1 {
			c.fail("WithTrailing", fmt.Sprint(c.layerCap), "layer cap must be positive: a trailing grid needs a bound on what it can hold")
		}
		if c.initial != nil && *c.initial {
			c.fail("WithInitialPosition", "true", "a trailing grid starts with entries only")
		}
	}
	if !c.floor.IsZero() && (!c.floor.IsPositive() || !c.trailing) {
		c.fail("WithFloorPrice", c.floor.String(), "must be positive and goes with WithTrailing")
	}
	switch {
	case c.amount.IsZero() && c.quantity.IsZero():
		c.fail("WithAmount", "unset", "set WithAmount (quote notional per order) or WithQuantity")
	case !c.amount.IsZero() && !c.quantity.IsZero():
		c.fail("WithAmount", c.amount.String(), "WithAmount and WithQuantity exclude each other")
	case c.amount.IsNegative():
		c.fail("WithAmount", c.amount.String(), "must be positive")
	case c.quantity.IsNegative():
		c.fail("WithQuantity", c.quantity.String(), "must be positive")
	}
	if c.buyWindow < 1 || c.sellWindow < 1 || c.hysteresis < 0 {
		c.fail("WithWindows", fmt.Sprintf("%d,%d,%d", c.buyWindow, c.sellWindow, c.hysteresis), "windows must be ≥ 1 and hysteresis ≥ 0")
	}
	if c.mode == Neutral && c.initial != nil && *c.initial {
		c.fail("WithInitialPosition", "true", "a neutral grid starts with no position")
	}
	if c.posMode > exchange.Hedge {
		c.fail("WithPositionMode", c.posMode.String(), "want OneWay or Hedge")
	}
	if c.recvWindow <= 0 {
		c.fail("WithReceiveWindow", c.recvWindow.String(), "must be positive")
	}
	if c.cancelBurst < 0 || c.cancelPerFill < 0 || (c.cancelBurst > 0 && c.cancelPerFill == 0) {
		c.fail("WithCancelBudget", fmt.Sprintf("%d,%d", c.cancelBurst, c.cancelPerFill), "burst and perFill must be positive (burst 0: no budget)")
	}
	if c.riskCooldown < 0 {
		c.fail("WithRiskMonitors", c.riskCooldown.String(), "cool-down must not be negative")
	}
	for i, m := range c.monitors {
		if m == nil {
			c.fail("WithRiskMonitors", fmt.Sprintf("monitor %d", i), "is nil")
		}
	}
	for i, ch := range c.checks {
		if ch == nil {
			c.fail("WithRiskChecks", fmt.Sprintf("check %d", i), "is nil")
		}
	}
	if c.ackTimeout <= 0 {
		c.fail("WithAckTimeout", c.ackTimeout.String(), "must be positive")
	}
	c.validateControls()
	c.validateTrend()
	c.validateMaker()
	switch {
	case c.sendTimeout == 0:
		c.sendTimeout = min(defaultSendTimeout, c.ackTimeout)
	case c.sendTimeout < 0 || c.sendTimeout > c.ackTimeout:
		c.fail("WithSendTimeout", c.sendTimeout.String(), "must be positive and at most the ack timeout %s", c.ackTimeout)
	}
}

// initialPosition reports whether the grid buys (sells) its initial position.
func (c *config) initialPosition() bool {
	if !c.bounded || c.mode == Neutral {
		return false
	}
	return c.initial == nil || *c.initial
}
