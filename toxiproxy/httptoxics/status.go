package httptoxics

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// StatusToxic answers a share of messages with a status of its own. On the upstream stream a
// chosen request never reaches the upstream: the toxic answers it. On the downstream stream
// the upstream handles the request and its answer is replaced (the work was done, the caller
// is told it failed).
type StatusToxic struct {
	StatusSettings
	Common
}

type StatusSettings struct {
	Probability float64 `json:"probability"`
	Status      int     `json:"status"`       // 200-599
	Body        string  `json:"body"`         // may be empty
	ContentType string  `json:"content_type"` // of a non-empty body
	RetryAfter  int     `json:"retry_after"`  // seconds; 0: no Retry-After header
}

func (t *StatusToxic) UnmarshalJSON(data []byte) error {
	defaults := StatusSettings{Probability: 1, ContentType: "text/plain; charset=utf-8"}
	return decodeSettings(data, &t.StatusSettings, &t.Common, defaults, func(s *StatusSettings) error {
		if s.Status < 200 || s.Status > 599 {
			return fmt.Errorf("status must be between 200 and 599, got %d", s.Status)
		}
		if s.RetryAfter < 0 {
			return fmt.Errorf("retry_after must not be negative, got %d", s.RetryAfter)
		}
		if err := checkFieldText("content_type", s.ContentType); err != nil {
			return err
		}
		return checkProbability(s.Probability)
	})
}

func (t *StatusToxic) Pipe(stub *toxics.ToxicStub) { run(stub, t) }
func (t *StatusToxic) kind() string                { return "http_status" }
func (t *StatusToxic) probability() float64        { return t.Probability }

func (t *StatusToxic) plan(h *Head, id identity) plan {
	s := t.StatusSettings
	if s.Status == 0 {
		return plan{} // created without attributes: nothing to answer with
	}
	// A client that waits for 100-continue is answered before it sends its body, and whether
	// it then sends the body anyway cannot be known: the connection cannot stay in step.
	keepAlive := h.KeepsAlive() && !(id.upstream && h.Has("Expect", "100-continue"))
	var b strings.Builder
	proto := "HTTP/1.1"
	if h.Proto == "HTTP/1.0" {
		proto = "HTTP/1.0"
	}
	fmt.Fprintf(&b, "%s %d %s\r\n", proto, s.Status, reason(s.Status))
	if s.Body != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", s.ContentType)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n", len(s.Body))
	if s.RetryAfter > 0 {
		fmt.Fprintf(&b, "Retry-After: %d\r\n", s.RetryAfter)
	}
	switch {
	case !keepAlive:
		b.WriteString("Connection: close\r\n")
	case proto == "HTTP/1.0":
		b.WriteString("Connection: keep-alive\r\n")
	}
	b.WriteString("\r\n")
	if !(id.upstream && h.Method == "HEAD") {
		b.WriteString(s.Body)
	}
	return plan{kind: planAnswer, answer: []byte(b.String()), close: !keepAlive}
}

func reason(status int) string {
	if text := http.StatusText(status); text != "" {
		return text
	}
	return "Status " + strconv.Itoa(status)
}
