// Package awsfake is an in-memory stand-in for the AWS APIs the Identity
// Center provider calls, served as an http.Handler (run it in an
// httptest.Server and point the real aws-sdk-go-v2 clients at it with
// BaseEndpoint):
//
//   - STS AssumeRole (awsQuery protocol: form body, XML response);
//   - Identity Store GetUserId (awsJson1_1, X-Amz-Target AWSIdentityStore.*);
//   - SSO Admin CreateAccountAssignment, DeleteAccountAssignment, their
//     Describe…Status, ListAccountAssignments and
//     ListAccountAssignmentsForPrincipal (awsJson1_1, SWBExternalService.*).
//
// It speaks the wire protocols as the SDK's deserializers read them and
// enforces what matters to the provider: every request must be SigV4-signed
// (the signature is recomputed with the secret the fake knows), STS only
// accepts registered platform keys and the role's external id, and the
// Identity Center APIs only accept credentials issued by AssumeRole for the
// role registered with the instance (so tenant A's session cannot touch
// tenant B's instance). Inputs are decoded strictly (unknown fields,
// missing required fields or bad enum values → ValidationException).
//
// Behaviour choices, mirroring AWS where known:
//   - creating an assignment that exists succeeds (a new request id that
//     completes SUCCEEDED) and never duplicates it;
//   - deleting an assignment that does not exist also completes SUCCEEDED
//     (the fake's choice: "already gone" is success, like the provider
//     treats it);
//   - requests complete on the first Describe…Status poll unless a status
//     plan (DelayNextCreation, DelayNextDeletion) says otherwise; the
//     assignment changes when the request is accepted, or — for planned
//     requests — when it completes SUCCEEDED (never if it FAILS).
//
// Fault injection (Throttle, Conflict, LoseResponse, status plans) and
// drift (RemoveAssignment, AddAssignment) are exported, thread-safe
// methods; Calls and CallsOf let tests count and inspect what was called
// and which access key signed it.
package awsfake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Operation names, as they appear in X-Amz-Target (after the service
// prefix) or the query Action.
const (
	OpAssumeRole                         = "AssumeRole"
	OpGetUserID                          = "GetUserId"
	OpCreateAccountAssignment            = "CreateAccountAssignment"
	OpDeleteAccountAssignment            = "DeleteAccountAssignment"
	OpDescribeCreationStatus             = "DescribeAccountAssignmentCreationStatus"
	OpDescribeDeletionStatus             = "DescribeAccountAssignmentDeletionStatus"
	OpListAccountAssignments             = "ListAccountAssignments"
	OpListAccountAssignmentsForPrincipal = "ListAccountAssignmentsForPrincipal"
)

// Assignment is one Identity Center account assignment.
type Assignment struct {
	InstanceARN      string
	AccountID        string
	PermissionSetARN string
	PrincipalType    string // USER | GROUP
	PrincipalID      string
}

// Call is one request the fake received (after authentication).
type Call struct {
	Op          string
	Service     string // signing name: sts, sso, identitystore
	Region      string // from the credential scope
	AccessKeyID string
	Time        time.Time
}

// Session is a set of temporary credentials AssumeRole issued.
type Session struct {
	RoleARN         string
	SessionName     string
	ExternalID      string
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

type instance struct {
	identityStoreID string
	roleARN         string
}

type user struct {
	id, userName, email string
}

// Server is the fake backend. The zero value is not usable; call New.
type Server struct {
	mu sync.Mutex

	now func() time.Time // SetClock

	platformKeys map[string]string // access key id → secret
	roles        map[string]string // role ARN → external id
	sessions     map[string]*Session
	sessionList  []Session
	instances    map[string]instance
	stores       map[string][]user // identity store id → users

	assignments map[Assignment]bool
	requests    map[string]*request

	faults        map[string]*opFaults
	creationPlans []statusPlan
	deletionPlans []statusPlan
	calls         []Call
	rejected      map[string]int
}

// New returns an empty fake: register keys, roles, instances and users
// before use.
func New() *Server {
	return &Server{
		now:          time.Now,
		platformKeys: map[string]string{},
		roles:        map[string]string{},
		sessions:     map[string]*Session{},
		instances:    map[string]instance{},
		stores:       map[string][]user{},
		assignments:  map[Assignment]bool{},
		requests:     map[string]*request{},
		faults:       map[string]*opFaults{},
		rejected:     map[string]int{},
	}
}

// SetClock replaces the fake's clock (session expiry, CreatedDate;
// default time.Now).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AddPlatformKey registers long-term credentials allowed to call STS.
func (s *Server) AddPlatformKey(accessKeyID, secretAccessKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.platformKeys[accessKeyID] = secretAccessKey
}

// AddRole registers a role that platform keys may assume with externalID.
func (s *Server) AddRole(roleARN, externalID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleARN] = externalID
}

// AddInstance registers an Identity Center instance, its identity store,
// and the role whose sessions may manage it.
func (s *Server) AddInstance(instanceARN, identityStoreID, roleARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instances[instanceARN] = instance{identityStoreID: identityStoreID, roleARN: roleARN}
	if _, ok := s.stores[identityStoreID]; !ok {
		s.stores[identityStoreID] = nil
	}
}

// AddUser adds a user to an identity store.
func (s *Server) AddUser(identityStoreID, userID, userName, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stores[identityStoreID] = append(s.stores[identityStoreID], user{id: userID, userName: userName, email: email})
}

// Assignments returns the current assignments, sorted.
func (s *Server) Assignments() []Assignment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Assignment, 0, len(s.assignments))
	for a := range s.assignments {
		out = append(out, a)
	}
	sortAssignments(out)
	return out
}

// HasAssignment reports whether a exists.
func (s *Server) HasAssignment(a Assignment) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.assignments[a]
}

// RemoveAssignment deletes a behind the provider's back (drift).
func (s *Server) RemoveAssignment(a Assignment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.assignments, a)
}

// AddAssignment creates a behind the provider's back (drift).
func (s *Server) AddAssignment(a Assignment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assignments[a] = true
}

// Calls returns how many authenticated calls of op were received
// (including those answered with an injected fault).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Op == op {
			n++
		}
	}
	return n
}

// CallsOf returns the authenticated calls of op, oldest first ("" = all).
func (s *Server) CallsOf(op string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Rejected returns how many calls of op were refused before reaching the
// operation (bad signature, unknown key, wrong role): the "who may call"
// failures.
func (s *Server) Rejected(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected[op]
}

// Sessions returns the sessions AssumeRole issued, oldest first.
func (s *Server) Sessions() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Session(nil), s.sessionList...)
}

// SessionOf returns the session an access key belongs to.
func (s *Server) SessionOf(accessKeyID string) (Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[accessKeyID]
	if !ok {
		return Session{}, false
	}
	return *ss, true
}

// reply is a computed response, written (or lost) by ServeHTTP.
type reply struct {
	status      int
	contentType string
	body        []byte
}

// ServeHTTP routes by X-Amz-Target (JSON 1.1 services) or the form Action
// (STS query protocol).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var rep reply
	var lost bool
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		rep, lost = s.serveJSON(r, target, body)
	} else {
		rep, lost = s.serveQuery(r, body)
	}
	if lost {
		dropConnection(w)
		return
	}
	w.Header().Set("Content-Type", rep.contentType)
	w.Header().Set("X-Amzn-Requestid", newUUID())
	w.Header().Set("Content-Length", fmt.Sprint(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// dropConnection closes the connection without any response: the client
// sees a transport error although the request was applied. POST requests
// are not replayed by net/http, so the SDK call fails.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// No hijacking (HTTP/2): a 500 without a parsable body is as lost.
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = conn.Close()
}

// record notes an authenticated call; callers hold s.mu.
func (s *Server) record(op string, a auth) {
	s.calls = append(s.calls, Call{Op: op, Service: a.service, Region: a.region, AccessKeyID: a.accessKeyID, Time: s.now()})
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomToken(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func sortAssignments(as []Assignment) {
	sort.Slice(as, func(i, j int) bool {
		a, b := as[i], as[j]
		if a.InstanceARN != b.InstanceARN {
			return a.InstanceARN < b.InstanceARN
		}
		if a.AccountID != b.AccountID {
			return a.AccountID < b.AccountID
		}
		if a.PermissionSetARN != b.PermissionSetARN {
			return a.PermissionSetARN < b.PermissionSetARN
		}
		if a.PrincipalType != b.PrincipalType {
			return a.PrincipalType < b.PrincipalType
		}
		return a.PrincipalID < b.PrincipalID
	})
}
