package exchange

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ctxExchange keeps the context of each place it is asked for.
type ctxExchange struct {
	*scriptedExchange
	got []context.Context
}

func (c *ctxExchange) PlaceOrder(ctx context.Context, req OrderRequest) (Order, error) {
	c.got = append(c.got, ctx)
	return Order{Symbol: req.Symbol, ClientOrderID: req.ClientOrderID, Status: StatusNew}, nil
}

type callerKey struct{}

// The context the adapter gets carries the caller's values, the
// executor's request timeout, the call's usage reporter (the job, which
// charges the report to the executor), and ends when the call returns.
func TestAdapterContextOfACall(t *testing.T) {
	f := &ctxExchange{scriptedExchange: newScripted(executorWallClock{})}
	e := mustExecutor(t, f, WithRequestTimeout(7*time.Second),
		WithLimits(LimitWindow{Name: "ORDERS_10S", Per: PerAccount, Interval: 10 * time.Second, Max: 100,
			Costs: []OpCost{{Op: OpPlace, Units: 1}}}))
	ctx := context.WithValue(context.Background(), callerKey{}, "mine")
	before := time.Now()
	_, err := e.Place(ctx, execOrder("c1"))
	require.NoError(t, err)
	require.Len(t, f.got, 1)
	got := f.got[0]
	assert.Equal(t, "mine", got.Value(callerKey{}), "the caller's values reach the adapter")
	dl, ok := got.Deadline()
	require.True(t, ok, "the request has the executor's timeout")
	assert.WithinDuration(t, before.Add(7*time.Second), dl, time.Second)
	assert.ErrorIs(t, got.Err(), context.Canceled, "the request's context ends with the call")
	select {
	case <-got.Done():
	default:
		t.Fatal("Done is not closed after the call")
	}
	_, ok = got.Value(usageKey{}).(UsageReporter)
	require.True(t, ok, "the adapter can report usage")
	// A report through the call's context reaches the executor's window.
	ReportUsage(got, Usage{Window: "ORDERS_10S", Used: 100, Reset: time.Now().Add(time.Hour)})
	assert.Equal(t, uint64(1), e.Stats().UsageReports)
	// Derived contexts (net/http derives its own) see the same values.
	child, cancel := context.WithCancel(got)
	defer cancel()
	assert.Equal(t, "mine", child.Value(callerKey{}))
	assert.NotNil(t, child.Value(usageKey{}))
}
