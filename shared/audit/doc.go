// Package audit keeps the tenant audit logs tamper-evident without a
// tenant-wide serialisation point on the request path.
//
// Request path: every state change writes its audit events in its own
// transaction, one item per event with its content hash (shared/store,
// PK T#<tenant>#AUDIT, SK EVT#<event id>); writers never contend.
//
// Off the request path, the Extender (the extend-audit-chain function,
// fed by the table's stream filtered to audit inserts, in commit order per
// tenant) appends each event to the tenant's hash chain (PK
// T#<tenant>#CHAIN: seq, event id, event hash, prev_hash, hash) and
// authenticates the last entry of every append with a MAC under a key the
// API functions cannot use (Signer: a KMS HMAC key in AWS, GenerateMac
// only for the extender's role; a local key file or secret). Every
// AnchorEvery entries or AnchorInterval it writes a checkpoint {tenant,
// seq, head hash, time, MAC} outside the table (AnchorStore: an S3 bucket
// with Object Lock in compliance mode in AWS, a directory locally).
//
// The Verifier checks the chain from an anchor forward (the latest by
// default, any named one, or genesis), a page at a time: contiguous
// sequence numbers, hash links, MACs, every event's content against its
// entry, every anchor in range against its entry, and that the chain
// reaches the latest anchor. So a rewrite of the table — even one that
// recomputes every later hash — fails the MACs, and removing events older
// than the latest anchor fails the anchor check. See docs/audit.md.
package audit
