package httptoxics

import (
	"fmt"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// AbortToxic cuts a share of messages part-way: the head passes, then at most body_bytes of
// the body, then the connection closes. Downstream, the client gets a status line and
// headers and a body that stops short (never the complete body, unless it is empty).
// Upstream, the server gets a request whose body stops short, and the client no answer.
type AbortToxic struct {
	AbortSettings
	Common
}

type AbortSettings struct {
	Probability float64 `json:"probability"`
	BodyBytes   int64   `json:"body_bytes"` // body bytes let through before the cut
}

func (t *AbortToxic) UnmarshalJSON(data []byte) error {
	return decodeSettings(data, &t.AbortSettings, &t.Common, AbortSettings{Probability: 1}, func(s *AbortSettings) error {
		if s.BodyBytes < 0 {
			return fmt.Errorf("body_bytes must not be negative, got %d", s.BodyBytes)
		}
		return checkProbability(s.Probability)
	})
}

func (t *AbortToxic) Pipe(stub *toxics.ToxicStub) { run(stub, t) }
func (t *AbortToxic) kind() string                { return "http_abort" }
func (t *AbortToxic) probability() float64        { return t.Probability }

func (t *AbortToxic) plan(*Head, identity) plan {
	return plan{kind: planCut, keep: t.BodyBytes}
}
