package httptoxics

// Answering a request without forwarding it needs the other stream of the same connection:
// the answer must go to the client, and a toxic on the upstream stream only sees the way to
// the server. Toxiproxy v2.12.0 has no bidirectional toxics (its PR #132, open since 2016),
// and a toxic is not told which connection it serves. The proxy's toxic collection does know
// every connection's two links, by name ("<client address>upstream" and "...downstream"), in
// unexported fields. This file reads them through reflection, by name and type, under the
// collection's own lock; checkInternals verifies the layout at start-up (and a test does), so
// a Toxiproxy version that moved them fails loudly instead of misbehaving.

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unsafe"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

var internals = struct {
	links, stubs, input reflect.StructField
	err                 error
}{}

func init() { internals.err = checkInternals() }

func checkInternals() error {
	want := []struct {
		owner reflect.Type
		name  string
		typ   reflect.Type
		into  *reflect.StructField
	}{
		{reflect.TypeOf(toxiproxy.ToxicCollection{}), "links", reflect.TypeOf(map[string]*toxiproxy.ToxicLink{}), &internals.links},
		{reflect.TypeOf(toxiproxy.ToxicLink{}), "stubs", reflect.TypeOf([]*toxics.ToxicStub{}), &internals.stubs},
		{reflect.TypeOf(toxiproxy.ToxicLink{}), "input", reflect.TypeOf(&stream.ChanWriter{}), &internals.input},
	}
	for _, w := range want {
		f, ok := w.owner.FieldByName(w.name)
		if !ok || f.Type != w.typ {
			return fmt.Errorf("toxiproxy.%s has no field %s of type %s (the layout this build was written for)",
				w.owner.Name(), w.name, w.typ)
		}
		*w.into = f
	}
	return nil
}

// field reads an unexported field of the struct at base (a pointer), by its recorded offset.
func field[T any](base unsafe.Pointer, f reflect.StructField) T {
	return *(*T)(unsafe.Add(base, f.Offset))
}

// peerInput finds, for a stub on the upstream link of a connection, the input of that
// connection's downstream link: writing there is as if the upstream server had answered.
func peerInput(proxyName string, stub *toxics.ToxicStub) (*stream.ChanWriter, error) {
	if internals.err != nil {
		return nil, internals.err
	}
	if current.server == nil {
		return nil, fmt.Errorf("no server registered")
	}
	proxy, err := current.server.Collection.Get(proxyName)
	if err != nil {
		return nil, err
	}
	collection := proxy.Toxics
	collection.Lock()
	defer collection.Unlock()
	links := field[map[string]*toxiproxy.ToxicLink](unsafe.Pointer(collection), internals.links)
	for name, link := range links {
		if !strings.HasSuffix(name, "upstream") {
			continue
		}
		for _, s := range field[[]*toxics.ToxicStub](unsafe.Pointer(link), internals.stubs) {
			if s != stub {
				continue
			}
			peer := links[strings.TrimSuffix(name, "upstream")+"downstream"]
			if peer == nil {
				return nil, errPeerNotYet
			}
			return field[*stream.ChanWriter](unsafe.Pointer(peer), internals.input), nil
		}
	}
	return nil, errPeerNotYet
}

var errPeerNotYet = fmt.Errorf("the connection's downstream link is not registered")

// findAnswerer locates the other half of a connection. It waits for the proxy's toxic lock
// off this goroutine, so an interrupt (whose sender may hold that lock) is never blocked:
// ok is false when interrupted. a is nil when there is no way to the client.
func findAnswerer(stub *toxics.ToxicStub, id identity) (a *answerer, ok bool) {
	type found struct {
		in  *stream.ChanWriter
		err error
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		result := make(chan found, 1)
		go func() {
			in, err := peerInput(id.proxy, stub)
			result <- found{in, err}
		}()
		var r found
		select {
		case r = <-result:
		case <-stub.Interrupt:
			return nil, false
		}
		if r.err == nil {
			return newAnswerer(r.in), true
		}
		// Both links are registered one after the other as a connection is accepted; a
		// request can only be that quick on a loaded machine, so a short wait suffices.
		if r.err != errPeerNotYet || time.Now().After(deadline) {
			current.logger.Error().Err(r.err).Str("proxy", id.proxy).Str("toxic", id.toxic).
				Msg("http_status cannot reach the client of this connection; closing it instead of answering")
			return nil, true
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// answerer writes answers into the downstream link of one connection, in order, from its own
// goroutine: the write blocks until the downstream side takes it, and the upstream Pipe must
// stay interruptible meanwhile.
type answerer struct {
	queue   chan answerJob
	stopped bool
}

type answerJob struct {
	data []byte
	done chan struct{}
}

func newAnswerer(in *stream.ChanWriter) *answerer {
	a := &answerer{queue: make(chan answerJob, 64)}
	go func() {
		for job := range a.queue {
			write(in, job.data)
			close(job.done)
		}
	}()
	return a
}

// send queues an answer; the channel closes once it is handed to the downstream link.
func (a *answerer) send(data []byte) chan struct{} {
	done := make(chan struct{})
	if a.stopped {
		close(done)
		return done
	}
	a.queue <- answerJob{data, done}
	return done
}

func (a *answerer) stop() {
	if !a.stopped {
		a.stopped = true
		close(a.queue)
	}
}

// write hands data to the downstream link; if the upstream server closed its end meanwhile,
// that link's input is closed and the write panics: the connection is ending, nothing to do.
func write(in *stream.ChanWriter, data []byte) {
	defer func() { _ = recover() }()
	_, _ = in.Write(data)
}
