// Package httptoxics adds HTTP/1.x toxics to a Toxiproxy v2.12.0 server: http_status,
// http_abort, http_delay and http_header. Each decides per HTTP message (request or
// response), not per TCP connection as Toxiproxy's toxicity does: on a kept-alive connection
// one request in ten can be answered 503 while the other nine reach the upstream.
//
// Toxiproxy applies a toxic's `toxicity` once per connection; these toxics are meant to be
// added with toxicity 1 and decide per message with their own `probability` attribute.
//
// A stream that is not HTTP/1.x passes through untouched: the toxic logs why (a warning with
// the proxy, the toxic and the first bytes) and counts it in
// toxiproxy_http_passthrough_connections_total, so a fault that could not bite is visible.
package httptoxics

import (
	"math/rand/v2"
	"sync"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Types lists the toxic types this package registers.
var Types = []string{"http_status", "http_abort", "http_delay", "http_header", "cut_after_match", "truncate"}

// env is what the toxics need from the server they run in. Toxiproxy creates toxics from its
// registry with reflect.New, so they cannot be handed dependencies: Register sets this once.
type env struct {
	server   *toxiproxy.ApiServer
	logger   zerolog.Logger
	messages *prometheus.CounterVec
	opaque   *prometheus.CounterVec

	mu  sync.Mutex
	rng *rand.Rand
}

var current = newEnv(nil, zerolog.Nop(), 0)

func newEnv(server *toxiproxy.ApiServer, logger zerolog.Logger, seed int64) *env {
	labels := []string{"proxy", "toxic", "type", "stream"}
	return &env{
		server: server,
		logger: logger,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "toxiproxy", Subsystem: "http", Name: "requests_total",
			Help: "HTTP messages (requests upstream, answers downstream) an HTTP toxic decided on, by outcome (faulted, passed); for cut_after_match, the matches it drew for; for truncate, the connections it cut (faulted) or that ended before their drawn offset (passed)",
		}, append(labels, "outcome")),
		opaque: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "toxiproxy", Subsystem: "http", Name: "passthrough_connections_total",
			Help: "Connections whose traffic an HTTP toxic passed through untouched because it was not HTTP/1.x (or stopped being), by reason",
		}, append(labels, "reason")),
		rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
	}
}

// Register adds the HTTP toxics to Toxiproxy's registry, bound to a server (to name the proxy
// and toxic in logs and metrics, and to reach the other half of a connection). Its counters
// go into registry, the one the server's /metrics serves (-proxy-metrics or -runtime-metrics).
// seed makes the per-message draws reproducible for a given order of messages.
func Register(server *toxiproxy.ApiServer, registry *prometheus.Registry, logger zerolog.Logger, seed int64) error {
	e := newEnv(server, logger, seed)
	if registry != nil {
		for _, c := range []prometheus.Collector{e.messages, e.opaque} {
			if err := registry.Register(c); err != nil {
				return err
			}
		}
	}
	if err := checkInternals(); err != nil {
		// http_status on the upstream stream needs it; everything else still works.
		logger.Error().Err(err).Msg("http_status cannot answer for the upstream on this Toxiproxy version")
	}
	current = e
	toxics.Register("http_status", new(StatusToxic))
	toxics.Register("http_abort", new(AbortToxic))
	toxics.Register("http_delay", new(DelayToxic))
	toxics.Register("http_header", new(HeaderToxic))
	toxics.Register("cut_after_match", new(CutAfterMatchToxic))
	toxics.Register("truncate", new(TruncateToxic))
	return nil
}

func (e *env) draw() float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rng.Float64()
}

func (e *env) jitter(n int64) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rng.Int64N(n)
}

// identity names a toxic for logs and metrics: Toxiproxy does not tell a toxic who it is.
type identity struct {
	proxy, toxic, stream string
	upstream             bool
}

// identify finds the wrapper of a toxic among the server's proxies. It takes each proxy's
// toxic lock, so callers run it off the Pipe goroutine (see binding).
func (e *env) identify(self toxics.Toxic) identity {
	if e.server != nil {
		for name, proxy := range e.server.Collection.Proxies() {
			for _, t := range proxy.Toxics.GetToxicArray() {
				if w, ok := t.(*toxics.ToxicWrapper); ok && w.Toxic == self {
					return identity{proxy: name, toxic: w.Name, stream: w.Stream, upstream: w.Stream == "upstream"}
				}
			}
		}
	}
	return identity{proxy: "?", toxic: "?", stream: "?"}
}

// binding resolves a toxic's identity once, shared by every connection's Pipe.
type binding struct {
	once sync.Once
	done chan struct{}
	id   identity
}

// get waits for the identity; false if the toxic was interrupted first (the lookup needs the
// proxy's toxic lock, which whoever interrupts us may be holding).
func (b *binding) get(self toxics.Toxic, interrupt <-chan struct{}) (identity, bool) {
	b.once.Do(func() {
		b.done = make(chan struct{})
		go func() {
			b.id = current.identify(self)
			close(b.done)
		}()
	})
	select {
	case <-b.done:
		return b.id, true
	case <-interrupt:
		return identity{}, false
	}
}
