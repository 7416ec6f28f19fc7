package awsfault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// RequireSignatures makes the proxy verify every call's SigV4 signature
// (moto checks none): keys are the long-term access keys it knows (access
// key id -> secret); the sessions AssumeRole issues through the proxy are
// known too. An unknown key gets InvalidClientTokenId / UnrecognizedClient
// Exception, a wrong signature SignatureDoesNotMatch (403), as AWS answers.
func (p *Proxy) RequireSignatures(keys map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.secrets == nil {
		p.secrets = map[string]string{}
	}
	for k, v := range keys {
		p.secrets[k] = v
	}
}

// badSignature says why r's signature does not verify ("" if it does, or
// if signatures are not required); callers hold p.mu.
func (p *Proxy) badSignature(r *http.Request, body []byte, sc scope, sts bool) (status int, code, msg string) {
	if p.secrets == nil {
		return 0, "", ""
	}
	auth := r.Header.Get("Authorization")
	secret, ok := p.secrets[sc.key]
	if !ok {
		if sts {
			return http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."
		}
		return http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	_, signed, _ := strings.Cut(auth, "SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	_, sig, _ := strings.Cut(auth, "Signature=")
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return http.StatusForbidden, "IncompleteSignature", "The request signature is incomplete"
	}
	// The request as the client signed it: its signed headers only.
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	req, _ := http.NewRequestWithContext(context.Background(), r.Method, u.String(), nil)
	req.Host = r.Host
	for h := range strings.SplitSeq(signed, ";") {
		switch h {
		case "host":
		case "content-length":
			req.ContentLength = int64(len(body))
		default:
			if v, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
				req.Header[http.CanonicalHeaderKey(h)] = v
			}
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: sc.key, SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), sc.service, sc.region, at); err != nil {
		return http.StatusForbidden, "IncompleteSignature", err.Error()
	}
	_, want, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	if want != sig {
		return http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
	}
	return 0, "", ""
}
