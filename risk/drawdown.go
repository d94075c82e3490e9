package risk

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

// ================================================================= drawdown

// DrawdownSource says whose equity a [Drawdown] monitor watches. The zero
// value is DrawdownAccount.
type DrawdownSource uint8

const (
	// DrawdownAccount watches the account's equity: wallet plus unrealized
	// PnL, from [KindAccount] observations (Account.TotalMargin, or
	// TotalWallet when the venue left it zero). It includes whatever else
	// the account holds; a runner feeds it from a polled Account().
	DrawdownAccount DrawdownSource = iota
	// DrawdownGrid watches the grid's own equity: Capital plus its net PnL
	// from its own books at the last price — realized round trips plus
	// unrealized, net of fees and funding ([Books.Net]) — from [KindBooks]
	// observations. Other positions and transfers of the account do not
	// move it.
	DrawdownGrid
)

// String returns "account" or "grid".
func (s DrawdownSource) String() string {
	switch s {
	case DrawdownAccount:
		return "account"
	case DrawdownGrid:
		return "grid"
	}
	return fmt.Sprintf("DrawdownSource(%d)", uint8(s))
}

// DrawdownConfig configures a [Drawdown] monitor.
type DrawdownConfig struct {
	// Name identifies the monitor; default "drawdown".
	Name string
	// Source says whose equity is watched: the account's (the zero value)
	// or the grid's own.
	Source DrawdownSource
	// Capital is what the grid's equity is counted from with DrawdownGrid
	// (the margin or balance set aside for it, in the quote currency): the
	// grid's equity is Capital + Books.Net(), and its first peak is
	// Capital. Required (positive) with DrawdownGrid; must be zero with
	// DrawdownAccount.
	Capital decimal.Decimal
	// MaxDrawdown triggers when equity falls more than this fraction below
	// its peak; default 0.10 (10 %).
	MaxDrawdown decimal.Decimal
	// ClearDrawdown clears when the drawdown is back to at most this
	// fraction; default 0.05 (5 %). At most MaxDrawdown.
	ClearDrawdown decimal.Decimal
}

// DefaultDrawdownConfig returns the documented defaults, watching the
// account's equity.
func DefaultDrawdownConfig() DrawdownConfig {
	return DrawdownConfig{Name: "drawdown", MaxDrawdown: decimal.New(1, -1), ClearDrawdown: decimal.New(5, -2)}
}

// DefaultGridDrawdownConfig returns the documented defaults, watching the
// grid's own equity counted from capital.
func DefaultGridDrawdownConfig(capital decimal.Decimal) DrawdownConfig {
	c := DefaultDrawdownConfig()
	c.Name, c.Source, c.Capital = "grid-drawdown", DrawdownGrid, capital
	return c
}

// Validate reports every invalid field at once.
func (c DrawdownConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, fieldErr("DrawdownConfig.Name", `""`, "must not be empty"))
	}
	switch c.Source {
	case DrawdownAccount:
		if !c.Capital.IsZero() {
			errs = append(errs, fieldErr("DrawdownConfig.Capital", c.Capital, "is only read with Source grid (the account's equity is its own base)"))
		}
	case DrawdownGrid:
		if !c.Capital.IsPositive() {
			errs = append(errs, fieldErr("DrawdownConfig.Capital", c.Capital, "must be positive with Source grid"))
		}
	default:
		errs = append(errs, fieldErr("DrawdownConfig.Source", c.Source, "must be account or grid"))
	}
	if err := checkFraction("DrawdownConfig.MaxDrawdown", c.MaxDrawdown); err != nil {
		errs = append(errs, err)
	}
	if c.ClearDrawdown.IsNegative() || c.ClearDrawdown.GreaterThan(c.MaxDrawdown) {
		errs = append(errs, fieldErr("DrawdownConfig.ClearDrawdown", c.ClearDrawdown, "must be in [0, MaxDrawdown "+c.MaxDrawdown.String()+"]"))
	}
	return errors.Join(errs...)
}

// Drawdown watches an equity (see [DrawdownSource]): it triggers when
// equity falls more than MaxDrawdown below the highest equity seen, and
// clears when it is back within ClearDrawdown of that peak. Drawdown is
// (peak − equity) / peak.
//
// With DrawdownAccount, equity is Account.TotalMargin (wallet plus
// unrealized PnL) of [KindAccount] observations, or TotalWallet when the
// venue left TotalMargin zero; an update with both zero carries no equity
// and is ignored. With DrawdownGrid, equity is Capital + Books.Net() of
// [KindBooks] observations, and the peak starts at Capital.
//
// The zero value is inert; build one with [NewDrawdown]. Not safe for
// concurrent use.
type Drawdown struct {
	cfg    DrawdownConfig
	ok     bool
	peak   decimal.Decimal
	status Status
}

// NewDrawdown returns a drawdown monitor, or the configuration's errors.
func NewDrawdown(cfg DrawdownConfig) (*Drawdown, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Drawdown{cfg: cfg, ok: true, peak: cfg.Capital}, nil
}

// Name returns the configured name.
func (m *Drawdown) Name() string { return m.cfg.Name }

// equity returns the equity o carries for the configured source.
func (m *Drawdown) equity(o Observation) (decimal.Decimal, string, bool) {
	switch {
	case m.cfg.Source == DrawdownGrid && o.Kind == KindBooks:
		return m.cfg.Capital.Add(o.Books.Net()), "grid equity", true
	case m.cfg.Source == DrawdownAccount && o.Kind == KindAccount:
		eq := o.Account.TotalMargin
		if eq.IsZero() {
			eq = o.Account.TotalWallet
		}
		return eq, "equity", !eq.IsZero()
	}
	return decimal.Decimal{}, "", false
}

// Observe implements [Monitor].
func (m *Drawdown) Observe(o Observation) Status {
	if !m.ok {
		return m.status
	}
	eq, what, ok := m.equity(o)
	if !ok {
		return m.status
	}
	if eq.GreaterThan(m.peak) {
		m.peak = eq
	}
	if !m.peak.IsPositive() {
		return m.status
	}
	dd := m.peak.Sub(eq).Div(m.peak)
	switch {
	case !m.status.Triggered && dd.GreaterThan(m.cfg.MaxDrawdown):
		m.status = Status{Triggered: true, Reason: fmt.Sprintf("%s %s is %s below its peak %s at %s (limit %s)",
			what, eq, pct2(dd), m.peak, fmtTime(o.Time), pct2(m.cfg.MaxDrawdown))}
	case m.status.Triggered && !dd.GreaterThan(m.cfg.ClearDrawdown):
		m.status = Status{Reason: fmt.Sprintf("%s %s is back within %s of its peak %s at %s (clear level %s)",
			what, eq, pct2(dd), m.peak, fmtTime(o.Time), pct2(m.cfg.ClearDrawdown))}
	}
	return m.status
}
