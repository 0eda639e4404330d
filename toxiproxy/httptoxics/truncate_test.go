package httptoxics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func truncateCount(outcome string) float64 {
	return testutil.ToFloat64(current.messages.WithLabelValues("edge", "cut", "truncate", "downstream", outcome))
}

// readAll sends a line on a fresh connection and reads its answer: up to the line end, or
// what came before the proxy closed the connection.
func readAll(t *testing.T, f *fixture, line string) string {
	t.Helper()
	got, _ := exchange(t, dial(t, f), line)
	return got
}

func TestTruncateForwardsTheDrawnNumberOfBytesThenCloses(t *testing.T) {
	addr, _ := lineServer(t)
	f := newFixture(t, addr)
	f.add(t, `{"name":"cut","type":"truncate","stream":"downstream","attributes":{"min_bytes":5,"max_bytes":5}}`)
	before := truncateCount("faulted")
	if got := readAll(t, f, "hello world\n"); got != "hello" {
		t.Fatalf("the first 5 bytes should arrive, then the end: got %q", got)
	}
	if truncateCount("faulted")-before != 1 {
		t.Fatalf("one cut should be counted")
	}
}

func TestTruncateCutsEachConnectionAtItsOwnOffset(t *testing.T) {
	addr, _ := lineServer(t)
	f := newFixture(t, addr)
	f.add(t, `{"name":"cut","type":"truncate","stream":"downstream","attributes":{"min_bytes":2,"max_bytes":20}}`)
	answer := "RC=00;CUSTNO=00000123;END\n"
	seen := map[int]bool{}
	for i := 0; i < 150; i++ {
		got := readAll(t, f, answer)
		if !strings.HasPrefix(answer, got) || len(got) < 2 || len(got) > 20 {
			t.Fatalf("connection %d: %q is not a prefix of 2..20 bytes", i, got)
		}
		seen[len(got)] = true
	}
	if len(seen) < 12 {
		t.Fatalf("150 connections should be cut at most of the 19 offsets, saw %d: %v", len(seen), seen)
	}
}

func TestTruncateLetsAShorterAnswerPassWhole(t *testing.T) {
	addr, _ := lineServer(t)
	f := newFixture(t, addr)
	f.add(t, `{"name":"cut","type":"truncate","stream":"downstream","attributes":{"min_bytes":100,"max_bytes":200}}`)
	before := truncateCount("passed")
	c := dial(t, f)
	if got, _ := exchange(t, c, "short\n"); got != "short\n" {
		t.Fatalf("an answer shorter than the offset should pass whole, got %q", got)
	}
	_ = c.Close() // the stream ends before its drawn offset
	deadline := time.Now().Add(2 * time.Second)
	for truncateCount("passed")-before != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if truncateCount("passed")-before != 1 {
		t.Fatalf("the connection should be counted as passed when it ends")
	}
}

func TestTruncateRefusesARangeBackwards(t *testing.T) {
	addr, _ := lineServer(t)
	f := newFixture(t, addr)
	_, err := f.proxy.Toxics.AddToxicJson(strings.NewReader(`{"name":"cut","type":"truncate","attributes":{"min_bytes":9,"max_bytes":3}}`))
	if err == nil || !strings.Contains(err.Error(), "max_bytes (3) must be at least min_bytes (9)") {
		t.Fatalf("a backwards range should be refused, got %v", err)
	}
}
