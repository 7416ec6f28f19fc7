package awsfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
)

// The awsJson1_1 side: requests are POST / with X-Amz-Target
// "<service prefix>.<operation>" and Content-Type
// application/x-amz-json-1.1; errors are HTTP 4xx/5xx with
// {"__type": "<ShapeName>", "Message": "..."} (the SDK resolves __type
// against its type registry by short name).

const jsonContentType = "application/x-amz-json-1.1"

type jsonHandler func(s *Server, sess *Session, body []byte) reply

type jsonOp struct {
	service string // SigV4 signing name
	op      string
	handle  jsonHandler
}

var jsonOps = map[string]jsonOp{
	"SWBExternalService.CreateAccountAssignment":                 {"sso", OpCreateAccountAssignment, (*Server).createAssignment},
	"SWBExternalService.DeleteAccountAssignment":                 {"sso", OpDeleteAccountAssignment, (*Server).deleteAssignment},
	"SWBExternalService.DescribeAccountAssignmentCreationStatus": {"sso", OpDescribeCreationStatus, (*Server).describeCreation},
	"SWBExternalService.DescribeAccountAssignmentDeletionStatus": {"sso", OpDescribeDeletionStatus, (*Server).describeDeletion},
	"SWBExternalService.ListAccountAssignments":                  {"sso", OpListAccountAssignments, (*Server).listAssignments},
	"SWBExternalService.ListAccountAssignmentsForPrincipal":      {"sso", OpListAccountAssignmentsForPrincipal, (*Server).listForPrincipal},
	"AWSIdentityStore.GetUserId":                                 {"identitystore", OpGetUserID, (*Server).getUserID},
}

func (s *Server) serveJSON(r *http.Request, target string, body []byte) (reply, bool) {
	op, ok := jsonOps[target]
	if !ok {
		return jsonErr(http.StatusBadRequest, "UnknownOperationException", "unknown target "+target), false
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return jsonErr(http.StatusBadRequest, "ValidationException", "expected POST /"), false
	}
	if ct := r.Header.Get("Content-Type"); ct != jsonContentType {
		return jsonErr(http.StatusBadRequest, "SerializationException", "unexpected Content-Type "+ct), false
	}
	a, err := parseAuth(r.Header.Get("Authorization"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.rejected[op.op]++
		return jsonErr(http.StatusForbidden, "MissingAuthenticationTokenException", err.Error()), false
	}
	if a.service != op.service {
		s.rejected[op.op]++
		return jsonErr(http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("credential should be scoped to correct service: %q", op.service)), false
	}
	sess := s.sessions[a.accessKeyID]
	if sess == nil {
		s.rejected[op.op]++
		if _, platform := s.platformKeys[a.accessKeyID]; platform {
			// Valid long-term credentials, but the platform principal has no
			// Identity Center permissions: those live in the tenant's account.
			return jsonErr(http.StatusBadRequest, "AccessDeniedException", "platform credentials are not authorized for "+op.op), false
		}
		return jsonErr(http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid."), false
	}
	if !s.now().Before(sess.Expiration) {
		s.rejected[op.op]++
		return jsonErr(http.StatusBadRequest, "ExpiredTokenException", "The security token included in the request is expired"), false
	}
	if err := verifySignature(r, body, a, sess.SecretAccessKey, sess.SessionToken); err != nil {
		s.rejected[op.op]++
		return jsonErr(http.StatusForbidden, "InvalidSignatureException", err.Error()), false
	}
	s.record(op.op, a)
	switch s.preFault(op.op) {
	case "throttle":
		return jsonErr(http.StatusBadRequest, "ThrottlingException", "Rate exceeded"), false
	case "conflict":
		return jsonErr(http.StatusBadRequest, "ConflictException", "Another operation on this resource is in progress"), false
	}
	rep := op.handle(s, sess, body)
	return rep, s.loseFault(op.op)
}

// decodeStrict decodes one JSON object, refusing unknown fields: a
// request of the wrong shape fails like a ValidationException would.
func decodeStrict(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("invalid request body: %w", err)
	}
	if d.More() {
		return errors.New("invalid request body: trailing data")
	}
	return nil
}

func jsonOK(v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		return jsonErr(http.StatusInternalServerError, "InternalServerException", err.Error())
	}
	return reply{status: http.StatusOK, contentType: jsonContentType, body: b}
}

func jsonErr(status int, typ, msg string, extra ...string) reply {
	m := map[string]string{"__type": typ, "Message": msg}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	b, _ := json.Marshal(m)
	return reply{status: status, contentType: jsonContentType, body: b}
}

func validation(format string, args ...any) reply {
	return jsonErr(http.StatusBadRequest, "ValidationException", fmt.Sprintf(format, args...))
}

// Patterns from the service models.
var (
	reInstanceARN      = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$`)
	rePermissionSetARN = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::permissionSet/(sso)?ins-[a-zA-Z0-9-.]{16}/ps-[a-zA-Z0-9-./]{16}$`)
	reAccountID        = regexp.MustCompile(`^\d{12}$`)
	rePrincipalID      = regexp.MustCompile(`^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$`)
	reUUID             = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	reIdentityStoreID  = regexp.MustCompile(`^d-[0-9a-f]{10}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)
