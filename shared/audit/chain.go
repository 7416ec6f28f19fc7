package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Repo is the table side of the chain (*store.Store).
type Repo interface {
	ChainHead(ctx context.Context, tenantID string) (store.ChainEntry, bool, error)
	ChainRange(ctx context.Context, tenantID string, from int64, limit int) ([]store.ChainEntry, error)
	ChainedEvents(ctx context.Context, tenantID string, ids []string) (map[string]int64, error)
	AppendChain(ctx context.Context, tenantID string, entries []store.ChainEntry, anchorDue time.Time) error
	AnchoredChain(ctx context.Context, tenantID string, seq int64) error
	ListOverdue(ctx context.Context, kind string, before time.Time, limit int) ([]store.Overdue, error)
	GetAuditEvents(ctx context.Context, tenantID string, ids []string) (map[string]access.AuditEvent, error)
	AuditEventsAfter(ctx context.Context, tenantID, afterID string, limit int) ([]access.AuditEvent, string, error)
}

var _ Repo = (*store.Store)(nil)

// EntryHash is an entry's hash: hex SHA-256 of the JSON object (sorted
// keys) {event_hash, event_id, prev_hash, seq, tenant_id}.
func EntryHash(e store.ChainEntry) string {
	b, _ := json.Marshal(map[string]any{
		"event_hash": e.EventHash, "event_id": e.EventID, "prev_hash": e.PrevHash,
		"seq": e.Seq, "tenant_id": e.TenantID,
	})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func entryMACInput(tenant string, seq int64, hash string) []byte {
	return []byte("jitsudo-audit-entry-v1\n" + tenant + "\n" + strconv.FormatInt(seq, 10) + "\n" + hash)
}

func anchorMACInput(cp Checkpoint) []byte {
	return []byte("jitsudo-audit-anchor-v1\n" + cp.TenantID + "\n" + strconv.FormatInt(cp.Seq, 10) + "\n" + cp.Head + "\n" + cp.Time.UTC().Format(time.RFC3339Nano))
}

func checkMAC(ctx context.Context, s Signer, msg []byte, macHex string) (bool, error) {
	mac, err := hex.DecodeString(macHex)
	if err != nil || len(mac) == 0 {
		return false, nil
	}
	return s.Verify(ctx, msg, mac)
}

// Extender appends committed audit events to their tenant's chain.
type Extender struct {
	Repo    Repo
	Signer  Signer
	Anchors AnchorStore
	// AnchorEvery and AnchorInterval: a checkpoint is written when the
	// head is AnchorEvery entries past the latest one or the latest one
	// is AnchorInterval old (defaults 100 and 1 minute).
	AnchorEvery    int64
	AnchorInterval time.Duration
	Now            func() time.Time
	Logger         *slog.Logger

	// latest remembers each tenant's latest anchor this instance read or
	// wrote, so that a batch does not list the anchor store to learn an
	// anchor is not due. Another instance's newer anchor only makes this
	// one anchor sooner than needed (an extra checkpoint), never later.
	mu     sync.Mutex
	latest map[string]Checkpoint
}

// ErrHeadUnauthenticated: the chain's head does not carry a valid MAC —
// the chain was written by someone without the key; the extender refuses
// to build on it (an operator must investigate; verify reports where).
var ErrHeadUnauthenticated = errors.New("audit: the chain head's MAC does not verify")

func (x *Extender) now() time.Time {
	if x.Now != nil {
		return x.Now().UTC()
	}
	return time.Now().UTC()
}

func (x *Extender) log() *slog.Logger {
	if x.Logger != nil {
		return x.Logger
	}
	return slog.Default()
}

// Extend appends evs (one tenant's events, in commit order) to the
// tenant's chain, skipping events chained already, and anchors the head
// when due. It returns how many entries it appended.
func (x *Extender) Extend(ctx context.Context, tenantID string, evs []access.AuditEvent) (int, error) {
	appended := 0
	var head store.ChainEntry
	var ok bool
	for start := 0; start < len(evs); start += store.MaxChainAppend {
		var n int
		var err error
		n, head, ok, err = x.extendChunk(ctx, tenantID, evs[start:min(start+store.MaxChainAppend, len(evs))])
		appended += n
		if err != nil {
			return appended, err
		}
	}
	if !ok {
		return appended, nil
	}
	if err := x.anchorIfDue(ctx, tenantID, head); err != nil {
		return appended, err
	}
	return appended, nil
}

// extendChunk appends evs (at most store.MaxChainAppend) and returns how
// many it appended and the chain's authentic head after it: the last entry
// it wrote (MACed here), or the head it read when nothing was new (ok
// false: an empty chain).
func (x *Extender) extendChunk(ctx context.Context, tenantID string, evs []access.AuditEvent) (int, store.ChainEntry, bool, error) {
	for attempt := 0; ; attempt++ {
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		done, err := x.Repo.ChainedEvents(ctx, tenantID, ids)
		if err != nil {
			return 0, store.ChainEntry{}, false, err
		}
		head, ok, err := x.authenticHead(ctx, tenantID)
		if err != nil {
			return 0, head, false, err
		}
		seq, prev := int64(0), access.GenesisHash
		if ok {
			seq, prev = head.Seq, head.Hash
		}
		var entries []store.ChainEntry
		seen := map[string]bool{}
		now := x.now()
		for _, e := range evs {
			if _, chained := done[e.ID]; chained || seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			if e.TenantID != tenantID {
				return 0, head, false, fmt.Errorf("audit: event %s of tenant %q in %q's batch", e.ID, e.TenantID, tenantID)
			}
			seq++
			en := store.ChainEntry{TenantID: tenantID, Seq: seq, EventID: e.ID, EventHash: e.Hash, PrevHash: prev, ChainedAt: now}
			en.Hash = EntryHash(en)
			prev = en.Hash
			entries = append(entries, en)
		}
		if len(entries) == 0 {
			return 0, head, ok, nil
		}
		last := &entries[len(entries)-1]
		mac, err := x.Signer.MAC(ctx, entryMACInput(tenantID, last.Seq, last.Hash))
		if err != nil {
			return 0, head, false, err
		}
		last.MAC, last.KeyID = hex.EncodeToString(mac), x.Signer.KeyID()
		err = x.Repo.AppendChain(ctx, tenantID, entries, now.Add(x.interval()))
		if err == nil {
			return len(entries), *last, true, nil
		}
		if !errors.Is(err, store.ErrChainConflict) || attempt >= 8 {
			return 0, head, false, err
		}
		select { // another extender won the race: re-read and retry
		case <-ctx.Done():
			return 0, head, false, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
}

// authenticHead is the tenant's chain head, checked: its hash recomputed
// and its MAC verified (ok false: an empty chain). A head written without
// the key is ErrHeadUnauthenticated: nothing is built on it or anchored.
func (x *Extender) authenticHead(ctx context.Context, tenantID string) (store.ChainEntry, bool, error) {
	head, ok, err := x.Repo.ChainHead(ctx, tenantID)
	if err != nil || !ok {
		return head, false, err
	}
	if head.MAC == "" || EntryHash(head) != head.Hash {
		return head, false, fmt.Errorf("%w (seq %d)", ErrHeadUnauthenticated, head.Seq)
	}
	valid, err := checkMAC(ctx, x.Signer, entryMACInput(tenantID, head.Seq, head.Hash), head.MAC)
	if err != nil {
		return head, false, err
	}
	if !valid {
		return head, false, fmt.Errorf("%w (seq %d)", ErrHeadUnauthenticated, head.Seq)
	}
	return head, true, nil
}

func (x *Extender) interval() time.Duration {
	if x.AnchorInterval <= 0 {
		return time.Minute
	}
	return x.AnchorInterval
}

// anchorIfDue anchors head, the tenant's authentic chain head, when an
// anchor is due: AnchorEvery entries or AnchorInterval since the latest.
func (x *Extender) anchorIfDue(ctx context.Context, tenantID string, head store.ChainEntry) error {
	x.mu.Lock()
	latest, has := x.latest[tenantID]
	x.mu.Unlock()
	if !has {
		var err error
		if latest, has, err = x.Anchors.Latest(ctx, tenantID); err != nil {
			return err
		}
		if has {
			x.remember(latest)
		}
	}
	every := x.AnchorEvery
	if every <= 0 {
		every = 100
	}
	if has && (latest.Seq >= head.Seq || (head.Seq-latest.Seq < every && x.now().Sub(latest.Time) < x.interval())) {
		return nil
	}
	return x.Anchor(ctx, tenantID, head)
}

// remember records cp as its tenant's latest anchor known here.
func (x *Extender) remember(cp Checkpoint) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.latest == nil {
		x.latest = map[string]Checkpoint{}
	}
	if cur, ok := x.latest[cp.TenantID]; !ok || cp.Seq > cur.Seq {
		x.latest[cp.TenantID] = cp
	}
}

// AnchorIdle anchors the heads of the tenants whose anchor is due (their
// chain advanced AnchorInterval ago or more and no anchor covers it yet,
// e.g. a tenant that fell silent right after its last events): the
// scheduled half of anchoring. It reads only the due markers
// (store.DueAnchor), so its cost follows the tenants due. A tenant that
// fails (an unauthenticated head, anchors unreachable) is logged and
// reported in the joined error; the others are still anchored. It returns
// how many anchors it wrote.
func (x *Extender) AnchorIdle(ctx context.Context) (int, error) {
	due, err := x.Repo.ListOverdue(ctx, store.DueAnchor, x.now(), 1000)
	if err != nil {
		return 0, err
	}
	anchored := 0
	var errs []error
	for _, d := range due {
		n, err := x.anchorTenant(ctx, d.TenantID)
		anchored += n
		if err != nil {
			x.log().ErrorContext(ctx, "audit: anchoring an idle chain failed", "tenant_id", d.TenantID, "error", err)
			errs = append(errs, fmt.Errorf("tenant %s: %w", d.TenantID, err))
		}
	}
	return anchored, errors.Join(errs...)
}

// anchorTenant anchors the tenant's authenticated head unless an anchor
// covers it already (then only the due marker goes).
func (x *Extender) anchorTenant(ctx context.Context, tenantID string) (int, error) {
	head, ok, err := x.authenticHead(ctx, tenantID)
	if err != nil || !ok {
		return 0, err
	}
	latest, has, err := x.Anchors.Latest(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	if has && latest.Seq >= head.Seq {
		return 0, x.Repo.AnchoredChain(ctx, tenantID, latest.Seq)
	}
	if err := x.Anchor(ctx, tenantID, head); err != nil {
		return 0, err
	}
	return 1, nil
}

// Anchor writes a checkpoint of head (which must be an authenticated
// entry: the extender's own, or one verified by the caller) and clears
// the tenant's anchor-due marker up to it.
func (x *Extender) Anchor(ctx context.Context, tenantID string, head store.ChainEntry) error {
	cp := Checkpoint{TenantID: tenantID, Seq: head.Seq, Head: head.Hash, Time: x.now(), KeyID: x.Signer.KeyID()}
	mac, err := x.Signer.MAC(ctx, anchorMACInput(cp))
	if err != nil {
		return err
	}
	cp.MAC = hex.EncodeToString(mac)
	if err := x.Anchors.Put(ctx, cp); err != nil && !errors.Is(err, ErrAnchorExists) {
		return err
	}
	x.log().InfoContext(ctx, "audit: anchored", "tenant_id", tenantID, "seq", cp.Seq)
	x.remember(cp)
	return x.Repo.AnchoredChain(ctx, tenantID, cp.Seq)
}

// CatchUp chains the tenant's events that the stream did not deliver
// (e.g. records older than the stream's 24 hours), reading the events
// partition in time order from the start; chained events are skipped.
// For operators and tests; returns the entries appended.
func (x *Extender) CatchUp(ctx context.Context, tenantID string) (int, error) {
	total, after := 0, ""
	for {
		evs, next, err := x.Repo.AuditEventsAfter(ctx, tenantID, after, 500)
		if err != nil {
			return total, err
		}
		n, err := x.Extend(ctx, tenantID, evs)
		total += n
		if err != nil || next == "" {
			return total, err
		}
		after = next
	}
}

// Handle is the extend-audit-chain function's handler: the table's
// stream records (HandleStream) or its EventBridge schedule (AnchorIdle,
// answered with the anchors written).
func (x *Extender) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("audit: undecodable invocation: %w", err)
	}
	if probe.Source == "aws.events" && probe.DetailType == "Scheduled Event" {
		n, err := x.AnchorIdle(ctx)
		x.log().InfoContext(ctx, "audit: idle chains anchored", "anchored", n)
		return map[string]int{"anchored": n}, err
	}
	var ev lambdaevents.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("audit: not a stream batch: %w", err)
	}
	return x.HandleStream(ctx, ev)
}

// HandleStream is the extend-audit-chain function's stream half: one batch of the
// table's stream records (filtered to audit inserts on AWS; anything else
// is skipped here too). Each tenant's events are appended in record
// order. A failed tenant reports its first record (ReportBatchItemFailures):
// Lambda redelivers from the lowest reported record, and events chained
// already are skipped, so redelivery appends nothing twice.
func (x *Extender) HandleStream(ctx context.Context, e lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	type group struct {
		first string
		evs   []access.AuditEvent
	}
	var order []string
	groups := map[string]*group{}
	for _, rec := range e.Records {
		if rec.EventName != string(lambdaevents.DynamoDBOperationTypeInsert) {
			continue
		}
		a, ok, err := events.AuditFromStreamImage(rec.Change.NewImage)
		if err != nil {
			x.log().ErrorContext(ctx, "audit: undecodable audit record skipped (verify will report the event)", "sequence_number", rec.Change.SequenceNumber, "error", err)
			continue
		}
		if !ok {
			continue
		}
		g := groups[a.TenantID]
		if g == nil {
			g = &group{first: rec.Change.SequenceNumber}
			groups[a.TenantID] = g
			order = append(order, a.TenantID)
		}
		g.evs = append(g.evs, a)
	}
	var resp lambdaevents.DynamoDBEventResponse
	for _, t := range order {
		g := groups[t]
		n, err := x.Extend(ctx, t, g.evs)
		if err != nil {
			x.log().ErrorContext(ctx, "audit: extending the chain failed; the records will be redelivered", "tenant_id", t, "appended", n, "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, lambdaevents.DynamoDBBatchItemFailure{ItemIdentifier: g.first})
			continue
		}
		x.log().InfoContext(ctx, "audit: chain extended", "tenant_id", t, "appended", n)
	}
	return resp, nil
}
