// Package awsfault is a fault-injecting HTTP proxy in front of moto's STS,
// SSO Admin and Identity Store (infra/mototest), for the Identity Center
// provider's tests: the real aws-sdk-go-v2 clients talk to the proxy
// (BaseEndpoint), the proxy forwards to moto, which keeps all the state
// (sessions, users, account assignments). Test-only: no function links it.
//
// It adds what moto does not do, and only that:
//
//   - faults, per operation, consumed in call order: Throttle
//     (ThrottlingException; STS: Throttling), Conflict (ConflictException),
//     both refusing the call without forwarding it; LoseResponse (forwarded,
//     applied by moto, then the connection is dropped without a response);
//
//   - status plans (PlanCreation): the next
//     CreateAccountAssignment answers IN_PROGRESS and its
//     Describe…Status polls stay IN_PROGRESS n times, then end FAILED
//     (never applied) or SUCCEEDED (forwarded to moto then) — moto
//     completes every request at once;
//
//   - the external id: RequireExternalID makes AssumeRole of a role with a
//     different (or no) ExternalId fail with AccessDenied (403), as the
//     trust policy's sts:ExternalId condition does — moto ignores it;
//
//   - who may call: AuthorizeInstance ties an Identity Center instance and
//     its identity store to the role whose sessions may use them (another
//     caller gets AccessDeniedException — moto keeps state per account but
//     lets any caller name any instance or store), and a session past its expiration by the
//     proxy's clock (SetClock) gets ExpiredTokenException; AssumeRole's
//     Expiration is the proxy's clock plus the session's duration. Sessions
//     lists the sessions moto issued through the proxy;
//
//   - pages: moto answers ListAccountAssignments in one page; the proxy
//     pages it (MaxResults, default 10 so that paging is exercised;
//     NextToken) as Identity Center does;
//
//   - idempotent assignments, as Identity Center is: creating an
//     assignment that exists and deleting one that does not answer
//     SUCCEEDED without forwarding (moto would list a duplicate, and fail
//     the deletion with ResourceNotFoundException).
//
//   - signatures: RequireSignatures makes it verify SigV4 signatures (with
//     the SDK's signer) by the keys it is given and the sessions it saw
//     issued — moto checks none.
//
// Calls and CallsOf tell tests what was called (refused callers aside:
// Rejected counts those), by which access key, in which region (read from
// the SigV4 Authorization header).
package awsfault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Operation names as in X-Amz-Target (after the service prefix) or the
// STS query Action.
const (
	OpAssumeRole               = "AssumeRole"
	OpGetUserID                = "GetUserId"
	OpCreateAccountAssignment  = "CreateAccountAssignment"
	OpDeleteAccountAssignment  = "DeleteAccountAssignment"
	OpDescribeCreationStatus   = "DescribeAccountAssignmentCreationStatus"
	OpDescribeDeletionStatus   = "DescribeAccountAssignmentDeletionStatus"
	OpListAccountAssignments   = "ListAccountAssignments"
	opListForPrincipal         = "ListAccountAssignmentsForPrincipal"
	statusInProgress, statusOK = "IN_PROGRESS", "SUCCEEDED"
)

// Call is one request the proxy received.
type Call struct {
	Op          string
	AccessKeyID string
	Region      string
	Time        time.Time
}

// Session is a set of temporary credentials AssumeRole issued.
type Session struct {
	RoleARN, SessionName, ExternalID string
	AccessKeyID                      string
	Expiration                       time.Time // by the proxy's clock
}

type faults struct{ throttle, conflict, lose int }

// plan shapes one planned request: polls IN_PROGRESS answers, then FAILED
// with reason, or SUCCEEDED when reason is "".
type plan struct {
	polls  int
	reason string
}

// request is an assignment request the proxy answers itself (planned, or
// idempotent no-op).
type request struct {
	plan    plan
	summary map[string]any // the request's fields (TargetId, PrincipalId, ...)
	apply   *http.Request  // forwarded on SUCCEEDED (nil: nothing to apply)
	body    []byte
	create  bool
	done    string // final status once reached
}

// Proxy is the fault-injecting proxy; serve it with httptest.NewServer.
type Proxy struct {
	upstream *url.URL
	client   *http.Client
	// assign serializes the assignment changes (check, then forward), so
	// that concurrent creations of one assignment make one, as in
	// Identity Center.
	assign sync.Mutex

	mu          sync.Mutex
	faults      map[string]*faults
	creations   []plan
	externalIDs map[string]string // role ARN -> required external id
	instances   map[string]string // instance ARN or identity store id -> the role that may use it
	sessions    []Session
	secrets     map[string]string // access key id -> secret (nil: signatures not checked)
	now         func() time.Time
	requests    map[string]*request
	calls       []Call
	rejected    map[string]int
}

// New returns a proxy forwarding to upstream (moto's base URL).
func New(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("awsfault: upstream %q: %w", upstream, err)
	}
	return &Proxy{upstream: u, client: &http.Client{Timeout: time.Minute}, faults: map[string]*faults{},
		externalIDs: map[string]string{}, instances: map[string]string{}, requests: map[string]*request{}, rejected: map[string]int{},
		now: time.Now}, nil
}

func (p *Proxy) opFaults(op string) *faults {
	f := p.faults[op]
	if f == nil {
		f = &faults{}
		p.faults[op] = f
	}
	return f
}

// Throttle makes the next n calls of op fail with a throttling error.
func (p *Proxy) Throttle(op string, n int) { p.mu.Lock(); p.opFaults(op).throttle += n; p.mu.Unlock() }

// Conflict makes the next n calls of op fail with ConflictException.
func (p *Proxy) Conflict(op string, n int) { p.mu.Lock(); p.opFaults(op).conflict += n; p.mu.Unlock() }

// LoseResponse forwards the next n calls of op and drops their responses.
func (p *Proxy) LoseResponse(op string, n int) { p.mu.Lock(); p.opFaults(op).lose += n; p.mu.Unlock() }

// PlanCreation makes the next CreateAccountAssignment stay IN_PROGRESS for
// polls status polls, then end FAILED with reason (SUCCEEDED if reason is
// ""). Plans queue up.
func (p *Proxy) PlanCreation(polls int, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.creations = append(p.creations, plan{polls, reason})
}

// RequireExternalID makes AssumeRole of roleARN require externalID.
func (p *Proxy) RequireExternalID(roleARN, externalID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.externalIDs[roleARN] = externalID
}

// AuthorizeInstance lets only sessions of roleARN call SSO Admin on
// instanceARN and Identity Store on identityStoreID.
func (p *Proxy) AuthorizeInstance(instanceARN, identityStoreID, roleARN string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.instances[instanceARN] = roleARN
	p.instances[identityStoreID] = roleARN
}

// SetClock replaces the proxy's clock (session expiry; default time.Now).
func (p *Proxy) SetClock(now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = now
}

// Sessions returns the sessions AssumeRole issued, oldest first.
func (p *Proxy) Sessions() []Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Session(nil), p.sessions...)
}

// SessionOf returns the session an access key belongs to.
func (p *Proxy) SessionOf(accessKeyID string) (Session, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.sessions {
		if s.AccessKeyID == accessKeyID {
			return s, true
		}
	}
	return Session{}, false
}

// refuse says why a caller may not make this call ("" if it may); callers
// hold p.mu.
func (p *Proxy) refuse(op, key string, form url.Values, body []byte) (status int, code, msg string) {
	if op == OpAssumeRole {
		if want, ok := p.externalIDs[form.Get("RoleArn")]; ok && form.Get("ExternalId") != want {
			return http.StatusForbidden, "AccessDenied", "User is not authorized to perform: sts:AssumeRole on resource: " + form.Get("RoleArn")
		}
		return 0, "", ""
	}
	var sess *Session
	for i := range p.sessions {
		if p.sessions[i].AccessKeyID == key {
			sess = &p.sessions[i]
		}
	}
	if sess != nil && !p.now().Before(sess.Expiration) {
		return http.StatusBadRequest, "ExpiredTokenException", "The security token included in the request is expired"
	}
	var in struct{ InstanceArn, IdentityStoreId string }
	_ = json.Unmarshal(body, &in)
	for _, res := range []string{in.InstanceArn, in.IdentityStoreId} {
		if role, ok := p.instances[res]; ok && res != "" && (sess == nil || sess.RoleARN != role) {
			return http.StatusBadRequest, "AccessDeniedException", "User is not authorized to perform: " + op + " on resource: " + res
		}
	}
	return 0, "", ""
}

// Calls counts the calls of op received (faulted ones included).
func (p *Proxy) Calls(op string) int { return len(p.CallsOf(op)) }

// CallsOf returns the calls of op, oldest first ("" = all).
func (p *Proxy) CallsOf(op string) []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Call
	for _, c := range p.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Rejected counts the calls of op refused for who made them: a wrong
// external id, a bad signature, an expired session, another tenant's
// instance.
func (p *Proxy) Rejected(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rejected[op]
}

// ServeHTTP handles one call: fault, plan, idempotency, or forward.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	var form url.Values
	if target == "" {
		form, _ = url.ParseQuery(string(body))
		op = form.Get("Action")
	}
	sc := credentialScope(r.Header.Get("Authorization"))

	p.mu.Lock()
	status, code, msg := p.badSignature(r, body, sc, target == "")
	if status == 0 {
		status, code, msg = p.refuse(op, sc.key, form, body)
	}
	if status != 0 {
		p.rejected[op]++
		p.mu.Unlock()
		if target == "" {
			writeQueryError(w, status, code, msg)
		} else {
			writeJSONError(w, status, code, msg)
		}
		return
	}
	p.calls = append(p.calls, Call{Op: op, AccessKeyID: sc.key, Region: sc.region, Time: time.Now()})
	f := p.opFaults(op)
	var fault string
	var lose bool
	switch {
	case f.throttle > 0:
		f.throttle--
		fault = "throttle"
	case f.conflict > 0:
		f.conflict--
		fault = "conflict"
	case f.lose > 0:
		f.lose--
		lose = true
	}
	p.mu.Unlock()

	switch {
	case fault == "throttle" && target == "":
		writeQueryError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
		return
	case fault == "throttle":
		writeJSONError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		return
	case fault == "conflict":
		writeJSONError(w, http.StatusConflict, "ConflictException", "Another operation on this resource is in progress")
		return
	}
	status, ctype, out, err := p.answer(r, op, body)
	if err == nil && op == OpAssumeRole && status == http.StatusOK {
		out, err = p.session(form, out)
	}
	if err != nil {
		http.Error(w, "awsfault: "+err.Error(), http.StatusBadGateway)
		return
	}
	if lose {
		drop(w)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// session records the session an AssumeRole response issues and restates
// its Expiration by the proxy's clock.
func (p *Proxy) session(form url.Values, out []byte) ([]byte, error) {
	var resp struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string
			Expiration      string
		} `xml:"AssumeRoleResult>Credentials"`
	}
	if err := xml.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("AssumeRole response: %w", err)
	}
	exp, err := time.Parse(time.RFC3339, resp.Credentials.Expiration)
	if err != nil {
		return nil, fmt.Errorf("AssumeRole response's Expiration: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Session{RoleARN: form.Get("RoleArn"), SessionName: form.Get("RoleSessionName"), ExternalID: form.Get("ExternalId"),
		AccessKeyID: resp.Credentials.AccessKeyID, Expiration: p.now().Add(time.Until(exp)).UTC().Truncate(time.Second)}
	p.sessions = append(p.sessions, s)
	if p.secrets != nil {
		p.secrets[s.AccessKeyID] = resp.Credentials.SecretAccessKey
	}
	return bytes.Replace(out, []byte("<Expiration>"+resp.Credentials.Expiration+"</Expiration>"),
		[]byte("<Expiration>"+s.Expiration.Format(time.RFC3339)+"</Expiration>"), 1), nil
}

// answer computes the response of a call that was not refused.
func (p *Proxy) answer(r *http.Request, op string, body []byte) (int, string, []byte, error) {
	switch op {
	case OpCreateAccountAssignment, OpDeleteAccountAssignment:
		return p.assignmentRequest(r, op, body)
	case OpListAccountAssignments:
		return p.page(r, body)
	case OpDescribeCreationStatus, OpDescribeDeletionStatus:
		var in struct {
			CreationID string `json:"AccountAssignmentCreationRequestId"`
			DeletionID string `json:"AccountAssignmentDeletionRequestId"`
		}
		_ = json.Unmarshal(body, &in)
		if id := in.CreationID + in.DeletionID; id != "" {
			if st, out, ok, err := p.poll(r, op, id); ok || err != nil {
				return st, "application/x-amz-json-1.1", out, err
			}
		}
	}
	return p.forward(r, body)
}

// defaultMaxResults is the page size without MaxResults.
const defaultMaxResults = 10

// page answers ListAccountAssignments one page at a time from moto's
// complete list; the NextToken is the next page's offset.
func (p *Proxy) page(r *http.Request, body []byte) (int, string, []byte, error) {
	var in struct {
		MaxResults *int
		NextToken  *string
	}
	_ = json.Unmarshal(body, &in)
	size, from := defaultMaxResults, 0
	if in.MaxResults != nil {
		size = *in.MaxResults
	}
	if in.NextToken != nil {
		if _, err := fmt.Sscanf(*in.NextToken, "page-%d", &from); err != nil || from < 0 {
			return http.StatusBadRequest, "application/x-amz-json-1.1",
				[]byte(`{"__type":"ValidationException","message":"invalid NextToken"}`), nil
		}
	}
	var q map[string]any
	if err := json.Unmarshal(body, &q); err != nil {
		return p.forward(r, body)
	}
	delete(q, "MaxResults")
	delete(q, "NextToken")
	whole, _ := json.Marshal(q)
	st, ctype, out, err := p.forward(r, whole)
	if err != nil || st != http.StatusOK {
		return st, ctype, out, err
	}
	var all struct{ AccountAssignments []json.RawMessage }
	if err := json.Unmarshal(out, &all); err != nil {
		return 0, "", nil, fmt.Errorf("ListAccountAssignments: %w", err)
	}
	list := all.AccountAssignments
	from = min(from, len(list))
	to := min(from+max(size, 1), len(list))
	res := map[string]any{"AccountAssignments": list[from:to]}
	if to < len(list) {
		res["NextToken"] = fmt.Sprintf("page-%d", to)
	}
	b, err := json.Marshal(res)
	return http.StatusOK, ctype, b, err
}

// assignmentRequest answers Create/DeleteAccountAssignment: planned
// requests and no-ops itself, the rest forwarded.
func (p *Proxy) assignmentRequest(r *http.Request, op string, body []byte) (int, string, []byte, error) {
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		return p.forward(r, body)
	}
	create := op == OpCreateAccountAssignment
	p.assign.Lock()
	defer p.assign.Unlock()
	exists, err := p.exists(r, in)
	if err != nil {
		return 0, "", nil, err
	}
	p.mu.Lock()
	var pl *plan
	if create && len(p.creations) > 0 {
		pl = &p.creations[0]
		p.creations = p.creations[1:]
	}
	p.mu.Unlock()
	noop := create == exists // creating what exists, deleting what does not
	if pl == nil && !noop {
		return p.forward(r, body)
	}
	req := &request{summary: in}
	if pl != nil {
		req.plan = *pl
	}
	if !noop {
		req.apply, req.body, req.create = r.Clone(context.Background()), body, create
	}
	status := statusInProgress
	if req.plan.polls == 0 && req.plan.reason == "" {
		status, req.done = statusOK, statusOK
		if err := p.forwardApply(r, req); err != nil {
			return 0, "", nil, err
		}
	}
	id := newID()
	p.mu.Lock()
	p.requests[id] = req
	p.mu.Unlock()
	return http.StatusOK, "application/x-amz-json-1.1", statusBody(op, id, status, "", in), nil
}

// poll answers a Describe…Status of a request the proxy answered itself;
// ok is false for moto's own requests.
func (p *Proxy) poll(r *http.Request, op, id string) (int, []byte, bool, error) {
	p.mu.Lock()
	req, ok := p.requests[id]
	if !ok {
		p.mu.Unlock()
		return 0, nil, false, nil
	}
	switch {
	case req.done != "":
	case req.plan.polls > 0:
		req.plan.polls--
	case req.plan.reason != "":
		req.done = "FAILED"
	default:
		req.done = statusOK
	}
	status, reason := req.done, ""
	if status == "" {
		status = statusInProgress
	} else if status == "FAILED" {
		reason = req.plan.reason
	}
	p.mu.Unlock()
	if status == statusOK {
		if err := p.apply(r, req); err != nil {
			return 0, nil, true, err
		}
	}
	return http.StatusOK, statusBody(op, id, status, reason, req.summary), true, nil
}

// apply forwards a request the proxy answered itself to moto, once, when
// it succeeds (during the call r), unless it became a no-op meanwhile.
func (p *Proxy) apply(r *http.Request, req *request) error {
	p.mu.Lock()
	due := req.apply != nil
	p.mu.Unlock()
	if !due { // applied already, or a no-op from the start: no round trip
		return nil
	}
	p.assign.Lock()
	defer p.assign.Unlock()
	exists, err := p.exists(r, req.summary)
	if err != nil {
		return err
	}
	if exists == req.create {
		p.mu.Lock()
		req.apply = nil
		p.mu.Unlock()
	}
	return p.forwardApply(r, req)
}

// forwardApply is apply with p.assign held and the request still due.
func (p *Proxy) forwardApply(r *http.Request, req *request) error {
	p.mu.Lock()
	orig, body := req.apply, req.body
	req.apply = nil
	p.mu.Unlock()
	if orig == nil {
		return nil
	}
	st, _, out, err := p.forward(orig.WithContext(r.Context()), body)
	if err == nil && st != http.StatusOK {
		err = fmt.Errorf("moto answered %d: %s", st, out)
	}
	return err
}

// exists asks moto (ListAccountAssignments, signed as the call was)
// whether the call's assignment exists.
func (p *Proxy) exists(r *http.Request, in map[string]any) (bool, error) {
	q, _ := json.Marshal(map[string]any{"InstanceArn": in["InstanceArn"], "AccountId": in["TargetId"], "PermissionSetArn": in["PermissionSetArn"]})
	lr := r.Clone(r.Context())
	lr.Header.Set("X-Amz-Target", "SWBExternalService."+OpListAccountAssignments)
	st, _, out, err := p.forward(lr, q)
	if err != nil {
		return false, err
	}
	if st != http.StatusOK {
		return false, fmt.Errorf("ListAccountAssignments: moto answered %d: %s", st, out)
	}
	var list struct{ AccountAssignments []map[string]any }
	if err := json.Unmarshal(out, &list); err != nil {
		return false, fmt.Errorf("ListAccountAssignments: %w", err)
	}
	for _, a := range list.AccountAssignments {
		if a["PrincipalType"] == in["PrincipalType"] && a["PrincipalId"] == in["PrincipalId"] {
			return true, nil
		}
	}
	return false, nil
}

func (p *Proxy) forward(r *http.Request, body []byte) (int, string, []byte, error) {
	u := *p.upstream
	u.Path, u.RawQuery = r.URL.Path, r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header = r.Header.Clone()
	req.Header.Del("Content-Length")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, "", nil, fmt.Errorf("forward to moto: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), out, err
}

func statusBody(op, id, status, reason string, in map[string]any) []byte {
	s := map[string]any{"RequestId": id, "Status": status, "TargetId": in["TargetId"], "TargetType": in["TargetType"],
		"PermissionSetArn": in["PermissionSetArn"], "PrincipalType": in["PrincipalType"], "PrincipalId": in["PrincipalId"],
		"CreatedDate": float64(time.Now().Unix())}
	if reason != "" {
		s["FailureReason"] = reason
	}
	field := "AccountAssignmentCreationStatus"
	if op == OpDeleteAccountAssignment || op == OpDescribeDeletionStatus {
		field = "AccountAssignmentDeletionStatus"
	}
	b, _ := json.Marshal(map[string]any{field: s})
	return b
}

// scope is a SigV4 credential scope's access key id, region and service.
type scope struct{ key, region, service string }

// credentialScope reads the scope of a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...").
func credentialScope(h string) scope {
	_, cred, ok := strings.Cut(h, "Credential=")
	if !ok {
		return scope{}
	}
	cred, _, _ = strings.Cut(cred, ",")
	f := strings.Split(cred, "/")
	if len(f) != 5 {
		return scope{}
	}
	return scope{key: f[0], region: f[2], service: f[3]}
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	_, _ = w.Write(b)
}

func writeQueryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		code, msg, newID())
}

// drop closes the connection without a response.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if conn, _, err := hj.Hijack(); err == nil {
		_ = conn.Close()
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
