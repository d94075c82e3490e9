package binancetest

// This file: REST routing, the endpoint table, parameters, API key,
// signature and timestamp checks, weights and order counts.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// apiErr is a Binance error answer.
type apiErr struct {
	status int
	code   int
	msg    string
}

func errf(status, code int, format string, a ...any) *apiErr {
	return &apiErr{status: status, code: code, msg: fmt.Sprintf(format, a...)}
}

// endpoint describes one REST route.
type endpoint struct {
	signed bool // TRADE / USER_DATA
	apiKey bool // USER_STREAM
	weight func(p url.Values) int
	handle func(s *Server, p url.Values) (any, *apiErr)
	// handleH is handle for endpoints that set response headers.
	handleH func(s *Server, p url.Values, hdr http.Header) (any, *apiErr)
}

func w(n int) func(url.Values) int { return func(url.Values) int { return n } }

var routes = map[string]endpoint{
	"GET /fapi/v1/ping":                {weight: w(1), handle: func(*Server, url.Values) (any, *apiErr) { return struct{}{}, nil }},
	"GET /fapi/v1/time":                {weight: w(1), handle: (*Server).handleTime},
	"GET /fapi/v1/exchangeInfo":        {weight: w(1), handle: (*Server).handleExchangeInfo},
	"GET /fapi/v1/klines":              {weight: klineWeight, handle: (*Server).handleKlines},
	"POST /fapi/v1/order":              {signed: true, weight: w(0), handleH: (*Server).handlePlace},
	"POST /fapi/v1/batchOrders":        {signed: true, weight: w(5), handleH: (*Server).handleBatchPlace},
	"PUT /fapi/v1/order":               {signed: true, weight: w(0), handleH: (*Server).handleModify},
	"DELETE /fapi/v1/order":            {signed: true, weight: w(1), handle: (*Server).handleCancel},
	"DELETE /fapi/v1/batchOrders":      {signed: true, weight: w(1), handle: (*Server).handleBatchCancel},
	"DELETE /fapi/v1/allOpenOrders":    {signed: true, weight: w(1), handle: (*Server).handleCancelAll},
	"POST /fapi/v1/countdownCancelAll": {signed: true, weight: w(10), handle: (*Server).handleCountdown},
	"GET /fapi/v1/order":               {signed: true, weight: w(1), handle: (*Server).handleQuery},
	"GET /fapi/v1/openOrders":          {signed: true, weight: openOrdersWeight, handle: (*Server).handleOpenOrders},
	"GET /fapi/v1/userTrades":          {signed: true, weight: w(5), handle: (*Server).handleUserTrades},
	"GET /fapi/v3/account":             {signed: true, weight: w(5), handle: (*Server).handleAccount},
	"GET /fapi/v1/accountConfig":       {signed: true, weight: w(5), handle: (*Server).handleAccountConfig},
	"GET /fapi/v3/positionRisk":        {signed: true, weight: w(5), handle: (*Server).handlePositionRisk},
	"GET /fapi/v1/symbolConfig":        {signed: true, weight: w(5), handle: (*Server).handleSymbolConfig},
	"POST /fapi/v1/leverage":           {signed: true, weight: w(1), handle: (*Server).handleLeverage},
	"POST /fapi/v1/positionSide/dual":  {signed: true, weight: w(1), handle: (*Server).handlePositionMode},
	"GET /fapi/v1/depth":               {weight: depthWeight, handle: (*Server).handleDepth},
	"GET /fapi/v1/ticker/bookTicker":   {weight: symbolWeight(2, 5), handle: (*Server).handleBookTicker},
	"GET /fapi/v1/ticker/24hr":         {weight: symbolWeight(1, 40), handle: (*Server).handleTicker24h},
	"GET /fapi/v1/premiumIndex":        {weight: symbolWeight(1, 10), handle: (*Server).handlePremiumIndex},
	"GET /fapi/v1/fundingRate":         {weight: w(1), handle: (*Server).handleFundingRate},
	"POST /fapi/v1/marginType":         {signed: true, weight: w(1), handle: (*Server).handleMarginType},
	"GET /fapi/v1/positionSide/dual":   {signed: true, weight: w(30), handle: (*Server).handlePositionModeGet},
	"GET /fapi/v2/account":             {signed: true, weight: w(10), handle: (*Server).handleAccountV2},
	"GET /fapi/v2/balance":             {signed: true, weight: w(5), handle: (*Server).handleBalance},
	"GET /fapi/v3/balance":             {signed: true, weight: w(5), handle: (*Server).handleBalance},
	"GET /fapi/v2/positionRisk":        {signed: true, weight: w(10), handle: (*Server).handlePositionRiskV2},
	"GET /fapi/v1/leverageBracket":     {signed: true, weight: w(1), handle: (*Server).handleLeverageBracket},
	"GET /fapi/v1/rateLimit/order":     {signed: true, weight: w(1), handle: (*Server).handleOrderRateLimit},
	"GET /fapi/v1/ticker/price":        {weight: symbolWeight(1, 2), handle: (*Server).handleTickerPrice},
	"GET /fapi/v2/ticker/price":        {weight: symbolWeight(1, 2), handle: (*Server).handleTickerPrice},
	"GET /fapi/v1/openOrder":           {signed: true, weight: w(1), handle: (*Server).handleOpenOrder},
	"GET /fapi/v1/allOrders":           {signed: true, weight: w(5), handle: (*Server).handleAllOrders},
	"GET /fapi/v1/commissionRate":      {signed: true, weight: w(20), handle: (*Server).handleCommissionRate},
	"GET /fapi/v1/income":              {signed: true, weight: w(30), handle: (*Server).handleIncome},
	"POST /fapi/v1/listenKey":          {apiKey: true, weight: w(1), handle: (*Server).handleListenKeyPost},
	"PUT /fapi/v1/listenKey":           {apiKey: true, weight: w(1), handle: (*Server).handleListenKeyPut},
	"DELETE /fapi/v1/listenKey":        {apiKey: true, weight: w(1), handle: (*Server).handleListenKeyDelete},
}

func openOrdersWeight(p url.Values) int {
	if p.Get("symbol") == "" {
		return 40
	}
	return 1
}

func (s *Server) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/public/"), strings.HasPrefix(r.URL.Path, "/market/"), strings.HasPrefix(r.URL.Path, "/private/"),
		strings.HasPrefix(r.URL.Path, "/ws/"), r.URL.Path == "/ws", r.URL.Path == "/stream":
		s.serveWS(rw, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeErr(rw, errf(400, -1102, "unreadable body"))
		return
	}
	key := r.Method + " " + r.URL.Path
	s.mu.Lock()
	s.requests[key]++
	fault, hasFault := s.takeFault(r.Method, r.URL.Path)
	s.mu.Unlock()
	if hasFault && !fault.AfterProcessing {
		s.answerFault(rw, r, fault)
		return
	}
	ep, ok := routes[key]
	if !ok {
		writeErr(rw, errf(404, -1000, "unknown endpoint %s", key))
		return
	}
	params, aerr := s.parseParams(r, body)
	if aerr != nil {
		writeErr(rw, aerr)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeErr(rw, errf(503, -1001, "Internal error; unable to process your request. Please try again."))
		return
	}
	hdr := rw.Header()
	res, aerr := s.admit(r, ep, params, string(body), hdr)
	if aerr == nil {
		if ep.handleH != nil {
			res, aerr = ep.handleH(s, params, hdr)
		} else {
			res, aerr = ep.handle(s, params)
		}
		s.flushBooks()
	}
	s.mu.Unlock()
	if hasFault {
		s.answerFault(rw, r, fault)
		return
	}
	if aerr != nil {
		writeErr(rw, aerr)
		return
	}
	hdr.Set("Content-Type", "application/json")
	b, _ := json.Marshal(res)
	_, _ = rw.Write(b)
}

func (s *Server) answerFault(rw http.ResponseWriter, r *http.Request, f Fault) {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			rw.Header().Add(k, v)
		}
	}
	if f.Status == 0 {
		f.Status = 500
	}
	if f.Code == 0 {
		rw.WriteHeader(f.Status)
		_, _ = io.WriteString(rw, f.Msg)
		return
	}
	writeErr(rw, &apiErr{status: f.Status, code: f.Code, msg: f.Msg})
}

func writeErr(rw http.ResponseWriter, e *apiErr) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(e.status)
	b, _ := json.Marshal(struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}{e.code, e.msg})
	_, _ = rw.Write(b)
}

// parseParams merges query and form body; the query wins (sheet §2.1).
func (s *Server) parseParams(r *http.Request, body []byte) (url.Values, *apiErr) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errf(400, -1100, "Illegal characters found in a parameter.")
	}
	if len(body) > 0 {
		if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return nil, errf(400, -1102, "JSON bodies are not accepted")
		}
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errf(400, -1100, "Illegal characters found in a parameter.")
		}
		for k, vs := range f {
			if _, ok := q[k]; !ok {
				q[k] = vs
			}
		}
	}
	return q, nil
}

// admit checks weight, key, signature and timestamp. Called with s.mu held.
func (s *Server) admit(r *http.Request, ep endpoint, p url.Values, body string, hdr http.Header) (any, *apiErr) {
	now := s.now()
	if aerr := s.chargeWeight(now, ep.weight(p), hdr); aerr != nil {
		return nil, aerr
	}
	if ep.signed || ep.apiKey {
		if r.Header.Get("X-MBX-APIKEY") != s.o.apiKey {
			return nil, errf(401, -2015, "Invalid API-key, IP, or permissions for action.")
		}
	}
	if !ep.signed {
		return nil, nil
	}
	if aerr := s.verifySignature(r.URL.RawQuery, body); aerr != nil {
		return nil, aerr
	}
	ts, err := strconv.ParseInt(p.Get("timestamp"), 10, 64)
	if err != nil {
		return nil, errf(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
	}
	recv := int64(5000)
	if v := p.Get("recvWindow"); v != "" {
		recv, err = strconv.ParseInt(v, 10, 64)
		if err != nil || recv <= 0 || recv > 60000 {
			return nil, errf(400, -1131, "recvWindow must be less than 60000")
		}
	}
	serverMs := now.UnixMilli()
	if ts >= serverMs+1000 {
		return nil, errf(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
	}
	if serverMs-ts > recv {
		return nil, errf(400, -1021, "Timestamp for this request is outside of the recvWindow.")
	}
	return nil, nil
}

// verifySignature checks signature (the last parameter, in the query or
// the body) against HMAC-SHA256(secret, query ‖ body without it).
func (s *Server) verifySignature(query, body string) *apiErr {
	var sig, payload string
	split := func(v string) (rest, sig string, ok bool) {
		if strings.HasPrefix(v, "signature=") {
			return "", v[len("signature="):], true
		}
		i := strings.LastIndex(v, "&signature=")
		if i < 0 {
			return v, "", false
		}
		return v[:i], v[i+len("&signature="):], true
	}
	if rest, sg, ok := split(query); ok {
		sig, payload = sg, rest+body
	} else if rest, sg, ok := split(body); ok {
		sig, payload = sg, query+rest
	} else {
		return errf(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
	}
	if strings.Contains(sig, "&") {
		return errf(400, -1022, "Signature for this request is not valid.")
	}
	mac := hmac.New(sha256.New, []byte(s.o.secret))
	mac.Write([]byte(payload))
	want := hex.EncodeToString(mac.Sum(nil))
	if !strings.EqualFold(sig, want) {
		return errf(400, -1022, "Signature for this request is not valid.")
	}
	return nil
}
