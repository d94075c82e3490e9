package exchange

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stampVenue stamps every look at the account with a new number, taken
// when the request starts, and answers it after a latency, so that other
// calls arrive while requests are in flight.
type stampVenue struct {
	IExchange
	looks   atomic.Int64
	latency time.Duration
}

func (v *stampVenue) Name() string { return "stamps" }

func (v *stampVenue) look() decimal.Decimal {
	n := v.looks.Add(1)
	time.Sleep(v.latency)
	return decimal.NewFromInt(n)
}

func (v *stampVenue) Account(ctx context.Context) (Account, error) {
	return Account{TotalWallet: v.look()}, nil
}

func (v *stampVenue) Positions(ctx context.Context, symbol string) ([]Position, error) {
	return []Position{{Symbol: symbol, Quantity: v.look()}}, nil
}

func (v *stampVenue) AllPositions(ctx context.Context) ([]Position, error) {
	n := v.look()
	return []Position{{Symbol: "A", Quantity: n}, {Symbol: "B", Quantity: n}, {Symbol: "C", Quantity: n}}, nil
}

func (v *stampVenue) OpenOrders(ctx context.Context, symbol string) ([]Order, error) {
	return []Order{{Symbol: symbol, Quantity: v.look()}}, nil
}

// Property: whatever the interleaving, every call's answer comes from a
// look that started after the call was made (its stamp is above the count
// of looks when the call began), is of the call's own symbol, and many
// calls share requests.
func TestCoalesceAnswerNeverOlderThanCall(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				v := &stampVenue{latency: 50 * time.Millisecond}
				e := mustExecutor(t, v, WithLimits(LimitWindow{Name: "reads", Per: PerIP, Interval: time.Second, Max: 8, Costs: []OpCost{
					{Op: OpAccount, Units: 2}, {Op: OpPositions, Units: 2}, {Op: OpOpenOrders, Units: 2},
				}}))
				var wg sync.WaitGroup
				var calls atomic.Int64
				for i := range 12 {
					l, err := e.Lane(fmt.Sprint("L", i))
					require.NoError(t, err)
					rng := rand.New(rand.NewPCG(seed, uint64(i)))
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer l.Close()
						for range 15 {
							time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
							sym := string(rune('A' + rng.IntN(3)))
							before := v.looks.Load()
							var stamp decimal.Decimal
							var gotSym string
							switch rng.IntN(3) {
							case 0:
								a, err := l.Account(context.Background())
								require.NoError(t, err)
								stamp, gotSym = a.TotalWallet, sym
							case 1:
								ps, err := l.Positions(context.Background(), sym)
								require.NoError(t, err)
								require.Len(t, ps, 1)
								stamp, gotSym = ps[0].Quantity, ps[0].Symbol
							default:
								os, err := l.OpenOrders(context.Background(), sym)
								require.NoError(t, err)
								require.Len(t, os, 1)
								stamp, gotSym = os[0].Quantity, os[0].Symbol
							}
							calls.Add(1)
							assert.Greater(t, stamp.IntPart(), before, "the answer's look started after the call")
							assert.Equal(t, sym, gotSym)
						}
					}()
				}
				wg.Wait()
				st := e.Stats()
				sent := int64(0)
				for _, n := range st.Requests {
					sent += int64(n)
				}
				assert.Equal(t, v.looks.Load(), sent, "every look is one request counted")
				assert.Equal(t, calls.Load(), sent+int64(st.Coalesced), "every call was sent or joined one")
				assert.Positive(t, st.Coalesced)
			})
		})
	}
}
