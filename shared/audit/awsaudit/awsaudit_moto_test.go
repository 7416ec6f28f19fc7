package awsaudit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/jitsudo/jitsudo-serverless/infra/mototest"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/audit/awsaudit"
)

// The KMS signer and the S3 anchor store against moto's KMS and S3
// (infra/mototest), with clients built as production builds them
// (NewKMSSigner, NewS3Anchors). The anchor store's scenario also runs
// against audit.DirAnchors, the local stand-in whose behaviour S3Anchors
// must match, so that the expectations are the interface's and not
// merely what the S3 code happens to do.

// defaultPrefix is wiring's AUDIT_ANCHOR_PREFIX default (and the prefix
// template.yaml grants the functions).
const defaultPrefix = "anchors/"

func motoConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg := mototest.Config()
	cfg.BaseEndpoint = aws.String(mototest.Endpoint(t))
	return cfg
}

// --- KMS ---

// hmacKey creates a KMS HMAC_256 key (as template.yaml's AuditChainKey)
// and returns its id.
func hmacKey(t *testing.T, client *kms.Client) string {
	t.Helper()
	out, err := client.CreateKey(t.Context(), &kms.CreateKeyInput{
		KeySpec:     kmstypes.KeySpecHmac256,
		KeyUsage:    kmstypes.KeyUsageTypeGenerateVerifyMac,
		Description: aws.String(mototest.Name("jitsudo-audit-chain")),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	t.Cleanup(func() {
		_, _ = client.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	})
	return id
}

func mustMAC(t *testing.T, s audit.Signer, msg []byte) []byte {
	t.Helper()
	mac, err := s.MAC(t.Context(), msg)
	if err != nil {
		t.Fatalf("MAC(%q): %v", msg, err)
	}
	return mac
}

func verify(t *testing.T, s audit.Signer, msg, mac []byte) bool {
	t.Helper()
	ok, err := s.Verify(t.Context(), msg, mac)
	if err != nil {
		t.Fatalf("Verify(%q): %v (a wrong MAC is false, not an error)", msg, err)
	}
	return ok
}

// TestKMSSignerMoto: MAC is HMAC-SHA-256 under the key (32 bytes,
// deterministic, message-dependent); Verify accepts it and rejects, with
// no error, a changed message, a changed or truncated MAC, and another
// key's MAC; KeyID is the id given.
func TestKMSSignerMoto(t *testing.T) {
	t.Parallel()
	cfg := motoConfig(t)
	client := kms.NewFromConfig(cfg)
	keyID := hmacKey(t, client)
	s := awsaudit.NewKMSSigner(cfg, keyID)

	if got := s.KeyID(); got != keyID {
		t.Errorf("KeyID() = %q, want %q", got, keyID)
	}
	msg := []byte("jitsudo audit chain head\x00acme\x0012\x00abcdef")
	mac := mustMAC(t, s, msg)
	if len(mac) != 32 {
		t.Fatalf("MAC is %d bytes, want 32 (HMAC-SHA-256): %x", len(mac), mac)
	}
	if again := mustMAC(t, s, msg); !bytes.Equal(again, mac) {
		t.Errorf("MAC is not deterministic: %x then %x", mac, again)
	}
	other := append(bytes.Clone(msg), '!')
	if otherMAC := mustMAC(t, s, other); bytes.Equal(otherMAC, mac) {
		t.Errorf("two messages have the same MAC %x", mac)
	}

	if !verify(t, s, msg, mac) {
		t.Fatal("Verify rejects the MAC it was given by MAC")
	}
	if verify(t, s, other, mac) {
		t.Error("Verify accepts the MAC for a changed message")
	}
	flipped := bytes.Clone(mac)
	flipped[len(flipped)-1] ^= 1
	if verify(t, s, msg, flipped) {
		t.Error("Verify accepts a changed MAC")
	}
	if verify(t, s, msg, mac[:16]) {
		t.Error("Verify accepts a truncated MAC")
	}
	otherKey := awsaudit.NewKMSSigner(cfg, hmacKey(t, client))
	if verify(t, otherKey, msg, mac) {
		t.Error("another key verifies the MAC")
	}
}

// TestKMSSignerAliasAndARNMoto: the key may be named by its ARN or an
// alias (NewKMSSigner's keyID); every name gives the same MAC.
func TestKMSSignerAliasAndARNMoto(t *testing.T) {
	t.Parallel()
	cfg := motoConfig(t)
	client := kms.NewFromConfig(cfg)
	keyID := hmacKey(t, client)
	desc, err := client.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		t.Fatal(err)
	}
	alias := "alias/" + mototest.Name("jitsudo-audit")
	if _, err := client.CreateAlias(t.Context(), &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteAlias(context.Background(), &kms.DeleteAliasInput{AliasName: aws.String(alias)})
	})

	msg := []byte("checkpoint")
	want := mustMAC(t, awsaudit.NewKMSSigner(cfg, keyID), msg)
	for _, name := range []string{aws.ToString(desc.KeyMetadata.Arn), alias} {
		s := awsaudit.NewKMSSigner(cfg, name)
		if got := mustMAC(t, s, msg); !bytes.Equal(got, want) {
			t.Errorf("MAC under %s = %x, under the id %x", name, got, want)
		}
		if !verify(t, s, msg, want) {
			t.Errorf("Verify under %s rejects the key's MAC", name)
		}
	}
}

// TestKMSSignerErrorsMoto: a key KMS does not know is an error of both
// MAC and Verify — not a MAC that fails to verify, which would report the
// chain as tampered with when it is the configuration that is wrong.
func TestKMSSignerErrorsMoto(t *testing.T) {
	t.Parallel()
	cfg := motoConfig(t)
	s := awsaudit.NewKMSSigner(cfg, "11111111-2222-3333-4444-555555555555")
	if mac, err := s.MAC(t.Context(), []byte("m")); err == nil {
		t.Errorf("MAC under a missing key = %x, want an error", mac)
	}
	ok, err := s.Verify(t.Context(), []byte("m"), bytes.Repeat([]byte{1}, 32))
	if err == nil {
		t.Errorf("Verify under a missing key = %v, nil; want an error", ok)
	}
	var nf *kmstypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("Verify under a missing key: %v, want it to wrap KMS's NotFoundException", err)
	}
}

// --- S3 ---

// s3Bucket is moto's configuration, a raw S3 client and a fresh
// anchorBucket.
func s3Bucket(t *testing.T) (aws.Config, *s3.Client, string) {
	t.Helper()
	cfg := motoConfig(t)
	client := s3.NewFromConfig(cfg)
	return cfg, client, anchorBucket(t, client)
}

// anchorBucket creates a bucket as template.yaml's AuditAnchorBucket:
// Object Lock enabled (hence versioned), no default retention.
func anchorBucket(t *testing.T, client *s3.Client) string {
	t.Helper()
	bucket := mototest.Name("jitsudo-anchors")
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	// Objects under compliance retention cannot be removed: what is left
	// goes with the moto server.
	t.Cleanup(func() { emptyBucket(client, bucket) })
	return bucket
}

func emptyBucket(client *s3.Client, bucket string) {
	ctx := context.Background()
	out, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	if err != nil {
		return
	}
	for _, v := range out.Versions {
		_, _ = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: v.Key, VersionId: v.VersionId})
	}
	_, _ = client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
}

// keys lists the bucket's keys under prefix with the raw client.
func keys(t *testing.T, client *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out
}

// anchorKey is the documented layout of S3Anchors' keys:
// <prefix><tenant>/<999…9 (18 nines) − seq, 19 digits>.json.
func anchorKey(prefix, tenant string, seq int64) string {
	return fmt.Sprintf("%s%s/%019d.json", prefix, tenant, int64(999999999999999999)-seq)
}

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func checkpoint(tenant string, seq int64) audit.Checkpoint {
	return audit.Checkpoint{
		TenantID: tenant,
		Seq:      seq,
		Head:     fmt.Sprintf("%064x", seq*7919),
		Time:     t0.Add(time.Duration(seq) * time.Minute),
		KeyID:    "arn:aws:kms:us-east-1:123456789012:key/chain",
		MAC:      fmt.Sprintf("mac-%s-%d", tenant, seq),
	}
}

func sameCheckpoint(a, b audit.Checkpoint) bool {
	return a.TenantID == b.TenantID && a.Seq == b.Seq && a.Head == b.Head &&
		a.Time.Equal(b.Time) && a.KeyID == b.KeyID && a.MAC == b.MAC
}

func seqs(cps []audit.Checkpoint) []int64 {
	out := []int64{}
	for _, cp := range cps {
		out = append(out, cp.Seq)
	}
	return out
}

func put(t *testing.T, store audit.AnchorStore, cps ...audit.Checkpoint) {
	t.Helper()
	for _, cp := range cps {
		if err := store.Put(t.Context(), cp); err != nil {
			t.Fatalf("Put(%s, %d): %v", cp.TenantID, cp.Seq, err)
		}
	}
}

func latest(t *testing.T, store audit.AnchorStore, tenant string) (audit.Checkpoint, bool) {
	t.Helper()
	cp, ok, err := store.Latest(t.Context(), tenant)
	if err != nil {
		t.Fatalf("Latest(%s): %v", tenant, err)
	}
	return cp, ok
}

func get(t *testing.T, store audit.AnchorStore, tenant string, seq int64) (audit.Checkpoint, bool) {
	t.Helper()
	cp, ok, err := store.Get(t.Context(), tenant, seq)
	if err != nil {
		t.Fatalf("Get(%s, %d): %v", tenant, seq, err)
	}
	return cp, ok
}

func rangeSeqs(t *testing.T, store audit.AnchorStore, tenant string, from, to int64) []int64 {
	t.Helper()
	cps, err := store.Range(t.Context(), tenant, from, to)
	if err != nil {
		t.Fatalf("Range(%s, %d, %d): %v", tenant, from, to, err)
	}
	for _, cp := range cps {
		if cp.TenantID != tenant {
			t.Errorf("Range(%s, %d, %d) returned %s's checkpoint %d", tenant, from, to, cp.TenantID, cp.Seq)
		}
	}
	return seqs(cps)
}

// anchorStoreScenario is the AnchorStore contract, for a store with no
// checkpoints of tenants acme, acme2 (a name acme is a prefix of) and
// globex.
func anchorStoreScenario(t *testing.T, store audit.AnchorStore) {
	const acme, acme2, globex = "acme", "acme2", "globex"

	if cp, ok := latest(t, store, acme); ok {
		t.Fatalf("Latest of a tenant with no anchors = %+v, true", cp)
	}
	if got := rangeSeqs(t, store, acme, 0, 100); len(got) != 0 {
		t.Fatalf("Range of a tenant with no anchors = %v", got)
	}

	// Out of order, so that Latest is not merely the last one written.
	put(t, store, checkpoint(acme, 5), checkpoint(acme, 12), checkpoint(acme, 1))
	put(t, store, checkpoint(acme2, 40), checkpoint(globex, 3), checkpoint(globex, 7))

	if cp, ok := latest(t, store, acme); !ok || !sameCheckpoint(cp, checkpoint(acme, 12)) {
		t.Errorf("Latest(acme) = %+v, %v; want seq 12 %+v", cp, ok, checkpoint(acme, 12))
	}
	if cp, ok := latest(t, store, globex); !ok || !sameCheckpoint(cp, checkpoint(globex, 7)) {
		t.Errorf("Latest(globex) = %+v, %v; want seq 7", cp, ok)
	}
	if cp, ok := get(t, store, acme, 5); !ok || !sameCheckpoint(cp, checkpoint(acme, 5)) {
		t.Errorf("Get(acme, 5) = %+v, %v; want %+v", cp, ok, checkpoint(acme, 5))
	}
	for _, seq := range []int64{0, 2, 7, 13, 40} {
		if cp, ok := get(t, store, acme, seq); ok {
			t.Errorf("Get(acme, %d), no such anchor = %+v, true", seq, cp)
		}
	}

	for _, c := range []struct {
		from, to int64
		want     []int64
	}{
		{2, 12, []int64{5, 12}},
		{1, 12, []int64{1, 5, 12}},
		{0, 1 << 40, []int64{1, 5, 12}},
		{0, math.MaxInt64, []int64{1, 5, 12}},
		{5, 5, []int64{5}},
		{1, 11, []int64{1, 5}},
		{6, 11, []int64{}},
		{13, 100, []int64{}},
		{12, 1, []int64{}},
		{-5, -1, []int64{}},
	} {
		if got := rangeSeqs(t, store, acme, c.from, c.to); !slices.Equal(got, c.want) {
			t.Errorf("Range(acme, %d, %d) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
	cps, err := store.Range(t.Context(), acme, 2, 12)
	if err != nil || len(cps) != 2 || !sameCheckpoint(cps[0], checkpoint(acme, 5)) || !sameCheckpoint(cps[1], checkpoint(acme, 12)) {
		t.Errorf("Range(acme, 2, 12) = %+v, %v; want the checkpoints 5 and 12 as put", cps, err)
	}

	// Write-once: a second checkpoint at a seq is refused, and the first
	// is kept.
	dup := checkpoint(acme, 5)
	dup.Head, dup.MAC = strings.Repeat("f", 64), "forged"
	if err := store.Put(t.Context(), dup); !errors.Is(err, audit.ErrAnchorExists) {
		t.Errorf("Put at an existing seq: %v, want audit.ErrAnchorExists", err)
	}
	if cp, ok := get(t, store, acme, 5); !ok || !sameCheckpoint(cp, checkpoint(acme, 5)) {
		t.Errorf("after the refused Put, Get(acme, 5) = %+v, %v; want the first checkpoint", cp, ok)
	}

	// Tenants are apart, acme2 included.
	if got := rangeSeqs(t, store, acme2, 0, 100); !slices.Equal(got, []int64{40}) {
		t.Errorf("Range(acme2) = %v, want [40]", got)
	}
	if got := rangeSeqs(t, store, globex, 0, 100); !slices.Equal(got, []int64{3, 7}) {
		t.Errorf("Range(globex) = %v, want [3 7]", got)
	}
	if cp, ok := get(t, store, globex, 5); ok {
		t.Errorf("Get(globex, 5), an anchor of acme's seq = %+v, true", cp)
	}
	if cp, ok := latest(t, store, "initech"); ok {
		t.Errorf("Latest of a tenant with no anchors = %+v, true", cp)
	}
	// Another tenant's checkpoint at acme's seq is no conflict.
	put(t, store, checkpoint(globex, 12))
	if cp, ok := latest(t, store, acme); !ok || !sameCheckpoint(cp, checkpoint(acme, 12)) {
		t.Errorf("Latest(acme) after globex's 12 = %+v, %v", cp, ok)
	}
}

// TestDirAnchorsScenario runs the scenario on the local stand-in: the
// reference for TestS3AnchorsMoto.
func TestDirAnchorsScenario(t *testing.T) {
	t.Parallel()
	anchorStoreScenario(t, audit.DirAnchors{Dir: t.TempDir()})
}

// TestS3AnchorsMoto: S3Anchors, as wiring builds it (default prefix,
// retention days from the template), keeps the AnchorStore contract on
// an Object Lock bucket, and stores the checkpoints at the documented
// keys under its prefix.
func TestS3AnchorsMoto(t *testing.T) {
	t.Parallel()
	cfg, client, bucket := s3Bucket(t)
	store := awsaudit.NewS3Anchors(cfg, bucket, defaultPrefix, 1)

	anchorStoreScenario(t, store)

	want := []string{
		anchorKey(defaultPrefix, "acme", 12), anchorKey(defaultPrefix, "acme", 5), anchorKey(defaultPrefix, "acme", 1),
		anchorKey(defaultPrefix, "acme2", 40),
		anchorKey(defaultPrefix, "globex", 12), anchorKey(defaultPrefix, "globex", 7), anchorKey(defaultPrefix, "globex", 3),
	}
	if got := keys(t, client, bucket, ""); !slices.Equal(got, want) {
		t.Errorf("bucket keys:\n got %q\nwant %q", got, want)
	}
}

// TestS3AnchorsPrefixMoto: a store keeps its objects under its prefix,
// and stores with different prefixes in one bucket do not see each
// other's checkpoints.
func TestS3AnchorsPrefixMoto(t *testing.T) {
	t.Parallel()
	cfg, client, bucket := s3Bucket(t)
	const prefix = "chains/prod/"
	custom := awsaudit.NewS3Anchors(cfg, bucket, prefix, 0)
	def := awsaudit.NewS3Anchors(cfg, bucket, defaultPrefix, 0)

	put(t, custom, checkpoint("acme", 3), checkpoint("acme", 9))
	put(t, def, checkpoint("acme", 4))

	got := keys(t, client, bucket, "")
	if len(got) != 3 {
		t.Fatalf("bucket keys %q, want 3", got)
	}
	for _, k := range got {
		if !strings.HasPrefix(k, prefix) && !strings.HasPrefix(k, defaultPrefix) {
			t.Errorf("key %q is under neither prefix", k)
		}
	}
	if got, want := keys(t, client, bucket, prefix), []string{anchorKey(prefix, "acme", 9), anchorKey(prefix, "acme", 3)}; !slices.Equal(got, want) {
		t.Errorf("keys under %s = %q, want %q", prefix, got, want)
	}
	if got := rangeSeqs(t, custom, "acme", 0, 100); !slices.Equal(got, []int64{3, 9}) {
		t.Errorf("Range under %s = %v, want [3 9]", prefix, got)
	}
	if got := rangeSeqs(t, def, "acme", 0, 100); !slices.Equal(got, []int64{4}) {
		t.Errorf("Range under %s = %v, want [4]", defaultPrefix, got)
	}
	if cp, ok := latest(t, def, "acme"); !ok || cp.Seq != 4 {
		t.Errorf("Latest under %s = %+v, %v; want seq 4", defaultPrefix, cp, ok)
	}
	// The same seq under the other prefix is no conflict.
	put(t, def, checkpoint("acme", 9))
}

// TestS3AnchorsUnreadableMoto: an object at an anchor's key that is not a
// checkpoint still names its seq (as DirAnchors: verify reports it).
func TestS3AnchorsUnreadableMoto(t *testing.T) {
	t.Parallel()
	cfg, client, bucket := s3Bucket(t)
	store := awsaudit.NewS3Anchors(cfg, bucket, defaultPrefix, 0)
	put(t, store, checkpoint("acme", 2))
	if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(anchorKey(defaultPrefix, "acme", 8)),
		Body: strings.NewReader("not json"), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
	}); err != nil {
		t.Fatal(err)
	}
	want := audit.Checkpoint{TenantID: "acme", Seq: 8}
	if cp, ok := latest(t, store, "acme"); !ok || !sameCheckpoint(cp, want) {
		t.Errorf("Latest = %+v, %v; want %+v", cp, ok, want)
	}
	if got := rangeSeqs(t, store, "acme", 0, 10); !slices.Equal(got, []int64{2, 8}) {
		t.Errorf("Range = %v, want [2 8]", got)
	}
}

// TestS3AnchorsManyMoto: Range over more anchors than one ListObjectsV2
// page (PageSize 2 here; S3's default is 1000 keys): Range(2, n-1) lists
// from n-1 down, over several pages.
func TestS3AnchorsManyMoto(t *testing.T) {
	t.Parallel()
	cfg, _, bucket := s3Bucket(t)
	store := awsaudit.NewS3Anchors(cfg, bucket, defaultPrefix, 0).(awsaudit.S3Anchors)
	store.PageSize = 2
	const n = 9
	for seq := int64(1); seq <= n; seq++ {
		put(t, store, checkpoint("acme", seq))
	}
	if cp, ok := latest(t, store, "acme"); !ok || !sameCheckpoint(cp, checkpoint("acme", n)) {
		t.Errorf("Latest = %+v, %v; want seq %d", cp, ok, n)
	}
	var want []int64
	for seq := int64(2); seq <= n-1; seq++ {
		want = append(want, seq)
	}
	if got := rangeSeqs(t, store, "acme", 2, n-1); !slices.Equal(got, want) {
		t.Errorf("Range(2, %d): %d checkpoints, %v … %v; want %d, 2 … %d ascending",
			n-1, len(got), got[:min(3, len(got))], got[max(0, len(got)-3):], len(want), n-1)
	}
}

// TestS3AnchorsRetentionMoto: RetentionDays > 0 puts each anchor under
// Object Lock in COMPLIANCE mode until that many days on, so that its
// version cannot be deleted; with RetentionDays 0 the object gets the
// bucket's default retention (template.yaml's bucket has none: no lock).
//
// moto 5.2.1 has no GetObjectRetention: it serves GET ?retention as
// GetObject, and the SDK returns a nil Retention with no error. The
// object's lock is read from HeadObject's x-amz-object-lock-* headers.
func TestS3AnchorsRetentionMoto(t *testing.T) {
	t.Parallel()
	cfg, client, bucket := s3Bucket(t)
	head := func(key string) *s3.HeadObjectOutput {
		t.Helper()
		out, err := client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("HeadObject %s: %v", key, err)
		}
		return out
	}
	deleteVersion := func(key string, out *s3.HeadObjectOutput) error {
		_, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: out.VersionId})
		return err
	}

	const days = 30
	locked := awsaudit.NewS3Anchors(cfg, bucket, defaultPrefix, days)
	before := time.Now().Truncate(time.Second)
	put(t, locked, checkpoint("acme", 1))
	after := time.Now()
	key := anchorKey(defaultPrefix, "acme", 1)
	out := head(key)
	until := aws.ToTime(out.ObjectLockRetainUntilDate)
	if out.ObjectLockMode != s3types.ObjectLockModeCompliance ||
		until.Before(before.AddDate(0, 0, days)) || until.After(after.AddDate(0, 0, days)) {
		t.Errorf("RetentionDays %d: lock mode %q until %v; want COMPLIANCE until %d days after %v", days, out.ObjectLockMode, until, days, before)
	}
	if err := deleteVersion(key, out); err == nil {
		t.Error("the anchor's version under compliance retention was deleted")
	}
	if cp, ok := get(t, locked, "acme", 1); !ok || !sameCheckpoint(cp, checkpoint("acme", 1)) {
		t.Errorf("after the refused delete, Get = %+v, %v", cp, ok)
	}

	unlocked := awsaudit.NewS3Anchors(cfg, bucket, defaultPrefix, 0)
	put(t, unlocked, checkpoint("acme", 2))
	key = anchorKey(defaultPrefix, "acme", 2)
	out = head(key)
	if out.ObjectLockMode != "" || out.ObjectLockRetainUntilDate != nil {
		t.Errorf("RetentionDays 0 on a bucket with no default retention: lock mode %q until %v", out.ObjectLockMode, out.ObjectLockRetainUntilDate)
	}
	if err := deleteVersion(key, out); err != nil {
		t.Errorf("deleting an anchor with no retention: %v", err)
	}
}
