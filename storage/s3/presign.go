package s3

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gobutler/butler/errs"
)

// PresignGet returns an HTTP(S) URL that reads key with a plain GET (no
// credentials needed) until ttl has passed, as lsst.resources'
// generate_presigned_get_url does. Signing is local: nothing is sent to the
// store and the key is not checked to exist.
func (b *Backend) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := b.checkKey(ctx, key); err != nil {
		return "", fmt.Errorf("presign %q: %w", key, err)
	}
	if ttl <= 0 || ttl > 7*24*time.Hour {
		return "", fmt.Errorf("presign %q: %w: lifetime %s outside (0, 7 days]", key, errs.ErrInvalid, ttl)
	}
	req, err := s3.NewPresignClient(b.client).PresignGetObject(ctx,
		&s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", b.fail(ctx, "presign", key, err)
	}
	return req.URL, nil
}
