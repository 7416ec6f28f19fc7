package identitycenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Reconciler repairs drift between the grants, the assignment records and
// Identity Center for one tenant:
//
//   - every active grant holds its assignment record (added if missing —
//     unless the grant ended meanwhile, then the holder is taken back);
//   - holders whose grant is no longer live (not active or provisioning,
//     or missing) are removed from the records;
//   - a record with an active holder whose assignment is missing in
//     Identity Center gets it re-created ("repaired");
//   - a record left without holders has its assignment deleted (if
//     present) and is then deleted ("removed");
//   - user assignments Identity Center holds for the (account, permission
//     set) pairs in play that no record accounts for are reported
//     ("unexpected") and never touched: they may be someone's standing
//     access. Group assignments are not jitsudo's and are ignored.
//
// Every step is idempotent (holder sets, creating an existing assignment,
// deleting a missing one, conditional record deletion), so runs may
// repeat and two runs may overlap. A grant revoked between the
// reconciler's checks can keep its assignment until the next run; the
// next run removes it.
type Reconciler struct {
	Provider *Provider
	// Records is the bookkeeping; nil → Provider.Records.
	Records Records
	Grants  Grants
	Logger  *slog.Logger
}

// Report is what one Reconcile did. Entries describe assignments.
type Report struct {
	Repaired   []string `json:"repaired"`
	Removed    []string `json:"removed"`
	Unexpected []string `json:"unexpected"`
	Errors     []string `json:"errors"`
}

// MarshalJSON writes an empty list as [], never null.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	p := plain(r)
	for _, l := range []*[]string{&p.Repaired, &p.Removed, &p.Unexpected, &p.Errors} {
		if *l == nil {
			*l = []string{}
		}
	}
	return json.Marshal(p)
}

type pair struct{ account, permissionSet string }

type recordState struct {
	rec       store.AssignmentRecord
	holders   []string
	hasActive bool
}

func (r *Reconciler) records() Records {
	if r.Records != nil {
		return r.Records
	}
	return r.Provider.Records
}

func (r *Reconciler) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return r.Provider.log()
}

// Reconcile converges one tenant. Failures of single assignments are
// collected in Report.Errors and do not stop the run; the error is for
// failures that stop it (settings, listing grants or records).
func (r *Reconciler) Reconcile(ctx context.Context, tenantID string) (Report, error) {
	var rep Report
	p, recs := r.Provider, r.records()
	log := r.log().With("tenant_id", tenantID)
	tc, err := p.tenant(ctx, tenantID)
	if err != nil {
		return rep, err
	}
	grants, err := r.Grants.LiveGrants(ctx, tenantID)
	if err != nil {
		return rep, fmt.Errorf("identitycenter: reconcile %s: %w", tenantID, err)
	}
	status := map[string]string{}
	for _, g := range grants {
		status[g.ID] = g.Status
	}
	if err := r.holdActiveGrants(ctx, tc, tenantID, grants, status, &rep, log); err != nil {
		return rep, err
	}
	records, err := recs.ListAssignments(ctx, tenantID)
	if err != nil {
		return rep, fmt.Errorf("identitycenter: reconcile %s: %w", tenantID, err)
	}
	states := r.dropEndedHolders(ctx, tenantID, records, status, &rep, log)

	assigned := map[pair]map[string]bool{}
	for _, st := range states {
		pr := pair{st.rec.AccountID, st.rec.PermissionSetARN}
		if _, done := assigned[pr]; done {
			continue
		}
		users, err := p.assignedUsers(ctx, tc, pr.account, pr.permissionSet)
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("list assignments of account %s, permission set %s: %v", pr.account, pr.permissionSet, err))
			assigned[pr] = nil // unknown: leave the pair alone this run
			continue
		}
		assigned[pr] = users
	}

	for _, st := range states {
		t := st.rec.AssignmentTarget
		users := assigned[pair{t.AccountID, t.PermissionSetARN}]
		if users == nil {
			continue
		}
		if t.ExternalPrincipalID == "" {
			rep.Errors = append(rep.Errors, describe(t)+": record has no Identity Center user id")
			continue
		}
		present := users[t.ExternalPrincipalID]
		switch {
		case len(st.holders) > 0:
			if present || !st.hasActive {
				continue // in place, or only provisioning grants (their Provision creates it)
			}
			if err := p.createAssignment(ctx, tc, t); err != nil {
				rep.Errors = append(rep.Errors, fmt.Sprintf("repair %s: %v", describe(t), err))
				continue
			}
			log.WarnContext(ctx, "drift: re-created missing assignment", "assignment", describe(t), "holders", st.holders)
			rep.Repaired = append(rep.Repaired, describe(t))
		default:
			if err := p.removeUnheld(ctx, tc, recs, t, present); err != nil {
				rep.Errors = append(rep.Errors, fmt.Sprintf("remove %s: %v", describe(t), err))
				continue
			}
			log.WarnContext(ctx, "drift: removed assignment without live grants", "assignment", describe(t), "was_present", present)
			rep.Removed = append(rep.Removed, describe(t))
		}
	}

	rep.Unexpected, err = r.unexpected(ctx, tenantID, records, assigned)
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
	for _, u := range rep.Unexpected {
		log.WarnContext(ctx, "drift: unexpected assignment (not touched)", "assignment", u)
	}
	return rep, nil
}

// holdActiveGrants adds every active grant missing from its record as a
// holder, then re-checks the grant: one that ended meanwhile (a revoke
// running concurrently already removed its holder) is taken out again, so
// the reconciler never resurrects an ended grant's assignment.
func (r *Reconciler) holdActiveGrants(ctx context.Context, tc *tenantClients, tenantID string, grants []access.Grant, status map[string]string, rep *Report, log *slog.Logger) error {
	p, recs := r.Provider, r.records()
	records, err := recs.ListAssignments(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("identitycenter: reconcile %s: %w", tenantID, err)
	}
	for _, g := range grants {
		a := access.AssignmentOf(g)
		if g.Status != access.GrantActive || !icAssignable(a) {
			continue
		}
		var userID string
		if i := slices.IndexFunc(records, func(rec store.AssignmentRecord) bool { return sameAssignment(rec.AssignmentTarget, targetOf(a, "")) }); i >= 0 {
			if slices.Contains(records[i].Holders, g.ID) {
				continue
			}
			userID = records[i].ExternalPrincipalID
		}
		if userID == "" {
			if userID, err = p.resolveUser(ctx, tc, a); err != nil {
				rep.Errors = append(rep.Errors, fmt.Sprintf("grant %s: %v", g.ID, err))
				continue
			}
		}
		t := targetOf(a, userID)
		if _, err := recs.AddAssignmentHolder(ctx, t, g.ID); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("grant %s: record holder: %v", g.ID, err))
			continue
		}
		st, err := r.Grants.GrantStatus(ctx, tenantID, g.ID)
		switch {
		case err == nil && live(st):
			log.WarnContext(ctx, "drift: active grant was not recorded as a holder", "grant_id", g.ID, "assignment", describe(t))
			continue
		case err != nil && !errors.Is(err, access.ErrNotFound):
			rep.Errors = append(rep.Errors, fmt.Sprintf("grant %s: status: %v", g.ID, err))
			continue // keep the holder: a later run decides
		case err != nil:
			st = "missing"
		}
		status[g.ID] = st
		if _, err := recs.RemoveAssignmentHolder(ctx, t, g.ID); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("grant %s: take back holder: %v", g.ID, err))
		}
	}
	return nil
}

// dropEndedHolders removes holders whose grant is not live and returns
// each Identity Center record with the holders left. status caches what
// is known of each grant.
func (r *Reconciler) dropEndedHolders(ctx context.Context, tenantID string, records []store.AssignmentRecord, status map[string]string, rep *Report, log *slog.Logger) []recordState {
	recs := r.records()
	var out []recordState
	for _, rec := range records {
		if rec.AccountID == "" || !isPermissionSetARN(rec.PermissionSetARN) {
			continue // not an Identity Center assignment (another provider's record)
		}
		st := recordState{rec: rec, holders: rec.Holders}
		for _, h := range rec.Holders {
			s, known := status[h]
			if !known {
				var err error
				s, err = r.Grants.GrantStatus(ctx, tenantID, h)
				if errors.Is(err, access.ErrNotFound) {
					s = "missing"
				} else if err != nil {
					rep.Errors = append(rep.Errors, fmt.Sprintf("grant %s: status: %v", h, err))
					continue // keep it
				}
				status[h] = s
			}
			if live(s) {
				continue
			}
			left, err := recs.RemoveAssignmentHolder(ctx, rec.AssignmentTarget, h)
			if err != nil {
				rep.Errors = append(rep.Errors, fmt.Sprintf("grant %s: remove holder: %v", h, err))
				continue
			}
			log.WarnContext(ctx, "drift: removed holder of ended grant", "grant_id", h, "grant_status", s, "assignment", describe(rec.AssignmentTarget))
			st.holders = left
		}
		for _, h := range st.holders {
			if status[h] == access.GrantActive {
				st.hasActive = true
			}
		}
		out = append(out, st)
	}
	return out
}

// unexpected lists user assignments of the pairs in play no record
// explains. Candidates are checked against a fresh read of the records, so
// an assignment provisioned during the run is not reported.
func (r *Reconciler) unexpected(ctx context.Context, tenantID string, records []store.AssignmentRecord, assigned map[pair]map[string]bool) ([]string, error) {
	known := func(recs []store.AssignmentRecord) map[pair]map[string]bool {
		k := map[pair]map[string]bool{}
		for _, rec := range recs {
			pr := pair{rec.AccountID, rec.PermissionSetARN}
			if k[pr] == nil {
				k[pr] = map[string]bool{}
			}
			k[pr][rec.ExternalPrincipalID] = true
		}
		return k
	}
	type cand struct {
		pr   pair
		user string
	}
	var cands []cand
	k := known(records)
	for pr, users := range assigned {
		for u := range users {
			if !k[pr][u] {
				cands = append(cands, cand{pr, u})
			}
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	fresh, err := r.records().ListAssignments(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("identitycenter: re-read records: %w", err)
	}
	k = known(fresh)
	var out []string
	for _, c := range cands {
		if !k[c.pr][c.user] {
			out = append(out, fmt.Sprintf("account %s, permission set %s, user %s", c.pr.account, c.pr.permissionSet, c.user))
		}
	}
	sort.Strings(out)
	return out, nil
}
