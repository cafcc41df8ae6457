package sqldb

import (
	"encoding/hex"

	"golang.org/x/crypto/blake2b"
)

// maxIdentifier is PostgreSQL's NAMEDATALEN-1: longer names are truncated by
// the server, so daf_butler shrinks them itself, predictably.
const maxIdentifier = 63

// shrinkName shortens an identifier longer than 63 characters as daf_butler's
// NameShrinker does: the first 54 characters, "_", and the hex of a 4-byte
// BLAKE2b digest of the whole name. Shorter names are returned unchanged.
func shrinkName(name string) string {
	if len(name) <= maxIdentifier {
		return name
	}
	const hashSize = 4
	h, _ := blake2b.New(hashSize, nil) // sizes 1..64 never fail
	h.Write([]byte(name))
	sum := h.Sum(nil)
	return name[:maxIdentifier-2*hashSize-1] + "_" + hex.EncodeToString(sum)
}
