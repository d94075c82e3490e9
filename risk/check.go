package risk

import (
	"errors"
	"fmt"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// ErrCheckFailed is matched (errors.Is) by every [*CheckError]: a pre-start
// check refused the plan.
var ErrCheckFailed = errors.New("risk check failed")

// Check is a pre-start safety check. Check returns nil when the plan may
// start, or an error saying what is wrong, short by how much where that is
// a number: a [*CheckError], or several joined with errors.Join. A plain
// error is wrapped into a *CheckError by [RunChecks].
//
// Checks are pure: no I/O, no clock, no goroutine. The built-ins are safe
// for concurrent use; a host's own check should be too.
type Check interface {
	// Name identifies the check in errors and logs, e.g. "margin".
	Name() string
	// Check judges the input.
	Check(in CheckInput) error
}

// CheckInput is what a pre-start check judges: the grid's plan and the
// venue's view of the account, the positions (of the plan's symbol, or of
// every symbol) and the symbol's rules as the venue states them now.
// When Rules is the zero value the plan's own Rules are used.
// CheckInput is a plain value.
type CheckInput struct {
	Plan      Plan
	Account   exchange.Account
	Positions []exchange.Position
	Rules     exchange.Rules
}

// rules returns the venue's rules, or the plan's when none were given.
func (in CheckInput) rules() exchange.Rules {
	if in.Rules.TickSize.IsPositive() {
		return in.Rules
	}
	return in.Plan.Rules
}

// CheckError is one failed check: which check, why, and by how much the
// account or the plan falls short when that is a number (in quote currency
// for balances, in price for liquidation distances, in leverage steps…; the
// Reason says which). Err is the underlying error, if any (for example an
// [*exchange.RuleError]). It matches [ErrCheckFailed].
type CheckError struct {
	Check  string
	Reason string
	Short  decimal.Decimal // zero when not numeric
	Err    error
}

// Error returns "risk check <Check>: <Reason>".
func (e *CheckError) Error() string {
	return fmt.Sprintf("risk check %s: %s", e.Check, e.Reason)
}

// Is matches ErrCheckFailed.
func (e *CheckError) Is(target error) bool { return target == ErrCheckFailed }

// Unwrap returns Err.
func (e *CheckError) Unwrap() error { return e.Err }

// RunChecks runs every check (nil entries are skipped) and returns nil when
// all pass, else every failure joined with errors.Join. Each failure is or
// contains a [*CheckError] naming its check, so callers can errors.As it;
// a check's plain error is wrapped into one with the check's name.
//
// The plan is validated first: an invalid plan fails alone, as one
// CheckError named "plan" wrapping [Plan.Validate]'s errors, and no check
// runs on it.
func RunChecks(in CheckInput, checks ...Check) error {
	if err := planError("plan", in.Plan); err != nil {
		return err
	}
	var errs []error
	for _, c := range checks {
		if c == nil {
			continue
		}
		err := c.Check(in)
		if err == nil {
			continue
		}
		var ce *CheckError
		if !errors.As(err, &ce) {
			err = &CheckError{Check: c.Name(), Reason: err.Error(), Err: err}
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckFunc adapts a function to a [Check] named Label: a host's own check
// in one line. The zero value has no function and always passes.
type CheckFunc struct {
	Label string
	Fn    func(in CheckInput) error
}

// Name returns c.Label.
func (c CheckFunc) Name() string { return c.Label }

// Check calls c.Fn, or returns nil when it is nil.
func (c CheckFunc) Check(in CheckInput) error {
	if c.Fn == nil {
		return nil
	}
	return c.Fn(in)
}

// DefaultChecks returns every built-in pre-start check with its documented
// defaults, in the order they are best read: account configuration,
// leverage (max 10), symbol rules, round-trip profit, position capacity
// (5 positions), worst-case margin (safety factor 1.2) and worst-case
// liquidation.
func DefaultChecks() []Check {
	return []Check{
		AccountConfigCheck{},
		LeverageCheck{},
		RulesCheck{},
		ProfitCheck{},
		PositionCapacityCheck{},
		MarginCheck{},
		LiquidationCheck{},
	}
}
