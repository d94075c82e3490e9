package grid

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// storeOpts is a bounded long grid whose initial position is bought at the
// start price (100) for levels 100..109: their true cost (100) differs from
// their level price, which a restart without a store would have to assume.
func storeOpts() []Option {
	return []Option{WithGridID("st"), WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("2")), WithWindows(3, 2, 1)}
}

// storeScript moves the price so that the grid makes round trips, holds
// positions bought at several prices, and has entries and exits live.
var storeScript = []exchange.Ticks{102, 99, 97, 101, 96, 98}

// storeScript2 continues it: every slot bought so far exits.
var storeScript2 = []exchange.Ticks{103, 105, 108, 111}

func tradedEngine(t *testing.T) (*Engine, *bookVenue) {
	t.Helper()
	e, err := New(unitRules, storeOpts()...)
	require.NoError(t, err)
	v := newBookVenue(t, e, 100)
	for _, p := range storeScript {
		v.tick(p)
	}
	require.Positive(t, e.Books().RoundTrips)
	return e, v
}

// snapshotOf is the book venue's view, as a runner would read it.
func snapshotOf(v *bookVenue) Snapshot {
	snap := Snapshot{Position: v.position, HavePosition: true}
	for _, o := range v.orders {
		snap.Orders = append(snap.Orders, VenueOrder{Ref: o.Ref, Side: o.Side, Price: o.Price, Qty: o.Qty})
	}
	return snap
}

func TestStoreRoundTrip(t *testing.T) {
	e, _ := tradedEngine(t)
	st := e.State()
	require.NotEmpty(t, st.Slots)
	assert.Equal(t, StoredStateVersion, st.Version)
	assert.Equal(t, "st", st.GridID)
	assert.Equal(t, e.Books().Realized, st.Books.Realized)

	s, err := NewJSONFileStore(filepath.Join(t.TempDir(), "grid.json"))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.Load(ctx)
	assert.ErrorIs(t, err, ErrNoState)
	require.NoError(t, s.Save(ctx, st))
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.True(t, st.TickSize.Equal(got.TickSize))
	assert.True(t, st.StepSize.Equal(got.StepSize))
	got.TickSize, got.StepSize = st.TickSize, st.StepSize
	assert.Equal(t, st, got)
}

func TestStoreAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "grid.json")
	s, err := NewJSONFileStore(path)
	require.NoError(t, err)
	ctx := context.Background()
	a, _ := tradedEngine(t)
	stA := a.State()
	require.NoError(t, s.Save(ctx, stA))
	names := func() []string {
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	assert.Equal(t, []string{"grid.json"}, names(), "no temporary file is left behind")

	// A writer that died mid-write leaves a torn temporary file: the state
	// is still the last complete one.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "grid.json.tmp-1"), []byte(`{"version":1,"gridId":"st","sl`), 0o600))
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, stA.Books, got.Books)

	stB := stA
	stB.Books.RoundTrips++
	require.NoError(t, s.Save(ctx, stB))
	got, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, stB.Books, got.Books)

	// A save that cannot replace the file fails, names the path, and
	// leaves neither a temporary file nor a changed state.
	bad, err := NewJSONFileStore(filepath.Join(dir, "sub"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub", "x"), 0o700))
	err = bad.Save(ctx, stA)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "sub"))
	assert.ElementsMatch(t, []string{"grid.json", "grid.json.tmp-1", "sub"}, names())
	got, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, stB.Books, got.Books)
}

func TestStoreCorruptFile(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for name, content := range map[string]string{
		"not json":      `{"version":1,"gridId":`,
		"unknown field": `{"version":1,"gridId":"st","colour":"red"}`,
		"wrong version": `{"version":7,"gridId":"st"}`,
		"trailing data": `{"version":1,"gridId":"st"} {}`,
		"wrong type":    `{"version":1,"books":{"realized":"lots"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".json")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			s, err := NewJSONFileStore(path)
			require.NoError(t, err)
			_, err = s.Load(ctx)
			require.ErrorIs(t, err, ErrCorruptState)
			assert.Contains(t, err.Error(), path)
		})
	}
	_, err := NewJSONFileStore("")
	assert.Error(t, err)
}

// TestRestartWithStoreRestoresStatsExactly runs two identical grids on two
// identical venues; one of them is restarted mid-way through a store. Both
// must end with identical books and slots: the store carried the round
// trips, realized PnL, fees, counters and every slot's held quantity and
// true cost. A third, restarted from the venue alone, books its later
// exits against level prices instead, and knows nothing of the earlier
// round trips.
func TestRestartWithStoreRestoresStatsExactly(t *testing.T) {
	want, wv := tradedEngine(t)
	for _, p := range storeScript2 {
		wv.tick(p)
	}

	restarted := func(useStore bool) *Engine {
		e, v := tradedEngine(t)
		s, err := NewJSONFileStore(filepath.Join(t.TempDir(), "grid.json"))
		require.NoError(t, err)
		ctx := context.Background()
		require.NoError(t, s.Save(ctx, e.State()))

		e2, err := New(unitRules, storeOpts()...)
		require.NoError(t, err)
		if useStore {
			st, err := s.Load(ctx)
			require.NoError(t, err)
			require.NoError(t, e2.RestoreState(st))
		}
		assert.Empty(t, e2.OnPrice(v.now, v.price))
		in, err := e2.Recover(v.now, snapshotOf(v), true)
		require.NoError(t, err)
		assert.Empty(t, in, "every live order is where the engine left it")
		v.e = e2
		v.run(e2.OnStreamReady(v.now))
		if useStore {
			assert.Equal(t, e.Books(), e2.Books(), "books right after the restart")
			assert.Equal(t, e.Stats(), e2.Stats())
			var a, b []SlotView
			e.Slots(func(s SlotView) { a = append(a, s) })
			e2.Slots(func(s SlotView) { b = append(b, s) })
			assert.Equal(t, a, b, "slots right after the restart")
		}
		for _, p := range storeScript2 {
			v.tick(p)
		}
		return e2
	}

	got := restarted(true)
	assert.Equal(t, want.Books(), got.Books())
	assert.Equal(t, want.Stats(), got.Stats())

	bare := restarted(false)
	assert.Less(t, bare.Books().RoundTrips, want.Books().RoundTrips, "without a store the earlier round trips are gone")
	assert.Equal(t, want.Books().Position, bare.Books().Position, "the position is still explained")
}

func TestRestoreStateRefusesAStateThatDoesNotFit(t *testing.T) {
	e, _ := tradedEngine(t)
	good := e.State()
	fresh := func() *Engine {
		n, err := New(unitRules, storeOpts()...)
		require.NoError(t, err)
		return n
	}
	for _, tc := range []struct {
		name  string
		edit  func(*StoredState)
		wants []string
	}{
		{"other grid", func(s *StoredState) { s.GridID = "other" }, []string{`GridID = "other"`}},
		{"other units", func(s *StoredState) { s.TickSize = d("0.5"); s.StepSize = d("0.1") }, []string{"TickSize = 0.5", "StepSize = 0.1"}},
		{"other symbol", func(s *StoredState) { s.Symbol = "ETH" }, []string{`Symbol = "ETH"`}},
		{"no such level", func(s *StoredState) { s.Slots[0].Level = 99 }, []string{"Slots[0].Level = 99: outside the grid's levels 0..20"}},
		{"wrong kind", func(s *StoredState) { s.Slots[0].Kind = "short" }, []string{"Slots[0].Kind = short"}},
		{"negative held", func(s *StoredState) { s.Slots[0].Held = -1 }, []string{"Slots[0].Held = -1"}},
		{"bad state", func(s *StoredState) { s.Slots[0].State = "Dozing" }, []string{"Slots[0].State = Dozing"}},
		{"negative count", func(s *StoredState) { s.Books.Fills = -3 }, []string{"Books.Fills = -3"}},
		{"funding mark without positions", func(s *StoredState) { s.FundingMark = &StoredFundingMark{Through: 1} }, []string{"FundingMark.Positions = none"}},
		{"funding mark out of range", func(s *StoredState) {
			s.FundingMark = &StoredFundingMark{Through: -1, Remainder: d("-1.5"), Positions: []StoredPosition{{At: 5, Position: 2}, {At: 4, Position: 1}}}
		}, []string{"FundingMark.Through = -1", "FundingMark.Remainder = -1.5: want what rounding half up leaves", "FundingMark.Positions[1].At = 4: earlier than the one before it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := good
			st.Slots = append([]StoredSlot(nil), good.Slots...)
			tc.edit(&st)
			n := fresh()
			err := n.RestoreState(st)
			require.ErrorIs(t, err, ErrStateMismatch)
			for _, w := range tc.wants {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, Books{}, n.Books(), "a refused state changes nothing")
		})
	}
	n := fresh()
	require.NoError(t, n.RestoreState(good))
	err := n.RestoreState(good)
	assert.ErrorIs(t, err, ErrStateMismatch, "twice")
	assert.Contains(t, err.Error(), "needs a new engine")
}

// FuzzStoredState feeds arbitrary files to the store's decoder and what it
// accepts to RestoreState on a new engine: nothing panics, a state that
// decodes re-encodes to the same state, and a state that restores leaves
// the engine's invariants intact and recovers.
func FuzzStoredState(f *testing.F) {
	e, err := New(unitRules, storeOpts()...)
	require.NoError(f, err)
	v := newBookVenue(f, e, 100)
	for _, p := range storeScript {
		v.tick(p)
	}
	good, err := json.Marshal(e.State())
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{"version":1,"gridId":"st","symbol":"TEST","tickSize":"1","stepSize":"1","slots":[{"level":3,"kind":"long","state":"ExitOpen","role":"exit","gen":4,"orderQty":2,"filled":1,"held":1,"cost":93}]}`))
	f.Add([]byte(`{"version":1,"gridId":"st","symbol":"TEST","tickSize":"1","stepSize":"1","initial":{"gen":2,"live":true,"waiting":[12,11]}}`))
	f.Add([]byte(`{"version":2,"gridId":"st","symbol":"TEST","tickSize":"1","stepSize":"1","started":1700000000000,"terminal":{"kind":"stop-loss","reason":"stop-loss: price 95","at":1700000060000,"close":true},"books":{"funding":7},"slots":[{"level":3,"kind":"long","state":"Holding","role":"none","gen":4,"held":1,"cost":93}]}`))
	f.Add([]byte(`{"version":4,"gridId":"st","symbol":"TEST","tickSize":"1","stepSize":"1","fundingMark":{"through":1746000000000000000,"remainder":"-0.25","positions":[{"at":1746000000000000000,"position":0},{"at":1746000600000000000,"position":2,"unknown":true}]},"slots":[{"level":9,"kind":"long","state":"Holding","role":"none","gen":3,"held":2,"cost":198}]}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`[]`))
	if file, err := encodeState(e.State()); err == nil {
		f.Add(file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := decodeStateFile("fuzz.json", data); err != nil {
			require.ErrorIs(t, err, ErrCorruptState, "a file is read or refused as corrupt")
		}
		st, err := decodeState("fuzz.json", data)
		if err != nil {
			require.ErrorIs(t, err, ErrCorruptState)
			return
		}
		again, err := json.Marshal(st)
		require.NoError(t, err)
		back, err := decodeState("fuzz.json", again)
		require.NoError(t, err)
		require.Equal(t, len(st.Slots), len(back.Slots))
		n, err := New(unitRules, storeOpts()...)
		require.NoError(t, err)
		if err := n.RestoreState(st); err != nil {
			require.ErrorIs(t, err, ErrStateMismatch)
			require.Equal(t, Books{}, n.Books(), "a refused state changes nothing")
			return
		}
		require.NoError(t, n.CheckInvariants())
		now := time.Unix(1_700_000_000, 0)
		n.OnPrice(now, 100)
		_, err = n.Recover(now, Snapshot{HavePosition: true}, false)
		require.NoError(t, err)
		n.OnStreamReady(now)
		require.NoError(t, n.CheckInvariants())
	})
}

// Issue 12: a valid but edited file is refused by its checksum, the error
// says how to start from the venue alone, and a crash's temporary files are
// removed when the store is opened.
func TestStoreChecksumAndCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "grid.json")
	require.NoError(t, os.WriteFile(path+".tmp-123", []byte(`{"torn`), 0o600))
	s, err := NewJSONFileStore(path)
	require.NoError(t, err)
	_, err = os.Stat(path + ".tmp-123")
	assert.ErrorIs(t, err, os.ErrNotExist, "a crash's temporary file is removed")

	ctx := context.Background()
	a, _ := tradedEngine(t)
	require.NoError(t, s.Save(ctx, a.State()))
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, a.State(), got)

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	edited := bytes.Replace(data, []byte(`"roundTrips": `), []byte(`"roundTrips": 1`), 1)
	require.False(t, bytes.Equal(data, edited), "the test edits the round trips")
	require.NoError(t, os.WriteFile(path, edited, 0o600))
	_, err = s.Load(ctx)
	require.ErrorIs(t, err, ErrCorruptState)
	assert.Contains(t, err.Error(), "checksum mismatch")
	assert.Contains(t, err.Error(), "to start from the venue alone")
	assert.Contains(t, err.Error(), "move "+path+" away")
}

// A version-1 file (no checksum, no reservation) is still read; its
// generations floor a restart.
func TestStoreReadsVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grid.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"version":1,"gridId":"st","symbol":"TEST","tickSize":"1","stepSize":"1","baseline":0,"books":{"roundTrips":0,"realized":0,"fees":0,"placed":0,"canceled":0,"rejected":0,"fills":0,"stale":0,"illegal":0,"cancelsDeferred":0},"initial":{"gen":0},"slots":[{"level":9,"kind":"long","state":"Free","role":"none","gen":41,"held":0,"cost":0}]}`), 0o600))
	s, err := NewJSONFileStore(path)
	require.NoError(t, err)
	st, err := s.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, st.Version)
	assert.Equal(t, uint32(41), st.reservedFloor())
}

// A funding mark survives the file store exactly, and a version-3 file
// (written before it) is read without one.
func TestStoreKeepsTheFundingMark(t *testing.T) {
	st := savedHolding()
	st.FundingMark.Remainder = d("-0.12345678")
	st.FundingMark.Positions[2].Unknown = true
	s, err := NewJSONFileStore(filepath.Join(t.TempDir(), "grid.json"))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.Save(ctx, st))
	got, err := s.Load(ctx)
	require.NoError(t, err)
	require.NotNil(t, got.FundingMark)
	assert.Equal(t, "-0.12345678", got.FundingMark.Remainder.String())
	assert.Equal(t, st.FundingMark.Positions, got.FundingMark.Positions)
	assert.Equal(t, st.FundingMark.Through, got.FundingMark.Through)
	e, err := New(unitRules, storeOpts()...)
	require.NoError(t, err)
	require.NoError(t, e.RestoreState(got))

	path := filepath.Join(t.TempDir(), "v3.json")
	v3, err := encodeState(StoredState{Version: 3, GridID: "st", Symbol: "TEST", TickSize: d("1"), StepSize: d("1")})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, v3, 0o600))
	s, err = NewJSONFileStore(path)
	require.NoError(t, err)
	got, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, got.Version)
	assert.Nil(t, got.FundingMark)
}
