package exchangetest

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

func TestPostOnlyRejected(t *testing.T) {
	up := func(st exchange.OrderStatus, filled string) exchange.OrderUpdate {
		return exchange.OrderUpdate{Status: st, FilledQty: decimal.RequireFromString(filled)}
	}
	venueErr := &exchange.VenueError{Venue: "v", Code: -5022, Kind: exchange.ErrPostOnlyRejected}
	cases := []struct {
		name    string
		err     error
		updates []exchange.OrderUpdate
		want    bool
	}{
		{"synchronous -5022", fmt.Errorf("place: %w", venueErr), nil, true},
		{"other error", exchange.ErrInsufficientMargin, nil, false},
		{"accepted then expired", nil, []exchange.OrderUpdate{up(exchange.StatusNew, "0"), up(exchange.StatusExpired, "0")}, true},
		{"accepted then canceled", nil, []exchange.OrderUpdate{up(exchange.StatusNew, "0"), up(exchange.StatusCanceled, "0")}, true},
		{"accepted and resting", nil, []exchange.OrderUpdate{up(exchange.StatusNew, "0")}, false},
		{"expired after a partial fill", nil, []exchange.OrderUpdate{up(exchange.StatusNew, "0"), up(exchange.StatusExpired, "0.001")}, false},
		{"filled", nil, []exchange.OrderUpdate{up(exchange.StatusNew, "0"), up(exchange.StatusFilled, "0.002")}, false},
		{"no error, no update", nil, nil, false},
	}
	for _, c := range cases {
		if got := PostOnlyRejected(c.err, c.updates); got != c.want {
			t.Errorf("%s: PostOnlyRejected = %v, want %v", c.name, got, c.want)
		}
	}
	if !errors.Is(venueErr, exchange.ErrPostOnlyRejected) {
		t.Fatal("VenueError does not unwrap to its kind")
	}
}

func TestCheckFillSequence(t *testing.T) {
	req := exchange.OrderRequest{ClientOrderID: "c", Side: exchange.Buy, Price: decimal.RequireFromString("100"), Quantity: decimal.RequireFromString("2")}
	u := func(st exchange.OrderStatus, filled, last, price, trade string) exchange.OrderUpdate {
		return exchange.OrderUpdate{Status: st, FilledQty: decimal.RequireFromString(filled), LastFillQty: decimal.RequireFromString(last),
			LastFillPrice: decimal.RequireFromString(price), TradeID: trade}
	}
	good := []exchange.OrderUpdate{u(exchange.StatusNew, "0", "0", "0", ""), u(exchange.StatusPartiallyFilled, "1", "1", "100", "t1"), u(exchange.StatusFilled, "2", "1", "99", "t2")}
	cases := []struct {
		name string
		ups  []exchange.OrderUpdate
		ok   bool
	}{
		{"NEW, PARTIALLY_FILLED, FILLED", good, true},
		{"NEW, FILLED", []exchange.OrderUpdate{good[0], u(exchange.StatusFilled, "2", "2", "100", "t1")}, true},
		{"missing NEW", good[1:], false},
		{"fill worse than the limit", []exchange.OrderUpdate{good[0], u(exchange.StatusFilled, "2", "2", "101", "t1")}, false},
		{"last fills do not add up", []exchange.OrderUpdate{good[0], good[1], u(exchange.StatusFilled, "2", "0.5", "100", "t2")}, false},
		{"cumulative quantity falls", []exchange.OrderUpdate{good[0], u(exchange.StatusPartiallyFilled, "1", "1", "100", "t1"), u(exchange.StatusPartiallyFilled, "0.5", "0.5", "100", "t2"), u(exchange.StatusFilled, "2", "1.5", "100", "t3")}, false},
		{"under-filled", []exchange.OrderUpdate{good[0], u(exchange.StatusFilled, "1", "1", "100", "t1")}, false},
		{"no trade ID", []exchange.OrderUpdate{good[0], u(exchange.StatusFilled, "2", "2", "100", "")}, false},
	}
	for _, c := range cases {
		ft := runFake(func(ft *fakeT) { checkFillSequence(ft, c.ups, req) })
		if ft.failed == c.ok {
			t.Errorf("%s: failed = %v, want %v (%v)", c.name, ft.failed, !c.ok, ft.msgs)
		}
	}
}

// fakeT is a *testing.T stand-in that records what a check reports.
// Fatalf and Skip end the check's goroutine, as testing.T's do; run
// checks with runFake.
type fakeT struct {
	mu       sync.Mutex
	failed   bool
	skipped  bool
	msgs     []string
	logs     []string
	cleanups []func()
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = true
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeT) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func (f *fakeT) Skip(args ...any) {
	f.mu.Lock()
	f.skipped = true
	f.msgs = append(f.msgs, "skip: "+fmt.Sprint(args...))
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// report joins what the check reported.
func (f *fakeT) report() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.msgs, "\n")
}

// runFake runs fn on its own goroutine with a fresh fakeT, then its
// cleanups, last registered first, and returns the fakeT.
func runFake(fn func(ft *fakeT)) *fakeT {
	ft := &fakeT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
	}()
	<-done
	for i := len(ft.cleanups) - 1; i >= 0; i-- {
		ft.cleanups[i]()
	}
	return ft
}
