package grid

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// holdQueryVenue answers its first QueryOrder once release is closed and
// the others at once, counting the calls; CancelOrder finds every order
// gone.
type holdQueryVenue struct {
	exchange.IExchange // nil: only what the test calls is implemented
	queries            atomic.Int32
	release            chan struct{}
}

func (v *holdQueryVenue) Name() string { return "hold" }

func (v *holdQueryVenue) QueryOrder(_ context.Context, symbol, id string) (exchange.Order, error) {
	if v.queries.Add(1) == 1 {
		<-v.release
	}
	return exchange.Order{Symbol: symbol, ClientOrderID: id, Status: exchange.StatusCanceled}, nil
}

func (v *holdQueryVenue) CancelOrder(context.Context, exchange.CancelRequest) (exchange.Order, error) {
	return exchange.Order{}, exchange.ErrOrderNotFound
}

// One query of an order at a time: a cancel that finds its order gone
// while the loop's query of it waits for the venue asks nothing more (the
// live soak saw a stopping grid query one client order ID twice at once,
// with the shared window's room at 5); the query's answer carries the
// order's end.
func TestOneQueryOfAnOrderAtATime(t *testing.T) {
	v := &holdQueryVenue{release: make(chan struct{})}
	x, err := exchange.NewExecutor(v)
	require.NoError(t, err)
	r := &Runner{ex: v, exec: x, rules: unitRules, gridID: "t", cfg: runnerConfig{now: time.Now}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	lane, err := r.openLane()
	require.NoError(t, err)
	defer lane.Close()
	r.x = lane
	ref := OrderRef{Level: 7, Gen: 2}

	var wg sync.WaitGroup
	var first []OrderEvent
	wg.Add(1)
	go func() { defer wg.Done(); first = r.query(context.Background(), ref) }()
	require.Eventually(t, func() bool { return v.queries.Load() == 1 }, 5*time.Second, time.Millisecond)

	assert.Empty(t, r.cancel(context.Background(), []Intent{{Kind: IntentCancel, Ref: ref}}, false),
		"the cancel found the order gone while it was being queried: nothing asked, nothing answered")
	assert.Equal(t, int32(1), v.queries.Load(), "no second query of the order")
	close(v.release)
	wg.Wait()
	require.Len(t, first, 1)
	assert.Equal(t, OrderCanceled, first[0].Type)

	assert.Len(t, r.query(context.Background(), ref), 1, "the next query is sent")
	assert.Equal(t, int32(2), v.queries.Load())
}
