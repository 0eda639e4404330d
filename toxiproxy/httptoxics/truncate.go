package httptoxics

import (
	"fmt"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// TruncateToxic forwards the first N bytes of a connection's stream, then closes it (FIN, as
// limit_data does), where N is drawn per connection between MinBytes and MaxBytes. Like
// cut_after_match it looks at bytes, any protocol, and lives here for the shared draws and
// metrics.
//
// What it is for: Toxiproxy's limit_data cuts every connection at one offset, so it tries one
// prefix of an answer, and a parser that accepts a record missing its last fields passes
// whenever that one offset falls elsewhere. Drawn per connection, the cut lands at every
// offset of the range over a few hundred requests: after a field, inside one, before the
// terminator. Each offset is a different question to the reader of the answer.
type TruncateToxic struct {
	TruncateSettings
	Common
}

type TruncateSettings struct {
	MinBytes int64 `json:"min_bytes"`
	MaxBytes int64 `json:"max_bytes"`
}

// truncateState is one connection and direction: how many bytes it may still pass (drawn at
// its first chunk), and whether this toxic closed it.
type truncateState struct {
	drawn     bool
	remaining int64
	closed    bool
}

func (t *TruncateToxic) UnmarshalJSON(data []byte) error {
	return decodeSettings(data, &t.TruncateSettings, &t.Common, TruncateSettings{MinBytes: 0, MaxBytes: 0},
		func(s *TruncateSettings) error {
			if s.MinBytes < 0 {
				return fmt.Errorf("min_bytes must be 0 or more, got %d", s.MinBytes)
			}
			if s.MaxBytes < s.MinBytes {
				return fmt.Errorf("max_bytes (%d) must be at least min_bytes (%d)", s.MaxBytes, s.MinBytes)
			}
			return nil
		})
}

func (t *TruncateToxic) NewState() interface{} { return &truncateState{} }

func (t *TruncateToxic) Pipe(stub *toxics.ToxicStub) {
	st := stub.State.(*truncateState)
	if st.closed {
		return
	}
	id, ok := t.bind.get(t, stub.Interrupt)
	if !ok {
		return
	}
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				if st.drawn {
					// The stream ended before the drawn offset: nothing was cut.
					current.messages.WithLabelValues(id.proxy, id.toxic, t.kind(), id.stream, "passed").Inc()
				}
				st.closed = true
				stub.Close()
				return
			}
			if !st.drawn {
				span := t.MaxBytes - t.MinBytes + 1
				st.remaining = t.MinBytes + int64(current.draw()*float64(span))
				if st.remaining > t.MaxBytes {
					st.remaining = t.MaxBytes
				}
				st.drawn = true
			}
			if st.remaining < int64(len(c.Data)) {
				if st.remaining > 0 {
					stub.Output <- &stream.StreamChunk{Timestamp: c.Timestamp, Data: c.Data[:st.remaining]}
				}
				current.messages.WithLabelValues(id.proxy, id.toxic, t.kind(), id.stream, "faulted").Inc()
				st.closed = true
				stub.Close()
				return
			}
			st.remaining -= int64(len(c.Data))
			stub.Output <- c
		}
	}
}

func (t *TruncateToxic) kind() string { return "truncate" }
