package httptoxics

// The engine every HTTP toxic shares: it frames the messages of one direction, draws for each
// final message whether the toxic acts on it, and carries out the toxic's plan for that
// message (delay it, cut it, answer it, rewrite its head), passing everything else through.
//
// Toxiproxy may interrupt a toxic at any moment (another toxic is added, this one is updated
// or removed) and run it again later on the same stub: everything a connection needs lives
// in its connState, so a message half-way through survives the interruption.

import (
	"fmt"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// Common is what every HTTP toxic embeds: the per-connection hooks Toxiproxy looks for
// (NewState, Cleanup) and the toxic's identity. It has no settings: those are each toxic's.
type Common struct {
	bind binding
	set  bool // attributes were decoded at least once (defaults apply before the first time)
}

func (c *Common) common() *Common { return c }

type planKind int

const (
	planPass    planKind = iota // forward the message as it is
	planDelay                   // hold the head for delay, then forward
	planCut                     // forward the head and keep bytes of the body, then close
	planAnswer                  // do not forward: answer with answer (requests: on the other stream)
	planRewrite                 // forward head instead of the message's own head
)

type plan struct {
	kind   planKind
	delay  time.Duration
	keep   int64
	answer []byte
	close  bool // close the connection once the answer is sent
	head   []byte
}

// behaviour is what one HTTP toxic adds to the engine: a plan for a message the draw picked.
type behaviour interface {
	toxics.Toxic
	common() *Common
	kind() string
	probability() float64
	plan(h *Head, id identity) plan
}

// connState is one connection's (one direction's) progress through the stream.
type connState struct {
	f         *framer
	input     []byte    // taken from stub.Input, not yet framed
	ts        time.Time // when input arrived
	out       []byte    // to forward, sent by flush
	plan      plan      // for the message in progress
	inMessage bool      // a final message's head was seen and its end was not
	interim   bool      // the message in progress is a 1xx answer
	kept      int64     // planCut: body bytes forwarded so far
	held      []byte    // planDelay: the head, forwarded at holdUntil
	holdUntil time.Time
	closing   chan struct{} // an answer to deliver before closing
	answers   *answerer
	owner     behaviour // for Cleanup, which Toxiproxy calls without the toxic's identity
	id        identity
	unsynced  int    // chunks passed before the first message start (see framer.syncAt)
	first     []byte // the start of the first of them, for the report
	reported  bool
	closed    bool
}

// A stream that shows no message start in this many chunks is not HTTP (a request body in
// flight when the toxic joined takes a few chunks; a TLS or database session takes more).
const maxUnsyncedChunks = 64

// NewState is Toxiproxy's StatefulToxic hook: one state per connection and direction.
func (c *Common) NewState() interface{} { return &connState{} }

func run(stub *toxics.ToxicStub, b behaviour) {
	st := stub.State.(*connState)
	id, ok := b.common().bind.get(b, stub.Interrupt)
	if !ok {
		return
	}
	if st.f == nil {
		st.f = newFramer(map[bool]role{true: requests, false: responses}[id.upstream])
		st.owner, st.id = b, id
	}
	for !st.closed {
		if !st.drain(stub, b, id) {
			return
		}
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				st.finish(stub, b, id)
				return
			}
			st.input, st.ts = c.Data, c.Timestamp
			st.sync(b, id)
		}
	}
}

// sync looks for the first message start at a chunk boundary; a stream that never shows one
// is reported as not HTTP once it has passed enough chunks.
func (st *connState) sync(b behaviour, id identity) {
	if st.f.synced() || st.f.syncAt(st.input) {
		return
	}
	if st.unsynced++; st.unsynced == 1 {
		st.first = []byte(excerpt(st.input))
	}
	if st.unsynced > maxUnsyncedChunks {
		st.f.giveUp("no HTTP/1.x message start")
		st.notHTTP(b, id, fmt.Sprintf("no HTTP/1.x message start in %d chunks", maxUnsyncedChunks))
	}
}

// notHTTP reports, once, a stream that never started an HTTP message while the toxic was on.
func (st *connState) notHTTP(b behaviour, id identity, why string) {
	if st.reported || st.unsynced == 0 {
		return
	}
	st.reported = true
	report(b, id, event{kind: opaque, broken: true, reason: fmt.Sprintf("%s; it starts with %q", why, st.first)})
}

// drain frames and handles every byte of st.input; false when interrupted or closed.
func (st *connState) drain(stub *toxics.ToxicStub, b behaviour, id identity) bool {
	if !st.waitPending(stub) {
		return false
	}
	for {
		ev, n := st.f.next(st.input)
		st.input = st.input[n:]
		if ev.kind == needMore {
			st.flush(stub)
			return true
		}
		if !st.handle(stub, b, id, ev) {
			return false
		}
	}
}

func (st *connState) handle(stub *toxics.ToxicStub, b behaviour, id identity, ev event) bool {
	switch ev.kind {
	case opaque:
		if ev.reason != "" && !st.reported {
			st.reported = true
			report(b, id, ev)
		}
		if st.inMessage && (st.plan.kind == planCut || st.plan.kind == planAnswer) {
			// Half of this message was cut or swallowed: the rest cannot pass as if nothing happened.
			return st.shut(stub, b, id)
		}
		st.emit(ev.raw)
	case headDone:
		if ev.head.Interim {
			st.interim = true
			st.emit(ev.raw)
			return true
		}
		st.inMessage, st.kept = true, 0
		st.plan = plan{}
		if p := b.probability(); p > 0 && current.draw() < p {
			st.plan = b.plan(ev.head, id)
			if st.plan.kind == planAnswer && st.f.phase == phaseClose {
				st.plan.close = true // the upstream's answer runs until it closes: so will ours
			}
		}
		outcome := "faulted"
		if st.plan.kind == planPass {
			outcome = "passed"
		}
		current.messages.WithLabelValues(id.proxy, id.toxic, b.kind(), id.stream, outcome).Inc()
		switch st.plan.kind {
		case planPass:
			st.emit(ev.raw)
		case planRewrite:
			st.emit(st.plan.head)
		case planCut:
			st.emit(ev.raw)
		case planDelay:
			st.held, st.holdUntil = ev.raw, time.Now().Add(st.plan.delay)
			return st.waitPending(stub)
		case planAnswer:
			if id.upstream && ev.head.Has("Expect", "100-continue") {
				// The client waits for a go-ahead before sending its body: answer now (and close).
				st.plan.close = true
				return st.shut(stub, b, id)
			}
		}
	case bodyBytes:
		switch st.plan.kind {
		case planCut:
			n := min(int64(len(ev.raw)), st.plan.keep-st.kept)
			st.emit(ev.raw[:n])
			if st.kept += n; st.kept >= st.plan.keep {
				return st.shut(stub, b, id)
			}
		case planAnswer: // swallowed
		default:
			st.emit(ev.raw)
		}
	case messageEnd:
		if st.interim {
			st.interim = false
			st.emit(ev.raw)
			return true
		}
		st.inMessage = false
		switch st.plan.kind {
		case planCut:
			return st.shut(stub, b, id) // the end never passes: the body stays incomplete
		case planAnswer:
			if st.plan.close {
				return st.shut(stub, b, id) // sends the answer, then closes
			}
			answer := st.plan.answer
			st.plan.answer = nil
			if id.upstream {
				return st.deliver(stub, id, answer, false)
			}
			st.emit(answer)
		default:
			st.emit(ev.raw)
		}
	}
	return true
}

// shut ends the connection as the plan says: an answer first if there is one, then close.
func (st *connState) shut(stub *toxics.ToxicStub, b behaviour, id identity) bool {
	if st.plan.kind == planAnswer && st.plan.answer != nil {
		answer := st.plan.answer
		st.plan.answer = nil
		if id.upstream {
			return st.deliver(stub, id, answer, true)
		}
		st.emit(answer)
	}
	st.flush(stub)
	st.close(stub)
	return false
}

// deliver sends an answer to the client on the other stream of this connection (a request
// that is answered never reaches the upstream, so only that stream leads to the client).
func (st *connState) deliver(stub *toxics.ToxicStub, id identity, answer []byte, thenClose bool) bool {
	st.flush(stub)
	if st.answers == nil {
		a, ok := findAnswerer(stub, id)
		if !ok {
			return false // interrupted; the answer is lost only if the toxic is removed now
		}
		if a == nil {
			// No way to the client: closing is the closest honest outcome.
			st.close(stub)
			return false
		}
		st.answers = a
	}
	done := st.answers.send(answer)
	if thenClose {
		st.closing = done
		return st.waitPending(stub)
	}
	return true
}

// waitPending finishes what an interruption left: a delayed head, an answer to send before closing.
func (st *connState) waitPending(stub *toxics.ToxicStub) bool {
	if st.held != nil {
		st.flush(stub)
		timer := time.NewTimer(time.Until(st.holdUntil))
		select {
		case <-timer.C:
		case <-stub.Interrupt:
			timer.Stop()
			return false
		}
		st.emit(st.held)
		st.held = nil
		st.ts = time.Now() // the delay happened: a latency toxic after this one must not count it again
		st.flush(stub)
	}
	if st.closing != nil {
		select {
		case <-st.closing:
		case <-stub.Interrupt:
			return false
		}
		st.closing = nil
		st.close(stub)
		return false
	}
	return true
}

// finish handles the end of the stream: a body that ran until close ends here.
func (st *connState) finish(stub *toxics.ToxicStub, b behaviour, id identity) {
	for st.held != nil || st.closing != nil {
		if !st.waitPending(stub) {
			if st.closed {
				return
			}
			// Interrupted at the very end: let Cleanup (or the next run) finish.
			return
		}
	}
	if !st.f.synced() {
		st.notHTTP(b, id, "the connection ended before any HTTP/1.x message start")
	}
	if ev := st.f.eof(); ev.kind != needMore {
		if !st.handle(stub, b, id, ev) {
			return
		}
	}
	st.flush(stub)
	st.close(stub)
}

// Cleanup is Toxiproxy's CleanupToxic hook, called when the toxic is removed from a live
// connection: what the toxic holds is handed on, and a message it cut or swallowed half-way
// ends the connection (its remaining bytes would reach the other side without their head).
func (c *Common) Cleanup(stub *toxics.ToxicStub) {
	st, ok := stub.State.(*connState)
	if !ok || st.closed {
		return
	}
	if st.f != nil && !st.f.synced() {
		st.notHTTP(st.owner, st.id, "the toxic was removed before any HTTP/1.x message start")
	}
	if st.closing != nil {
		timer := time.NewTimer(2 * time.Second)
		select {
		case <-st.closing:
		case <-timer.C:
		}
		timer.Stop()
		st.close(stub)
		return
	}
	if st.inMessage && (st.plan.kind == planCut || st.plan.kind == planAnswer) {
		if st.plan.kind == planAnswer && len(st.plan.answer) > 0 && st.f.role == responses {
			st.emit(st.plan.answer) // the upstream's answer was swallowed: ours stands in for it
		}
		st.flush(stub)
		st.close(stub)
		return
	}
	if st.held != nil {
		st.emit(st.held)
		st.held = nil
	}
	st.emit(st.input)
	st.input = nil
	if st.f != nil {
		st.emit(st.f.release())
	}
	st.flush(stub)
	if st.answers != nil {
		st.answers.stop()
	}
}

func (st *connState) emit(raw []byte) { st.out = append(st.out, raw...) }

func (st *connState) flush(stub *toxics.ToxicStub) {
	if len(st.out) == 0 || st.closed {
		return
	}
	stub.Output <- &stream.StreamChunk{Data: st.out, Timestamp: st.ts}
	st.out = nil
}

func (st *connState) close(stub *toxics.ToxicStub) {
	if st.closed {
		return
	}
	st.closed = true
	if st.answers != nil {
		st.answers.stop()
	}
	stub.Close()
}

func report(b behaviour, id identity, ev event) {
	if !ev.broken {
		current.logger.Debug().Str("proxy", id.proxy).Str("toxic", id.toxic).Str("reason", ev.reason).
			Msg("HTTP toxic: the connection left HTTP; its traffic passes through")
		return
	}
	current.opaque.WithLabelValues(id.proxy, id.toxic, b.kind(), id.stream, "not_http").Inc()
	current.logger.Warn().Str("proxy", id.proxy).Str("toxic", id.toxic).Str("type", b.kind()).
		Str("stream", id.stream).Str("reason", ev.reason).
		Msg("HTTP toxic: traffic is not HTTP/1.x; it passes through untouched and is not faulted")
}
