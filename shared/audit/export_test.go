package audit

// EntryMACInput is what the extender MACs for an entry (for tests that
// build a chain without the extender: the verify benchmark).
var EntryMACInput = entryMACInput
