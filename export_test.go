package butler

import (
	"context"

	"github.com/gobutler/butler/dataset"
)

// FileSizes returns the file sizes recorded for datasets (-1: not tracked), for
// tests of what the datastore records.
func FileSizes(ctx context.Context, b *Butler, ids []dataset.ID) (map[dataset.ID]int64, error) {
	recs, err := b.reg.FileRecords(ctx, b.ds.RecordsTable(), ids)
	if err != nil {
		return nil, err
	}
	out := map[dataset.ID]int64{}
	for id, rs := range recs {
		for _, r := range rs {
			out[id] = r.FileSize
		}
	}
	return out, nil
}
