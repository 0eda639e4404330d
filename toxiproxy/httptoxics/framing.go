package httptoxics

// An incremental HTTP/1.x framer: it is fed the bytes of one direction of a connection as
// they arrive (chunks of any size, split anywhere) and tells where each message's head, body
// and end are, without buffering bodies. Only a head (and a chunk-size or trailer line) is
// ever held, because a decision about a message needs its whole head.
//
// Framing follows RFC 9112 section 6: a request has a body only with Transfer-Encoding
// (chunked last) or Content-Length; a response has none for 1xx, 204 and 304, is chunked or
// length-delimited when its headers say so, and otherwise runs until the connection closes.
// The one thing this framer cannot know on the response side is that a request was HEAD
// (whose answer announces a body it does not send): when a status line appears where a body
// should start, the previous answer is taken as bodiless.
//
// A toxic may join a connection in the middle of a message (it was added while a request was
// in flight): the framer starts "unsynced", passing bytes through, and syncs at the first
// chunk that begins with a request line (upstream) or a status line (downstream); clients
// and servers write a message head in one go, so a new message starts a new chunk.
//
// Anything that is not HTTP/1.x (TLS, a database protocol, a malformed head) turns the
// stream "opaque": every later byte is passed through untouched, with the reason.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

type role int

const (
	requests  role = iota // the upstream stream: client -> server
	responses             // the downstream stream: server -> client
)

const (
	maxHeadBytes  = 64 << 10 // a head larger than this is not something we hold: go opaque
	maxLineBytes  = 8 << 10  // a chunk-size line or the request line
	maxMethodSize = 32
)

type eventKind int

const (
	needMore   eventKind = iota // every byte given was consumed (some may be held)
	headDone                    // a message head is complete: event.head (event.raw is its bytes)
	bodyBytes                   // body bytes (raw, chunk framing included) that do not end the message
	messageEnd                  // the bytes that end the message (may be empty): last body byte, last chunk, trailers
	opaque                      // not (or no longer) HTTP: event.raw passes through as is; event.reason says why
)

type event struct {
	kind   eventKind
	raw    []byte
	head   *Head
	reason string // opaque: why ("" at a clean end of stream)
	broken bool   // opaque: the reason is a problem worth reporting (not an upgrade or an end of stream)
}

type phase int

const (
	phaseUnsynced phase = iota // before the first message start seen (see syncAt)
	phaseHead
	phaseLength
	phaseChunkSize
	phaseChunkData
	phaseChunkCRLF
	phaseTrailer
	phaseClose
	phaseOpaque
)

// Head is a parsed message head. Raw holds the bytes exactly as received.
type Head struct {
	Raw     []byte
	Method  string // requests
	Target  string // requests
	Proto   string // "HTTP/1.1"
	Status  int    // responses
	Fields  []Field
	Interim bool // a 1xx answer: the final one follows
	upgrade bool // after this message the connection is no longer HTTP (101, CONNECT, Upgrade)
}

// Field is one header line; obs-folded continuation lines are joined with a space.
type Field struct{ Name, Value string }

// Get returns the values of every field with that name (case-insensitive), joined by ", ".
func (h *Head) Get(name string) string {
	var values []string
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			values = append(values, f.Value)
		}
	}
	return strings.Join(values, ", ")
}

// Has reports whether a comma-separated field (Connection, Expect) lists the token.
func (h *Head) Has(name, token string) bool {
	for _, part := range strings.Split(h.Get(name), ",") {
		if strings.EqualFold(strings.TrimSpace(part), token) {
			return true
		}
	}
	return false
}

// KeepsAlive reports whether the connection stays open after this message (RFC 9112 9.3).
func (h *Head) KeepsAlive() bool {
	if h.Has("Connection", "close") {
		return false
	}
	return h.Proto != "HTTP/1.0" || h.Has("Connection", "keep-alive")
}

type framer struct {
	role      role
	phase     phase
	held      []byte // head, chunk-size line or trailer bytes seen so far
	scanned   int    // bytes of held already searched for the end of the head
	remaining int64  // phaseLength, phaseChunkData: body bytes still to come
	atStart   bool   // the body has not started yet (HEAD detection)
	upgrade   bool   // go opaque once the current message ends
	reason    string // why the stream went opaque
}

func newFramer(r role) *framer { return &framer{role: r} }

// next consumes a prefix of data and reports what it was. Call it again with data[n:]
// until it reports needMore.
func (f *framer) next(data []byte) (event, int) {
	switch f.phase {
	case phaseOpaque, phaseUnsynced:
		if len(data) == 0 {
			return event{kind: needMore}, 0
		}
		return event{kind: opaque, raw: data, reason: f.reason}, len(data)
	case phaseHead:
		return f.nextHead(data)
	case phaseClose:
		if len(data) == 0 {
			return event{kind: needMore}, 0
		}
		return event{kind: bodyBytes, raw: data}, len(data)
	}
	if f.phase == phaseLength && f.remaining == 0 {
		return f.end(nil), 0 // a message without a body ends with its head, data or not
	}
	if len(data) == 0 {
		return event{kind: needMore}, 0
	}
	if f.atStart && f.role == responses && looksLikeStatusLine(data) {
		// An answer to HEAD announced a body it never sends: the next answer follows at once.
		return f.end(nil), 0
	}
	f.atStart = false
	switch f.phase {
	case phaseLength:
		if f.remaining == 1 {
			return f.end(data[:1]), 1
		}
		n := min(int64(len(data)), f.remaining-1)
		f.remaining -= n
		return event{kind: bodyBytes, raw: data[:n]}, int(n)
	case phaseChunkData:
		n := min(int64(len(data)), f.remaining)
		f.remaining -= n
		if f.remaining == 0 {
			f.phase = phaseChunkCRLF
		}
		return event{kind: bodyBytes, raw: data[:n]}, int(n)
	case phaseChunkCRLF:
		return f.nextChunkCRLF(data)
	case phaseChunkSize:
		return f.nextChunkSize(data)
	case phaseTrailer:
		return f.nextTrailer(data)
	}
	panic(fmt.Sprintf("httptoxics: framer in unknown phase %d", f.phase))
}

// eof ends the stream: a body that runs until close ends here; held bytes are handed back.
func (f *framer) eof() event {
	held := f.held
	f.held = nil
	switch {
	case f.phase == phaseClose:
		f.phase = phaseOpaque
		return event{kind: messageEnd}
	case len(held) > 0:
		f.phase = phaseOpaque
		return event{kind: opaque, raw: held}
	}
	return event{kind: needMore}
}

// synced reports whether a message start was ever seen (then messages are framed).
func (f *framer) synced() bool { return f.phase != phaseUnsynced }

// syncAt is called with each new chunk while unsynced: true if the chunk starts a message
// (framing starts with it), false if it is the rest of one that began before the toxic.
func (f *framer) syncAt(chunk []byte) bool {
	if f.phase != phaseUnsynced {
		return true
	}
	line := bytes.TrimLeft(chunk, "\r\n")
	end := bytes.IndexByte(line, '\n')
	if end < 0 {
		return false
	}
	var h Head
	if h.parseStartLine(strings.TrimSuffix(string(line[:end]), "\r"), f.role) != nil {
		return false
	}
	f.phase = phaseHead
	return true
}

// giveUp ends an unsynced stream's wait for a message start: it is not HTTP.
func (f *framer) giveUp(reason string) {
	f.phase, f.reason = phaseOpaque, reason
}

// release hands back the bytes held (a partial head or line) when the toxic goes away.
func (f *framer) release() []byte {
	held := f.held
	f.held, f.phase = nil, phaseOpaque
	return held
}

func (f *framer) goOpaque(reason string, broken bool, data []byte) (event, int) {
	raw := append(f.held, data...)
	f.held, f.phase, f.reason = nil, phaseOpaque, reason
	return event{kind: opaque, raw: raw, reason: reason, broken: broken}, len(data)
}

func (f *framer) end(raw []byte) event {
	f.held, f.scanned = nil, 0
	if f.upgrade {
		f.phase, f.reason = phaseOpaque, "protocol upgrade"
	} else {
		f.phase = phaseHead
	}
	return event{kind: messageEnd, raw: raw}
}

func (f *framer) nextHead(data []byte) (event, int) {
	if len(data) == 0 {
		return event{kind: needMore}, 0
	}
	before := len(f.held)
	room := maxHeadBytes + 1 - before
	take := data
	if len(take) > room {
		take = take[:room]
	}
	f.held = append(f.held, take...)
	// Empty lines before a request line are allowed (RFC 9112 2.2): they do not end a head.
	lead := len(f.held) - len(bytes.TrimLeft(f.held, "\r\n"))
	end := headEnd(f.held, max(lead, f.scanned-3))
	if end < 0 {
		f.scanned = len(f.held)
		if problem := f.implausible(); problem != "" {
			f.held = f.held[:before]
			return f.goOpaque(problem, true, data)
		}
		if len(f.held) > maxHeadBytes {
			f.held = f.held[:before]
			return f.goOpaque(fmt.Sprintf("message head larger than %d bytes", maxHeadBytes), true, data)
		}
		return event{kind: needMore}, len(data)
	}
	consumed := end - before
	raw := f.held[:end:end]
	head, err := parseHead(raw, f.role)
	if err != nil {
		f.held = f.held[:before]
		return f.goOpaque(err.Error(), true, data)
	}
	f.held, f.scanned = nil, 0
	if problem := f.frame(head); problem != "" {
		// Hand the head back as opaque: what follows cannot be framed.
		f.phase, f.reason = phaseOpaque, problem
		return event{kind: opaque, raw: raw, reason: problem, broken: true}, consumed
	}
	return event{kind: headDone, raw: raw, head: head}, consumed
}

// frame sets the body phase after a head; it returns a problem when the body cannot be framed.
func (f *framer) frame(h *Head) string {
	f.upgrade = h.upgrade
	f.atStart = true
	te := h.Get("Transfer-Encoding")
	chunked := false
	if te != "" {
		codings := strings.Split(te, ",")
		chunked = strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked")
	}
	switch {
	case f.role == responses && (h.Interim || h.Status == 204 || h.Status == 304):
		f.phase = phaseLength
		f.remaining = 0
	case chunked:
		f.phase = phaseChunkSize
		return ""
	case te != "" && f.role == requests:
		return fmt.Sprintf("request with Transfer-Encoding %q (not chunked last): its body cannot be framed", te)
	case te != "":
		f.phase = phaseClose
		return ""
	case h.Get("Content-Length") != "":
		n, err := contentLength(h.Get("Content-Length"))
		if err != nil {
			return err.Error()
		}
		f.phase, f.remaining = phaseLength, n
	case f.role == requests:
		f.phase, f.remaining = phaseLength, 0
	default:
		f.phase = phaseClose
		return ""
	}
	if f.phase == phaseLength && f.remaining == 0 {
		f.atStart = false
	}
	return ""
}

func (f *framer) nextChunkSize(data []byte) (event, int) {
	line, n, ok := f.line(data)
	if !ok {
		if len(f.held) > maxLineBytes {
			ev, _ := f.goOpaque("chunk-size line too long", true, nil)
			return ev, n
		}
		return event{kind: needMore}, n
	}
	size, err := chunkSize(line)
	if err != nil {
		f.held = line
		ev, _ := f.goOpaque(err.Error(), true, data[n:])
		return ev, len(data)
	}
	if size == 0 {
		// The last chunk ends the message with the trailers; scanned marks where a line starts.
		f.held, f.phase, f.scanned = line, phaseTrailer, len(line)
		ev, m := f.nextTrailer(data[n:])
		return ev, n + m
	}
	f.held, f.phase, f.remaining = nil, phaseChunkData, size
	return event{kind: bodyBytes, raw: line}, n
}

func (f *framer) nextChunkCRLF(data []byte) (event, int) {
	line, n, ok := f.line(data)
	if !ok {
		if len(f.held) > 2 {
			ev, _ := f.goOpaque("chunk data not followed by CRLF", true, nil)
			return ev, n
		}
		return event{kind: needMore}, n
	}
	if len(bytes.TrimRight(line, "\r\n")) != 0 {
		f.held = line
		ev, _ := f.goOpaque("chunk data not followed by CRLF", true, data[n:])
		return ev, len(data)
	}
	f.held, f.phase = nil, phaseChunkSize
	return event{kind: bodyBytes, raw: line}, n
}

func (f *framer) nextTrailer(data []byte) (event, int) {
	// held has the last-chunk line, then trailer lines until an empty one; a line may
	// arrive in pieces, so scanned remembers where the current one started.
	for consumed := 0; ; {
		i := bytes.IndexByte(data[consumed:], '\n')
		if i < 0 {
			f.held = append(f.held, data[consumed:]...)
			if len(f.held) > maxHeadBytes {
				ev, _ := f.goOpaque("chunked trailers too large", true, nil)
				return ev, len(data)
			}
			return event{kind: needMore}, len(data)
		}
		f.held = append(f.held, data[consumed:consumed+i+1]...)
		consumed += i + 1
		line := f.held[f.scanned:]
		f.scanned = len(f.held)
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return f.end(f.held), consumed
		}
	}
}

// line collects bytes up to and including LF; ok when the line is complete (held + data).
func (f *framer) line(data []byte) ([]byte, int, bool) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		f.held = append(f.held, data...)
		return nil, len(data), false
	}
	line := append(f.held, data[:i+1]...)
	f.held = nil
	return line, i + 1, true
}

// implausible says why a partial head cannot be the start of an HTTP/1.x message, or "".
// It rejects binary protocols (TLS, PostgreSQL, ...) at their first bytes, so nothing
// waits for a line ending that will never come.
func (f *framer) implausible() string {
	buf := f.held
	if f.role == responses {
		prefix := "HTTP/1."
		n := min(len(buf), len(prefix))
		if string(buf[:n]) != prefix[:n] {
			return fmt.Sprintf("not an HTTP/1.x response: starts with %q", excerpt(buf))
		}
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			var h Head
			if err := h.parseStartLine(strings.TrimSuffix(string(buf[:i]), "\r"), responses); err != nil {
				return err.Error()
			}
		}
		return ""
	}
	buf = bytes.TrimLeft(buf, "\r\n") // empty lines before a request line are allowed
	line := buf
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		// The whole request line is here: judge it whole.
		var h Head
		if err := h.parseStartLine(strings.TrimSuffix(string(buf[:i]), "\r"), requests); err != nil {
			return err.Error()
		}
		return ""
	}
	bad := fmt.Sprintf("not an HTTP/1.x request: starts with %q", excerpt(buf))
	inMethod := true
	for i, c := range line {
		switch {
		case inMethod && c == ' ':
			if i == 0 {
				return bad
			}
			inMethod = false
		case inMethod && (!isTokenChar(c) || i >= maxMethodSize):
			return bad
		case !inMethod && (c < 0x20 && c != '\r' || c == 0x7f):
			return bad
		}
	}
	return ""
}

func headEnd(buf []byte, from int) int {
	for i := from; i < len(buf); i++ {
		if buf[i] != '\n' {
			continue
		}
		if i+1 < len(buf) && buf[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(buf) && buf[i+1] == '\r' && buf[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

func parseHead(raw []byte, r role) (*Head, error) {
	text := strings.TrimLeft(string(raw), "\r\n")
	lines := strings.Split(strings.TrimRight(text, "\r\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	h := &Head{Raw: raw}
	if err := h.parseStartLine(lines[0], r); err != nil {
		return nil, err
	}
	for _, line := range lines[1:] {
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			if len(h.Fields) == 0 {
				return nil, fmt.Errorf("malformed head: continuation line before any field: %q", excerpt([]byte(line)))
			}
			h.Fields[len(h.Fields)-1].Value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || !isToken(name) {
			return nil, fmt.Errorf("malformed header line %q", excerpt([]byte(line)))
		}
		h.Fields = append(h.Fields, Field{Name: name, Value: strings.TrimSpace(value)})
	}
	switch {
	case r == requests:
		h.upgrade = h.Method == "CONNECT" || (h.Get("Upgrade") != "" && h.Has("Connection", "upgrade"))
	case h.Status == 101:
		h.upgrade = true
	}
	return h, nil
}

func (h *Head) parseStartLine(line string, r role) error {
	if r == responses {
		proto, rest, _ := strings.Cut(line, " ")
		code, _, _ := strings.Cut(rest, " ")
		status, err := strconv.Atoi(code)
		if !isHTTP1(proto) || len(code) != 3 || err != nil || status < 100 {
			return fmt.Errorf("not an HTTP/1.x status line: %q", excerpt([]byte(line)))
		}
		h.Proto, h.Status, h.Interim = proto, status, status < 200
		return nil
	}
	parts := strings.Split(line, " ")
	if len(parts) != 3 || !isToken(parts[0]) || parts[1] == "" || !isHTTP1(parts[2]) {
		return fmt.Errorf("not an HTTP/1.x request line: %q", excerpt([]byte(line)))
	}
	h.Method, h.Target, h.Proto = parts[0], parts[1], parts[2]
	return nil
}

func isHTTP1(proto string) bool {
	return len(proto) == 8 && strings.HasPrefix(proto, "HTTP/1.") && proto[7] >= '0' && proto[7] <= '9'
}

func looksLikeStatusLine(data []byte) bool {
	if len(data) < 13 || !isHTTP1(string(data[:8])) || data[8] != ' ' || data[12] != ' ' && data[12] != '\r' {
		return false
	}
	for _, c := range data[9:12] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func contentLength(value string) (int64, error) {
	// Several Content-Length fields (or a list) must agree (RFC 9110 8.6).
	var n int64 = -1
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		v, err := strconv.ParseInt(part, 10, 64)
		if err != nil || v < 0 || part == "" || part[0] == '+' {
			return 0, fmt.Errorf("invalid Content-Length %q", value)
		}
		if n >= 0 && v != n {
			return 0, fmt.Errorf("conflicting Content-Length values %q", value)
		}
		n = v
	}
	return n, nil
}

func chunkSize(line []byte) (int64, error) {
	text := strings.TrimRight(string(line), "\r\n")
	size, _, _ := strings.Cut(text, ";")
	size = strings.TrimRight(size, " \t")
	n, err := strconv.ParseInt(size, 16, 64)
	if err != nil || n < 0 || size == "" || strings.ContainsAny(size, "+-xX") {
		return 0, fmt.Errorf("malformed chunk-size line %q", excerpt(line))
	}
	return n, nil
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func excerpt(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "..."
	}
	return string(b)
}
