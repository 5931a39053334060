package hostile_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/chatgate/chatgate/gateway/hostile"
)

// Literal writes what it is given: valid strings decode back to
// themselves, and invalid bytes reach the body raw (json.Marshal would
// have replaced them, and the entrance would never see them).
func TestLiteralKeepsEveryByte(t *testing.T) {
	t.Parallel()
	for _, s := range hostile.Strings() {
		lit := hostile.Literal(s.Value)
		if !utf8.ValidString(s.Value) {
			if utf8.ValidString(lit) {
				t.Errorf("%s: literal %q lost the invalid bytes", s.Name, lit)
			}
			continue
		}
		var back string
		if err := json.Unmarshal([]byte(lit), &back); err != nil || back != s.Value {
			t.Errorf("%s: literal does not decode to the value: %v", s.Name, err)
		}
	}
	if len(hostile.OfClass(hostile.Control)) == 0 || len(hostile.OfClass(hostile.Huge)) != 1 {
		t.Fatal("OfClass does not select by class")
	}
}
