package httptoxics

// The toxics inside a real Toxiproxy v2.12.0 server (its proxies, links and API decoding),
// between Go's own HTTP client and server on loopback.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

type upstream struct {
	*httptest.Server
	requests    atomic.Int64
	connections atomic.Int64
}

// newUpstream answers every request with its method and path (and echoes a POST body),
// counting the requests and connections that reach it.
func newUpstream(t *testing.T, handler http.HandlerFunc) *upstream {
	u := &upstream{}
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
		}
	}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		handler(w, r)
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.connections.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

type fixture struct {
	server   *toxiproxy.ApiServer
	registry *prometheus.Registry
	proxy    *toxiproxy.Proxy
	logs     *lockedWriter
}

func newFixture(t *testing.T, upstreamAddr string) *fixture {
	t.Helper()
	logs := &lockedWriter{}
	logger := zerolog.New(logs)
	registry := prometheus.NewRegistry()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(registry), logger)
	if err := Register(server, registry, logger, 7); err != nil {
		t.Fatal(err)
	}
	proxy := toxiproxy.NewProxy(server, "edge", "127.0.0.1:0", upstreamAddr)
	if err := server.Collection.Add(proxy, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)
	return &fixture{server, registry, proxy, logs}
}

func (f *fixture) add(t *testing.T, body string) {
	t.Helper()
	if _, err := f.proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		t.Fatalf("adding %s: %v", body, err)
	}
}

func (f *fixture) url(path string) string { return "http://" + f.proxy.Listen + path }

func (f *fixture) counted(outcome string) float64 {
	return testutil.ToFloat64(current.messages.WithLabelValues("edge", "fault", "http_status", "upstream", outcome))
}

// keptAlive is a client that reuses one connection for every request.
func keptAlive(t *testing.T) *http.Client {
	transport := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: 5 * time.Second}
}

// lockedWriter collects the server's log: connections log from their own goroutines.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func get(t *testing.T, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, string(body), resp.Header
}

func TestStatusAnswersAShareOfRequestsOnAKeptAliveConnectionWithoutReachingTheUpstream(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, up.Listener.Addr().String())
	f.add(t, `{"name":"fault","type":"http_status","stream":"upstream",
		"attributes":{"status":503,"probability":0.3,"body":"{\"error\":\"injected\"}","content_type":"application/json","retry_after":2}}`)
	client := keptAlive(t)
	const n = 2000
	answered := 0
	for i := 0; i < n; i++ {
		status, body, header := get(t, client, f.url(fmt.Sprintf("/item/%d", i)))
		switch status {
		case 503:
			answered++
			if body != `{"error":"injected"}` || header.Get("Retry-After") != "2" || header.Get("Content-Type") != "application/json" {
				t.Fatalf("answer %d: body %q, headers %v", i, body, header)
			}
		case 200:
			if body != fmt.Sprintf("GET /item/%d ", i) {
				t.Fatalf("request %d reached the upstream as %q", i, body)
			}
		default:
			t.Fatalf("request %d: status %d", i, status)
		}
	}
	share := float64(answered) / n
	if share < 0.26 || share > 0.34 {
		t.Errorf("%d of %d requests answered 503 (%.3f), want about 0.3", answered, n, share)
	}
	if got := up.requests.Load(); got != int64(n-answered) {
		t.Errorf("the upstream saw %d requests, want %d (every request not answered by the toxic)", got, n-answered)
	}
	if got := up.connections.Load(); got != 1 {
		t.Errorf("the upstream saw %d connections, want 1: answering must keep the connection alive", got)
	}
	if f.counted("faulted") != float64(answered) || f.counted("passed") != float64(n-answered) {
		t.Errorf("metrics: faulted %v passed %v, want %d and %d", f.counted("faulted"), f.counted("passed"), answered, n-answered)
	}
}

func TestStatusSwallowsChunkedAndLengthBodiesAndKeepsTheConnectionUsable(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, up.Listener.Addr().String())
	f.add(t, `{"name":"fault","type":"http_status","stream":"upstream","attributes":{"status":500,"probability":0.5}}`)
	client := keptAlive(t)
	seen := map[int]int{}
	for i := 0; i < 200; i++ {
		payload := strings.Repeat(fmt.Sprintf("part-%d;", i), 1+i%50)
		var body io.Reader = strings.NewReader(payload)
		if i%2 == 0 {
			body = io.MultiReader(body) // unknown length: Go sends it chunked
		}
		resp, err := client.Post(f.url("/upload"), "text/plain", body)
		if err != nil {
			t.Fatalf("POST %d: %v", i, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[resp.StatusCode]++
		if resp.StatusCode == 200 && string(got) != "POST /upload "+payload {
			t.Fatalf("POST %d: the upstream got %q", i, got)
		}
	}
	if seen[500] < 60 || seen[200] < 60 || len(seen) != 2 {
		t.Errorf("statuses %v, want about half 500 and half 200", seen)
	}
	if up.connections.Load() != 1 {
		t.Errorf("%d upstream connections, want 1", up.connections.Load())
	}
}

func TestStatusOnTheDownstreamReplacesAnswersTheUpstreamGave(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, up.Listener.Addr().String())
	f.add(t, `{"name":"fault","type":"http_status","stream":"downstream","attributes":{"status":502,"probability":0.5,"body":"lost"}}`)
	client := keptAlive(t)
	replaced := 0
	for i := 0; i < 200; i++ {
		if status, body, _ := get(t, client, f.url("/x")); status == 502 {
			replaced++
			if body != "lost" {
				t.Fatalf("body %q", body)
			}
		}
	}
	if up.requests.Load() != 200 || replaced < 60 || replaced > 140 {
		t.Errorf("upstream saw %d requests (want 200), %d answers replaced (want about 100)", up.requests.Load(), replaced)
	}
}

func TestStatusAnswersHeadWithoutABodyAndHonoursConnectionClose(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, up.Listener.Addr().String())
	f.add(t, `{"name":"fault","type":"http_status","stream":"upstream","attributes":{"status":503,"body":"busy"}}`)
	conn, err := net.Dial("tcp", f.proxy.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	fmt.Fprint(conn, "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	head, err := http.ReadResponse(r, &http.Request{Method: "HEAD"})
	if err != nil || head.StatusCode != 503 || head.ContentLength != 4 {
		t.Fatalf("HEAD: %v %+v", err, head)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || string(body) != "busy" || !resp.Close {
		t.Fatalf("GET: %d %q close=%v", resp.StatusCode, body, resp.Close)
	}
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after Connection: close the connection must end, got %v", err)
	}
	if up.requests.Load() != 0 {
		t.Fatalf("the upstream saw %d requests", up.requests.Load())
	}
}

func TestStatusAnswersAnExpectContinueRequestAtOnceAndCloses(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, up.Listener.Addr().String())
	f.add(t, `{"name":"fault","type":"http_status","stream":"upstream","attributes":{"status":429,"retry_after":1}}`)
	conn, err := net.Dial("tcp", f.proxy.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || !resp.Close {
		t.Fatalf("%v %+v", err, resp)
	}
}

func TestAbortCutsTheBodyOfAShareOfAnswers(t *testing.T) {
	payload := strings.Repeat("0123456789", 1000)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if chunked {
					w.(http.Flusher).Flush() // no Content-Length: the body goes chunked
				}
				io.WriteString(w, payload)
			})
			f := newFixture(t, up.Listener.Addr().String())
			f.add(t, `{"name":"fault","type":"http_abort","attributes":{"body_bytes":100,"probability":0.5}}`)
			complete, cut := 0, 0
			for i := 0; i < 60; i++ {
				client := keptAlive(t)
				resp, err := client.Get(f.url("/big"))
				if err != nil {
					t.Fatalf("GET %d: the head must arrive before the cut: %v", i, err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err == nil && string(got) == payload:
					complete++
				case errors.Is(err, io.ErrUnexpectedEOF) && len(got) <= 100 && strings.HasPrefix(payload, string(got)):
					cut++
				default:
					t.Fatalf("GET %d: %d bytes, error %v", i, len(got), err)
				}
			}
			if complete < 15 || cut < 15 {
				t.Errorf("%d complete, %d cut: want about half each", complete, cut)
			}
		})
	}
}

func TestDelayHoldsOnlyTheChosenRequestsOfAConnection(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, up.Listener.Addr().String())
	f.add(t, `{"name":"fault","type":"http_delay","stream":"upstream","attributes":{"delay":200,"probability":0.25}}`)
	client := keptAlive(t)
	slow, fast := 0, 0
	for i := 0; i < 40; i++ {
		started := time.Now()
		get(t, client, f.url("/x"))
		took := time.Since(started)
		switch {
		case took >= 190*time.Millisecond:
			slow++
		case took < 100*time.Millisecond:
			fast++
		default:
			t.Fatalf("request %d took %v: neither delayed nor fast", i, took)
		}
	}
	if slow < 3 || fast < 20 || up.connections.Load() != 1 {
		t.Errorf("%d slow, %d fast, %d connections", slow, fast, up.connections.Load())
	}
}

func TestHeaderSetsAndRemovesAField(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "token=%q trace=%q", r.Header.Get("Authorization"), r.Header.Get("X-Trace"))
	})
	f := newFixture(t, up.Listener.Addr().String())
	f.add(t, `{"name":"strip","type":"http_header","stream":"upstream","attributes":{"action":"remove","name":"authorization"}}`)
	f.add(t, `{"name":"tag","type":"http_header","stream":"upstream","attributes":{"name":"X-Trace","value":"chaos"}}`)
	req, _ := http.NewRequest("GET", f.url("/"), nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := keptAlive(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `token="" trace="chaos"` {
		t.Fatalf("the upstream saw %s", body)
	}
}

func TestTrafficThatIsNotHTTPPassesThroughAndIsReported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	f := newFixture(t, ln.Addr().String())
	f.add(t, `{"name":"fault","type":"http_status","stream":"upstream","attributes":{"status":503}}`)
	conn, err := net.Dial("tcp", f.proxy.Listen)
	if err != nil {
		t.Fatal(err)
	}
	message := []byte("\x16\x03\x01\x00\x05hello, this is not HTTP")
	conn.Write(message)
	got := make([]byte, len(message))
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, message) {
		t.Fatalf("echo: %q, %v", got, err)
	}
	// Reported when the connection ends without ever starting an HTTP message (a toxic that
	// joins a connection mid-message waits for the next message start, so not at once).
	conn.Close()
	counter := current.opaque.WithLabelValues("edge", "fault", "http_status", "upstream", "not_http")
	// The counter and the log line are written one after the other: wait for both (a busy
	// machine under -race has shown the counter without the line yet).
	for deadline := time.Now().Add(3 * time.Second); (testutil.ToFloat64(counter) == 0 ||
		!strings.Contains(f.logs.String(), "not HTTP/1.x")) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if testutil.ToFloat64(counter) != 1 {
		t.Errorf("passthrough counter %v, want 1", testutil.ToFloat64(counter))
	}
	if !strings.Contains(f.logs.String(), "not HTTP/1.x") || !strings.Contains(f.logs.String(), `"proxy":"edge"`) ||
		!strings.Contains(f.logs.String(), `starts with \"\\x16`) {
		t.Errorf("no warning naming the proxy and the first bytes in the log: %s", f.logs.String())
	}
}

func TestAToxicAddedWhileARequestIsInFlightActsFromTheNextRequest(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, up.Listener.Addr().String())
	conn, err := net.Dial("tcp", f.proxy.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	fmt.Fprint(conn, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // the head has passed; the body is still to come
	f.add(t, `{"name":"fault","type":"http_status","stream":"upstream","attributes":{"status":503}}`)
	fmt.Fprint(conn, "hello")
	first, err := http.ReadResponse(r, nil)
	if err != nil || first.StatusCode != 200 {
		t.Fatalf("the request in flight completes: %v %+v", err, first)
	}
	io.Copy(io.Discard, first.Body)
	fmt.Fprint(conn, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	second, err := http.ReadResponse(r, nil)
	if err != nil || second.StatusCode != 503 {
		t.Fatalf("the next request is faulted: %v %+v", err, second)
	}
	if testutil.ToFloat64(current.opaque.WithLabelValues("edge", "fault", "http_status", "upstream", "not_http")) != 0 {
		t.Error("joining mid-message is not traffic that is not HTTP")
	}
}

func TestRemovingAToxicDuringTrafficLosesNoRequest(t *testing.T) {
	up := newUpstream(t, nil)
	f := newFixture(t, up.Listener.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var failures atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := keptAlive(t)
			for ctx.Err() == nil {
				resp, err := client.Get(f.url("/x"))
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for round := 0; round < 5; round++ {
		f.add(t, `{"name":"fault","type":"http_delay","stream":"upstream","attributes":{"delay":20,"probability":0.5}}`)
		f.add(t, `{"name":"fault2","type":"http_status","stream":"downstream","attributes":{"status":503,"probability":0.2}}`)
		time.Sleep(100 * time.Millisecond)
		if err := f.proxy.Toxics.RemoveToxic(context.Background(), "fault"); err != nil {
			t.Fatal(err)
		}
		if err := f.proxy.Toxics.RemoveToxic(context.Background(), "fault2"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if failures.Load() != 0 {
		t.Errorf("%d requests failed while toxics came and went", failures.Load())
	}
}

func TestInvalidAttributesAreRefusedByTheAPI(t *testing.T) {
	f := newFixture(t, "127.0.0.1:1")
	for body, want := range map[string]string{
		`{"type":"http_status","attributes":{"status":42}}`:                      "status must be between 200 and 599",
		`{"type":"http_status","attributes":{"status":503,"probability":2}}`:     "probability must be between 0 and 1",
		`{"type":"http_status","attributes":{"status":503,"stauts":1}}`:          "unknown field",
		`{"type":"http_header","attributes":{"name":"Content-Length"}}`:          "frames the body",
		`{"type":"http_delay","attributes":{"delay":-5}}`:                        "must not be negative",
		`{"type":"http_header","attributes":{"name":"X-A","value":"a\r\nB: c"}}`: "must not contain CR",
	} {
		_, err := f.proxy.Toxics.AddToxicJson(strings.NewReader(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error with %q", body, err, want)
		}
	}
}

func TestAnUpdateChangesOnlyTheNamedAttributes(t *testing.T) {
	f := newFixture(t, "127.0.0.1:1")
	f.add(t, `{"name":"fault","type":"http_status","attributes":{"status":503,"probability":0.25,"body":"x"}}`)
	if _, err := f.proxy.Toxics.UpdateToxicJson("fault", strings.NewReader(`{"attributes":{"status":502},"toxicity":1}`)); err != nil {
		t.Fatal(err)
	}
	s := f.proxy.Toxics.GetToxic("fault").Toxic.(*StatusToxic).StatusSettings
	if s.Status != 502 || s.Probability != 0.25 || s.Body != "x" {
		t.Fatalf("after the update: %+v", s)
	}
}

func TestTheToxiproxyInternalsThisBuildReadAreThere(t *testing.T) {
	if err := checkInternals(); err != nil {
		t.Fatal(err)
	}
}

func TestANonHTTPConnectionStillOpenIsReportedWhenTheToxicIsRemoved(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	f := newFixture(t, ln.Addr().String())
	f.add(t, `{"name":"fault","type":"http_delay","stream":"upstream","attributes":{"delay":10}}`)
	conn, err := net.Dial("tcp", f.proxy.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("\x00\x00\x00\x08\x04\xd2\x16\x2f")) // PostgreSQL's SSLRequest
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	io.ReadFull(conn, make([]byte, 8))
	if err := f.proxy.Toxics.RemoveToxic(context.Background(), "fault"); err != nil {
		t.Fatal(err)
	}
	counter := current.opaque.WithLabelValues("edge", "fault", "http_delay", "upstream", "not_http")
	if testutil.ToFloat64(counter) != 1 {
		t.Errorf("passthrough counter %v, want 1 once the toxic is gone", testutil.ToFloat64(counter))
	}
	conn.Write([]byte("more"))
	if got := make([]byte, 4); func() bool { _, err := io.ReadFull(conn, got); return err != nil || string(got) != "more" }() {
		t.Error("the connection must go on after the toxic is removed")
	}
}
