package store

// RepeatKeysForTest returns the case_lsh rows (band, bucket) of a case with
// the given fingerprint, for tests that write the index in bulk.
func RepeatKeysForTest(p RepeatProbe) [][2]int64 {
	var out [][2]int64
	for _, k := range repeatKeys(p, false) {
		out = append(out, [2]int64{int64(k.band), k.bucket})
	}
	return out
}
