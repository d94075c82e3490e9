package grid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// Store keeps, across a restart, what the venue cannot give back: the
// engine's books (round trips, realized PnL, fees, counters), each slot's
// held quantity and its true cost (the venue knows only an average entry
// price for the whole position), the generation of each slot's latest order
// (so that a restarted grid never reuses a client order ID), and the
// baseline. A host saves [Engine.State] after every batch of events it
// applied, and on start loads it and calls [Engine.RestoreState] before
// [Engine.Recover]. A stale state (events applied after the last save) is
// brought up to date from the venue's recent fills ([Snapshot.Fills]):
// what the slots, the initial-position order and a hard stop's closing
// orders did after the save is booked — realized PnL, and each trade's fee
// once under its trade ID — as the live events would have booked it; what
// the venue no longer reports (fills older than its history) is drift. A
// [Runner] saves with the state where its booking of the venue's funding
// stood (StoredState.FundingMark), so that a restart books the funding
// settled while no runner ran (see [FundingHistory]).
//
// Implementations must be safe for the way the host calls them; the
// runner calls them from its one loop goroutine.
type Store interface {
	// Save replaces the stored state.
	Save(ctx context.Context, st StoredState) error
	// Load returns the stored state, or an error matching [ErrNoState]
	// when nothing was saved yet.
	Load(ctx context.Context) (StoredState, error)
}

// StoredStateVersion is the version of [StoredState] this package writes.
//
// The versioning rule: a field is added, or a field's meaning changes, only
// with a new version; a reader refuses a version newer than its own (it
// would misread it) and reads every older one, filling what the older
// version lacks by a stated rule. Version 1 had no generation reservation:
// read, its floor is the highest generation it names. Version 2 added the
// generation reservation (GenReserved, CloseGen), Books.NotSent, room for
// a persisted ladder (Ladder: written empty and refused set), and the grid
// controls' state: Started (when the grid began trading: its start
// trigger has fired, and its time limit counts from it), Terminal (the
// take-profit, stop-loss, stop top/bottom or time limit that ended the
// grid for good, and whether its position is still to be closed) and
// Books.Funding. Read from version 1, Started, Terminal and Funding are
// empty: no trigger fired, not terminal, no funding booked. Version 3 added
// Closing (the closing orders live at the save and what of them was
// booked); read from an older version it is empty: every closing order up
// to CloseGen counts as booked in full. Version 4 added FundingMark (where
// the runner's funding booking stood, and the grid's position over time
// since, see [FundingHistory]); read from an older version it is nil: the
// funding settled before the restart is not booked (the runner warns).
// (Adding even an optional field takes a version: readers refuse unknown
// fields, so an older reader would call a newer file corrupt instead of
// saying it is newer.)
const StoredStateVersion = 4

// oldestStoredStateVersion is the oldest version this package reads.
const oldestStoredStateVersion = 1

// Errors of the store, matched with errors.Is.
var (
	// ErrNoState: the store holds no state yet (a first start).
	ErrNoState = errors.New("grid: no stored state")
	// ErrCorruptState: the stored state cannot be read (the error names
	// the path and what is wrong).
	ErrCorruptState = errors.New("grid: stored state is corrupt")
	// ErrStateMismatch: a stored state does not fit the engine it is
	// restored into (another grid, symbol or unit size, a level the engine
	// does not have, inconsistent numbers, or an engine already in use).
	ErrStateMismatch = errors.New("grid: stored state does not fit the engine")
)

// StoredState is an engine's state as a [Store] keeps it, in the symbol's
// integer units (money in ticks × steps, quantities in steps), with the
// unit sizes so that a state is never read with other units. The zero value
// is an empty state of no grid. It is a plain value; JSON encoding is exact
// (integers, and decimals as strings).
type StoredState struct {
	Version  int             `json:"version"`
	GridID   string          `json:"gridId"`
	Symbol   string          `json:"symbol"`
	TickSize decimal.Decimal `json:"tickSize"`
	StepSize decimal.Decimal `json:"stepSize"`
	// Baseline is the position the grid found at its first start and does
	// not own (see [Engine.Baseline]).
	Baseline exchange.Steps `json:"baseline"`
	Books    StoredBooks    `json:"books"`
	// Initial is the initial-position order, if the grid has sent one.
	Initial StoredInitial `json:"initial"`
	// GenReserved is the last client order generation reserved (see
	// [Engine.UseReservations]): a restart from this state uses only
	// generations above it, and above every generation the state names.
	GenReserved uint32 `json:"genReserved,omitempty"`
	// CloseGen is the generation of the last order that closed the grid's
	// position at a hard stop (0: none).
	CloseGen uint32 `json:"closeGen,omitempty"`
	// Closing lists the closing orders live at the save, each with the
	// quantity of its fills the books hold, so that a restart books the
	// rest from the venue's trades (every other closing order up to
	// CloseGen was booked in full).
	Closing []StoredCloseLeg `json:"closing,omitempty"`
	// Trades are the IDs of the latest trades whose fees the engine booked
	// (at most 1,024, oldest first), so that a restarted engine does not
	// book a fee again when the venue delivers one of them late.
	Trades []string `json:"trades,omitempty"`
	// Ladder is reserved for a grid whose levels are persisted (their
	// prices, in ticks); empty in this version.
	Ladder []exchange.Ticks `json:"ladder,omitempty"`
	// Started is when the grid began trading, in Unix milliseconds (0:
	// not yet: a grid whose start trigger has not fired). A restored grid
	// with Started set does not wait for its trigger again, and its time
	// limit counts from Started.
	Started int64 `json:"started,omitempty"`
	// Terminal is set when a grid control ended the grid for good; a
	// restored engine with it stays stopped (and finishes closing its
	// position if it was closing). nil while the grid runs.
	Terminal *StoredTerminal `json:"terminal,omitempty"`
	// FundingMark is where the runner's booking of the venue's funding
	// stood at the save (see [FundingHistory]); nil when the runner books
	// no funding, or the state was not saved by a runner. The engine
	// keeps no part of it: [Engine.State] leaves it nil and
	// [Engine.RestoreState] only checks it.
	FundingMark *StoredFundingMark `json:"fundingMark,omitempty"`
	// Slots lists every slot that has sent an order or holds a position,
	// in level order.
	Slots []StoredSlot `json:"slots"`
}

// StoredFundingMark is where a runner's funding booking stood at a save:
// the latest settlement it booked (or passed over), the booked total's
// part below the Money unit, and the grid's signed position over time
// since that settlement, so that a restart books each settlement that
// fell while no runner ran, once, with the position the grid held then.
// The zero value is not a valid mark (it has no position).
type StoredFundingMark struct {
	// Through is the time of the latest settlement booked or passed over,
	// in Unix nanoseconds (the run's start when none was): a restart
	// books only later ones.
	Through int64 `json:"through"`
	// Remainder is the exact funding booked minus what Books.Funding
	// holds of it, in Money units (in [−0.5, 0.5): the total is rounded
	// half up), so that the running total goes on rounding as the venue's.
	Remainder decimal.Decimal `json:"remainder"`
	// Positions is the grid's position from each time on, oldest first:
	// the one in force at Through and every later change up to the save
	// (at most 256, the latest), the last being the position of this
	// state at the save's time. Before the first, the position is unknown.
	Positions []StoredPosition `json:"positions"`
}

// StoredPosition is the grid's signed position (steps) from a time on.
type StoredPosition struct {
	At       int64          `json:"at"` // Unix nanoseconds
	Position exchange.Steps `json:"position"`
	// Unknown says the position from At on is not known (the venue's
	// fills of that time were not available): a settlement then is not
	// booked.
	Unknown bool `json:"unknown,omitempty"`
}

// StoredCloseLeg is a closing order live at the save: its generation and
// the quantity of its fills booked.
type StoredCloseLeg struct {
	Gen    uint32         `json:"gen"`
	Filled exchange.Steps `json:"filled"`
}

// StoredTerminal is how a grid ended for good (see [Engine.Terminal]).
type StoredTerminal struct {
	// Kind is a TerminalXxx kind: "take-profit", "stop-loss", "stop-top",
	// "stop-bottom" or "time-limit".
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	At     int64  `json:"at"` // Unix milliseconds
	// Close says the grid's position is to be closed (a restored engine
	// goes on closing what it still holds).
	Close bool `json:"close,omitempty"`
}

// StoredBooks are the engine's running totals ([Books] without what the
// slots themselves give: position, held, cost and open orders). The zero
// value is an empty tally.
type StoredBooks struct {
	RoundTrips int            `json:"roundTrips"`
	Realized   exchange.Money `json:"realized"`
	Fees       exchange.Money `json:"fees"`
	Placed     int            `json:"placed"`
	Canceled   int            `json:"canceled"`
	Rejected   int            `json:"rejected"`
	NotSent    int            `json:"notSent,omitempty"`
	Fills      int            `json:"fills"`
	Stale      int            `json:"stale"`
	Illegal    int            `json:"illegal"`
	// CancelsDeferred counts the window cancels the cancel budget held back.
	CancelsDeferred int `json:"cancelsDeferred"`
	// Funding is the funding booked ([Engine.BookFunding]).
	Funding exchange.Money `json:"funding,omitempty"`
}

// StoredInitial is the initial-position order: its generation and, while
// it is live, what it has filled and the levels still waiting for their
// share. The zero value means none was sent.
type StoredInitial struct {
	Gen     uint32         `json:"gen"`
	Live    bool           `json:"live,omitempty"`
	Filled  exchange.Steps `json:"filled,omitempty"`
	Waiting []int64        `json:"waiting,omitempty"` // levels still reserved, nearest the price first
}

// StoredSlot is one slot: its position, the generation of its latest
// order, and its live order if it has one. The zero value is not a valid
// slot (it has no kind).
type StoredSlot struct {
	Level int64  `json:"level"`
	Kind  string `json:"kind"`  // "long" or "short"
	State string `json:"state"` // a slot.State name
	// Role is the live order's role ("entry" or "exit"); "none" without one.
	Role     string         `json:"role"`
	Gen      uint32         `json:"gen"`
	OrderQty exchange.Steps `json:"orderQty,omitempty"`
	Filled   exchange.Steps `json:"filled,omitempty"`
	Held     exchange.Steps `json:"held"`
	Cost     exchange.Money `json:"cost"`
	// TripRealized and TripFees belong to the round trip in progress.
	TripRealized exchange.Money `json:"tripRealized,omitempty"`
	TripFees     exchange.Money `json:"tripFees,omitempty"`
}

// State exports what a [Store] keeps of the engine: the books, the
// baseline, the initial-position order and every slot that has sent an
// order or holds a position. It does not change the engine.
func (e *Engine) State() StoredState {
	b := e.books
	st := StoredState{
		Version: StoredStateVersion, GridID: e.cfg.gridID, Symbol: e.rules.Symbol,
		TickSize: e.rules.TickSize, StepSize: e.rules.StepSize, Baseline: e.baseline,
		Books: StoredBooks{
			RoundTrips: b.RoundTrips, Realized: b.Realized, Fees: b.Fees, Placed: b.Placed, Canceled: b.Canceled,
			Rejected: b.Rejected, NotSent: b.NotSent, Fills: b.Fills, Stale: b.Stale, Illegal: b.Illegal, CancelsDeferred: b.CancelsDeferred,
			Funding: b.Funding,
		},
		Initial:     StoredInitial{Gen: e.initial.gen},
		GenReserved: max(e.genAsked, e.genLimit),
		Trades:      e.recentTrades(storedTrades),
		CloseGen:    e.closing.gen,
	}
	if k := &e.ctl; k.startedAt > 0 {
		st.Started = time.Unix(0, k.startedAt).UnixMilli()
	}
	if k := &e.ctl; k.terminal != "" {
		st.Terminal = &StoredTerminal{Kind: k.terminal, Reason: k.terminalWhy, At: time.Unix(0, k.terminalAt).UnixMilli(), Close: k.terminalClose}
	}
	for _, leg := range e.closing.legs {
		if leg.live {
			st.Closing = append(st.Closing, StoredCloseLeg{Gen: leg.gen, Filled: leg.filled})
		}
	}
	if in := &e.initial; in.live {
		st.Initial.Live, st.Initial.Filled = true, in.filled
		st.Initial.Waiting = append([]int64{}, in.targets[in.next:]...)
	}
	for j := range e.levels {
		lv := &e.levels[j]
		s := &lv.s
		if s.Kind == 0 || (s.Gen == 0 && s.Held == 0) {
			continue
		}
		st.Slots = append(st.Slots, StoredSlot{
			Level: e.base + int64(j), Kind: s.Kind.String(), State: s.State.String(), Role: s.Role.String(),
			Gen: s.Gen, OrderQty: exchange.Steps(s.OrderQty), Filled: exchange.Steps(s.Filled),
			Held: exchange.Steps(s.Held), Cost: exchange.Money(s.Cost), TripRealized: lv.pnl, TripFees: lv.fees,
		})
	}
	return st
}

// RestoreState loads a stored state into a new engine of the same grid
// (same grid ID, symbol and unit sizes), before [Engine.Recover]. Every
// slot gets its held quantity, cost and order generation back, and its
// live order as the engine last knew it; Recover then checks each against
// the venue (an order the venue no longer has is queried) and keeps the
// stored baseline instead of claiming anything. The whole state is checked
// first: on error (matching [ErrStateMismatch], naming the field and the
// value) the engine is unchanged.
func (e *Engine) RestoreState(st StoredState) error {
	if err := e.checkState(st); err != nil {
		return err
	}
	sb := st.Books
	e.books.RoundTrips, e.books.Realized, e.books.Fees = sb.RoundTrips, sb.Realized, sb.Fees
	e.books.Placed, e.books.Canceled, e.books.Rejected, e.books.NotSent = sb.Placed, sb.Canceled, sb.Rejected, sb.NotSent
	e.books.Fills, e.books.Stale, e.books.Illegal, e.books.CancelsDeferred = sb.Fills, sb.Stale, sb.Illegal, sb.CancelsDeferred
	e.books.Funding = sb.Funding
	e.baseline = st.Baseline
	e.restoreControls(st)
	now := time.Time{}
	for _, ss := range st.Slots {
		e.ensure(ss.Level-1, ss.Level+1)
		lv := e.lv(ss.Level)
		state, _ := parseState(ss.State)
		role, _ := parseRole(ss.Role)
		ev := slot.Event{Type: slot.Reconciled, Gen: ss.Gen, Held: int64(ss.Held), Cost: int64(ss.Cost)}
		if role != slot.RoleNone {
			ev.Role, ev.Qty, ev.Filled = role, int64(ss.OrderQty), int64(ss.Filled)
			ev.Acked = state != slot.EntryPending && state != slot.ExitPending
		}
		e.applyQuiet(now, ss.Level, lv, ev)
		lv.pnl, lv.fees = ss.TripRealized, ss.TripFees
	}
	e.initial.gen = st.Initial.Gen
	e.closing.gen = st.CloseGen
	for _, leg := range st.Closing {
		if e.closing.restored == nil {
			e.closing.restored = make(map[uint32]exchange.Steps, len(st.Closing))
		}
		e.closing.restored[leg.Gen] = leg.Filled
	}
	for _, id := range st.Trades {
		e.rememberTrade(id)
	}
	// Every generation the last run may have used is at or below the
	// floor: nothing of this run reuses one.
	e.genFloor = max(e.genFloor, st.reservedFloor())
	if st.Initial.Live {
		e.initial.live, e.initial.filled, e.initial.next = true, st.Initial.Filled, 0
		e.initial.targets = append(e.initial.targets[:0], st.Initial.Waiting...)
		for _, i := range st.Initial.Waiting {
			e.lv(i).reserved = true
		}
		e.books.OpenOrders++
	}
	e.recovered = e.recovered || len(st.Slots) > 0 || st.Initial.Gen > 0 || sb.Fills > 0
	return nil
}

// restoredState reports whether the engine holds a restored (or any)
// state: Recover then keeps the stored baseline instead of claiming.
func (e *Engine) restoredState() bool {
	return e.books != (Books{}) || e.layers > 0 || e.baseline != 0 || e.initial.gen > 0 || e.ctl.startedAt > 0 || e.ctl.terminal != ""
}

// restoreControls restores the controls' state: a grid that had started
// does not wait for its trigger again, and its time limit counts from its
// first start; a terminal grid stays stopped and goes on closing its
// position if it was closing.
func (e *Engine) restoreControls(st StoredState) {
	k := &e.ctl
	if st.Started > 0 {
		k.fired, k.checked = true, true
		k.startedAt = time.UnixMilli(st.Started).UnixNano()
		k.waiting = ""
	}
	if t := st.Terminal; t != nil {
		k.fired, k.checked, k.waiting = true, true, ""
		k.terminal, k.terminalWhy, k.terminalAt, k.terminalClose = t.Kind, t.Reason, time.UnixMilli(t.At).UnixNano(), t.Close
		e.halted, e.haltReason = true, t.Reason
		if t.Close {
			e.closing.wanted = true
			e.closing.limitFirst = !e.cfg.closeSet || e.cfg.closeTimeout > 0
		}
	}
}

// checkState validates a stored state against the engine, reporting every
// problem at once.
func (e *Engine) checkState(st StoredState) error {
	var errs []error
	bad := func(field string, v any, reason string) {
		errs = append(errs, fmt.Errorf("%w: %s = %v: %s", ErrStateMismatch, field, v, reason))
	}
	if e.started || e.restoredState() {
		bad("engine", e.cfg.gridID, "RestoreState needs a new engine, before Recover and the first OnStreamReady")
		return errors.Join(errs...)
	}
	if st.Version < oldestStoredStateVersion || st.Version > StoredStateVersion {
		bad("Version", st.Version, fmt.Sprintf("want %d to %d", oldestStoredStateVersion, StoredStateVersion))
	}
	if len(st.Ladder) > 0 {
		bad("Ladder", fmt.Sprintf("%d levels", len(st.Ladder)), "reserved: this version of the engine cannot restore it")
	}
	if st.Started < 0 {
		bad("Started", st.Started, "must not be negative")
	}
	if m := st.FundingMark; m != nil {
		checkFundingMark(m, bad)
	}
	for k, leg := range st.Closing {
		if leg.Gen == 0 || leg.Gen > st.CloseGen || leg.Filled < 0 {
			bad(fmt.Sprintf("Closing[%d]", k), fmt.Sprintf("generation %d filled %d", leg.Gen, leg.Filled), fmt.Sprintf("want a generation from 1 to CloseGen (%d) and a filled quantity ≥ 0", st.CloseGen))
		}
	}
	if t := st.Terminal; t != nil {
		switch t.Kind {
		case TerminalTakeProfit, TerminalStopLoss, TerminalStopTop, TerminalStopBottom, TerminalTimeLimit:
		default:
			bad("Terminal.Kind", fmt.Sprintf("%q", t.Kind), "want take-profit, stop-loss, stop-top, stop-bottom or time-limit")
		}
	}
	if st.GridID != e.cfg.gridID {
		bad("GridID", fmt.Sprintf("%q", st.GridID), fmt.Sprintf("the engine is grid %q", e.cfg.gridID))
	}
	if st.Symbol != e.rules.Symbol {
		bad("Symbol", fmt.Sprintf("%q", st.Symbol), fmt.Sprintf("the engine trades %q", e.rules.Symbol))
	}
	if !st.TickSize.Equal(e.rules.TickSize) {
		bad("TickSize", st.TickSize, "differs from the symbol's "+e.rules.TickSize.String()+": the stored units no longer apply")
	}
	if !st.StepSize.Equal(e.rules.StepSize) {
		bad("StepSize", st.StepSize, "differs from the symbol's "+e.rules.StepSize.String()+": the stored units no longer apply")
	}
	b := st.Books
	for _, n := range []struct {
		name string
		v    int
	}{{"RoundTrips", b.RoundTrips}, {"Placed", b.Placed}, {"Canceled", b.Canceled}, {"Rejected", b.Rejected}, {"NotSent", b.NotSent},
		{"Fills", b.Fills}, {"Stale", b.Stale}, {"Illegal", b.Illegal}, {"CancelsDeferred", b.CancelsDeferred}} {
		if n.v < 0 {
			bad("Books."+n.name, n.v, "must not be negative")
		}
	}
	seen := make(map[int64]bool, len(st.Slots))
	for k, ss := range st.Slots {
		f := fmt.Sprintf("Slots[%d]", k)
		if ss.Level < e.minL || ss.Level > e.maxL {
			bad(f+".Level", ss.Level, fmt.Sprintf("outside the grid's levels %d..%d", e.minL, e.maxL))
			continue
		}
		if seen[ss.Level] {
			bad(f+".Level", ss.Level, "appears twice")
			continue
		}
		seen[ss.Level] = true
		e.ensure(ss.Level-1, ss.Level+1) // storage only: makes no order
		kind := e.lv(ss.Level).s.Kind
		if kind == 0 {
			bad(f+".Level", ss.Level, "has no slot in this grid")
			continue
		}
		if ss.Kind != kind.String() {
			bad(f+".Kind", ss.Kind, "the level's slot is "+kind.String())
		}
		state, okS := parseState(ss.State)
		role, okR := parseRole(ss.Role)
		if !okS {
			bad(f+".State", ss.State, "not a slot state")
		}
		if !okR {
			bad(f+".Role", ss.Role, "want none, entry or exit")
		}
		if ss.Held < 0 || (ss.Held == 0 && ss.Cost != 0) || (ss.Held > 0 && ss.Cost <= 0) {
			bad(f+".Held", fmt.Sprintf("%d (cost %d)", ss.Held, ss.Cost), "held must be ≥ 0, with a positive cost exactly when positive")
		}
		if !okS || !okR {
			continue
		}
		switch {
		case role == slot.RoleNone && state != slot.Free && state != slot.Holding:
			bad(f+".State", ss.State, "a slot without an order is Free or Holding")
		case role != slot.RoleNone && (state == slot.Free || state == slot.Holding):
			bad(f+".Role", ss.Role, "a "+ss.State+" slot has no order")
		case role != slot.RoleNone && (ss.OrderQty <= 0 || ss.Filled < 0 || ss.Filled >= ss.OrderQty):
			bad(f+".Filled", fmt.Sprintf("%d of %d", ss.Filled, ss.OrderQty), "a live order has a positive quantity, not all filled")
		case role == slot.RoleExit && ss.OrderQty-ss.Filled > ss.Held:
			bad(f+".OrderQty", ss.OrderQty, fmt.Sprintf("the exit's rest %d exceeds held %d", ss.OrderQty-ss.Filled, ss.Held))
		case role != slot.RoleNone && ss.Gen == 0:
			bad(f+".Gen", ss.Gen, "a live order has a generation")
		}
	}
	if in := st.Initial; in.Live {
		if in.Gen == 0 {
			bad("Initial.Gen", in.Gen, "a live initial order has a generation")
		}
		if in.Filled < 0 {
			bad("Initial.Filled", in.Filled, "must not be negative")
		}
		live := make(map[int64]bool, len(st.Slots))
		for _, ss := range st.Slots {
			live[ss.Level] = ss.Role != slot.RoleNone.String()
		}
		waiting := make(map[int64]bool, len(in.Waiting))
		for k, i := range in.Waiting {
			f := fmt.Sprintf("Initial.Waiting[%d]", k)
			if i < e.minL || i > e.maxL || waiting[i] || live[i] {
				bad(f, i, "not a level of the grid without an order, listed once")
				continue
			}
			waiting[i] = true
			e.ensure(i-1, i+1)
			if e.lv(i).s.Kind == 0 {
				bad(f, i, "has no slot in this grid")
			}
		}
	}
	return errors.Join(errs...)
}

// checkFundingMark reports what is wrong with a stored funding mark.
func checkFundingMark(m *StoredFundingMark, bad func(field string, v any, reason string)) {
	if m.Through < 0 {
		bad("FundingMark.Through", m.Through, "must not be negative")
	}
	if half := decimal.New(5, -1); m.Remainder.LessThan(half.Neg()) || m.Remainder.GreaterThanOrEqual(half) {
		bad("FundingMark.Remainder", m.Remainder, "want what rounding half up leaves, from −0.5 to below 0.5 Money units")
	}
	if len(m.Positions) == 0 {
		bad("FundingMark.Positions", "none", "a mark holds at least the position at the save")
	}
	if len(m.Positions) > storedFundingPositions {
		bad("FundingMark.Positions", fmt.Sprintf("%d", len(m.Positions)), fmt.Sprintf("at most %d", storedFundingPositions))
	}
	for k, p := range m.Positions {
		if k > 0 && p.At < m.Positions[k-1].At {
			bad(fmt.Sprintf("FundingMark.Positions[%d].At", k), p.At, "earlier than the one before it: want oldest first")
		}
	}
}

func parseState(s string) (slot.State, bool) {
	for _, st := range slot.States() {
		if st.String() == s {
			return st, true
		}
	}
	return 0, false
}

func parseRole(s string) (slot.Role, bool) {
	for _, r := range []slot.Role{slot.RoleNone, slot.RoleEntry, slot.RoleExit} {
		if r.String() == s {
			return r, true
		}
	}
	return 0, false
}
