package grid

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// Lane is what a [Runner] sends its requests through: one grid's handle on
// an [exchange.Executor] (rate limits, retries, batches). An
// *exchange.Lane is one — the runner opens its own on the executor it is
// given ([WithExecutor]) or builds, or takes one the host opened
// ([WithLane]) — and so is an *exchange.Executor itself (its own lane).
//
// Two optional capabilities are found by type assertion: Drain(ctx) error,
// which stops the lane's placements when the runner stops (queued ones
// fail with an error matching [exchange.ErrNotSent]), and Stats()
// exchange.LaneStats, which [Runner.LaneStats] reports. Implementations
// must be safe for concurrent use.
type Lane interface {
	Place(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error)
	PlaceBatch(ctx context.Context, reqs []exchange.OrderRequest) []exchange.BatchResult
	Cancel(ctx context.Context, req exchange.CancelRequest) (exchange.Order, error)
	CancelBatch(ctx context.Context, reqs []exchange.CancelRequest) []exchange.BatchResult
	Query(ctx context.Context, symbol, clientOrderID string) (exchange.Order, error)
	OpenOrders(ctx context.Context, symbol string) ([]exchange.Order, error)
	Fills(ctx context.Context, symbol string, since time.Time) ([]exchange.Fill, error)
	Positions(ctx context.Context, symbol string) ([]exchange.Position, error)
	Account(ctx context.Context) (exchange.Account, error)
	Rules(ctx context.Context, symbol string) (exchange.Rules, error)
	// Do runs a venue call the executor has no method for (the runner's
	// funding history read) under the lane's limits and retries, charged
	// as the operation op (see [exchange.Executor.Do]).
	Do(ctx context.Context, op string, fn func(context.Context) error) error
	// ReceiveWindow is how long after it was sent a request may still
	// reach the venue (see [exchange.Executor.ReceiveWindow]).
	ReceiveWindow() time.Duration
}

var (
	_ Lane = (*exchange.Lane)(nil)
	_ Lane = (*exchange.Executor)(nil)
)

// laneStatser is the optional capability behind [Runner.LaneStats].
type laneStatser interface{ Stats() exchange.LaneStats }

// laneDrainer is the optional capability the runner's stop uses.
type laneDrainer interface {
	Drain(ctx context.Context) error
}

// WithLane makes the runner send every request through l, a lane the host
// opened on a shared executor (to set its queue bound, say
// exchange.WithLaneQueue). The runner drains the lane's placements when it
// stops but does not close it: the host does, after Run returns (a
// drained lane refuses placements, so a new runner needs a new lane).
// Not with [WithExecutor].
func WithLane(l Lane) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.lane, c.laneSet = l, true })
}

// maxLaneNames bounds the names a runner tries for its own lane.
const maxLaneNames = 100

// laneName is the name of the lane the runner opens: the grid ID and the
// symbol, then "#2", "#3"… if a lane of that name is already open.
func laneName(gridID, symbol string, n int) string {
	if n < 2 {
		return "grid " + gridID + " " + symbol
	}
	return fmt.Sprintf("grid %s %s #%d", gridID, symbol, n)
}

// openLane opens the runner's own lane on its executor, under a name no
// open lane of the executor has.
func (r *Runner) openLane() (*exchange.Lane, error) {
	var errs []error
	for n := 1; n <= maxLaneNames; n++ {
		l, err := r.exec.Lane(laneName(r.gridID, r.rules.Symbol, n))
		if err == nil {
			return l, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("grid: opening the runner's lane: %w", errors.Join(errs...))
}

// laneHolder is the lane a run uses, readable by [Runner.LaneStats] from
// any goroutine.
type laneHolder struct {
	mu   sync.Mutex
	lane Lane
}

func (h *laneHolder) set(l Lane) {
	h.mu.Lock()
	h.lane = l
	h.mu.Unlock()
}

func (h *laneHolder) get() Lane {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lane
}

// LaneStats returns a snapshot of the lane the runner sends its requests
// through: queue depth and high-water mark, waits for the rate limits,
// placements refused because the lane was full (Full: each came back to
// the engine as [OrderNotSent], its slot backing off), and requests
// dropped unsent by reason (Expired: their SendBy passed; Invalid: the
// price left the slot's window while they waited; Closed: the runner
// stopped). ok is false before Run opened the lane, or when the lane
// given with [WithLane] keeps no statistics. The runner's own lane is
// closed when Run returns; its last counts stay readable. Safe for
// concurrent use.
func (r *Runner) LaneStats() (stats exchange.LaneStats, ok bool) {
	s, ok := r.lane.get().(laneStatser)
	if !ok {
		return exchange.LaneStats{}, false
	}
	return s.Stats(), true
}

// Reconciliations reports how many periodic or reconnection
// reconciliations read the venue's view of the grid (its open orders and
// position) since the runner was made, and when the last did (zero before
// the first): a host watching many grids on one executor sees a grid
// whose reconciliation falls behind its interval. Safe for concurrent use.
func (r *Runner) Reconciliations() (count int64, last time.Time) {
	count = r.reconciled.Load()
	if ns := r.reconciledAt.Load(); ns != 0 {
		last = time.Unix(0, ns)
	}
	return count, last
}

// useLane sets up the lane for a run: the one given with WithLane, or a
// new one on the runner's executor. It returns a func that ends it when
// the run ends (closes the lane if the runner opened it).
func (r *Runner) useLane() (func(), error) {
	if r.cfg.laneSet {
		r.x = r.cfg.lane
		r.lane.set(r.x)
		return func() {}, nil
	}
	l, err := r.openLane()
	if err != nil {
		return nil, err
	}
	r.x = l
	r.lane.set(l)
	return func() { _ = l.Close() }, nil // Close always returns nil
}

// stopPlacements stops the lane's placements at once (see
// exchange.Lane.Drain): those queued in it fail unsent and come back as
// OrderNotSent, new ones are refused, while cancels and queries go on.
// The stop's own loop waits for what is in flight, so the drain is not
// waited for here: it is called with a context already ended.
func (r *Runner) stopPlacements() {
	d, ok := r.x.(laneDrainer)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = d.Drain(ctx) // an error only says requests are still on their way
}

// checkReconcileBudget warns, once, when the runner's reconciliation
// interval is shorter than the executor it opened its lane on can serve
// every open lane's reconciliation in (exchange.Executor.
// MinReconcileInterval): the reads then queue, and each grid is
// reconciled less often than asked. The host sets WithReconcileInterval
// to at least that.
func (l *loop) checkReconcileBudget() {
	r := l.r
	if l.overBudget || r.exec == nil {
		return
	}
	need := r.exec.MinReconcileInterval(exchange.OpOpenOrders, exchange.OpPositions, exchange.OpRules)
	if r.cfg.reconcile < need {
		l.overBudget = true
		r.log.Warn("grid: the reconciliation interval is shorter than the executor's limits allow for its open lanes: reconciliations will queue (set WithReconcileInterval to at least the minimum)",
			"grid", r.gridID, "interval", r.cfg.reconcile, "minimum", need)
	}
}
