package binance

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// What an error or a log line may show of a request: its method and its
// path. Never its query or body (a signed request carries the signature
// there, and the signed query is a replayable order for as long as the
// receive window lasts), never the API key or the secret, and never a
// listen key (anyone holding it can read the account's user-data stream),
// wherever a URL puts it: /private/ws/<key>, /private/stream/<key>, or a
// listenKey= query parameter, once or several times.

// restErrorURL is the URL a transport error of a REST request shows: the
// base and the path, no query.
func restErrorURL(base, path string) string { return redactURL(base + path) }

// redactURL hides every listen key of a URL (the path segment after
// /private/ws/ or /private/stream/, and every listenKey= query value) and
// keeps the rest, so that a log still tells which stream it was.
func redactURL(u string) string {
	head, query, hasQuery := strings.Cut(u, "?")
	head, frag, hasFrag := strings.Cut(head, "#")
	for _, marker := range [...]string{"/private/ws/", "/private/stream/"} {
		if i := strings.Index(head, marker); i >= 0 {
			rest := head[i+len(marker):]
			end := strings.IndexByte(rest, '/')
			if end < 0 {
				end = len(rest)
			}
			if end > 0 {
				head = head[:i+len(marker)] + redacted + rest[end:]
			}
		}
	}
	if hasFrag {
		head += "#" + frag
	}
	if !hasQuery {
		return head
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, _, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "listenKey") {
			parts[i] = k + "=" + redacted
		}
	}
	return head + "?" + strings.Join(parts, "&")
}

// listenKeysIn returns the listen keys a URL carries, in every form
// redactURL hides.
func listenKeysIn(u string) []string {
	var keys []string
	head, query, _ := strings.Cut(u, "?")
	head, _, _ = strings.Cut(head, "#")
	for _, marker := range [...]string{"/private/ws/", "/private/stream/"} {
		if i := strings.Index(head, marker); i >= 0 {
			k, _, _ := strings.Cut(head[i+len(marker):], "/")
			if k != "" {
				keys = append(keys, k)
				if uk, err := url.PathUnescape(k); err == nil && uk != k {
					keys = append(keys, uk)
				}
			}
		}
	}
	query, _, _ = strings.Cut(query, "#")
	for _, p := range strings.Split(query, "&") {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "listenKey") && v != "" {
			keys = append(keys, v)
			if uv, err := url.QueryUnescape(v); err == nil && uv != v {
				keys = append(keys, uv)
			}
		}
	}
	return keys
}

// scrub replaces every non-empty secret in s by [REDACTED], longest first
// (a signed query contains its signature).
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

// containsAny reports whether s contains a secret of at least 4 bytes.
func containsAny(s string, secrets []string) bool {
	for _, sec := range secrets {
		if len(sec) >= 4 && strings.Contains(s, sec) {
			return true
		}
	}
	return false
}

// redactedError is an error whose text had secrets removed. It matches what
// the original matched (errors.Is, and Timeout for a net.Error) but does
// not hand the original out: no Unwrap, no As, and it prints only its
// redacted text in every fmt verb, %#v included.
type redactedError struct {
	msg  string
	orig error
}

func (e *redactedError) Error() string { return e.msg }

// Is matches what the original error matched.
func (e *redactedError) Is(target error) bool { return errors.Is(e.orig, target) }

// Timeout reports whether the original error was a timeout.
func (e *redactedError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.orig, &t) && t.Timeout()
}

// Format prints the redacted text in every verb (%#v and %+v included).
func (e *redactedError) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(e.msg))
		return
	}
	_, _ = io.WriteString(f, e.msg)
}

// scrubErr returns err unchanged when its text holds none of the secrets,
// else a redactedError with them replaced.
func scrubErr(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); containsAny(msg, secrets) {
		return &redactedError{msg: scrub(msg, secrets), orig: err}
	}
	return err
}

// transportError rebuilds the *url.Error of a failed REST round trip with
// only the method and the path of the request (Go's error quotes the whole
// URL, query and signature included), and scrubs the cause of secrets. It
// stays a *url.Error so that callers can still tell a timeout.
func transportError(method, base, path string, err error, secrets []string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		cause := scrubErr(ue.Err, secrets)
		return &url.Error{Op: ue.Op, URL: restErrorURL(base, path), Err: cause}
	}
	return scrubErr(err, secrets)
}

// requestSecrets are the strings no error of a request may show: the
// signed payload (query or body with its signature), the signature, the
// API key and the secret. Longest first, so that a payload is replaced
// whole before its signature.
func (c *Client) requestSecrets(payload []byte, signed bool) []string {
	out := make([]string, 0, 5)
	var sig string
	if signed && len(payload) >= 64 {
		sig = string(payload[len(payload)-64:]) // the signature ends a signed payload
	}
	if sig != "" {
		out = append(out, string(payload))
		if q, err := url.QueryUnescape(string(payload)); err == nil && q != string(payload) {
			out = append(out, q)
		}
	}
	out = append(out, c.cfg.APISecret.Reveal(), c.cfg.APIKey.Reveal())
	if sig != "" {
		out = append(out, sig)
	}
	return out
}
