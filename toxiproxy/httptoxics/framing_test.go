package httptoxics

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// frame feeds stream to a framer in chunks of the given sizes (cycled) and returns a trace of
// its events plus every raw byte it handed back, which must equal the stream.
func frame(t *testing.T, r role, stream string, sizes ...int) ([]string, []byte) {
	t.Helper()
	f := synced(r)
	var trace []string
	var out []byte
	record := func(ev event) {
		out = append(out, ev.raw...)
		switch ev.kind {
		case headDone:
			if r == requests {
				trace = append(trace, fmt.Sprintf("head %s %s", ev.head.Method, ev.head.Target))
			} else {
				trace = append(trace, fmt.Sprintf("head %d", ev.head.Status))
			}
		case bodyBytes:
			// Consecutive body pieces are merged: how a body is split is not the framer's business.
			if n := len(trace); n > 0 && strings.HasPrefix(trace[n-1], "body ") {
				var prev int
				fmt.Sscanf(trace[n-1], "body %d", &prev)
				trace[n-1] = fmt.Sprintf("body %d", prev+len(ev.raw))
			} else {
				trace = append(trace, fmt.Sprintf("body %d", len(ev.raw)))
			}
		case messageEnd:
			trace = append(trace, fmt.Sprintf("end %d", len(ev.raw)))
		case opaque:
			if n := len(trace); n == 0 || !strings.HasPrefix(trace[n-1], "opaque") {
				trace = append(trace, "opaque: "+ev.reason)
			}
		}
	}
	data := []byte(stream)
	for i := 0; len(data) > 0; i++ {
		size := len(data)
		if len(sizes) > 0 {
			size = min(sizes[i%len(sizes)], len(data))
		}
		chunk := data[:size]
		data = data[size:]
		for {
			ev, n := f.next(chunk)
			chunk = chunk[n:]
			if ev.kind == needMore {
				break
			}
			record(ev)
		}
	}
	if ev := f.eof(); ev.kind != needMore {
		record(ev)
	}
	return trace, out
}

// synced is a framer that takes the stream as starting with a message (a new connection).
func synced(r role) *framer {
	f := newFramer(r)
	f.phase = phaseHead
	return f
}

func assertFrames(t *testing.T, r role, stream string, want ...string) {
	t.Helper()
	splits := [][]int{nil, {1}, {2}, {3}, {7}, {1, 5, 2, 11}}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5; i++ {
		splits = append(splits, []int{1 + rng.IntN(9), 1 + rng.IntN(30), 1 + rng.IntN(4)})
	}
	for _, sizes := range splits {
		trace, out := frame(t, r, stream, sizes...)
		if strings.Join(trace, " | ") != strings.Join(want, " | ") {
			t.Fatalf("split %v:\n got  %q\n want %q", sizes, trace, want)
		}
		if !bytes.Equal(out, []byte(stream)) {
			t.Fatalf("split %v: bytes handed back differ from the stream:\n got  %q\n want %q", sizes, out, stream)
		}
	}
}

func TestKeptAliveRequestsAreFramedOneByOne(t *testing.T) {
	assertFrames(t, requests,
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"+
			"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"+
			"GET /c HTTP/1.1\r\n\r\n",
		"head GET /a", "end 0", "head POST /b", "body 4", "end 1", "head GET /c", "end 0")
}

func TestChunkedRequestBodyEndsWithTheLastChunkAndTrailers(t *testing.T) {
	assertFrames(t, requests,
		"PUT /up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"+
			"5;ext=1\r\nhello\r\n"+"a\r\n0123456789\r\n"+"0\r\nX-Sum: 1\r\n\r\n"+
			"GET /next HTTP/1.1\r\n\r\n",
		"head PUT /up", "body 31", "end 15", "head GET /next", "end 0")
}

func TestEmptyLinesBeforeARequestLineAreTolerated(t *testing.T) {
	assertFrames(t, requests, "\r\n\r\nGET / HTTP/1.1\r\n\r\n", "head GET /", "end 0")
}

func TestResponsesWithoutBodies(t *testing.T) {
	assertFrames(t, responses,
		"HTTP/1.1 100 Continue\r\n\r\n"+
			"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"+
			"HTTP/1.1 304 Not Modified\r\n\r\n"+
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"head 100", "end 0", "head 204", "end 0", "head 304", "end 0", "head 200", "end 0")
}

func TestChunkedAndLengthResponses(t *testing.T) {
	assertFrames(t, responses,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
			"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno",
		"head 200", "body 8", "end 5", "head 503", "body 1", "end 1")
}

func TestAResponseWithoutLengthRunsUntilClose(t *testing.T) {
	assertFrames(t, responses, "HTTP/1.0 200 OK\r\n\r\nsome body",
		"head 200", "body 9", "end 0")
}

func TestAnAnswerToHeadIsTakenAsBodilessWhenTheNextAnswerFollows(t *testing.T) {
	// Only when the next answer starts a chunk: the heuristic needs a whole status line.
	for _, te := range []string{"Content-Length: 1000", "Transfer-Encoding: chunked"} {
		f := synced(responses)
		f.next([]byte("HTTP/1.1 200 OK\r\n" + te + "\r\n\r\n"))
		ev, n := f.next([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		if ev.kind != messageEnd || n != 0 {
			t.Fatalf("%s: got %+v (%d bytes)", te, ev, n)
		}
		if ev, _ := f.next([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")); ev.kind != headDone {
			t.Fatalf("%s: got %+v", te, ev)
		}
	}
}

func TestObsFoldedHeadersAreJoined(t *testing.T) {
	f := synced(responses)
	ev, _ := f.next([]byte("HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n"))
	if ev.kind != headDone || ev.head.Get("x-long") != "a b" {
		t.Fatalf("got %+v", ev)
	}
}

func TestNonHTTPTrafficGoesOpaqueAtItsFirstBytes(t *testing.T) {
	cases := map[string]string{
		"tls client hello":  "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		"postgres startup":  "\x00\x00\x00\x08\x04\xd2\x16\x2f",
		"redis":             "*1\r\n$4\r\nPING\r\n",
		"redis inline":      "PING\r\n",
		"http/2 preface":    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"space first":       " GET / HTTP/1.1\r\n\r\n",
		"bad header line":   "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
		"conflicting sizes": "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
		"te not chunked":    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc",
	}
	for name, stream := range cases {
		t.Run(name, func(t *testing.T) {
			trace, out := frame(t, requests, stream, 1)
			if len(trace) != 1 || !strings.HasPrefix(trace[0], "opaque: ") || !bytes.Equal(out, []byte(stream)) {
				t.Fatalf("got %q, bytes %q", trace, out)
			}
		})
	}
	trace, _ := frame(t, responses, "220 smtp.example ESMTP\r\n", 1)
	if len(trace) != 1 || !strings.Contains(trace[0], "not an HTTP/1.x response") {
		t.Fatalf("got %q", trace)
	}
}

func TestABinaryProtocolIsRecognisedWithoutWaitingForALineEnd(t *testing.T) {
	f := synced(requests)
	ev, n := f.next([]byte{0x00, 0x00, 0x00, 0x08})
	if ev.kind != opaque || n != 4 || !ev.broken {
		t.Fatalf("got %+v after %d bytes", ev, n)
	}
}

func TestAnUpgradeEndsHTTPButIsNotAProblem(t *testing.T) {
	trace, _ := frame(t, requests,
		"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", 3)
	want := []string{"head GET /ws", "end 0", "opaque: protocol upgrade"}
	if strings.Join(trace, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", trace)
	}
	f := synced(requests)
	f.next([]byte("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"))
	f.next(nil)
	if ev, _ := f.next([]byte("frame")); ev.kind != opaque || ev.broken {
		t.Fatalf("got %+v", ev)
	}
}

func TestAHeadTooLargeToHoldGoesOpaque(t *testing.T) {
	stream := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxHeadBytes) + "\r\n\r\n"
	trace, out := frame(t, requests, stream, 4096)
	if len(trace) != 1 || !strings.Contains(trace[0], "larger than") || !bytes.Equal(out, []byte(stream)) {
		t.Fatalf("got %q", trace)
	}
}

func TestKeepsAlive(t *testing.T) {
	for head, want := range map[string]bool{
		"GET / HTTP/1.1\r\n\r\n":                           true,
		"GET / HTTP/1.1\r\nConnection: close\r\n\r\n":      false,
		"GET / HTTP/1.0\r\n\r\n":                           false,
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n": true,
	} {
		h, err := parseHead([]byte(head), requests)
		if err != nil || h.KeepsAlive() != want {
			t.Errorf("%q: keeps alive %v, want %v (%v)", head, h.KeepsAlive(), want, err)
		}
	}
}

func TestAFramerJoiningMidMessageSyncsAtTheNextMessageStart(t *testing.T) {
	f := newFramer(requests)
	if f.syncAt([]byte(`{"order_id": "1"}`)) || f.synced() {
		t.Fatal("a body chunk must not sync")
	}
	if ev, n := f.next([]byte(`{"order_id": "1"}`)); ev.kind != opaque || ev.broken || n != 17 {
		t.Fatalf("the rest of the message in flight passes: %+v", ev)
	}
	if f.syncAt([]byte("GET / HTTP/1.1")) {
		t.Fatal("a request line must be complete to sync on")
	}
	if !f.syncAt([]byte("POST /orders HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")) {
		t.Fatal("a request line must sync")
	}
	if ev, _ := f.next([]byte("POST /orders HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")); ev.kind != headDone {
		t.Fatalf("got %+v", ev)
	}
	g := newFramer(responses)
	if g.syncAt([]byte("tail of a body")) || !g.syncAt([]byte("HTTP/1.1 200 OK\r\n\r\n")) {
		t.Fatal("answers sync on a status line")
	}
}
