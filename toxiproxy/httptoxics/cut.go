package httptoxics

import (
	"bytes"
	"fmt"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// CutAfterMatchToxic closes the connection right after data holding a chosen byte sequence
// has passed. It is not an HTTP toxic (it looks at bytes, any protocol) but lives here for the
// shared settings, draws and metrics.
//
// What it is for: a connection lost at one exact point of a conversation, which a timer
// cannot aim at. Downstream on a PostgreSQL edge with match "COMMIT", the database has
// committed and said so, and the client's next statement on that connection fails: work that
// keeps its bookkeeping (a checkpoint, an outbox mark, a "sent" flag) in a second
// transaction loses it, and redoes the first. Upstream with match "COMMIT", the statement
// reaches the server and the connection closes behind it: its answer is lost unless it was
// quicker than the close (which travels from the upstream link to the client's side).
//
// The chunk that holds the match (one read from the socket, usually the whole message and
// what was sent with it) is forwarded whole, then the connection closes; with deliver false
// it is dropped, then the connection closes. Each match is a
// draw: probability is the share of matches that cut.
type CutAfterMatchToxic struct {
	CutAfterMatchSettings
	Common
}

type CutAfterMatchSettings struct {
	Probability float64 `json:"probability"`
	Match       string  `json:"match"` // the bytes to look for, as text (UTF-8)
	// Deliver false drops the chunk holding the match instead of forwarding it: downstream on
	// a PostgreSQL edge, the database commits and the client never hears so (the outcome of
	// the commit is unknown to it, every time; upstream the answer can outrun the close).
	Deliver bool `json:"deliver"`
}

// cutState is one connection and direction: the last bytes seen, so a match split across
// two chunks is found, and whether this toxic closed the connection.
type cutState struct {
	tail   []byte
	closed bool
}

func (t *CutAfterMatchToxic) UnmarshalJSON(data []byte) error {
	return decodeSettings(data, &t.CutAfterMatchSettings, &t.Common, CutAfterMatchSettings{Probability: 1, Deliver: true},
		func(s *CutAfterMatchSettings) error {
			if s.Match == "" {
				return fmt.Errorf("match must not be empty: the toxic cuts after these bytes pass")
			}
			if len(s.Match) > 1024 {
				return fmt.Errorf("match must be at most 1024 bytes, got %d", len(s.Match))
			}
			return checkProbability(s.Probability)
		})
}

func (t *CutAfterMatchToxic) NewState() interface{} { return &cutState{} }

func (t *CutAfterMatchToxic) Pipe(stub *toxics.ToxicStub) {
	st := stub.State.(*cutState)
	if st.closed {
		return
	}
	id, ok := t.bind.get(t, stub.Interrupt)
	if !ok {
		return
	}
	match := []byte(t.Match)
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				st.closed = true
				stub.Close()
				return
			}
			cut := t.decide(st, match, c.Data, id)
			if !cut || t.Deliver {
				stub.Output <- c
			}
			if cut {
				st.closed = true
				stub.Close()
				return
			}
		}
	}
}

// decide reports whether a match in data (with the tail of the previous chunk) draws a cut;
// every match is counted, cut or passed.
func (t *CutAfterMatchToxic) decide(st *cutState, match, data []byte, id identity) bool {
	buf := append(append([]byte{}, st.tail...), data...)
	cut := false
	for from := 0; !cut; {
		i := bytes.Index(buf[from:], match)
		if i < 0 {
			break
		}
		from += i + len(match)
		if current.draw() < t.Probability {
			cut = true
			current.messages.WithLabelValues(id.proxy, id.toxic, t.kind(), id.stream, "faulted").Inc()
		} else {
			current.messages.WithLabelValues(id.proxy, id.toxic, t.kind(), id.stream, "passed").Inc()
		}
	}
	// Keep fewer bytes than a match: a match ending in the next chunk is found once, and
	// one wholly inside the kept bytes (already counted) cannot be found again.
	if keep := len(match) - 1; len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	st.tail = append(st.tail[:0], buf...)
	return cut
}

func (t *CutAfterMatchToxic) kind() string { return "cut_after_match" }
