// Package examplevenue shows how to connect gridmesh to a new venue: it is
// a small but complete [exchange.IExchange] adapter, written to be read.
//
// The venue is make-believe and lives in memory ([Server], server*.go), but
// it behaves like a remote exchange with a protocol of its own: numeric
// order IDs, lower-case sides and states, decimal strings, Unix
// milliseconds, fees that are negative when charged, numbered error codes,
// post-only orders that are accepted and then canceled, partial fills, a
// per-second order limit and push connections. The adapter ([Adapter])
// translates all of it. For a real venue, server*.go are the venue's
// REST and WebSocket API behind a client; everything else stays the same.
//
// # Writing an adapter, in order
//
//  1. Run the conformance suite first. conformance_test.go hands
//     exchangetest.Run a fresh venue per check, with a hook that moves the
//     venue's price so the suite can fill orders. Every check fails at
//     first; each one that passes is a part of the contract done.
//  2. Declare what the adapter implements, so the compiler checks it:
//     var _ exchange.IExchange = (*Adapter)(nil), and each optional
//     capability the executor should find (here RateLimitDeclarer).
//  3. Translate requests and answers (adapter.go): decimals cross as the
//     venue's strings, IDs as its IDs, statuses onto exchange.OrderStatus.
//     Normalise conventions here and nowhere else — this venue's fee sign
//     is the opposite of gridmesh's, so toFill flips it.
//  4. Map errors (errors.go): every venue code the engine must branch on
//     becomes an exchange sentinel, through *exchange.VenueError's Kind
//     (and *exchange.RateLimitError for a refusal with a wait). A place or
//     cancel whose answer was lost is *exchange.UnknownOutcomeError: the
//     engine queries the order before it does anything else.
//  5. Run the streams on goroutines the adapter owns (streams.go): the
//     order stream opens with EventReady and never drops an update (an
//     adapter that must drop one says so: EventDisconnected, then
//     EventReady with Reconnected set, and the engine reconciles); price
//     streams keep the newest price; every stream stops when its context
//     ends or the adapter closes, and Close waits for them.
//
// The command in the parent folder runs a grid on this adapter.
package examplevenue
