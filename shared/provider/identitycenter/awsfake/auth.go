package awsfake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// auth is what the SigV4 Authorization header says.
type auth struct {
	accessKeyID   string
	date          string
	region        string
	service       string
	signedHeaders []string
	signature     string
}

var errUnsigned = errors.New("missing or malformed SigV4 Authorization header")

// parseAuth reads "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sso/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuth(h string) (auth, error) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return auth{}, errUnsigned
	}
	var a auth
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return auth{}, errUnsigned
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return auth{}, errUnsigned
			}
			a.accessKeyID, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKeyID == "" || a.signature == "" || len(a.signedHeaders) == 0 {
		return auth{}, errUnsigned
	}
	return a, nil
}

// verifySignature re-signs the request with secret (same signed headers,
// X-Amz-Date and body) and compares the result: the caller proved it holds
// the secret of the access key it names.
func verifySignature(r *http.Request, body []byte, a auth, secret, sessionToken string) error {
	signingTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return errors.New("missing or malformed X-Amz-Date")
	}
	if tok := r.Header.Get("X-Amz-Security-Token"); tok != sessionToken {
		return errors.New("the security token included in the request is invalid")
	}
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Host = r.Host
	req.ContentLength = int64(len(body))
	for _, h := range a.signedHeaders {
		switch h {
		case "host", "content-length":
			continue
		}
		for _, v := range r.Header.Values(h) {
			req.Header.Add(h, v)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: a.accessKeyID, SecretAccessKey: secret, SessionToken: sessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), a.service, a.region, signingTime); err != nil {
		return err
	}
	want, err := parseAuth(req.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	if want.signature != a.signature {
		return errors.New("the request signature we calculated does not match the signature you provided")
	}
	return nil
}
