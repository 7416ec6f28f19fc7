package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/jitsudo/jitsudo-serverless/shared/config"
)

// Checkpoint is an anchor: the chain's head at Seq, MACed with the chain
// key, stored outside the table.
type Checkpoint struct {
	TenantID string    `json:"tenant_id"`
	Seq      int64     `json:"seq"`
	Head     string    `json:"head"`
	Time     time.Time `json:"time"`
	KeyID    string    `json:"key_id"`
	MAC      string    `json:"mac"`
}

// AnchorStore keeps checkpoints, write-once.
type AnchorStore interface {
	// Put stores cp; an existing checkpoint at the same seq is kept
	// (ErrAnchorExists).
	Put(ctx context.Context, cp Checkpoint) error
	// Latest is the checkpoint with the highest seq (ok false: none).
	Latest(ctx context.Context, tenantID string) (Checkpoint, bool, error)
	// Get reads the checkpoint at seq.
	Get(ctx context.Context, tenantID string, seq int64) (Checkpoint, bool, error)
	// Range lists the checkpoints with from ≤ seq ≤ to, ascending.
	Range(ctx context.Context, tenantID string, from, to int64) ([]Checkpoint, error)
}

// ErrAnchorExists: a checkpoint at that seq is stored already.
var ErrAnchorExists = errors.New("audit: anchor exists")

// DirAnchors stores checkpoints as files <dir>/<tenant>/<seq, 20 digits>.json,
// created exclusively (the local stand-in of the Object Lock bucket).
type DirAnchors struct{ Dir string }

func (d DirAnchors) path(tenant string, seq int64) string {
	return filepath.Join(d.Dir, tenant, fmt.Sprintf("%020d.json", seq))
}

func (d DirAnchors) Put(_ context.Context, cp Checkpoint) error {
	if err := os.MkdirAll(filepath.Join(d.Dir, cp.TenantID), 0o700); err != nil {
		return fmt.Errorf("audit: anchor dir: %w", err)
	}
	b, _ := json.Marshal(cp)
	f, err := os.OpenFile(d.path(cp.TenantID, cp.Seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if errors.Is(err, os.ErrExist) {
		return ErrAnchorExists
	}
	if err != nil {
		return fmt.Errorf("audit: write anchor: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("audit: write anchor: %w", err)
	}
	return f.Close()
}

func (d DirAnchors) seqs(tenant string) ([]int64, error) {
	ents, err := os.ReadDir(filepath.Join(d.Dir, tenant))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: list anchors: %w", err)
	}
	var out []int64
	for _, e := range ents {
		n, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".json"), 10, 64)
		if err == nil && strings.HasSuffix(e.Name(), ".json") {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func (d DirAnchors) Get(_ context.Context, tenant string, seq int64) (Checkpoint, bool, error) {
	b, err := os.ReadFile(d.path(tenant, seq))
	if errors.Is(err, os.ErrNotExist) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit: read anchor: %w", err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		// An unreadable anchor still names its seq: verify reports it.
		return Checkpoint{TenantID: tenant, Seq: seq}, true, nil
	}
	return cp, true, nil
}

func (d DirAnchors) Latest(ctx context.Context, tenant string) (Checkpoint, bool, error) {
	s, err := d.seqs(tenant)
	if err != nil || len(s) == 0 {
		return Checkpoint{}, false, err
	}
	return d.Get(ctx, tenant, s[len(s)-1])
}

func (d DirAnchors) Range(ctx context.Context, tenant string, from, to int64) ([]Checkpoint, error) {
	s, err := d.seqs(tenant)
	if err != nil {
		return nil, err
	}
	var out []Checkpoint
	for _, n := range s {
		if n < from || n > to {
			continue
		}
		cp, ok, err := d.Get(ctx, tenant, n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, cp)
		}
	}
	return out, nil
}

// S3API is the part of the S3 client the anchor store uses.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// S3Anchors stores checkpoints in a bucket with Object Lock (compliance
// mode, default retention set on the bucket: template.yaml), under
// <prefix><tenant>/<999…9 − seq, 19 digits>.json — inverted, so that a
// listing starts at the newest. Writes are conditional (If-None-Match *).
type S3Anchors struct {
	Client S3API
	Bucket string
	Prefix string
	// RetentionDays > 0 puts each object under Object Lock in
	// COMPLIANCE mode until that many days from now.
	RetentionDays int
}

const invBase = int64(999999999999999999) // 18 nines: seqs stay below

func (a S3Anchors) key(tenant string, seq int64) string {
	return fmt.Sprintf("%s%s/%019d.json", a.Prefix, tenant, invBase-seq)
}

func (a S3Anchors) seqOf(tenant, key string) (int64, bool) {
	k := strings.TrimSuffix(strings.TrimPrefix(key, a.Prefix+tenant+"/"), ".json")
	n, err := strconv.ParseInt(k, 10, 64)
	return invBase - n, err == nil
}

func (a S3Anchors) Put(ctx context.Context, cp Checkpoint) error {
	b, _ := json.Marshal(cp)
	_, err := a.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(a.Bucket), Key: aws.String(a.key(cp.TenantID, cp.Seq)),
		Body: bytes.NewReader(b), ContentType: aws.String("application/json"),
		IfNoneMatch: aws.String("*"), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
		ObjectLockMode: lockMode(a.RetentionDays), ObjectLockRetainUntilDate: retainUntil(a.RetentionDays),
	})
	if err != nil {
		if strings.Contains(err.Error(), "PreconditionFailed") {
			return ErrAnchorExists
		}
		return fmt.Errorf("audit: put anchor: %w", err)
	}
	return nil
}

func lockMode(days int) s3types.ObjectLockMode {
	if days <= 0 {
		return ""
	}
	return s3types.ObjectLockModeCompliance
}

func retainUntil(days int) *time.Time {
	if days <= 0 {
		return nil
	}
	t := time.Now().UTC().AddDate(0, 0, days)
	return &t
}

func (a S3Anchors) Get(ctx context.Context, tenant string, seq int64) (Checkpoint, bool, error) {
	out, err := a.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(a.key(tenant, seq))})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return Checkpoint{}, false, nil
		}
		return Checkpoint{}, false, fmt.Errorf("audit: get anchor: %w", err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 1<<16))
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit: read anchor: %w", err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return Checkpoint{TenantID: tenant, Seq: seq}, true, nil
	}
	return cp, true, nil
}

// list returns the seqs of the tenant's anchors, newest first, from
// startSeq down (startSeq < 0: from the newest), at most max.
func (a S3Anchors) list(ctx context.Context, tenant string, startSeq int64, max int) ([]int64, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(a.Prefix + tenant + "/")}
	if startSeq >= 0 {
		in.StartAfter = aws.String(a.key(tenant, startSeq+1))
	}
	var out []int64
	for {
		page, err := a.Client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("audit: list anchors: %w", err)
		}
		for _, o := range page.Contents {
			if n, ok := a.seqOf(tenant, aws.ToString(o.Key)); ok {
				out = append(out, n)
				if len(out) >= max {
					return out, nil
				}
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

func (a S3Anchors) Latest(ctx context.Context, tenant string) (Checkpoint, bool, error) {
	s, err := a.list(ctx, tenant, -1, 1)
	if err != nil || len(s) == 0 {
		return Checkpoint{}, false, err
	}
	return a.Get(ctx, tenant, s[0])
}

func (a S3Anchors) Range(ctx context.Context, tenant string, from, to int64) ([]Checkpoint, error) {
	s, err := a.list(ctx, tenant, to, 1<<30)
	if err != nil {
		return nil, err
	}
	var out []Checkpoint
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < from || s[i] > to {
			continue
		}
		cp, ok, err := a.Get(ctx, tenant, s[i])
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, cp)
		}
	}
	return out, nil
}

// Environment of the anchor store.
const (
	EnvAnchorBucket = "AUDIT_ANCHOR_BUCKET" // AWS: the Object Lock bucket
	EnvAnchorPrefix = "AUDIT_ANCHOR_PREFIX" // optional key prefix (default "anchors/")
	EnvAnchorDir    = "AUDIT_ANCHOR_DIR"    // local: a directory
	// EnvAnchorRetention: days of Object Lock (compliance) per anchor.
	EnvAnchorRetention = "AUDIT_ANCHOR_RETENTION_DAYS"
)

// AnchorsFromEnv: AUDIT_ANCHOR_BUCKET (newS3 builds the client), else
// AUDIT_ANCHOR_DIR; none is an error.
func AnchorsFromEnv(ctx context.Context, newS3 func(context.Context) (S3API, error)) (AnchorStore, error) {
	if b := config.String(EnvAnchorBucket); b != "" {
		if newS3 == nil {
			return nil, fmt.Errorf("audit: %s set but no S3 client", EnvAnchorBucket)
		}
		c, err := newS3(ctx)
		if err != nil {
			return nil, err
		}
		p, ok := config.Lookup(EnvAnchorPrefix)
		if !ok {
			p = "anchors/"
		}
		days := 0
		if v := config.String(EnvAnchorRetention); v != "" {
			if days, err = strconv.Atoi(v); err != nil || days < 0 {
				return nil, fmt.Errorf("audit: %s=%q: want days", EnvAnchorRetention, v)
			}
		}
		return S3Anchors{Client: c, Bucket: b, Prefix: p, RetentionDays: days}, nil
	}
	if d := config.String(EnvAnchorDir); d != "" {
		return DirAnchors{Dir: d}, nil
	}
	return nil, fmt.Errorf("audit: no anchor store: set %s (AWS) or %s", EnvAnchorBucket, EnvAnchorDir)
}
