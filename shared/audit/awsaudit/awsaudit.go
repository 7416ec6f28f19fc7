// Package awsaudit is the audit chain's AWS side: the KMS HMAC signer and
// the anchors in an S3 Object Lock bucket. It is its own package so that
// only the functions that MAC or verify the chain (extend-audit-chain,
// verify-audit-log, and the operator's audit-verify) link the KMS and S3
// clients; they pass NewKMSSigner and NewS3Anchors to shared/wiring.
package awsaudit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/jitsudo/jitsudo-serverless/shared/audit"
)

// NewKMSSigner is the chain signer over the KMS HMAC key keyID (an id, ARN
// or alias), with a client from cfg (wiring.AWSConfig).
func NewKMSSigner(cfg aws.Config, keyID string) audit.Signer {
	return KMSSigner{Client: kms.NewFromConfig(cfg), Key: keyID}
}

// NewS3Anchors is the anchor store in bucket under prefix, with Object
// Lock for retentionDays (0: the bucket's default retention), with a
// client from cfg (wiring.AWSConfig).
func NewS3Anchors(cfg aws.Config, bucket, prefix string, retentionDays int) audit.AnchorStore {
	return S3Anchors{Client: s3.NewFromConfig(cfg), Bucket: bucket, Prefix: prefix, RetentionDays: retentionDays}
}

// KMSAPI is the part of the KMS client the signer uses.
type KMSAPI interface {
	GenerateMac(ctx context.Context, in *kms.GenerateMacInput, opts ...func(*kms.Options)) (*kms.GenerateMacOutput, error)
	VerifyMac(ctx context.Context, in *kms.VerifyMacInput, opts ...func(*kms.Options)) (*kms.VerifyMacOutput, error)
}

// KMSSigner uses a KMS HMAC_256 key: GenerateMac (granted only to the
// extender's role) and VerifyMac (the verify function and operators). The
// key never leaves KMS.
type KMSSigner struct {
	Client KMSAPI
	Key    string // key id, ARN or alias
}

func (k KMSSigner) KeyID() string { return k.Key }

func (k KMSSigner) MAC(ctx context.Context, msg []byte) ([]byte, error) {
	out, err := k.Client.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(k.Key), Message: msg, MacAlgorithm: kmstypes.MacAlgorithmSpecHmacSha256})
	if err != nil {
		return nil, fmt.Errorf("audit: kms GenerateMac: %w", err)
	}
	return out.Mac, nil
}

func (k KMSSigner) Verify(ctx context.Context, msg, mac []byte) (bool, error) {
	out, err := k.Client.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(k.Key), Message: msg, Mac: mac, MacAlgorithm: kmstypes.MacAlgorithmSpecHmacSha256})
	if err != nil {
		var inv *kmstypes.KMSInvalidMacException
		if errors.As(err, &inv) {
			return false, nil
		}
		return false, fmt.Errorf("audit: kms VerifyMac: %w", err)
	}
	return out.MacValid, nil
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
	// PageSize is the listings' MaxKeys (0: S3's default, 1000).
	PageSize int32
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

func (a S3Anchors) Put(ctx context.Context, cp audit.Checkpoint) error {
	b, _ := json.Marshal(cp)
	_, err := a.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(a.Bucket), Key: aws.String(a.key(cp.TenantID, cp.Seq)),
		Body: bytes.NewReader(b), ContentType: aws.String("application/json"),
		IfNoneMatch: aws.String("*"), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
		ObjectLockMode: lockMode(a.RetentionDays), ObjectLockRetainUntilDate: retainUntil(a.RetentionDays),
	})
	if err != nil {
		if strings.Contains(err.Error(), "PreconditionFailed") {
			return audit.ErrAnchorExists
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

func (a S3Anchors) Get(ctx context.Context, tenant string, seq int64) (audit.Checkpoint, bool, error) {
	out, err := a.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(a.key(tenant, seq))})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return audit.Checkpoint{}, false, nil
		}
		return audit.Checkpoint{}, false, fmt.Errorf("audit: get anchor: %w", err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 1<<16))
	if err != nil {
		return audit.Checkpoint{}, false, fmt.Errorf("audit: read anchor: %w", err)
	}
	var cp audit.Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return audit.Checkpoint{TenantID: tenant, Seq: seq}, true, nil
	}
	return cp, true, nil
}

// list returns the seqs of the tenant's anchors, newest first, from
// startSeq down (startSeq < 0: from the newest) to minSeq, at most max.
// The keys list in ascending order, so seqs come in descending order: the
// listing stops at the first seq below minSeq.
func (a S3Anchors) list(ctx context.Context, tenant string, startSeq, minSeq int64, max int) ([]int64, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(a.Prefix + tenant + "/")}
	if a.PageSize > 0 {
		in.MaxKeys = aws.Int32(a.PageSize)
	}
	if startSeq >= 0 && startSeq < invBase { // (above, every seq is below it)
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
				if n < minSeq {
					return out, nil
				}
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

func (a S3Anchors) Latest(ctx context.Context, tenant string) (audit.Checkpoint, bool, error) {
	s, err := a.list(ctx, tenant, -1, 0, 1)
	if err != nil || len(s) == 0 {
		return audit.Checkpoint{}, false, err
	}
	return a.Get(ctx, tenant, s[0])
}

func (a S3Anchors) Range(ctx context.Context, tenant string, from, to int64) ([]audit.Checkpoint, error) {
	if to < from || to < 0 {
		return nil, nil
	}
	s, err := a.list(ctx, tenant, to, from, 1<<30)
	if err != nil {
		return nil, err
	}
	var out []audit.Checkpoint
	for i := len(s) - 1; i >= 0; i-- { // list gives to … from, newest first
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
