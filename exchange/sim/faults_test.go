package sim

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// tap attaches a subscriber queue with no goroutine, so a test reads
// exactly what the venue published, synchronously.
func tap(v *Venue) func() []string {
	s := newQueueSub[exchange.UserEvent]()
	v.mu.Lock()
	v.userSubs[s] = struct{}{}
	v.mu.Unlock()
	return func() []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		var out []string
		for _, e := range s.queue {
			switch e.Kind {
			case exchange.EventOrder:
				o := e.Order
				str := o.ClientOrderID + " " + o.Status.String()
				if o.Reason != "" {
					str += " " + o.Reason
				}
				out = append(out, str)
			case exchange.EventReady:
				out = append(out, fmt.Sprintf("READY reconnected=%v", e.Reconnected))
			default:
				out = append(out, e.Kind.String())
			}
		}
		s.queue = s.queue[:0]
		return out
	}
}

func faultVenue(t *testing.T, f Faults) *Venue {
	v := newTestVenue(t, func(c *VenueConfig) { c.Faults = f })
	require.NoError(t, v.SetPrice(t.Context(), d("10000")))
	return v
}

func TestFaultsRequestErrors(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		is     error
		placed bool
	}{
		{"rate limited", Faults{RateLimited: 1}, exchange.ErrRateLimited, false},
		{"unavailable", Faults{Unavailable: 1}, exchange.ErrUnavailable, false},
		{"insufficient margin", Faults{InsufficientMargin: 1}, exchange.ErrInsufficientMargin, false},
		{"response lost", Faults{LostResponse: 1}, exchange.ErrUnknownOutcome, true},
		{"request lost", Faults{FailedUnknown: 1}, exchange.ErrUnknownOutcome, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := faultVenue(t, tt.faults)
			_, err := v.PlaceOrder(t.Context(), limit("f", exchange.Buy, "9900", "0.01"))
			require.ErrorIs(t, err, tt.is)
			var placed int64
			if tt.placed {
				placed = 1
			}
			assert.Equal(t, placed, v.Stats().Orders)
			assert.Equal(t, errors.Is(tt.is, exchange.ErrRateLimited) || errors.Is(tt.is, exchange.ErrUnavailable), exchange.Retryable(err))
			var u *exchange.UnknownOutcomeError
			if errors.As(err, &u) {
				assert.Equal(t, "place", u.Op)
				assert.Equal(t, t0.Add(time.Millisecond), u.SentAt, "SentAt is the venue's clock at the request")
			}
		})
	}
	var rl *exchange.RateLimitError
	v := faultVenue(t, Faults{RateLimited: 1})
	_, err := v.Account(t.Context())
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, time.Second, rl.RetryAfter)
	var ve *exchange.VenueError
	v = faultVenue(t, Faults{Unavailable: 1})
	_, err = v.QueryOrder(t.Context(), "BTCUSDT", "x")
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, 503, ve.HTTPStatus)
}

func TestFaultsLostResponseQueryResolves(t *testing.T) {
	v := faultVenue(t, Faults{LostResponse: 1})
	ctx := t.Context()
	_, err := v.PlaceOrder(ctx, limit("lost", exchange.Buy, "9900", "0.01"))
	require.ErrorIs(t, err, exchange.ErrUnknownOutcome)
	o, err := v.QueryOrder(ctx, "BTCUSDT", "lost") // queries are not subject to lost responses
	require.NoError(t, err)
	assert.Equal(t, exchange.StatusNew, o.Status)
	_, err = v.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "lost"})
	var u *exchange.UnknownOutcomeError
	require.ErrorAs(t, err, &u)
	assert.Equal(t, "cancel", u.Op)
	o, err = v.QueryOrder(ctx, "BTCUSDT", "lost")
	require.NoError(t, err)
	assert.Equal(t, exchange.StatusCanceled, o.Status, "the cancel took effect")

	v = faultVenue(t, Faults{FailedUnknown: 1})
	_, err = v.PlaceOrder(ctx, limit("gone", exchange.Buy, "9900", "0.01"))
	require.ErrorIs(t, err, exchange.ErrUnknownOutcome)
	_, err = v.QueryOrder(ctx, "BTCUSDT", "gone")
	require.ErrorIs(t, err, exchange.ErrOrderNotFound)
}

func TestFaultsStream(t *testing.T) {
	type step func(t *testing.T, v *Venue)
	placeA := func(t *testing.T, v *Venue) {
		_, err := v.PlaceOrder(t.Context(), limit("a", exchange.Buy, "9900", "0.01"))
		require.NoError(t, err)
	}
	cancelA := func(t *testing.T, v *Venue) {
		_, err := v.CancelOrder(t.Context(), exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "a"})
		require.NoError(t, err)
	}
	price := func(p string) step {
		return func(t *testing.T, v *Venue) { require.NoError(t, v.SetPrice(t.Context(), d(p))) }
	}
	tests := []struct {
		name   string
		faults Faults
		steps  []step
		want   [][]string // the tap after each step
	}{
		{"drop", Faults{DropUpdate: 1}, []step{placeA, price("9800")}, [][]string{nil, nil}},
		{"duplicate", Faults{DuplicateUpdate: 1}, []step{placeA, price("9800")},
			[][]string{{"a NEW", "a NEW"}, {"a FILLED", "a FILLED", "ACCOUNT", "ACCOUNT"}}},
		{"delay until the next tick", Faults{DelayUpdate: 1}, []step{placeA, price("9950"), price("9800"), price("9700")},
			[][]string{nil, {"a NEW"}, nil, {"a FILLED", "ACCOUNT"}}},
		{"reorder", Faults{ReorderUpdate: 1}, []step{placeA, cancelA, price("9990")},
			[][]string{nil, {"a CANCELED", "a NEW"}, nil}},
		{"reordered update released by a tick", Faults{ReorderUpdate: 1}, []step{placeA, price("9990")},
			[][]string{nil, {"a NEW"}}},
		{"disconnect", Faults{Disconnect: 1}, []step{placeA, cancelA, price("9990"), placeA},
			[][]string{{"DISCONNECTED"}, nil, {"READY reconnected=true"}, {"DISCONNECTED"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := faultVenue(t, tt.faults)
			read := tap(v)
			for i, s := range tt.steps {
				s(t, v)
				assert.Equal(t, tt.want[i], read(), "after step %d", i)
			}
		})
	}
}

func TestFaultsExchangeCancel(t *testing.T) {
	v := faultVenue(t, Faults{Seed: 7, ExchangeCancel: 1})
	ctx := t.Context()
	for _, cid := range []string{"x", "y", "z"} {
		_, err := v.PlaceOrder(ctx, limit(cid, exchange.Buy, "9000", "0.01"))
		require.NoError(t, err)
	}
	read := tap(v)
	require.NoError(t, v.SetPrice(ctx, d("10001")))
	got := read()
	require.Len(t, got, 1)
	assert.Regexp(t, `^[xyz] CANCELED EXCHANGE_CANCEL$`, got[0])
	open, err := v.OpenOrders(ctx, "BTCUSDT")
	require.NoError(t, err)
	assert.Len(t, open, 2)
}

// faultScript runs a fixed script against a venue with mixed faults and
// returns the stream and the errors, in order.
func faultScript(t *testing.T, seed uint64) []string {
	v := faultVenue(t, Faults{
		Seed: seed, DropUpdate: 0.1, DuplicateUpdate: 0.1, DelayUpdate: 0.1, ReorderUpdate: 0.1, Disconnect: 0.05,
		RateLimited: 0.1, Unavailable: 0.1, InsufficientMargin: 0.05, LostResponse: 0.1, FailedUnknown: 0.1, ExchangeCancel: 0.2,
	})
	ctx := t.Context()
	read := tap(v)
	var log []string
	note := func(err error) {
		if err != nil {
			log = append(log, "ERR "+err.Error())
		}
	}
	for i := range 60 {
		_, err := v.PlaceOrder(ctx, limit(fmt.Sprintf("s%d", i), exchange.Side(1+i%2), fmt.Sprint(10000+(i%7-3)*10), "0.001"))
		note(err)
		if i%4 == 0 {
			_, err = v.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: fmt.Sprintf("s%d", i-1)})
			note(err)
		}
		note(v.SetPrice(ctx, d(fmt.Sprint(10000+(i%5-2)*25))))
		log = append(log, read()...)
	}
	return log
}

func TestFaultsDeterministicBySeed(t *testing.T) {
	a, b := faultScript(t, 1), faultScript(t, 1)
	require.Equal(t, a, b)
	c := faultScript(t, 2)
	assert.NotEqual(t, a, c)
	joined := fmt.Sprint(a)
	for _, want := range []string{"rate limited", "unavailable", "margin is insufficient", "outcome unknown", "DISCONNECTED", "READY reconnected=true", "EXCHANGE_CANCEL", "FILLED"} {
		assert.Contains(t, joined, want)
	}
}

func TestFaultsEndToEndReconnect(t *testing.T) {
	v := faultVenue(t, Faults{Disconnect: 1})
	ch := userStream(t, v)
	_, err := v.PlaceOrder(t.Context(), limit("a", exchange.Buy, "9900", "0.01"))
	require.NoError(t, err)
	assert.Equal(t, exchange.EventDisconnected, (<-ch).Kind)
	require.NoError(t, v.SetPrice(t.Context(), d("10000")))
	e := <-ch
	assert.Equal(t, exchange.EventReady, e.Kind)
	assert.True(t, e.Reconnected)
}

// SetFaults calms a faulty venue and turns faults on in a calm one; a held
// event and a dropped stream are released at the next tick either way.
func TestSetFaults(t *testing.T) {
	v := faultVenue(t, Faults{Seed: 1, LostResponse: 1, Disconnect: 1})
	read := tap(v)
	req := exchange.OrderRequest{Symbol: v.rules.Symbol, ClientOrderID: "a1", Side: exchange.Buy, Type: exchange.Limit,
		Price: d("9000"), Quantity: d("0.01"), TimeInForce: exchange.GTC}
	_, err := v.PlaceOrder(t.Context(), req)
	require.ErrorIs(t, err, exchange.ErrUnknownOutcome, "the response is lost")
	assert.Equal(t, []string{"DISCONNECTED"}, read(), "the stream drops at the order's update")

	require.NoError(t, v.SetFaults(Faults{}))
	req.ClientOrderID = "a2"
	_, err = v.PlaceOrder(t.Context(), req)
	require.NoError(t, err, "calm: answered")
	require.NoError(t, v.SetPrice(t.Context(), d("10000")))
	assert.Equal(t, []string{"READY reconnected=true"}, read(), "reconnected at the tick; a2's update was lost while down")
	_, err = v.PlaceOrder(t.Context(), exchange.OrderRequest{Symbol: v.rules.Symbol, ClientOrderID: "a3", Side: exchange.Buy,
		Type: exchange.Limit, Price: d("9000"), Quantity: d("0.01"), TimeInForce: exchange.GTC})
	require.NoError(t, err)
	assert.Equal(t, []string{"a3 NEW"}, read())

	err = v.SetFaults(Faults{DropUpdate: 2})
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "VenueConfig.Faults.DropUpdate = 2")

	calm := faultVenue(t, Faults{})
	require.NoError(t, calm.SetFaults(Faults{Seed: 3, FailedUnknown: 1}))
	_, err = calm.PlaceOrder(t.Context(), req)
	require.ErrorIs(t, err, exchange.ErrUnknownOutcome)
	open, err := calm.OpenOrders(t.Context(), calm.rules.Symbol)
	require.NoError(t, err)
	assert.Empty(t, open, "the request was lost")
}
