package httptoxics

import (
	"fmt"
	"strings"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// HeaderToxic changes one header of a share of messages: action "set" adds it (replacing
// any of that name), "remove" drops every field of that name. Fields that frame the body
// (Content-Length, Transfer-Encoding) cannot be changed: the two ends would disagree on
// where a message ends, which is a different fault (see http_abort).
type HeaderToxic struct {
	HeaderSettings
	Common
}

type HeaderSettings struct {
	Probability float64 `json:"probability"`
	Action      string  `json:"action"` // set, remove
	Name        string  `json:"name"`
	Value       string  `json:"value"`
}

func (t *HeaderToxic) UnmarshalJSON(data []byte) error {
	return decodeSettings(data, &t.HeaderSettings, &t.Common, HeaderSettings{Probability: 1, Action: "set"}, func(s *HeaderSettings) error {
		if s.Action != "set" && s.Action != "remove" {
			return fmt.Errorf("action must be 'set' or 'remove', got %q", s.Action)
		}
		if !isToken(s.Name) {
			return fmt.Errorf("name must be a header field name, got %q", s.Name)
		}
		if strings.EqualFold(s.Name, "Content-Length") || strings.EqualFold(s.Name, "Transfer-Encoding") {
			return fmt.Errorf("%s frames the body and cannot be changed", s.Name)
		}
		if err := checkFieldText("value", s.Value); err != nil {
			return err
		}
		return checkProbability(s.Probability)
	})
}

func (t *HeaderToxic) Pipe(stub *toxics.ToxicStub) { run(stub, t) }
func (t *HeaderToxic) kind() string                { return "http_header" }
func (t *HeaderToxic) probability() float64        { return t.Probability }

func (t *HeaderToxic) plan(h *Head, _ identity) plan {
	s := t.HeaderSettings
	if s.Name == "" {
		return plan{}
	}
	raw := string(h.Raw)
	start, _, _ := strings.Cut(strings.TrimLeft(raw, "\r\n"), "\n")
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(start, "\r") + "\r\n")
	for _, f := range h.Fields {
		if !strings.EqualFold(f.Name, s.Name) {
			b.WriteString(f.Name + ": " + f.Value + "\r\n")
		}
	}
	if s.Action == "set" {
		b.WriteString(s.Name + ": " + s.Value + "\r\n")
	}
	b.WriteString("\r\n")
	return plan{kind: planRewrite, head: []byte(b.String())}
}
