package awsfake

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// STS AssumeRole over the awsQuery protocol: a form body
// (Action=AssumeRole&Version=2011-06-15&RoleArn=…), an XML response in the
// 2011-06-15 namespace, errors as <ErrorResponse><Error><Code>.

const (
	stsNamespace  = "https://sts.amazonaws.com/doc/2011-06-15/"
	xmlType       = "text/xml"
	stsVersion    = "2011-06-15"
	defaultExpiry = time.Hour
)

var (
	reRoleARN     = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	reSessionName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	reExternalID  = regexp.MustCompile(`^[\w+=,.@:/-]+$`) // 2..1224 characters
)

func (s *Server) serveQuery(r *http.Request, body []byte) (reply, bool) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return stsErr(http.StatusBadRequest, "Sender", "InvalidAction", "expected a form POST"), false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return stsErr(http.StatusBadRequest, "Sender", "MalformedQueryString", err.Error()), false
	}
	if form.Get("Action") != OpAssumeRole || form.Get("Version") != stsVersion {
		return stsErr(http.StatusBadRequest, "Sender", "InvalidAction", fmt.Sprintf("unsupported action %q version %q", form.Get("Action"), form.Get("Version"))), false
	}
	a, err := parseAuth(r.Header.Get("Authorization"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.rejected[OpAssumeRole]++
		return stsErr(http.StatusForbidden, "Sender", "MissingAuthenticationToken", err.Error()), false
	}
	secret, ok := s.platformKeys[a.accessKeyID]
	if !ok || a.service != "sts" {
		s.rejected[OpAssumeRole]++
		return stsErr(http.StatusForbidden, "Sender", "InvalidClientTokenId", "The security token included in the request is invalid."), false
	}
	if err := verifySignature(r, body, a, secret, ""); err != nil {
		s.rejected[OpAssumeRole]++
		return stsErr(http.StatusForbidden, "Sender", "SignatureDoesNotMatch", err.Error()), false
	}
	s.record(OpAssumeRole, a)
	switch s.preFault(OpAssumeRole) {
	case "throttle":
		return stsErr(http.StatusBadRequest, "Sender", "Throttling", "Rate exceeded"), false
	case "conflict": // STS has no conflicts: answer a transient server error
		return stsErr(http.StatusServiceUnavailable, "Receiver", "ServiceUnavailable", "Service unavailable"), false
	}
	rep := s.assumeRole(form)
	return rep, s.loseFault(OpAssumeRole)
}

func (s *Server) assumeRole(form url.Values) reply {
	role, name, ext := form.Get("RoleArn"), form.Get("RoleSessionName"), form.Get("ExternalId")
	switch {
	case !reRoleARN.MatchString(role):
		return stsErr(http.StatusBadRequest, "Sender", "ValidationError", "RoleArn is missing or invalid")
	case !reSessionName.MatchString(name):
		return stsErr(http.StatusBadRequest, "Sender", "ValidationError", "RoleSessionName must match [\\w+=,.@-]{2,64}")
	case ext != "" && (len(ext) < 2 || len(ext) > 1224 || !reExternalID.MatchString(ext)):
		return stsErr(http.StatusBadRequest, "Sender", "ValidationError", "ExternalId is invalid")
	}
	duration := defaultExpiry
	if d := form.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 900 || n > 43200 {
			return stsErr(http.StatusBadRequest, "Sender", "ValidationError", "DurationSeconds must be 900..43200")
		}
		duration = time.Duration(n) * time.Second
	}
	want, ok := s.roles[role]
	if !ok || want != ext {
		// AWS does not tell a wrong external id from a missing trust.
		return stsErr(http.StatusForbidden, "Sender", "AccessDenied", "User is not authorized to perform: sts:AssumeRole on resource: "+role)
	}
	sess := &Session{
		RoleARN: role, SessionName: name, ExternalID: ext,
		AccessKeyID:     "ASIA" + strings.ToUpper(randomToken("", 8)),
		SecretAccessKey: randomToken("", 20),
		SessionToken:    randomToken("FwoG", 32),
		Expiration:      s.now().Add(duration).UTC().Truncate(time.Second),
	}
	s.sessions[sess.AccessKeyID] = sess
	s.sessionList = append(s.sessionList, *sess)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<AssumeRoleResponse xmlns="%s"><AssumeRoleResult>`, stsNamespace)
	fmt.Fprintf(&b, `<AssumedRoleUser><AssumedRoleId>AROAFAKE:%s</AssumedRoleId><Arn>%s</Arn></AssumedRoleUser>`, esc(name), esc(assumedRoleARN(role, name)))
	fmt.Fprintf(&b, `<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>`,
		sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken, sess.Expiration.Format(time.RFC3339))
	fmt.Fprintf(&b, `</AssumeRoleResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></AssumeRoleResponse>`, newUUID())
	return reply{status: http.StatusOK, contentType: xmlType, body: b.Bytes()}
}

// assumedRoleARN: arn:aws:iam::123:role/x → arn:aws:sts::123:assumed-role/x/name.
func assumedRoleARN(role, session string) string {
	f := strings.SplitN(role, ":", 6)
	if len(f) < 6 {
		return role
	}
	path := strings.TrimPrefix(f[5], "role/")
	if i := strings.LastIndex(path, "/"); i >= 0 {
		path = path[i+1:]
	}
	return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", f[1], f[4], path, session)
}

func stsErr(status int, typ, code, msg string) reply {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		stsNamespace, typ, code, esc(msg), newUUID())
	return reply{status: status, contentType: xmlType, body: b.Bytes()}
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
