package binance

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/gridmesh/gridmesh/exchange"
)

// Client is the Binance USDⓈ-M futures adapter: signed REST, the market and
// user-data WebSocket streams, rate-limit tracking and error mapping. It
// implements [exchange.IExchange] and the optional batch, cancel-all,
// dead-man-switch, mark-price, rate-limit and receive-window capabilities.
//
// Build one with [New]; the zero value is not usable. A Client is safe for
// concurrent use. It starts no goroutine until a stream is subscribed;
// [Client.Close] stops every stream and waits for their goroutines.
type Client struct {
	cfg     Config
	http    *http.Client
	ownHTTP bool
	log     *slog.Logger
	dialer  *websocket.Dialer

	offsetMs atomic.Int64 // server time − local time, ms
	syncErr  atomic.Int64 // how far the offset may be wrong, ns: half the sync's round trip plus the ms rounding
	synced   atomic.Bool
	syncMu   sync.Mutex

	refreshMu sync.Mutex // one exchangeInfo load at a time
	rulesMu   sync.Mutex
	symbols   map[string]symbolInfo
	rulesAt   time.Time
	limits    []exchange.RateLimit

	charges     ledger // what every request sent has cost
	usedWeight  atomic.Int64
	orders10s   atomic.Int64
	orders1m    atomic.Int64
	usageAt     atomic.Int64 // unix ms of the last header seen
	banUntil    atomic.Int64 // unix ns before which REST is refused locally
	banned      atomic.Bool
	streamDrops atomic.Int64 // malformed stream messages skipped

	hmacPool sync.Pool

	idsMu sync.Mutex
	ids   map[string]string // order ID → client order ID, for Fills

	rngMu sync.Mutex
	rng   *rand.Rand

	root   context.Context
	stop   context.CancelFunc
	mu     sync.Mutex  // orders closing with wg.Add
	closed atomic.Bool // set under mu; read without it
	wg     sync.WaitGroup
}

// Compile-time checks of the capabilities Client offers.
var (
	_ exchange.IExchange         = (*Client)(nil)
	_ exchange.BatchPlacer       = (*Client)(nil)
	_ exchange.BatchCanceler     = (*Client)(nil)
	_ exchange.MarkPriceStreamer = (*Client)(nil)
	_ exchange.AllCanceler       = (*Client)(nil)
	_ exchange.DeadManSwitch     = (*Client)(nil)
	_ exchange.RateLimitDeclarer = (*Client)(nil)
	_ exchange.ReceiveWindower   = (*Client)(nil)
)

// New validates cfg (reporting every problem at once), applies its
// defaults and returns a Client. It does no I/O: the clock offset and the
// symbol rules are fetched on first use.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, http: cfg.HTTPClient, log: cfg.Logger, limits: defaultLimits(), charges: newLedger()}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		c.http = &http.Client{Transport: tr}
		c.ownHTTP = true
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.dialer = &websocket.Dialer{HandshakeTimeout: cfg.RequestTimeout, ReadBufferSize: 16 << 10, WriteBufferSize: 4 << 10}
	seed := cfg.JitterSeed
	if seed == 0 {
		seed = uint64(cfg.Clock().UnixNano())
	}
	c.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	secret := cfg.APISecret
	c.hmacPool.New = func() any { return &signer{h: hmac.New(sha256.New, []byte(secret.Reveal()))} }
	c.root, c.stop = context.WithCancel(context.Background())
	return c, nil
}

// Name returns "binance-usdm".
func (c *Client) Name() string { return venueName }

// ReceiveWindow is Config.RecvWindow: after it has passed since a request
// was sent, the venue can no longer execute it.
func (c *Client) ReceiveWindow() time.Duration { return c.cfg.RecvWindow }

// Close stops every stream, waits for their goroutines and closes the idle
// connections of the adapter's own HTTP client. Later calls fail with
// exchange.ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed.Store(true)
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
	return nil
}

// goroutine starts fn as a goroutine owned by the client, or reports
// ErrClosed.
func (c *Client) goroutine(fn func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return exchange.ErrClosed
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return nil
}

func (c *Client) isClosed() bool { return c.closed.Load() }

// now is the local clock; serverNow adds the synchronised offset.
func (c *Client) now() time.Time { return c.cfg.Clock() }

func (c *Client) serverNow() time.Time {
	return c.now().Add(time.Duration(c.offsetMs.Load()) * time.Millisecond)
}

// ClockOffset returns the current estimate of server time minus local time.
func (c *Client) ClockOffset() time.Duration {
	return time.Duration(c.offsetMs.Load()) * time.Millisecond
}

// MalformedMessages counts stream messages that could not be decoded and
// were skipped.
func (c *Client) MalformedMessages() int64 { return c.streamDrops.Load() }

// secType is an endpoint's security type (sheet §2.1).
type secType uint8

const (
	secNone   secType = iota // public
	secAPIKey                // API key header only (listenKey)
	secSigned                // API key header and HMAC signature
)

// params builds a percent-encoded query in the order parameters are added;
// the signature covers exactly these bytes.
type params struct{ b []byte }

func (p *params) add(k, v string) {
	p.sep()
	p.b = append(p.b, k...)
	p.b = append(p.b, '=')
	p.b = appendQueryEscape(p.b, v)
}

// sep starts a new parameter.
func (p *params) sep() {
	if len(p.b) > 0 {
		p.b = append(p.b, '&')
	}
}

func (p *params) addInt(k string, v int64) {
	p.sep()
	p.b = append(p.b, k...)
	p.b = append(p.b, '=')
	p.b = strconv.AppendInt(p.b, v, 10)
}

// request is one REST call.
type request struct {
	method   string
	path     string
	params   params
	sec      secType
	op       string // for errors: "place", "cancel", …
	mutating bool   // changes venue state: an unknown outcome matters
	// signInPlace lets send append the signed parameters to params.b in
	// its spare capacity instead of a copy: params.b is the request's own
	// and nothing reads past its length. A retry signs a copy.
	signInPlace bool
	// usage, when set, receives the answer's header and send time instead
	// of their being reported at once (the clock sync reports its answer
	// once it knows the offset).
	usage *heldUsage
}

// apiKeyHeader is X-MBX-APIKEY in the canonical form net/http sends.
var apiKeyHeader = http.CanonicalHeaderKey("X-MBX-APIKEY")

// wroteTrace is a mutating request's trace: wrote is set once the
// transport has written the request.
type wroteTrace struct {
	wrote atomic.Bool
	trace httptrace.ClientTrace
}

// heldUsage is an answer's usage, held back for reporting.
type heldUsage struct {
	header http.Header
	sentAt time.Time
}

// sign returns the lowercase hex HMAC-SHA256 of payload under the secret.
func (c *Client) sign(payload []byte) string {
	return string(c.appendSig(nil, payload))
}

// signer is a pooled HMAC with room for its sum.
type signer struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// appendSig appends the lowercase hex HMAC-SHA256 of payload to dst.
func (c *Client) appendSig(dst, payload []byte) []byte {
	s := c.hmacPool.Get().(*signer)
	s.h.Reset()
	s.h.Write(payload)
	dst = hex.AppendEncode(dst, s.h.Sum(s.sum[:0]))
	c.hmacPool.Put(s)
	return dst
}

// Sign returns the signature Binance expects for a signed payload (query
// string immediately followed by the form body, sheet §2.2). It is exported
// for tests and tools; requests are signed by the Client itself.
func (c *Client) Sign(payload string) string { return c.sign([]byte(payload)) }

// do sends r and returns the body of a successful answer. Signed requests
// refused for their timestamp (-1021, or -5028 from the matching engine:
// nothing was executed) resynchronise the clock and are sent once more.
func (c *Client) do(ctx context.Context, r request) ([]byte, error) {
	if c.isClosed() {
		return nil, exchange.ErrClosed
	}
	if r.sec != secNone && c.cfg.APIKey.IsZero() {
		return nil, errNotSigned
	}
	if r.sec == secSigned && !c.synced.Load() {
		if err := c.SyncTime(ctx); err != nil {
			return nil, err
		}
	}
	body, err := c.send(ctx, r)
	if err != nil && r.sec == secSigned && (isCode(err, -1021) || isCode(err, -5028)) {
		c.log.LogAttrs(ctx, slog.LevelWarn, "binance: timestamp rejected, resynchronising clock", slog.String("op", r.op))
		if serr := c.SyncTime(ctx); serr != nil {
			return nil, errors.Join(err, serr)
		}
		// The first attempt's body may still be held by the transport:
		// the retry signs a copy.
		r.signInPlace = false
		body, err = c.send(ctx, r)
	}
	return body, err
}

func (c *Client) send(ctx context.Context, r request) ([]byte, error) {
	if until := c.banUntil.Load(); until != 0 {
		if d := time.Unix(0, until).Sub(c.now()); d > 0 {
			return nil, &exchange.RateLimitError{RetryAfter: d, Banned: c.banned.Load(),
				Err: fmt.Errorf("binance: %s not sent: REST paused after a rate-limit answer", r.op)}
		}
	}
	payload := r.params.b
	signed := r.sec == secSigned
	if signed {
		// recvWindow, timestamp and the signature add at most 112 bytes.
		p := params{b: payload}
		if !r.signInPlace || cap(payload)-len(payload) < 128 {
			p.b = append(make([]byte, 0, len(payload)+128), payload...)
		}
		p.addInt("recvWindow", c.cfg.RecvWindow.Milliseconds())
		p.addInt("timestamp", c.serverNow().UnixMilli())
		n := len(p.b)
		p.b = append(p.b, "&signature="...)
		p.b = c.appendSig(p.b, p.b[:n])
		payload = p.b
	}
	target := c.cfg.RESTURL + r.path
	var bodyReader io.Reader
	if r.method == http.MethodGet || r.method == http.MethodDelete {
		if len(payload) > 0 {
			target += "?" + string(payload)
		}
	} else if len(payload) > 0 {
		bodyReader = bytes.NewReader(payload)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.RequestTimeout)
		defer cancel()
	}
	var wrote *atomic.Bool
	if r.mutating {
		// One allocation for the flag and the trace that sets it.
		w := new(wroteTrace)
		w.trace.WroteRequest = func(httptrace.WroteRequestInfo) { w.wrote.Store(true) }
		wrote = &w.wrote
		ctx = httptrace.WithClientTrace(ctx, &w.trace)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, bodyReader)
	if err != nil {
		return nil, fmt.Errorf("binance: %s: build %s %s: %w", r.op, r.method, r.path, scrubErr(err, c.requestSecrets(payload, signed)))
	}
	// The headers are set in their canonical form, as Header.Set would
	// set them, from one backing array: Set allocates the canonical key of
	// X-MBX-APIKEY and a slice per header on every request.
	if bodyReader != nil || r.sec != secNone {
		vals := new([2]string)
		if bodyReader != nil {
			vals[0] = "application/x-www-form-urlencoded"
			req.Header["Content-Type"] = vals[0:1:1]
		}
		if r.sec != secNone {
			vals[1] = c.cfg.APIKey.Reveal()
			req.Header[apiKeyHeader] = vals[1:2:2]
		}
	}
	c.charges.add(r.op, endpointCost(r.method, r.path, payload))
	sentAt := c.now()
	resp, err := c.http.Do(req)
	if err != nil {
		// Go's error quotes the whole URL, signature included: keep the
		// method and the path only.
		err = transportError(r.method, c.cfg.RESTURL, r.path, err, c.requestSecrets(payload, signed))
		switch {
		case r.mutating && wrote.Load():
			// The request may have reached the venue.
			return nil, &exchange.UnknownOutcomeError{Op: r.op, SentAt: sentAt, Err: err}
		case ctx.Err() != nil:
			// The caller's context ended: nothing changed on the venue (a
			// mutating request was not written), or it did not matter (a read).
			return nil, fmt.Errorf("binance: %s: %w", r.op, err)
		}
		return nil, fmt.Errorf("binance: %s: %w: %w", r.op, exchange.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if r.usage != nil {
		r.usage.header, r.usage.sentAt = resp.Header, sentAt
	} else {
		c.reportUsage(ctx, resp.Header, sentAt)
	}
	body, err := readBody(resp)
	if err != nil {
		err = scrubErr(err, c.requestSecrets(payload, signed))
		if r.mutating {
			return nil, &exchange.UnknownOutcomeError{Op: r.op, SentAt: sentAt, Err: err}
		}
		return nil, fmt.Errorf("binance: %s: read answer: %w: %w", r.op, exchange.ErrUnavailable, err)
	}
	if resp.StatusCode >= 400 || hasNegativeCode(body) {
		err := scrubErr(errorFromResponse(r.op, r.mutating, resp.StatusCode, resp.Header, body, sentAt, c.serverNow()), c.requestSecrets(payload, signed))
		var rl *exchange.RateLimitError
		if errors.As(err, &rl) && (resp.StatusCode == http.StatusTeapot || isCode(err, -1003)) {
			c.banned.Store(rl.Banned)
			c.banUntil.Store(c.now().Add(rl.RetryAfter).UnixNano())
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "binance: request failed", slog.String("op", r.op), slog.Int("status", resp.StatusCode), slog.String("error", err.Error()))
		return nil, fmt.Errorf("binance: %s: %w", r.op, err)
	}
	return body, nil
}

// maxBody bounds an answer the adapter reads (exchangeInfo is about 1 MB).
const maxBody = 32 << 20

// readBody reads an answer in one allocation when its length is known.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n > 0 && n <= maxBody {
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxBody))
}

// hasNegativeCode reports whether a 2xx body is an error object (sheet §2.5:
// detect errors by status ≥ 400 or code < 0, never by code's presence).
func hasNegativeCode(body []byte) bool {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' || !bytes.Contains(b[:min(len(b), 64)], []byte(`"code"`)) {
		return false
	}
	_, _, ok := decodeAPIError(b)
	return ok
}

// SyncTime sets the clock offset from GET /fapi/v1/time, taking the
// midpoint of the round trip as the moment the server read its clock.
// Signed calls do it on first use and again after a -1021 answer.
func (c *Client) SyncTime(ctx context.Context) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	t0 := c.now()
	var held heldUsage
	defer func() {
		// After the offset is set, so the answer's own counts get their
		// window's end.
		if held.header != nil {
			c.reportUsage(ctx, held.header, held.sentAt)
		}
	}()
	body, err := c.send(ctx, request{method: http.MethodGet, path: "/fapi/v1/time", op: "time", usage: &held})
	if err != nil {
		return err
	}
	t1 := c.now()
	var v struct {
		ServerTime int64 `json:"serverTime"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.ServerTime <= 0 {
		return fmt.Errorf("binance: time: malformed answer %q: %w", truncate(body, 100), exchange.ErrUnavailable)
	}
	mid := t0.Add(t1.Sub(t0) / 2)
	c.offsetMs.Store(v.ServerTime - mid.UnixMilli())
	c.syncErr.Store(int64(max(t1.Sub(t0), 0)/2 + time.Millisecond))
	c.synced.Store(true)
	return nil
}

// jitter returns a random duration in [d/2, d].
func (c *Client) jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	c.rngMu.Lock()
	defer c.rngMu.Unlock()
	return d/2 + time.Duration(c.rng.Int64N(int64(d/2)+1))
}

// maxRememberedIDs bounds the order-ID → client-order-ID cache.
const maxRememberedIDs = 1 << 14

// remember records an order's client order ID (userTrades lacks it).
func (c *Client) remember(orderID, clientID string) {
	if orderID == "" || clientID == "" {
		return
	}
	c.idsMu.Lock()
	defer c.idsMu.Unlock()
	if c.ids == nil || len(c.ids) >= maxRememberedIDs {
		c.ids = make(map[string]string, 256)
	}
	c.ids[orderID] = clientID
}

func (c *Client) remembered(orderID string) (string, bool) {
	c.idsMu.Lock()
	defer c.idsMu.Unlock()
	id, ok := c.ids[orderID]
	return id, ok
}

func slogErr(err error) slog.Attr { return slog.String("error", err.Error()) }
