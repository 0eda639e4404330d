package httptoxics

import (
	"fmt"
	"time"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// DelayToxic holds a share of messages for delay ms (plus or minus up to jitter ms) before
// passing them on: upstream, the request reaches the server late; downstream, the answer
// reaches the client late. Other messages on the same kept-alive connection are not delayed,
// unlike Toxiproxy's latency toxic, which slows every byte of a connection.
type DelayToxic struct {
	DelaySettings
	Common
}

type DelaySettings struct {
	Probability float64 `json:"probability"`
	Delay       int64   `json:"delay"`  // ms
	Jitter      int64   `json:"jitter"` // ms
}

func (t *DelayToxic) UnmarshalJSON(data []byte) error {
	return decodeSettings(data, &t.DelaySettings, &t.Common, DelaySettings{Probability: 1}, func(s *DelaySettings) error {
		if s.Delay < 0 || s.Jitter < 0 {
			return fmt.Errorf("delay and jitter must not be negative, got %d and %d", s.Delay, s.Jitter)
		}
		return checkProbability(s.Probability)
	})
}

func (t *DelayToxic) Pipe(stub *toxics.ToxicStub) { run(stub, t) }
func (t *DelayToxic) kind() string                { return "http_delay" }
func (t *DelayToxic) probability() float64        { return t.Probability }

func (t *DelayToxic) plan(*Head, identity) plan {
	ms := t.Delay
	if t.Jitter > 0 {
		ms += current.jitter(2*t.Jitter+1) - t.Jitter
	}
	return plan{kind: planDelay, delay: time.Duration(max(ms, 0)) * time.Millisecond}
}
