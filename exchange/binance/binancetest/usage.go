package binancetest

// This file: the request weight per IP and minute and the order counts per
// account and 10 seconds and minute, as Binance counts them (sheet §3),
// with their usage headers and 429 answers.

import (
	"net/http"
	"strconv"
	"time"
)

// rollWindows starts new weight and order-count windows when now has left
// the current ones: each is aligned to the server's clock (a minute window
// resets on the minute). Called with s.mu held.
func (s *Server) rollWindows(now time.Time) {
	sec := now.Unix()
	if now.UnixNano() < 0 && now.UnixNano()%int64(time.Second) != 0 {
		sec-- // Unix truncates toward zero
	}
	if m := floorDiv(sec, 60); m != s.weightMin {
		s.weightMin, s.weightUsed = m, 0
	}
	if w := floorDiv(sec, 10); w != s.ord10Win {
		s.ord10Win, s.ord10 = w, 0
	}
	if w := floorDiv(sec, 60); w != s.ord1mWin {
		s.ord1mWin, s.ord1m = w, 0
	}
}

// chargeWeight charges a request's weight on the minute's REQUEST_WEIGHT
// window and sets X-MBX-USED-WEIGHT-1M, the running count (sheet §3.2). A
// request that would pass the limit is refused with 429 and -1003, counts
// nothing, and its answer carries the count and, unless
// [WithoutRetryAfter], Retry-After: the seconds to the next minute. Called
// with s.mu held.
func (s *Server) chargeWeight(now time.Time, wgt int, hdr http.Header) *apiErr {
	s.rollWindows(now)
	if s.weightUsed+wgt > s.o.weightLimit {
		if s.o.retryAfter {
			hdr.Set("Retry-After", strconv.FormatInt(secondsToNext(now, 60), 10))
		}
		hdr.Set("X-MBX-USED-WEIGHT-1M", strconv.Itoa(s.weightUsed))
		s.refusals++
		return errf(429, -1003, "Too many requests; current limit is %d requests per minute. Please use the websocket for live updates to avoid polling the API.", s.o.weightLimit)
	}
	s.weightUsed += wgt
	hdr.Set("X-MBX-USED-WEIGHT-1M", strconv.Itoa(s.weightUsed))
	return nil
}

// orderCount charges per10s and per1m units on the account's ORDERS
// windows and sets X-MBX-ORDER-COUNT-10S and -1M, the running counts. An
// order that would pass either limit is refused with 429 and -1015,
// counts nothing, and its answer carries no order count (sheet §3.2:
// rejected orders may not) but, unless [WithoutRetryAfter], Retry-After:
// the seconds to the end of the full window. Called with s.mu held.
func (s *Server) orderCount(per10s, per1m int, hdr http.Header) *apiErr {
	now := s.now()
	s.rollWindows(now)
	if s.ord10+per10s > s.o.orders10s {
		if s.o.retryAfter {
			hdr.Set("Retry-After", strconv.FormatInt(secondsToNext(now, 10), 10))
		}
		s.refusals++
		return errf(429, -1015, "Too many new orders; current limit is %d orders per 10 SECOND.", s.o.orders10s)
	}
	if s.ord1m+per1m > s.o.orders1m {
		if s.o.retryAfter {
			hdr.Set("Retry-After", strconv.FormatInt(secondsToNext(now, 60), 10))
		}
		s.refusals++
		return errf(429, -1015, "Too many new orders; current limit is %d orders per 1 MINUTE.", s.o.orders1m)
	}
	s.ord10 += per10s
	s.ord1m += per1m
	hdr.Set("X-MBX-ORDER-COUNT-10S", strconv.Itoa(s.ord10))
	hdr.Set("X-MBX-ORDER-COUNT-1M", strconv.Itoa(s.ord1m))
	return nil
}

// secondsToNext is the whole seconds, rounded up, from now to the next
// multiple of window seconds.
func secondsToNext(now time.Time, window int64) int64 {
	ms := now.UnixMilli()
	w := window * 1000
	left := w - (ms - floorDiv(ms, w)*w)
	return (left + 999) / 1000
}

// UseWeight adds n to the current minute's request weight, as another
// program on the same IP would: the next answers' X-MBX-USED-WEIGHT-1M
// include it, and requests are refused once the limit is reached. The
// count starts again at the next minute.
func (s *Server) UseWeight(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollWindows(s.now())
	s.weightUsed += n
}

// UseOrders adds to the account's order counts of the current 10 seconds
// and minute, as another program on the account would.
func (s *Server) UseOrders(per10s, per1m int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollWindows(s.now())
	s.ord10 += per10s
	s.ord1m += per1m
}

// Usage returns the counts of the current windows: the request weight of
// the minute and the order counts of the 10 seconds and of the minute.
func (s *Server) Usage() (weight1m, orders10s, orders1m int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollWindows(s.now())
	return s.weightUsed, s.ord10, s.ord1m
}

// RateLimitRefusals returns how many requests the server refused with 429
// for their weight (-1003) or order count (-1015).
func (s *Server) RateLimitRefusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refusals
}
