package awsfake

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SSO Admin (SWBExternalService) account assignments.

const (
	statusInProgress = "IN_PROGRESS"
	statusSucceeded  = "SUCCEEDED"
	statusFailed     = "FAILED"
)

// request is one asynchronous assignment creation or deletion.
type request struct {
	id        string
	deletion  bool
	a         Assignment
	status    string
	final     string
	reason    string
	pollsLeft int
	applied   bool
	created   time.Time
}

func (s *Server) apply(r *request) {
	if r.deletion {
		delete(s.assignments, r.a)
	} else {
		s.assignments[r.a] = true
	}
	r.applied = true
}

// advance moves a request on by one status poll.
func (s *Server) advance(r *request) {
	if r.status != statusInProgress {
		return
	}
	if r.pollsLeft > 0 {
		r.pollsLeft--
		return
	}
	r.status = r.final
	if r.status == statusSucceeded && !r.applied {
		s.apply(r)
	}
}

type statusJSON struct {
	Status           string  `json:"Status"`
	RequestID        string  `json:"RequestId"`
	FailureReason    string  `json:"FailureReason,omitempty"`
	TargetID         string  `json:"TargetId"`
	TargetType       string  `json:"TargetType"`
	PermissionSetArn string  `json:"PermissionSetArn"`
	PrincipalType    string  `json:"PrincipalType"`
	PrincipalID      string  `json:"PrincipalId"`
	CreatedDate      float64 `json:"CreatedDate"` // epoch seconds, as awsJson encodes timestamps
}

func (r *request) json() statusJSON {
	st := statusJSON{
		Status: r.status, RequestID: r.id, TargetID: r.a.AccountID, TargetType: "AWS_ACCOUNT",
		PermissionSetArn: r.a.PermissionSetARN, PrincipalType: r.a.PrincipalType, PrincipalID: r.a.PrincipalID,
		CreatedDate: float64(r.created.UnixMilli()) / 1000,
	}
	if r.status == statusFailed {
		st.FailureReason = r.reason
	}
	return st
}

// checkInstance validates an instance ARN and that the caller's role may
// manage it. A nil reply means OK.
func (s *Server) checkInstance(sess *Session, arn string) *reply {
	if arn == "" {
		r := validation("InstanceArn is required")
		return &r
	}
	if !reInstanceARN.MatchString(arn) {
		r := validation("InstanceArn %q is not a valid instance ARN", arn)
		return &r
	}
	in, ok := s.instances[arn]
	if !ok || in.roleARN != sess.RoleARN {
		// AWS answers unknown and foreign instances alike.
		r := jsonErr(http.StatusBadRequest, "AccessDeniedException", "User: "+sess.RoleARN+" is not authorized to manage instance "+arn)
		return &r
	}
	return nil
}

type assignmentInput struct {
	InstanceArn      string `json:"InstanceArn"`
	TargetID         string `json:"TargetId"`
	TargetType       string `json:"TargetType"`
	PermissionSetArn string `json:"PermissionSetArn"`
	PrincipalType    string `json:"PrincipalType"`
	PrincipalID      string `json:"PrincipalId"`
}

func (s *Server) parseAssignment(sess *Session, body []byte) (Assignment, *reply) {
	var in assignmentInput
	if err := decodeStrict(body, &in); err != nil {
		r := validation("%v", err)
		return Assignment{}, &r
	}
	if rep := s.checkInstance(sess, in.InstanceArn); rep != nil {
		return Assignment{}, rep
	}
	var bad []string
	if !reAccountID.MatchString(in.TargetID) {
		bad = append(bad, "TargetId must be a 12-digit account id")
	}
	if in.TargetType != "AWS_ACCOUNT" {
		bad = append(bad, "TargetType must be AWS_ACCOUNT")
	}
	if !rePermissionSetARN.MatchString(in.PermissionSetArn) {
		bad = append(bad, "PermissionSetArn is not a permission set ARN")
	}
	if in.PrincipalType != "USER" && in.PrincipalType != "GROUP" {
		bad = append(bad, "PrincipalType must be USER or GROUP")
	}
	if !rePrincipalID.MatchString(in.PrincipalID) {
		bad = append(bad, "PrincipalId is not a principal id")
	}
	if len(bad) > 0 {
		r := validation("%s", strings.Join(bad, "; "))
		return Assignment{}, &r
	}
	return Assignment{InstanceARN: in.InstanceArn, AccountID: in.TargetID, PermissionSetARN: in.PermissionSetArn,
		PrincipalType: in.PrincipalType, PrincipalID: in.PrincipalID}, nil
}

func (s *Server) userExists(instanceARN, userID string) bool {
	for _, u := range s.stores[s.instances[instanceARN].identityStoreID] {
		if u.id == userID {
			return true
		}
	}
	return false
}

func (s *Server) createAssignment(sess *Session, body []byte) reply {
	a, rep := s.parseAssignment(sess, body)
	if rep != nil {
		return *rep
	}
	if a.PrincipalType == "USER" && !s.userExists(a.InstanceARN, a.PrincipalID) {
		return validation("principal %s does not exist in the identity store", a.PrincipalID)
	}
	r := s.newRequest(a, false, &s.creationPlans)
	return jsonOK(map[string]any{"AccountAssignmentCreationStatus": r.json()})
}

func (s *Server) deleteAssignment(sess *Session, body []byte) reply {
	a, rep := s.parseAssignment(sess, body)
	if rep != nil {
		return *rep
	}
	r := s.newRequest(a, true, &s.deletionPlans)
	return jsonOK(map[string]any{"AccountAssignmentDeletionStatus": r.json()})
}

// newRequest registers a creation/deletion. Without a plan it is applied
// at once and reports SUCCEEDED on its first poll; with one it follows the
// plan and is applied only if it ends SUCCEEDED.
func (s *Server) newRequest(a Assignment, deletion bool, plans *[]statusPlan) *request {
	r := &request{id: newUUID(), deletion: deletion, a: a, status: statusInProgress, final: statusSucceeded, created: s.now()}
	if p, ok := popPlan(plans); ok {
		r.pollsLeft = p.inProgressPolls
		if p.failureReason != "" {
			r.final, r.reason = statusFailed, p.failureReason
		}
	} else {
		s.apply(r)
	}
	s.requests[r.id] = r
	return r
}

func (s *Server) describeCreation(sess *Session, body []byte) reply {
	var in struct {
		InstanceArn                        string `json:"InstanceArn"`
		AccountAssignmentCreationRequestID string `json:"AccountAssignmentCreationRequestId"`
	}
	if err := decodeStrict(body, &in); err != nil {
		return validation("%v", err)
	}
	r, rep := s.describe(sess, in.InstanceArn, in.AccountAssignmentCreationRequestID, false)
	if rep != nil {
		return *rep
	}
	return jsonOK(map[string]any{"AccountAssignmentCreationStatus": r.json()})
}

func (s *Server) describeDeletion(sess *Session, body []byte) reply {
	var in struct {
		InstanceArn                        string `json:"InstanceArn"`
		AccountAssignmentDeletionRequestID string `json:"AccountAssignmentDeletionRequestId"`
	}
	if err := decodeStrict(body, &in); err != nil {
		return validation("%v", err)
	}
	r, rep := s.describe(sess, in.InstanceArn, in.AccountAssignmentDeletionRequestID, true)
	if rep != nil {
		return *rep
	}
	return jsonOK(map[string]any{"AccountAssignmentDeletionStatus": r.json()})
}

func (s *Server) describe(sess *Session, instanceARN, id string, deletion bool) (*request, *reply) {
	if rep := s.checkInstance(sess, instanceARN); rep != nil {
		return nil, rep
	}
	if !reUUID.MatchString(id) {
		r := validation("request id %q is not a UUID", id)
		return nil, &r
	}
	r := s.requests[id]
	if r == nil || r.deletion != deletion || r.a.InstanceARN != instanceARN {
		rep := jsonErr(http.StatusBadRequest, "ResourceNotFoundException", "request "+id+" not found")
		return nil, &rep
	}
	s.advance(r)
	return r, nil
}

// defaultMaxResults is the page size without MaxResults (small, so that
// pagination is exercised).
const defaultMaxResults = 10

func pageBounds(maxResults *int, token *string, n int) (int, int, *reply) {
	size := defaultMaxResults
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 100 {
			r := validation("MaxResults must be 1..100")
			return 0, 0, &r
		}
		size = *maxResults
	}
	start := 0
	if token != nil {
		raw, err := base64.RawURLEncoding.DecodeString(*token)
		off, cerr := strconv.Atoi(strings.TrimPrefix(string(raw), "off:"))
		if err != nil || cerr != nil || !strings.HasPrefix(string(raw), "off:") || off < 0 || off > n {
			r := validation("invalid NextToken")
			return 0, 0, &r
		}
		start = off
	}
	end := min(start+size, n)
	return start, end, nil
}

func nextToken(end, n int) *string {
	if end >= n {
		return nil
	}
	t := base64.RawURLEncoding.EncodeToString([]byte("off:" + strconv.Itoa(end)))
	return &t
}

type assignmentJSON struct {
	AccountID        string `json:"AccountId"`
	PermissionSetArn string `json:"PermissionSetArn"`
	PrincipalType    string `json:"PrincipalType"`
	PrincipalID      string `json:"PrincipalId"`
}

func (s *Server) listAssignments(sess *Session, body []byte) reply {
	var in struct {
		InstanceArn      string  `json:"InstanceArn"`
		AccountID        string  `json:"AccountId"`
		PermissionSetArn string  `json:"PermissionSetArn"`
		MaxResults       *int    `json:"MaxResults"`
		NextToken        *string `json:"NextToken"`
	}
	if err := decodeStrict(body, &in); err != nil {
		return validation("%v", err)
	}
	if rep := s.checkInstance(sess, in.InstanceArn); rep != nil {
		return *rep
	}
	if !reAccountID.MatchString(in.AccountID) || !rePermissionSetARN.MatchString(in.PermissionSetArn) {
		return validation("AccountId and PermissionSetArn are required and must be valid")
	}
	var match []Assignment
	for a := range s.assignments {
		if a.InstanceARN == in.InstanceArn && a.AccountID == in.AccountID && a.PermissionSetARN == in.PermissionSetArn {
			match = append(match, a)
		}
	}
	sortAssignments(match)
	start, end, rep := pageBounds(in.MaxResults, in.NextToken, len(match))
	if rep != nil {
		return *rep
	}
	out := make([]assignmentJSON, 0, end-start)
	for _, a := range match[start:end] {
		out = append(out, assignmentJSON{a.AccountID, a.PermissionSetARN, a.PrincipalType, a.PrincipalID})
	}
	return jsonOK(struct {
		AccountAssignments []assignmentJSON `json:"AccountAssignments"`
		NextToken          *string          `json:"NextToken,omitempty"`
	}{out, nextToken(end, len(match))})
}

func (s *Server) listForPrincipal(sess *Session, body []byte) reply {
	var in struct {
		InstanceArn   string `json:"InstanceArn"`
		PrincipalID   string `json:"PrincipalId"`
		PrincipalType string `json:"PrincipalType"`
		Filter        *struct {
			AccountID string `json:"AccountId"`
		} `json:"Filter"`
		MaxResults *int    `json:"MaxResults"`
		NextToken  *string `json:"NextToken"`
	}
	if err := decodeStrict(body, &in); err != nil {
		return validation("%v", err)
	}
	if rep := s.checkInstance(sess, in.InstanceArn); rep != nil {
		return *rep
	}
	if !rePrincipalID.MatchString(in.PrincipalID) || (in.PrincipalType != "USER" && in.PrincipalType != "GROUP") {
		return validation("PrincipalId and PrincipalType are required and must be valid")
	}
	var match []Assignment
	for a := range s.assignments {
		if a.InstanceARN == in.InstanceArn && a.PrincipalID == in.PrincipalID && a.PrincipalType == in.PrincipalType &&
			(in.Filter == nil || in.Filter.AccountID == "" || in.Filter.AccountID == a.AccountID) {
			match = append(match, a)
		}
	}
	sortAssignments(match)
	start, end, rep := pageBounds(in.MaxResults, in.NextToken, len(match))
	if rep != nil {
		return *rep
	}
	out := make([]assignmentJSON, 0, end-start)
	for _, a := range match[start:end] {
		out = append(out, assignmentJSON{a.AccountID, a.PermissionSetARN, a.PrincipalType, a.PrincipalID})
	}
	return jsonOK(struct {
		AccountAssignments []assignmentJSON `json:"AccountAssignments"`
		NextToken          *string          `json:"NextToken,omitempty"`
	}{out, nextToken(end, len(match))})
}
