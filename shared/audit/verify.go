package audit

import (
	"github.com/jitsudo/jitsudo-serverless/shared/store"

	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// Verifier checks a tenant's chain against its anchors.
type Verifier struct {
	Repo    Repo
	Signer  Signer
	Anchors AnchorStore
}

var _ access.AuditVerifier = (*Verifier)(nil)

// Page sizes of Verify.
const (
	DefaultVerifyLimit = 1000
	MaxVerifyLimit     = 10000
)

// cursor is where the next page starts: the caller's own state (a forged
// cursor only misleads its holder; each page re-checks what it reads).
type cursor struct {
	Next      int64  `json:"n"`
	Prev      string `json:"p"`
	From      int64  `json:"f"`
	Anchor    int64  `json:"a,omitempty"`
	Unauthed  int64  `json:"u,omitempty"`
	CheckedTo int64  `json:"c,omitempty"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Next < 1 || len(c.Prev) != 64 {
		return cursor{}, &access.ValidationError{Fields: []access.FieldError{{Field: "cursor", Message: "is not a verify cursor"}}}
	}
	return c, nil
}

// Verify checks one page of the chain (see access.VerifyOptions).
func (v *Verifier) Verify(ctx context.Context, tenantID string, o access.VerifyOptions) (access.VerifyResult, error) {
	limit := o.Limit
	if limit <= 0 {
		limit = DefaultVerifyLimit
	}
	if limit > MaxVerifyLimit {
		limit = MaxVerifyLimit
	}
	res := access.VerifyResult{Valid: true}
	broken := func(seq int64, why string) (access.VerifyResult, error) {
		res.Valid, res.FirstBrokenSeq, res.Reason = false, seq, why
		res.HasMore, res.NextCursor = false, ""
		return res, nil
	}
	latest, hasLatest, err := v.Anchors.Latest(ctx, tenantID)
	if err != nil {
		return access.VerifyResult{}, err
	}
	if hasLatest {
		res.LatestAnchor = latest.Seq
	}
	var c cursor
	switch {
	case o.Cursor != "":
		if c, err = decodeCursor(o.Cursor); err != nil {
			return access.VerifyResult{}, err
		}
	case o.Genesis || (o.FromSeq == 0 && !hasLatest):
		c = cursor{Next: 1, Prev: access.GenesisHash, From: 1}
	default:
		a := latest
		if o.FromSeq != 0 {
			var ok bool
			if a, ok, err = v.Anchors.Get(ctx, tenantID, o.FromSeq); err != nil {
				return access.VerifyResult{}, err
			} else if !ok {
				return access.VerifyResult{}, &access.ValidationError{Fields: []access.FieldError{{Field: "from_seq", Message: "names no anchor"}}}
			}
		}
		res.FromSeq, res.AnchorSeq = a.Seq, a.Seq
		if why := v.checkAnchor(ctx, tenantID, a); why != "" {
			return broken(a.Seq, why)
		}
		res.Anchors++
		es, err := v.Repo.ChainRange(ctx, tenantID, a.Seq, 1)
		if err != nil {
			return access.VerifyResult{}, err
		}
		if len(es) == 0 || es[0].Seq != a.Seq {
			return broken(a.Seq, fmt.Sprintf("entry %d, anchored outside the table, is missing: events were removed", a.Seq))
		}
		if es[0].Hash != a.Head || EntryHash(es[0]) != es[0].Hash {
			return broken(a.Seq, fmt.Sprintf("entry %d does not match its anchor", a.Seq))
		}
		if p, err := v.checkEvents(ctx, tenantID, es); err != nil {
			return access.VerifyResult{}, err
		} else if p != nil {
			return broken(p.seq, p.text)
		}
		res.Checked++
		c = cursor{Next: a.Seq + 1, Prev: a.Head, From: a.Seq, Anchor: a.Seq}
	}
	res.FromSeq, res.AnchorSeq = c.From, c.Anchor
	entries, err := v.Repo.ChainRange(ctx, tenantID, c.Next, limit+1)
	if err != nil {
		return access.VerifyResult{}, err
	}
	more := len(entries) > limit
	if more {
		entries = entries[:limit]
	}
	if len(entries) > 0 {
		anchors, err := v.Anchors.Range(ctx, tenantID, entries[0].Seq, entries[len(entries)-1].Seq)
		if err != nil {
			return access.VerifyResult{}, err
		}
		bySeq := map[int64]Checkpoint{}
		for _, a := range anchors {
			bySeq[a.Seq] = a
		}
		expect, prev := c.Next, c.Prev
		for _, e := range entries {
			switch {
			case e.Seq < 0:
				return broken(expect, fmt.Sprintf("entry stored at %d is malformed or claims another sequence", -e.Seq))
			case e.Seq != expect:
				return broken(expect, fmt.Sprintf("entry %d is missing (next stored entry is %d)", expect, e.Seq))
			case e.TenantID != tenantID:
				return broken(e.Seq, "entry belongs to another tenant")
			case e.PrevHash != prev:
				return broken(e.Seq, "prev_hash does not match the previous entry's hash")
			case EntryHash(e) != e.Hash:
				return broken(e.Seq, "hash does not match the entry's content")
			}
			if e.MAC != "" {
				ok, err := checkMAC(ctx, v.Signer, entryMACInput(tenantID, e.Seq, e.Hash), e.MAC)
				if err != nil {
					return access.VerifyResult{}, err
				}
				if !ok {
					return broken(e.Seq, "MAC does not verify: the chain was rewritten without the chain key")
				}
				c.Unauthed = 0
			} else {
				c.Unauthed++
			}
			if a, ok := bySeq[e.Seq]; ok {
				if why := v.checkAnchor(ctx, tenantID, a); why != "" {
					return broken(e.Seq, why)
				}
				if a.Head != e.Hash {
					return broken(e.Seq, fmt.Sprintf("entry %d does not match its anchor", e.Seq))
				}
				res.Anchors++
			}
			prev = e.Hash
			expect++
		}
		if p, err := v.checkEvents(ctx, tenantID, entries); err != nil {
			return access.VerifyResult{}, err
		} else if p != nil {
			return broken(p.seq, p.text)
		}
		res.Checked += int64(len(entries))
		c.Next, c.Prev = expect, prev
	}
	res.HeadSeq = c.Next - 1
	if more {
		res.HasMore, res.NextCursor = true, encodeCursor(c)
		return res, nil
	}
	// End of the chain.
	if hasLatest && latest.Seq > res.HeadSeq {
		return broken(res.HeadSeq+1, fmt.Sprintf("the chain ends at %d but an anchor outside the table records %d: events were removed", res.HeadSeq, latest.Seq))
	}
	if c.Unauthed > 0 {
		return broken(res.HeadSeq-c.Unauthed+1, fmt.Sprintf("the newest %d entries carry no MAC: written without the chain key", c.Unauthed))
	}
	return res, nil
}

func (v *Verifier) checkAnchor(ctx context.Context, tenantID string, a Checkpoint) string {
	if a.TenantID != tenantID {
		return fmt.Sprintf("anchor %d belongs to another tenant", a.Seq)
	}
	ok, err := checkMAC(ctx, v.Signer, anchorMACInput(a), a.MAC)
	if err != nil {
		return fmt.Sprintf("anchor %d: %v", a.Seq, err)
	}
	if !ok {
		return fmt.Sprintf("anchor %d's MAC does not verify", a.Seq)
	}
	return ""
}

type eventProblem struct {
	seq  int64
	text string
}

// checkEvents checks that each entry's event exists and hashes to the
// entry's event_hash.
func (v *Verifier) checkEvents(ctx context.Context, tenantID string, entries []storeEntry) (*eventProblem, error) {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.EventID
	}
	evs, err := v.Repo.GetAuditEvents(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		ev, ok := evs[e.EventID]
		switch {
		case !ok:
			return &eventProblem{e.Seq, fmt.Sprintf("event %s of entry %d is missing", e.EventID, e.Seq)}, nil
		case ev.TenantID != tenantID || ev.Seq != 0 || ev.PrevHash != "":
			return &eventProblem{e.Seq, fmt.Sprintf("event %s of entry %d was altered", e.EventID, e.Seq)}, nil
		case access.AuditHash(ev) != e.EventHash || ev.Hash != e.EventHash:
			return &eventProblem{e.Seq, fmt.Sprintf("event %s of entry %d does not match its hash", e.EventID, e.Seq)}, nil
		}
	}
	return nil, nil
}

type storeEntry = store.ChainEntry

// VerifyAll runs v page after page until the chain's end or the first
// broken link, summing what was checked: the full verification an
// operator runs (infra/audit-verify), never bound by an API timeout.
func VerifyAll(ctx context.Context, v access.AuditVerifier, tenantID string, o access.VerifyOptions) (access.VerifyResult, error) {
	var total access.VerifyResult
	for page := 0; ; page++ {
		res, err := v.Verify(ctx, tenantID, o)
		if err != nil {
			return access.VerifyResult{}, err
		}
		if page == 0 {
			total = res
		} else {
			total.Checked += res.Checked
			total.Anchors += res.Anchors
			total.Valid, total.FirstBrokenSeq, total.Reason = res.Valid, res.FirstBrokenSeq, res.Reason
			total.HeadSeq, total.LatestAnchor = res.HeadSeq, res.LatestAnchor
		}
		if !res.Valid || !res.HasMore {
			total.HasMore, total.NextCursor = false, ""
			return total, nil
		}
		o.Cursor = res.NextCursor
	}
}
