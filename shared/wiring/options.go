package wiring

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// Option links an AWS adapter into a function: the constructor of a client
// of a service only some functions call, which wiring calls with the
// configuration it read. Each also says what the function does with it
// (provisions, publishes, manages email subscriptions, MACs the audit
// chain, reads the platform key), so the template tests can read from a
// function's main.go which variables it needs.
type Option func(*adapters)

// adapters are the options given; nil: not linked.
type adapters struct {
	provider      func(aws.Config, *store.Store, *slog.Logger, time.Duration) access.Provider
	publisher     func(aws.Config, string) workflow.EventPublisher
	subscriptions func(aws.Config) api.EmailSubscriptions
	auditKeys     bool
	kms           func(aws.Config, string) audit.Signer
	s3            func(aws.Config, string, string, int) audit.AnchorStore
	ssm           func(context.Context, aws.Config, string) (string, error)
}

func collect(opts []Option) adapters {
	var a adapters
	for _, o := range opts {
		o(&a)
	}
	return a
}

// WithProvider makes the function provision and revoke access with the
// provider PROVIDER names: identitycenter through newIdentityCenter
// (providers.IdentityCenter, over the table, with PROVIDER_ENDPOINT and
// PROVIDER_POLL_BUDGET), or the recording stand-in in binaries built with
// -tags jitsudo_local. Without it a function has workflow.NoProvider.
func WithProvider[P access.Provider](newIdentityCenter func(cfg aws.Config, st *store.Store, logger *slog.Logger, pollBudget time.Duration) P) Option {
	return func(a *adapters) {
		a.provider = func(cfg aws.Config, st *store.Store, logger *slog.Logger, budget time.Duration) access.Provider {
			return newIdentityCenter(cfg, st, logger, budget)
		}
	}
}

// WithPublisher makes the function publish events to SNS_TOPIC_ARN through
// open (snspub.Open).
func WithPublisher[P workflow.EventPublisher](open func(cfg aws.Config, topicARN string) P) Option {
	return func(a *adapters) {
		a.publisher = func(cfg aws.Config, topic string) workflow.EventPublisher { return open(cfg, topic) }
	}
}

// WithEmailSubscriptions makes the function manage the email channels'
// subscriptions to SNS_TOPIC_ARN through open (snspub.OpenSubscriptions):
// the functions that create, update and delete channels.
func WithEmailSubscriptions[S api.EmailSubscriptions](open func(cfg aws.Config) S) Option {
	return func(a *adapters) {
		a.subscriptions = func(cfg aws.Config) api.EmailSubscriptions { return open(cfg) }
	}
}

// WithAuditKeys makes the function MAC or verify the audit chain: its key
// is AUDIT_KMS_KEY_ID through newKMSSigner (awsaudit.NewKMSSigner), or a
// local AUDIT_MAC_KEY / AUDIT_MAC_KEY_FILE; its anchors are in
// AUDIT_ANCHOR_BUCKET through newS3Anchors (awsaudit.NewS3Anchors), or a
// local AUDIT_ANCHOR_DIR. An API function given it verifies the chain
// (api.Deps.Access.AuditVerifier).
func WithAuditKeys(newKMSSigner func(cfg aws.Config, keyID string) audit.Signer, newS3Anchors func(cfg aws.Config, bucket, prefix string, retentionDays int) audit.AnchorStore) Option {
	return func(a *adapters) { a.auditKeys, a.kms, a.s3 = true, newKMSSigner, newS3Anchors }
}

// WithPlatformKeyParameter makes the authorizer read the platform admin
// key from PLATFORM_ADMIN_KEY_PARAMETER through load (platformkey.FromSSM).
func WithPlatformKeyParameter(load func(ctx context.Context, cfg aws.Config, name string) (string, error)) Option {
	return func(a *adapters) { a.ssm = load }
}
