package httptoxics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// decodeSettings is the shared UnmarshalJSON of the HTTP toxics. Toxiproxy decodes a toxic's
// attributes into it when the toxic is created and again on every update, so an update
// changes only the fields it names; defaults apply the first time. Unknown fields and invalid
// values are refused: the API answers 400 with the reason instead of running a toxic that
// would do something else than asked.
func decodeSettings[S any](data []byte, dst *S, c *Common, defaults S, validate func(*S) error) error {
	s := *dst
	if !c.set {
		s = defaults
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return err
	}
	if err := validate(&s); err != nil {
		return err
	}
	*dst, c.set = s, true
	return nil
}

func checkProbability(p float64) error {
	if p < 0 || p > 1 {
		return fmt.Errorf("probability must be between 0 and 1, got %g", p)
	}
	return nil
}

func checkFieldText(what, value string) error {
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("%s must not contain CR, LF or NUL: %q", what, value)
	}
	return nil
}
