package httptoxics

import (
	"bufio"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// lineServer answers each line it reads with the same line; a line "split:X|Y" is answered
// as X and then, in a second write 30 ms later, Y (a match across two chunks).
func lineServer(t *testing.T) (addr string, received *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	received = &atomic.Int64{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					received.Add(1)
					if rest, ok := strings.CutPrefix(line, "split:"); ok {
						first, second, _ := strings.Cut(rest, "|")
						_, _ = c.Write([]byte(first))
						time.Sleep(30 * time.Millisecond)
						_, _ = c.Write([]byte(second))
						continue
					}
					_, _ = c.Write([]byte(line))
				}
			}(conn)
		}
	}()
	return ln.Addr().String(), received
}

// exchange sends a line and reads until a newline or the end of the connection.
func exchange(t *testing.T, c net.Conn, line string) (string, error) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(line)); err != nil {
		return "", err
	}
	var got []byte
	buf := make([]byte, 256)
	for !strings.HasSuffix(string(got), "\n") {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return string(got), err
		}
	}
	return string(got), nil
}

func dial(t *testing.T, f *fixture) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", f.proxy.Listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func cutCount(outcome string) float64 {
	return testutil.ToFloat64(current.messages.WithLabelValues("edge", "cut", "cut_after_match", "downstream", outcome))
}

func TestCutAfterMatchForwardsTheAnswerThatMatchesThenClosesTheConnection(t *testing.T) {
	addr, _ := lineServer(t)
	f := newFixture(t, addr)
	f.add(t, `{"name":"cut","type":"cut_after_match","stream":"downstream","attributes":{"match":"COMMIT"}}`)
	c := dial(t, f)
	if got, err := exchange(t, c, "SELECT 1\n"); err != nil || got != "SELECT 1\n" {
		t.Fatalf("an answer without the match should pass: %q %v", got, err)
	}
	if got, _ := exchange(t, c, "xCOMMITy\n"); got != "xCOMMITy\n" {
		t.Fatalf("the answer holding the match should arrive whole before the cut, got %q", got)
	}
	if _, err := exchange(t, c, "after\n"); err == nil {
		t.Fatal("the connection should be closed after the match passed")
	}
	if cutCount("faulted") != 1 {
		t.Fatalf("one cut should be counted, got %v", cutCount("faulted"))
	}
}

func TestCutAfterMatchFindsAMatchSplitAcrossChunks(t *testing.T) {
	addr, _ := lineServer(t)
	f := newFixture(t, addr)
	f.add(t, `{"name":"cut","type":"cut_after_match","stream":"downstream","attributes":{"match":"COMMIT"}}`)
	c := dial(t, f)
	if got, _ := exchange(t, c, "split:xCOM|MITy\n"); got != "xCOMMITy\n" {
		t.Fatalf("both halves should arrive, got %q", got)
	}
	if _, err := exchange(t, c, "after\n"); err == nil {
		t.Fatal("a match split across two chunks should still cut")
	}
}

func TestCutAfterMatchWithProbabilityZeroCountsMatchesAndNeverCuts(t *testing.T) {
	addr, _ := lineServer(t)
	f := newFixture(t, addr)
	f.add(t, `{"name":"cut","type":"cut_after_match","stream":"downstream","attributes":{"match":"COMMIT","probability":0}}`)
	before := cutCount("passed")
	c := dial(t, f)
	for i := 0; i < 5; i++ {
		if got, err := exchange(t, c, "COMMIT\n"); err != nil || got != "COMMIT\n" {
			t.Fatalf("exchange %d: %q %v", i, got, err)
		}
	}
	if got := cutCount("passed") - before; got != 5 {
		t.Fatalf("five matches should be counted as passed, got %v", got)
	}
}

func TestCutAfterMatchUpstreamDeliversTheRequestAndClosesBehindIt(t *testing.T) {
	addr, received := lineServer(t)
	f := newFixture(t, addr)
	f.add(t, `{"name":"cut","type":"cut_after_match","stream":"upstream","attributes":{"match":"COMMIT"}}`)
	c := dial(t, f)
	// The answer is usually lost; one quicker than the close can still arrive (the close
	// travels from the upstream link to the client's side), so only the close is certain.
	if got, err := exchange(t, c, "COMMIT\n"); err == nil && got != "COMMIT\n" {
		t.Fatalf("an answer that arrives is the whole answer: %q", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for received.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if received.Load() != 1 {
		t.Fatalf("the request should reach the server, it received %d lines", received.Load())
	}
	if _, err := exchange(t, c, "after\n"); err == nil {
		t.Fatal("the connection should be closed after the match passed")
	}
	if received.Load() != 1 {
		t.Fatalf("nothing after the match should reach the server, it received %d lines", received.Load())
	}
}

func TestCutAfterMatchRefusesAnEmptyMatch(t *testing.T) {
	addr, _ := lineServer(t)
	f := newFixture(t, addr)
	_, err := f.proxy.Toxics.AddToxicJson(strings.NewReader(`{"name":"cut","type":"cut_after_match","attributes":{"match":""}}`))
	if err == nil || !strings.Contains(err.Error(), "match must not be empty") {
		t.Fatalf("an empty match should be refused, got %v", err)
	}
}

func TestCutAfterMatchWithoutDeliveryDropsTheAnswerHoldingTheMatch(t *testing.T) {
	addr, received := lineServer(t)
	f := newFixture(t, addr)
	f.add(t, `{"name":"cut","type":"cut_after_match","stream":"downstream","attributes":{"match":"COMMIT","deliver":false}}`)
	c := dial(t, f)
	if got, err := exchange(t, c, "SELECT 1\n"); err != nil || got != "SELECT 1\n" {
		t.Fatalf("an answer without the match should pass: %q %v", got, err)
	}
	if got, err := exchange(t, c, "COMMIT\n"); err == nil || got != "" {
		t.Fatalf("the answer holding the match should be dropped and the connection closed: %q %v", got, err)
	}
	if received.Load() != 2 {
		t.Fatalf("the request itself should reach the server: it received %d lines", received.Load())
	}
}
