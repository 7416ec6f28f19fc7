package awsfake

// Fault injection. Faults are per operation and consumed in call order:
// throttling first, then conflicts (both refuse the call without applying
// it), then lost responses (the call is applied, the response dropped).

type opFaults struct {
	throttle, conflict, lose int
}

// statusPlan shapes the next creation (or deletion) request: it reports
// IN_PROGRESS for inProgressPolls Describe calls, then FAILED with
// failureReason, or SUCCEEDED when failureReason is empty.
type statusPlan struct {
	inProgressPolls int
	failureReason   string
}

func (s *Server) opFaults(op string) *opFaults {
	f := s.faults[op]
	if f == nil {
		f = &opFaults{}
		s.faults[op] = f
	}
	return f
}

// Throttle makes the next n calls of op fail with a throttling error
// (ThrottlingException, HTTP 400; STS: Throttling).
func (s *Server) Throttle(op string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opFaults(op).throttle += n
}

// Conflict makes the next n calls of op fail with ConflictException
// (another operation on the resource is in progress).
func (s *Server) Conflict(op string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opFaults(op).conflict += n
}

// LoseResponse applies the next n calls of op and then drops the
// connection without a response.
func (s *Server) LoseResponse(op string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opFaults(op).lose += n
}

// DelayNextCreation makes the next CreateAccountAssignment request stay
// IN_PROGRESS for inProgressPolls status polls, then end FAILED with
// failureReason (SUCCEEDED if failureReason is ""). Plans queue up.
func (s *Server) DelayNextCreation(inProgressPolls int, failureReason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creationPlans = append(s.creationPlans, statusPlan{inProgressPolls, failureReason})
}

// DelayNextDeletion is DelayNextCreation for DeleteAccountAssignment.
func (s *Server) DelayNextDeletion(inProgressPolls int, failureReason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deletionPlans = append(s.deletionPlans, statusPlan{inProgressPolls, failureReason})
}

// preFault consumes a refusing fault for op, if any: "throttle",
// "conflict" or "". Callers hold s.mu.
func (s *Server) preFault(op string) string {
	f := s.faults[op]
	switch {
	case f == nil:
		return ""
	case f.throttle > 0:
		f.throttle--
		return "throttle"
	case f.conflict > 0:
		f.conflict--
		return "conflict"
	}
	return ""
}

// loseFault consumes a lost-response fault for op. Callers hold s.mu.
func (s *Server) loseFault(op string) bool {
	f := s.faults[op]
	if f == nil || f.lose == 0 {
		return false
	}
	f.lose--
	return true
}

func popPlan(plans *[]statusPlan) (statusPlan, bool) {
	if len(*plans) == 0 {
		return statusPlan{}, false
	}
	p := (*plans)[0]
	*plans = (*plans)[1:]
	return p, true
}
