package grid

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// jumpVenue accepts every order; the first placement moves the runner's
// last price (as a feed would while the rest of a batch waits its turn).
type jumpVenue struct {
	exchange.IExchange // nil: only what the test calls is implemented
	mu                 sync.Mutex
	placed             []string
	onFirst            func()
}

func (v *jumpVenue) Name() string { return "jump" }

func (v *jumpVenue) PlaceOrder(_ context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	v.mu.Lock()
	v.placed = append(v.placed, req.ClientOrderID)
	first := len(v.placed) == 1
	v.mu.Unlock()
	if first && v.onFirst != nil {
		v.onFirst()
	}
	return exchange.Order{Symbol: req.Symbol, ClientOrderID: req.ClientOrderID, Status: exchange.StatusNew}, nil
}

// TestPlaceDropsTheRestOfABatchThePriceLeft: the executor checks each
// placement's band just before sending it; a batch of entries whose band
// the price left after the first was sent comes back unsent. A market
// order in the batch (the initial position) is never dropped for the
// price, and goes first on its own, so the entries beside it keep their
// bands (the crowd soak, seed 782, saw a short grid's initial entries
// reach the venue far past their window because they rode along with the
// initial position's market order).
func TestPlaceDropsTheRestOfABatchThePriceLeft(t *testing.T) {
	entry := func(level int64, price exchange.Ticks) Intent {
		return Intent{Kind: IntentPlace, Ref: OrderRef{Level: level, Gen: 1}, Role: slot.RoleEntry, Side: exchange.Buy, Price: price, Qty: 1, PostOnly: true}
	}
	market := Intent{Kind: IntentPlace, Ref: OrderRef{Level: InitialLevel, Gen: 1}, Role: slot.RoleEntry, Side: exchange.Buy, Market: true, Qty: 3}
	stale := priceBand{lo: anyPrice.lo, hi: 110} // an entry is stale above 110
	for _, tc := range []struct {
		name    string
		intents []Intent
		bands   []priceBand
		want    []OrderEventType
		sent    int
	}{
		{"entries", []Intent{entry(9, 99), entry(8, 98), entry(7, 97)}, []priceBand{stale, stale, stale},
			[]OrderEventType{OrderAccepted, OrderNotSent, OrderNotSent}, 1},
		{"with the initial position", []Intent{entry(9, 99), market, entry(7, 97)}, []priceBand{stale, anyPrice, stale},
			[]OrderEventType{OrderAccepted, OrderNotSent, OrderNotSent}, 1}, // the market order first
		{"no band", []Intent{entry(9, 99), entry(8, 98)}, nil,
			[]OrderEventType{OrderAccepted, OrderAccepted}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &jumpVenue{}
			x, err := exchange.NewExecutor(v)
			require.NoError(t, err)
			r := &Runner{ex: v, exec: x, rules: unitRules, gridID: "t", cfg: runnerConfig{now: time.Now}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			lane, err := r.openLane()
			require.NoError(t, err)
			defer lane.Close()
			r.x = lane
			r.lastPrice.Store(100)
			v.onFirst = func() { r.lastPrice.Store(111) }
			evs := r.place(context.Background(), tc.intents, tc.bands)
			var got []OrderEventType
			for _, ev := range evs {
				got = append(got, ev.Type)
			}
			assert.Equal(t, tc.want, got)
			assert.Len(t, v.placed, tc.sent)
			if tc.name == "entries" { // with the market order first, the runner's own check drops the rest
				assert.Positive(t, lane.Stats().Invalid, "counted as invalid by the lane")
			}
		})
	}
}
