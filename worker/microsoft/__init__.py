"""Microsoft Graph for the sync engine: the mail client (`graph`), message parsing
(`messages`) and the mapping of Graph's errors to neutral kinds (`graph_errors`)."""
