package slot

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// start returns a representative long slot in each state, generation 3,
// order quantity 10 at price 100 (money is ticks × steps).
func start(st State) Slot {
	switch st {
	case Free:
		return Slot{Kind: Long, State: Free, Gen: 3, Filled: 10}
	case EntryPending:
		return Slot{Kind: Long, State: EntryPending, Role: RoleEntry, Gen: 3, OrderQty: 10}
	case EntryOpen:
		return Slot{Kind: Long, State: EntryOpen, Role: RoleEntry, Gen: 3, OrderQty: 10, Filled: 4, Held: 4, Cost: 400}
	case Holding:
		return Slot{Kind: Long, State: Holding, Gen: 3, Filled: 10, Held: 10, Cost: 1000}
	case ExitPending:
		return Slot{Kind: Long, State: ExitPending, Role: RoleExit, Gen: 3, OrderQty: 10, Held: 10, Cost: 1000}
	case ExitOpen:
		return Slot{Kind: Long, State: ExitOpen, Role: RoleExit, Gen: 3, OrderQty: 10, Filled: 4, Held: 6, Cost: 600}
	case Canceling:
		return Slot{Kind: Long, State: Canceling, Role: RoleEntry, Gen: 3, OrderQty: 10, Filled: 4, Held: 4, Cost: 400}
	}
	panic("no such state")
}

// event returns the representative event of each type for a slot in st.
func event(st State, t EventType) Event {
	s := start(st)
	switch t {
	case Submit:
		if st == Holding {
			return Event{Type: Submit, Role: RoleExit, Gen: 4, Qty: 10}
		}
		return Event{Type: Submit, Role: RoleEntry, Gen: 4, Qty: 10}
	case Fill:
		return Event{Type: Fill, Gen: 3, Qty: 10, Price: 110}
	case Canceled, Expired:
		return Event{Type: t, Gen: 3, Qty: s.Filled, Price: 100}
	case Reconciled:
		return Event{Type: Reconciled, Held: 7, Cost: 700}
	}
	return Event{Type: t, Gen: 3}
}

type want struct {
	err     bool
	ignored bool
	slot    Slot // the slot after the event (when no error and not ignored)
	eff     Effect
}

// TestTransitionTable covers every (state, event) pair.
func TestTransitionTable(t *testing.T) {
	same := func(st State) Slot { return start(st) }
	mod := func(st State, f func(*Slot)) Slot { s := start(st); f(&s); return s }
	illegal := want{err: true}
	ignored := want{ignored: true}
	reconciled := want{slot: Slot{Kind: Long, State: Holding, Gen: 3, Held: 7, Cost: 700}}

	cases := map[State]map[EventType]want{
		Free: {
			Submit:         {slot: Slot{Kind: Long, State: EntryPending, Role: RoleEntry, Gen: 4, OrderQty: 10}},
			Ack:            ignored,
			Reject:         ignored,
			Fill:           ignored, // cum 10 == filled 10: a late duplicate of the ended order
			CancelSent:     illegal,
			Canceled:       ignored,
			Expired:        ignored,
			OutcomeUnknown: ignored,
			Reconciled:     reconciled,
			Dust:           illegal,
		},
		EntryPending: {
			Submit:         illegal,
			Ack:            {slot: mod(EntryPending, func(s *Slot) { s.State = EntryOpen })},
			Reject:         {slot: Slot{Kind: Long, State: Free, Gen: 3}},
			Fill:           {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 10, Held: 10, Cost: 1100}, eff: Effect{Entered: 10, Price: 110}},
			CancelSent:     {slot: mod(EntryPending, func(s *Slot) { s.State = Canceling })},
			Canceled:       {slot: Slot{Kind: Long, State: Free, Gen: 3}},
			Expired:        {slot: Slot{Kind: Long, State: Free, Gen: 3}},
			OutcomeUnknown: {slot: mod(EntryPending, func(s *Slot) { s.Unknown = true }), eff: Effect{Query: true}},
			Reconciled:     reconciled,
			Dust:           illegal,
		},
		EntryOpen: {
			Submit:         illegal,
			Ack:            ignored,
			Reject:         {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 4, Held: 4, Cost: 400}},
			Fill:           {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 10, Held: 10, Cost: 400 + 6*110}, eff: Effect{Entered: 6, Price: 110}},
			CancelSent:     {slot: mod(EntryOpen, func(s *Slot) { s.State = Canceling })},
			Canceled:       {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 4, Held: 4, Cost: 400}},
			Expired:        {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 4, Held: 4, Cost: 400}},
			OutcomeUnknown: {slot: mod(EntryOpen, func(s *Slot) { s.Unknown = true }), eff: Effect{Query: true}},
			Reconciled:     reconciled,
			Dust:           illegal,
		},
		Holding: {
			Submit:         {slot: Slot{Kind: Long, State: ExitPending, Role: RoleExit, Gen: 4, OrderQty: 10, Held: 10, Cost: 1000}},
			Ack:            ignored,
			Reject:         ignored,
			Fill:           ignored,
			CancelSent:     illegal,
			Canceled:       ignored,
			Expired:        ignored,
			OutcomeUnknown: ignored,
			Reconciled:     reconciled,
			Dust:           {slot: mod(Holding, func(s *Slot) { s.State = Free })},
		},
		ExitPending: {
			Submit:         illegal,
			Ack:            {slot: mod(ExitPending, func(s *Slot) { s.State = ExitOpen })},
			Reject:         {slot: Slot{Kind: Long, State: Holding, Gen: 3, Held: 10, Cost: 1000}},
			Fill:           {slot: Slot{Kind: Long, State: Free, Gen: 3, Filled: 10}, eff: Effect{Exited: 10, Price: 110, Realized: 100, RoundTrip: true}},
			CancelSent:     {slot: mod(ExitPending, func(s *Slot) { s.State = Canceling })},
			Canceled:       {slot: Slot{Kind: Long, State: Holding, Gen: 3, Held: 10, Cost: 1000}},
			Expired:        {slot: Slot{Kind: Long, State: Holding, Gen: 3, Held: 10, Cost: 1000}},
			OutcomeUnknown: {slot: mod(ExitPending, func(s *Slot) { s.Unknown = true }), eff: Effect{Query: true}},
			Reconciled:     reconciled,
			Dust:           illegal,
		},
		ExitOpen: {
			Submit:         illegal,
			Ack:            ignored,
			Reject:         {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 4, Held: 6, Cost: 600}},
			Fill:           {slot: Slot{Kind: Long, State: Free, Gen: 3, Filled: 10}, eff: Effect{Exited: 6, Price: 110, Realized: 60, RoundTrip: true}},
			CancelSent:     {slot: mod(ExitOpen, func(s *Slot) { s.State = Canceling })},
			Canceled:       {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 4, Held: 6, Cost: 600}},
			Expired:        {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 4, Held: 6, Cost: 600}},
			OutcomeUnknown: {slot: mod(ExitOpen, func(s *Slot) { s.Unknown = true }), eff: Effect{Query: true}},
			Reconciled:     reconciled,
			Dust:           illegal,
		},
		Canceling: {
			Submit:         illegal,
			Ack:            {slot: same(Canceling)},
			Reject:         {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 4, Held: 4, Cost: 400}},
			Fill:           {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 10, Held: 10, Cost: 400 + 6*110}, eff: Effect{Entered: 6, Price: 110}},
			CancelSent:     ignored,
			Canceled:       {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 4, Held: 4, Cost: 400}},
			Expired:        {slot: Slot{Kind: Long, State: Holding, Gen: 3, Filled: 4, Held: 4, Cost: 400}},
			OutcomeUnknown: {slot: mod(Canceling, func(s *Slot) { s.Unknown = true }), eff: Effect{Query: true}},
			Reconciled:     reconciled,
			Dust:           illegal,
		},
	}

	pairs := 0
	for _, st := range States() {
		for _, et := range EventTypes() {
			w, ok := cases[st][et]
			require.Truef(t, ok, "no test case for (%s, %s)", st, et)
			pairs++
			t.Run(fmt.Sprintf("%s/%s", st, et), func(t *testing.T) {
				s := start(st)
				before := s
				eff, err := s.Apply(event(st, et))
				switch {
				case w.err:
					require.Error(t, err)
					assert.ErrorIs(t, err, ErrIllegal)
					var te *TransitionError
					require.ErrorAs(t, err, &te)
					assert.Equal(t, st, te.State)
					assert.Equal(t, et, te.Event)
					assert.Equal(t, before, s, "an illegal event must leave the slot unchanged")
				case w.ignored:
					require.NoError(t, err)
					assert.True(t, eff.Ignored)
					assert.Equal(t, before, s)
				default:
					require.NoError(t, err)
					assert.Equal(t, w.slot, s)
					assert.Equal(t, w.eff, eff)
					assert.NoError(t, s.Check())
				}
			})
		}
	}
	assert.Equal(t, int(numStates)*int(numEvents), pairs)
}

func TestStaleGenerationIgnored(t *testing.T) {
	for _, st := range States() {
		for _, et := range []EventType{Ack, Reject, Fill, CancelSent, Canceled, Expired, OutcomeUnknown} {
			s := start(st)
			before := s
			e := event(st, et)
			e.Gen = 2
			eff, err := s.Apply(e)
			require.NoError(t, err, "%s/%s", st, et)
			assert.True(t, eff.Ignored, "%s/%s", st, et)
			assert.Equal(t, before, s)

			e.Gen = 4
			_, err = s.Apply(e)
			assert.ErrorIs(t, err, ErrIllegal, "a future generation is impossible: %s/%s", st, et)
		}
	}
}

func TestShortRoundTrip(t *testing.T) {
	// A short slot sells 5 at 200, buys back 5 at 190: profit 5 × 10 = 50.
	s := Slot{Kind: Short}
	steps := []Event{
		{Type: Submit, Role: RoleEntry, Gen: 1, Qty: 5},
		{Type: Ack, Gen: 1},
		{Type: Fill, Gen: 1, Qty: 2, Price: 200},
		{Type: Fill, Gen: 1, Qty: 2, Price: 200}, // duplicate
		{Type: Fill, Gen: 1, Qty: 5, Price: 200},
		{Type: Submit, Role: RoleExit, Gen: 2, Qty: 5},
		{Type: Fill, Gen: 2, Qty: 3, Price: 190}, // fill before ack
		{Type: Ack, Gen: 2},
		{Type: Fill, Gen: 2, Qty: 5, Price: 190},
	}
	var realized int64
	var trips int
	for _, e := range steps {
		eff, err := s.Apply(e)
		require.NoError(t, err, "%+v", e)
		require.NoError(t, s.Check())
		realized += eff.Realized
		if eff.RoundTrip {
			trips++
		}
	}
	assert.Equal(t, int64(50), realized)
	assert.Equal(t, 1, trips)
	assert.Equal(t, Free, s.State)
	assert.Zero(t, s.Held)
	assert.Zero(t, s.Cost)
}

func TestPartialEntryCanceledLeavesDustForNextExit(t *testing.T) {
	// Entry of 10 at 100 fills 3, canceled: Holding 3. The engine finds 3
	// below the minimum and parks it as dust; the next entry of 10 fills,
	// and the exit sells all 13 at 101: profit 13 × 1 = 13.
	s := Slot{Kind: Long}
	for _, e := range []Event{
		{Type: Submit, Role: RoleEntry, Gen: 1, Qty: 10},
		{Type: Ack, Gen: 1},
		{Type: Fill, Gen: 1, Qty: 3, Price: 100},
		{Type: CancelSent, Gen: 1},
		{Type: Canceled, Gen: 1, Qty: 3, Price: 100},
		{Type: Dust},
		{Type: Submit, Role: RoleEntry, Gen: 2, Qty: 10},
		{Type: Fill, Gen: 2, Qty: 10, Price: 100},
	} {
		_, err := s.Apply(e)
		require.NoError(t, err, "%+v", e)
	}
	require.Equal(t, Holding, s.State)
	require.Equal(t, int64(13), s.Held)
	_, err := s.Apply(Event{Type: Submit, Role: RoleExit, Gen: 3, Qty: 14})
	require.Error(t, err, "an exit larger than held is refused")
	_, err = s.Apply(Event{Type: Submit, Role: RoleExit, Gen: 3, Qty: 13})
	require.NoError(t, err)
	eff, err := s.Apply(Event{Type: Fill, Gen: 3, Qty: 13, Price: 101})
	require.NoError(t, err)
	assert.Equal(t, int64(13), eff.Realized)
	assert.True(t, eff.RoundTrip)
}

func TestCancelReportsFillWeMissed(t *testing.T) {
	// The fill update was lost; the cancel update carries cumulative 6.
	s := start(EntryOpen) // filled 4
	_, err := s.Apply(Event{Type: CancelSent, Gen: 3})
	require.NoError(t, err)
	eff, err := s.Apply(Event{Type: Canceled, Gen: 3, Qty: 6, Price: 100})
	require.NoError(t, err)
	assert.Equal(t, int64(2), eff.Entered)
	assert.Equal(t, Holding, s.State)
	assert.Equal(t, int64(6), s.Held)
}

func TestOverfillIsIllegal(t *testing.T) {
	s := start(EntryOpen)
	_, err := s.Apply(Event{Type: Fill, Gen: 3, Qty: 11, Price: 100})
	require.ErrorIs(t, err, ErrIllegal)
	assert.Equal(t, start(EntryOpen), s)
}

// TestRandomEventsKeepInvariants drives slots with seeded random events,
// legal or not, and checks the invariants after every one, and that the
// books balance: held equals entered minus exited, and a flat slot has
// realized exactly its cash flows.
func TestRandomEventsKeepInvariants(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		kind := Long
		if seed%2 == 0 {
			kind = Short
		}
		s := Slot{Kind: kind}
		var entered, exited, cash, realized int64 // cash: money in (+) and out (−) for a long
		for step := 0; step < 400; step++ {
			e := randomEvent(rng, &s)
			before := s
			eff, err := s.Apply(e)
			if err != nil {
				require.True(t, errors.Is(err, ErrIllegal), "seed %d step %d: %v", seed, step, err)
				require.Equal(t, before, s, "seed %d step %d: error must not change the slot", seed, step)
				continue
			}
			require.NoError(t, s.Check(), "seed %d step %d after %+v", seed, step, e)
			if e.Type == Reconciled {
				entered, exited, cash, realized = s.Held, 0, -s.Cost, 0
				if kind == Short {
					cash = s.Cost
				}
				continue
			}
			entered += eff.Entered
			exited += eff.Exited
			realized += eff.Realized
			if kind == Long {
				cash += eff.Exited*eff.Price - eff.Entered*eff.Price
			} else {
				cash += eff.Entered*eff.Price - eff.Exited*eff.Price
			}
			require.Equal(t, entered-exited, s.Held, "seed %d step %d", seed, step)
			if s.Held == 0 {
				require.Equal(t, cash, realized, "seed %d step %d: flat slot's realized equals its cash", seed, step)
			}
		}
	}
}

func randomEvent(rng *rand.Rand, s *Slot) Event {
	gen := s.Gen
	if rng.IntN(10) == 0 && gen > 0 {
		gen-- // stale
	}
	price := int64(90 + rng.IntN(20))
	cum := s.Filled + int64(rng.IntN(4))
	if s.Role == RoleExit && cum-s.Filled > s.Held {
		cum = s.Filled + s.Held
	}
	if s.Role != RoleNone && cum > s.OrderQty {
		cum = s.OrderQty
	}
	switch t := EventType(rng.IntN(int(numEvents))); t {
	case Submit:
		role, qty := RoleEntry, int64(1+rng.IntN(8))
		if s.State == Holding {
			role, qty = RoleExit, s.Held
		}
		return Event{Type: Submit, Role: role, Gen: s.Gen + 1, Qty: qty}
	case Fill, Canceled, Expired:
		return Event{Type: t, Gen: gen, Qty: cum, Price: price}
	case Reconciled:
		if rng.IntN(4) != 0 {
			return Event{Type: Ack, Gen: gen}
		}
		held := int64(rng.IntN(6))
		return Event{Type: Reconciled, Held: held, Cost: held * price}
	default:
		return Event{Type: t, Gen: gen}
	}
}

func TestStringers(t *testing.T) {
	assert.Equal(t, "ExitOpen", ExitOpen.String())
	assert.Equal(t, "OutcomeUnknown", OutcomeUnknown.String())
	assert.Equal(t, "long", Long.String())
	assert.Equal(t, "exit", RoleExit.String())
	assert.Equal(t, "State(42)", State(42).String())
}
