// Package ddbstream emulates DynamoDB Streams for local use, where the
// DynamoDB stand-in (infra/dynamolocal, minidyn) has none: Tap wraps
// the stand-in's HTTP handler, watches the writes that go through it and
// hands stream records (aws-lambda-go's events.DynamoDBEvent, the payload
// a Lambda stream consumer receives) to a sink — locally, the stream
// consumers (the relay-outbox and extend-audit-chain handlers) that on
// AWS are fed by the real stream.
//
// What is emitted: the items of successful PutItem calls and the Put
// actions of successful TransactWriteItems calls (the wrapped handler
// answered 200), each as an INSERT record whose NewImage is the item as
// written (StreamViewType NEW_IMAGE). On AWS a Put that replaces an
// existing item is a MODIFY; here every Put is an INSERT, since the tap
// does not read the table. UpdateItem, DeleteItem, BatchWriteItem and the
// Update/Delete actions of transactions are not emitted. That is all the
// audit outbox needs: audit items are only ever Put, once, conditionally
// on not existing.
//
// Order: writes that are tapped are serialized through the tap (a lock
// held while the wrapped handler runs), so records are sequenced in commit
// order. Records are delivered asynchronously, in order per partition key
// value (like a stream shard; partitions are delivered concurrently), in
// batches of what queued up meanwhile. A sink error is retried with
// backoff a few times; a *PartialFailure error (Lambda's
// ReportBatchItemFailures, see Lambda) retries from the failed record on,
// as Lambda does. After the last attempt the records are dropped and
// logged. Flush waits for everything queued to be delivered (or dropped);
// Close stops delivery.
//
// Why it stays: minidyn serves no Streams API (DescribeStream,
// GetShardIterator, GetRecords), and `make dev` runs on it, without Python.
// shared/events' TestTapMatchesMotoStream writes the same items to the tap
// and to moto's DynamoDB, whose stream is read with ReadStream (streams.go),
// and checks that the tap delivers exactly the records of moto's stream
// that pass the consumers' event-source filter (audit inserts: event name,
// keys, new image, order); the MODIFY and REMOVE records moto also streams
// are the ones the filter drops on AWS.
package ddbstream

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Sink receives one batch of stream records of one partition.
type Sink func(ctx context.Context, ev events.DynamoDBEvent) error

// PartialFailure is the error a Sink returns when records from
// SequenceNumber on failed (and the ones before it succeeded); the stream
// redelivers from that record.
type PartialFailure struct {
	SequenceNumber string
}

func (p *PartialFailure) Error() string {
	return "ddbstream: batch failed from sequence number " + p.SequenceNumber
}

// Lambda adapts a stream handler with ReportBatchItemFailures semantics
// (events.Relay.HandleStream) into a Sink: an error is a failure of the
// whole batch; reported item failures make a *PartialFailure from the
// lowest reported sequence number, which is where Lambda resumes.
func Lambda(h func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)) Sink {
	return func(ctx context.Context, ev events.DynamoDBEvent) error {
		resp, err := h(ctx, ev)
		if err != nil {
			return err
		}
		if len(resp.BatchItemFailures) == 0 {
			return nil
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, r := range ev.Records {
			if failed[r.Change.SequenceNumber] {
				return &PartialFailure{SequenceNumber: r.Change.SequenceNumber}
			}
		}
		// Identifiers that name no record: Lambda retries the whole batch.
		return fmt.Errorf("ddbstream: batch item failures name no record of the batch: %v", resp.BatchItemFailures)
	}
}

// Options tune a Stream; zero values take the defaults.
type Options struct {
	// KeyAttributes are the table's key attributes, partition key first
	// (default PK, SK): they make the records' Keys, and the partition
	// key's value is the unit of ordered delivery.
	KeyAttributes []string
	// BatchSize caps the records of one sink call (default 100).
	BatchSize int
	// MaxAttempts is how often a batch is tried before it is dropped
	// (default 5).
	MaxAttempts int
	// Backoff is the first retry's delay, doubled per attempt up to 2s
	// (default 50ms).
	Backoff time.Duration
	// Region and Account go into the records (default us-east-1,
	// 000000000000).
	Region, Account string
}

// Stream is a tapped DynamoDB-API handler and the delivery of its records.
type Stream struct {
	next  http.Handler
	sink  Sink
	log   *slog.Logger
	opts  Options
	label string // stream label in the ARN

	writeMu sync.Mutex // serializes tapped writes: sequence = commit order

	mu      sync.Mutex
	seq     uint64
	parts   map[string]*partition
	pending int           // records queued or being delivered
	idle    chan struct{} // closed while pending == 0
	closed  bool
	dropped int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type partition struct {
	queue []events.DynamoDBEventRecord
}

// Tap wraps next (a DynamoDB-API handler) with default Options.
func Tap(next http.Handler, sink Sink, logger *slog.Logger) *Stream {
	return TapWithOptions(next, sink, logger, Options{})
}

// TapWithOptions wraps next. logger nil: slog.Default.
func TapWithOptions(next http.Handler, sink Sink, logger *slog.Logger, o Options) *Stream {
	if len(o.KeyAttributes) == 0 {
		o.KeyAttributes = []string{"PK", "SK"}
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 50 * time.Millisecond
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Account == "" {
		o.Account = "000000000000"
	}
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return &Stream{
		next: next, sink: sink, log: logger, opts: o,
		label: time.Now().UTC().Format("2006-01-02T15:04:05.000"),
		parts: map[string]*partition{}, idle: idle, ctx: ctx, cancel: cancel,
	}
}

const (
	targetPrefix = "DynamoDB_20120810."
	maxBody      = 16 << 20 // DynamoDB's request size limit
)

// ServeHTTP passes every request to the wrapped handler and, for a
// successful PutItem or TransactWriteItems, queues its Put items as
// records.
func (s *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	if !ok || (op != "PutItem" && op != "TransactWriteItems") {
		s.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"__type":"com.amazon.coral.validate#ValidationException","message":"request body unreadable or over %d bytes"}`, maxBody)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	rec := &statusWriter{ResponseWriter: w}
	s.next.ServeHTTP(rec, r)
	if rec.status() != http.StatusOK {
		return
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		s.log.WarnContext(r.Context(), "ddbstream: encoded request body, not emitted", "operation", op, "content_encoding", enc)
		return
	}
	puts, err := parsePuts(op, body)
	if err != nil {
		s.log.ErrorContext(r.Context(), "ddbstream: cannot read a successful write, not emitted", "operation", op, "error", err)
		return
	}
	s.enqueue(puts)
}

type put struct {
	Table string
	Item  map[string]events.DynamoDBAttributeValue
}

// parsePuts extracts the Put items of a PutItem or TransactWriteItems
// request, in request order.
func parsePuts(op string, body []byte) ([]put, error) {
	type putReq struct {
		TableName string
		Item      map[string]events.DynamoDBAttributeValue
	}
	switch op {
	case "PutItem":
		var in putReq
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		return []put{{Table: in.TableName, Item: in.Item}}, nil
	case "TransactWriteItems":
		var in struct {
			TransactItems []struct {
				Put *putReq
			}
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		var out []put
		for _, it := range in.TransactItems {
			if it.Put != nil {
				out = append(out, put{Table: it.Put.TableName, Item: it.Put.Item})
			}
		}
		return out, nil
	}
	return nil, nil
}

func (s *Stream) enqueue(puts []put) {
	if len(puts) == 0 {
		return
	}
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.log.Warn("ddbstream: write after Close, not emitted", "records", len(puts))
		return
	}
	for _, p := range puts {
		s.seq++
		keys := map[string]events.DynamoDBAttributeValue{}
		for _, k := range s.opts.KeyAttributes {
			if v, ok := p.Item[k]; ok {
				keys[k] = v
			}
		}
		size := 0
		if b, err := json.Marshal(p.Item); err == nil {
			size = len(b)
		}
		rec := events.DynamoDBEventRecord{
			AWSRegion:      s.opts.Region,
			EventID:        newEventID(),
			EventName:      string(events.DynamoDBOperationTypeInsert),
			EventSource:    "aws:dynamodb",
			EventVersion:   "1.1",
			EventSourceArn: fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s/stream/%s", s.opts.Region, s.opts.Account, p.Table, s.label),
			Change: events.DynamoDBStreamRecord{
				ApproximateCreationDateTime: events.SecondsEpochTime{Time: now},
				Keys:                        keys,
				NewImage:                    p.Item,
				SequenceNumber:              fmt.Sprintf("%021d", s.seq),
				SizeBytes:                   int64(size),
				StreamViewType:              string(events.DynamoDBStreamViewTypeNewImage),
			},
		}
		pk := p.Table + "\x00" + partitionValue(p.Item[s.opts.KeyAttributes[0]])
		part := s.parts[pk]
		if part == nil {
			part = &partition{}
			s.parts[pk] = part
			s.wg.Add(1)
			go s.deliver(pk, part)
		}
		part.queue = append(part.queue, rec)
		if s.pending == 0 {
			s.idle = make(chan struct{})
		}
		s.pending++
	}
}

func partitionValue(v events.DynamoDBAttributeValue) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// deliver is a partition's worker: it drains the queue in order and ends
// when the queue is empty (the next write starts a new one).
func (s *Stream) deliver(key string, part *partition) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if len(part.queue) == 0 {
			delete(s.parts, key)
			s.mu.Unlock()
			return
		}
		n := min(len(part.queue), s.opts.BatchSize)
		batch := part.queue[:n:n]
		part.queue = part.queue[n:]
		s.mu.Unlock()

		dropped := s.deliverBatch(batch)

		s.mu.Lock()
		s.dropped += dropped
		s.pending -= n
		if s.pending == 0 {
			close(s.idle)
		}
		s.mu.Unlock()
	}
}

// deliverBatch hands batch to the sink until it takes it, retrying, and
// returns how many records were dropped.
func (s *Stream) deliverBatch(batch []events.DynamoDBEventRecord) int {
	backoff := s.opts.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		if s.ctx.Err() != nil {
			err = errors.Join(err, s.ctx.Err())
			break
		}
		err = s.sink(s.ctx, events.DynamoDBEvent{Records: batch})
		if err == nil {
			return 0
		}
		var pf *PartialFailure
		if errors.As(err, &pf) {
			for i, r := range batch {
				if r.Change.SequenceNumber == pf.SequenceNumber {
					batch = batch[i:]
					break
				}
			}
		}
		if attempt >= s.opts.MaxAttempts {
			break
		}
		s.log.Warn("ddbstream: sink failed, retrying", "attempt", attempt, "records", len(batch),
			"first_sequence_number", batch[0].Change.SequenceNumber, "error", err)
		select {
		case <-s.ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	for _, r := range batch {
		s.log.Error("ddbstream: record dropped", "sequence_number", r.Change.SequenceNumber,
			"event_source_arn", r.EventSourceArn, "keys", keysString(r.Change.Keys), "error", err)
	}
	return len(batch)
}

func keysString(keys map[string]events.DynamoDBAttributeValue) string {
	b, _ := json.Marshal(keys)
	return string(b)
}

// Flush waits until every record queued so far has been delivered or
// dropped, or ctx ends.
func (s *Stream) Flush(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ddbstream: flush: %w", ctx.Err())
	}
}

// Dropped counts the records dropped after their last attempt.
func (s *Stream) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Close stops delivery: a sink call in progress sees its context
// cancelled, records not yet delivered are dropped (and logged), and later
// writes are served but not emitted. Flush first to deliver everything.
// It may be called more than once.
func (s *Stream) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// statusWriter records the status the wrapped handler answers.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
