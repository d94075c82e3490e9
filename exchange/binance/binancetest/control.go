package binancetest

// This file: the JSON control messages of a WebSocket (sheet §5.2) and the
// listenKey/events parameters of a private handshake.

import (
	"bytes"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
)

// keyParam is one listenKey= of a private URL with the events= filter
// that follows it (nil: every event).
type keyParam struct {
	key    string
	events map[string]bool
}

// keyParams reads listenKey= and events= in their order: each events=
// filters the listenKey= before it (sheet §1.1,
// ?listenKey=<k1>&events=A&listenKey=<k2>&events=B). Event names are
// separated by '/'.
func keyParams(rawQuery string) []keyParam {
	var out []keyParam
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		v, err := url.QueryUnescape(v)
		if err != nil {
			continue
		}
		switch k {
		case "listenKey":
			out = append(out, keyParam{key: v})
		case "events":
			if len(out) == 0 || v == "" {
				continue
			}
			ev := map[string]bool{}
			for _, e := range strings.Split(v, "/") {
				ev[e] = true
			}
			out[len(out)-1].events = ev
		}
	}
	return out
}

// pathEvents is the events= filter of a URL whose listen key is in the
// path (no listenKey= parameter): nil for every event.
func pathEvents(rawQuery string) map[string]bool {
	ps := keyParams("listenKey=&" + rawQuery)
	if len(ps) != 1 {
		return nil
	}
	return ps[0].events
}

// Control errors, in the venue's words (sheet §5.2).
var (
	errBadID       = []byte(`{"code":2,"msg":"Invalid request: request ID must be an unsigned integer"}`)
	errBadJSON     = []byte(`{"code":3,"msg":"Invalid JSON: expected value"}`)
	errNoMethod    = []byte("{\"code\":2,\"msg\":\"Invalid request: missing field `method`\"}")
	errBadMethod   = []byte(`{"code":2,"msg":"Invalid request: unknown method"}`)
	errBadParams   = []byte(`{"code":2,"msg":"Invalid request: params must be a list of strings"}`)
	errTooMany     = []byte(`{"code":2,"msg":"Invalid request: too many parameters"}`)
	errUnknownProp = []byte(`{"code":0,"msg":"Unknown property"}`)
	errNotBool     = []byte(`{"code":1,"msg":"Invalid value type: expected Boolean"}`)
)

// maxStreams is the number of streams one connection may follow (§5.1).
const maxStreams = 1024

// validID checks a request id: an unsigned integer (the sheet), a string
// of at most 36 characters (what the official SDK sends, and the venue
// accepts) or null (also when absent). It returns the id to echo.
func validID(raw json.RawMessage) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("null"), true
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil || len([]rune(s)) > 36 {
			return nil, false
		}
		return raw, true
	case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		for _, b := range raw {
			if b < '0' || b > '9' {
				return nil, false // fraction or exponent
			}
		}
		if len(raw) > 20 || (len(raw) == 20 && string(raw) > "18446744073709551615") {
			return nil, false // over uint64
		}
		return raw, true
	}
	return nil, false
}

// control answers one JSON control message of c. It takes s.mu.
func (s *Server) control(c *wsConn, msg []byte) []byte {
	var req struct {
		Method *string           `json:"method"`
		Params []json.RawMessage `json:"params"`
		ID     json.RawMessage   `json:"id"`
	}
	if err := json.Unmarshal(msg, &req); err != nil {
		var probe any
		if json.Unmarshal(msg, &probe) != nil {
			return errBadJSON
		}
		return errBadParams // valid JSON of the wrong shape
	}
	id, ok := validID(req.ID)
	if !ok {
		return errBadID
	}
	if req.Method == nil {
		return errNoMethod
	}
	answer := func(result any) []byte {
		b, _ := json.Marshal(struct {
			Result any             `json:"result"`
			ID     json.RawMessage `json:"id"`
		}{result, id})
		return b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch *req.Method {
	case "SUBSCRIBE", "UNSUBSCRIBE":
		names := make([]string, 0, len(req.Params))
		for _, p := range req.Params {
			var n string
			if json.Unmarshal(p, &n) != nil {
				return errBadParams
			}
			names = append(names, n)
		}
		if *req.Method == "UNSUBSCRIBE" {
			for _, n := range names {
				delete(c.streams, n)
				delete(c.users, n)
			}
			return answer(nil)
		}
		if len(c.streams)+len(c.users)+len(names) > maxStreams {
			return errTooMany
		}
		for _, n := range names {
			isKey := c.route == "private" || (c.route == "" && n == s.listenKey)
			if !isKey {
				c.streams[n] = true
				s.followDepth(n)
				continue
			}
			// Assumption: a SUBSCRIBE of a key that is not the valid
			// one is answered with the REST error -1125 and the id.
			if n != s.listenKey || !s.keyValid() {
				b, _ := json.Marshal(map[string]any{"code": -1125, "msg": "This listenKey does not exist.", "id": id})
				return b
			}
			c.users[n] = nil
		}
		return answer(nil)
	case "LIST_SUBSCRIPTIONS":
		list := []string{}
		for n := range c.streams {
			list = append(list, n)
		}
		for n := range c.users {
			list = append(list, n)
		}
		sort.Strings(list)
		return answer(list)
	case "SET_PROPERTY", "GET_PROPERTY":
		var prop string
		if len(req.Params) == 0 || json.Unmarshal(req.Params[0], &prop) != nil || prop != "combined" {
			return errUnknownProp
		}
		if *req.Method == "GET_PROPERTY" {
			return answer(c.combined)
		}
		var v bool
		if len(req.Params) != 2 || json.Unmarshal(req.Params[1], &v) != nil {
			return errNotBool
		}
		c.combined = v
		return answer(nil)
	}
	return errBadMethod
}
