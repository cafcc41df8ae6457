// Package s3 is the storage driver for a bucket (and optional key prefix) on an S3-compatible
// object store: s3://bucket/prefix.
//
// The endpoint, region and credentials come from the usual places: S3_ENDPOINT_URL (as
// lsst.resources reads it), AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's
// endpoint_url; AWS_REGION,
// AWS_DEFAULT_REGION or the profile (default us-east-1); the SDK's default credential chain
// (environment, AWS_PROFILE, ~/.aws/credentials, ...). With an explicit endpoint the driver
// uses path-style requests, which every S3-compatible server accepts.
//
// EC2 instance metadata (IMDS) is not consulted for credentials or region unless asked for:
// set AWS_EC2_METADATA_DISABLED=false (or Options.EnableIMDS) on an EC2 instance whose role
// should sign the requests. Off EC2 the probe only waits and, at best, logs. Missing
// credentials are one error naming the variables to set; the SDK itself never writes to
// stderr.
//
// S3 makes a single PutObject and a completed multipart upload atomic, so Put needs no
// temporary objects: a small body goes up in one PutObject, a large one in parts of bounded
// size whose upload is aborted on any failure, leaving nothing visible.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage"
)

// Scheme is the URI scheme this driver serves.
const Scheme = "s3"

// Defaults for Options fields left at zero.
const (
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 4
	DefaultMaxAttempts = 5
	DefaultMaxBackoff  = 5 * time.Second
	defaultRegion      = "us-east-1"
	minPartSize        = 5 << 20 // S3's minimum for all parts but the last
	maxParts           = 10000   // S3's maximum number of parts of one upload
)

// Options tune a Backend. The zero value takes everything from the environment.
type Options struct {
	// Endpoint is the base URL of the S3 service ("http://127.0.0.1:7070"). Empty: from
	// S3_ENDPOINT_URL, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS itself.
	Endpoint string
	// Region overrides AWS_REGION, AWS_DEFAULT_REGION and the profile's region.
	Region string
	// AccessKeyID and SecretAccessKey, when both set, replace the default credential chain.
	AccessKeyID, SecretAccessKey string
	// PartSize is the size of the parts of a multipart upload and the largest body sent in
	// one PutObject; between 5 MiB and 5 GiB. Put holds at most Concurrency+1 parts in memory.
	PartSize int64
	// Concurrency is the number of parts of one Put uploaded at once.
	Concurrency int
	// MaxAttempts bounds the attempts of each request; throttling, 5xx answers and broken
	// connections are retried with jittered exponential backoff up to MaxBackoff.
	MaxAttempts int
	MaxBackoff  time.Duration
	// NoVerify skips the request Open makes to check that the bucket exists and is readable.
	NoVerify bool
	// EnableIMDS lets the SDK ask EC2 instance metadata for credentials and region. It is
	// off by default; AWS_EC2_METADATA_DISABLED, when set, decides instead (false: on).
	EnableIMDS bool
}

// Backend stores objects under a key prefix in one bucket. It implements storage.Backend,
// storage.Copier and storage.Mover; it is not a storage.Linker.
type Backend struct {
	client   *s3.Client
	creds    aws.CredentialsProvider
	idle     interface{ CloseIdleConnections() } // nil if the HTTP client cannot
	bucket   string
	prefix   string // "" or ending in "/"
	endpoint string // for messages: the endpoint URL, or "AWS S3 (region)"
	partSize int64
	conc     int
	closed   atomic.Bool
	bufs     sync.Pool // *[]byte of partSize, reused across Puts
}

var (
	_ storage.Backend = (*Backend)(nil)
	_ storage.Copier  = (*Backend)(nil)
	_ storage.Mover   = (*Backend)(nil)
)

// Open is the storage.Opener for Scheme, configured from the environment.
func Open(ctx context.Context, u *url.URL) (storage.Backend, error) {
	b, err := OpenOptions(ctx, u, Options{})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// bucketRE is S3's rule for bucket names (general purpose buckets).
var bucketRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
})

// ParseURL splits s3://bucket/prefix into the bucket and the key prefix ("" or ending in "/").
func ParseURL(u *url.URL) (bucket, prefix string, err error) {
	switch {
	case !strings.EqualFold(u.Scheme, Scheme):
		return "", "", fmt.Errorf("S3 URI %q: %w: scheme %q", u, errs.ErrInvalid, u.Scheme)
	case u.User != nil:
		// lsst.resources reads s3://profile@bucket/ as a named endpoint profile; not yet here.
		return "", "", fmt.Errorf("S3 URI %q: %w: endpoint profiles (profile@bucket) are not supported; set S3_ENDPOINT_URL", u.Redacted(), errs.ErrUnsupported)
	case u.Opaque != "" || u.RawQuery != "" || u.Fragment != "":
		return "", "", fmt.Errorf("S3 URI %q: %w: want s3://bucket/prefix", u, errs.ErrInvalid)
	case !bucketRE().MatchString(u.Host):
		return "", "", fmt.Errorf("S3 URI %q: %w: %q is not a bucket name (3 to 63 lower-case letters, digits, dots, hyphens)", u, errs.ErrInvalid, u.Host)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := storage.CheckKey(prefix); err != nil {
			return "", "", fmt.Errorf("S3 URI %q: prefix: %w", u, err)
		}
		prefix += "/"
	}
	return u.Host, prefix, nil
}

// EndpointFromEnv returns the endpoint URL the environment names, "" for AWS itself.
func EndpointFromEnv() string {
	for _, v := range []string{"S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if e := os.Getenv(v); e != "" {
			return e
		}
	}
	return ""
}

// OpenOptions opens the bucket and prefix u names. Unless opts.NoVerify, it lists at most one
// key to check the bucket exists and the credentials work, so that a wrong setup fails here
// with a clear error rather than at the first write. It never creates the bucket.
func OpenOptions(ctx context.Context, u *url.URL, opts Options) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bucket, prefix, err := ParseURL(u)
	if err != nil {
		return nil, fmt.Errorf("open S3 store: %w", err)
	}
	b, err := newBackend(ctx, bucket, prefix, opts)
	if err != nil {
		return nil, fmt.Errorf("open S3 store %s: %w", u, err)
	}
	if !opts.NoVerify {
		if err := b.verify(ctx); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

func newBackend(ctx context.Context, bucket, prefix string, opts Options) (*Backend, error) {
	if opts.Endpoint == "" {
		opts.Endpoint = EndpointFromEnv()
	}
	if opts.Endpoint != "" {
		eu, err := url.Parse(opts.Endpoint)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
			return nil, fmt.Errorf("%w: endpoint %q is not an http:// or https:// URL", errs.ErrInvalid, opts.Endpoint)
		}
	}
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.PartSize < minPartSize || opts.PartSize > 5<<30 {
		return nil, fmt.Errorf("%w: part size %d outside [5 MiB, 5 GiB]", errs.ErrInvalid, opts.PartSize)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}

	// A BuildableClient, so that LoadDefaultConfig can still add AWS_CA_BUNDLE to it.
	hc := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConnsPerHost = 64 // the default 2 would reopen connections under concurrent Puts
			tr.ResponseHeaderTimeout = 2 * time.Minute
		})
	load := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(hc),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = opts.MaxAttempts
				o.MaxBackoff = opts.MaxBackoff
				o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(gatewayRace))
			})
		}),
	}
	// The SDK's own log lines ("SDK … WARN falling back to IMDSv1") would go to stderr:
	// a library returns its errors instead.
	load = append(load, awsconfig.WithLogger(logging.Nop{}))
	if !imdsEnabled(opts) {
		load = append(load, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if opts.Region != "" {
		load = append(load, awsconfig.WithRegion(opts.Region))
	}
	if opts.AccessKeyID != "" && opts.SecretAccessKey != "" {
		load = append(load, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	if opts.Endpoint == "" && aws.ToString(cfg.BaseEndpoint) != "" {
		opts.Endpoint = *cfg.BaseEndpoint // the profile's endpoint_url: also not AWS, so path-style
	}
	var idle interface{ CloseIdleConnections() }
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		frozen := bc.Freeze() // an *http.Client whose idle connections Close can drop
		cfg.HTTPClient = frozen
		idle, _ = frozen.(interface{ CloseIdleConnections() })
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		// A library does not write to stderr; errors are returned, and ranged reads of
		// objects without stored checksums are normal.
		o.Logger = logging.Nop{}
		o.DisableLogOutputChecksumValidationSkipped = true
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
			o.UsePathStyle = true
		}
	})
	name := opts.Endpoint
	if name == "" {
		name = "AWS S3 (region " + cfg.Region + ")"
	}
	b := &Backend{client: client, creds: cfg.Credentials, idle: idle, bucket: bucket, prefix: prefix,
		endpoint: name, partSize: opts.PartSize, conc: opts.Concurrency}
	b.bufs.New = func() any { p := make([]byte, b.partSize); return &p }
	return b, nil
}

// imdsEnabled reports whether EC2 instance metadata may be asked: when
// AWS_EC2_METADATA_DISABLED is set, as it says (the SDK reads it), else only
// with opts.EnableIMDS.
func imdsEnabled(opts Options) bool {
	if v, ok := os.LookupEnv("AWS_EC2_METADATA_DISABLED"); ok && v != "" {
		return !strings.EqualFold(strings.TrimSpace(v), "true")
	}
	return opts.EnableIMDS
}

// gatewayRace retries the error that gateways storing objects as files (versitygw's posix
// backend) give when a Put races a Delete that removes the emptied parent directory. When
// the key really is a "directory" there, the retries fail too and the error is a conflict.
func gatewayRace(err error) aws.Ternary {
	if apiCode(err) == "ExistingObjectIsDirectory" {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}

// verify lists at most one key under the prefix.
func (b *Backend) verify(ctx context.Context) error {
	_, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &b.prefix, MaxKeys: aws.Int32(1)})
	if err != nil {
		return b.fail(ctx, "open S3 store", b.URI(""), err)
	}
	return nil
}

// Bucket returns the bucket name.
func (b *Backend) Bucket() string { return b.bucket }

// Prefix returns the key prefix, "" or ending in "/".
func (b *Backend) Prefix() string { return b.prefix }

// Client returns the SDK client, for tests and tools that need calls the Backend lacks.
func (b *Backend) Client() *s3.Client { return b.client }

// Create makes the bucket if it does not exist yet. A bucket that exists and is ours is fine.
func (b *Backend) Create(ctx context.Context) error {
	if err := b.check(ctx); err != nil {
		return fmt.Errorf("create bucket %q: %w", b.bucket, err)
	}
	_, err := b.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return b.fail(ctx, "create bucket", b.bucket, err)
	}
	return nil
}

// URI returns s3://bucket/prefix/key, escaped.
func (b *Backend) URI(key string) string {
	return (&url.URL{Scheme: Scheme, Host: b.bucket, Path: "/" + b.prefix + key}).String()
}

// Close makes later calls fail and drops idle connections. Readers returned by Get stay
// usable until closed.
func (b *Backend) Close() error {
	if !b.closed.Swap(true) && b.idle != nil {
		b.idle.CloseIdleConnections()
	}
	return nil
}

// Get reads [off, off+n) of key with a ranged GET.
func (b *Backend) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := b.checkKey(ctx, key); err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	if off < 0 {
		return nil, fmt.Errorf("get %q: %w: negative offset %d", key, errs.ErrInvalid, off)
	}
	if n == 0 {
		// HTTP cannot ask for zero bytes; still tell a missing key apart.
		if _, err := b.Stat(ctx, key); err != nil {
			return nil, fmt.Errorf("get %q: %w", key, errors.Unwrap(err))
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	in := &s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)}
	switch {
	case n > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		if apiCode(err) == "InvalidRange" {
			// The range starts at or past the end of an object that exists: no bytes.
			return io.NopCloser(strings.NewReader("")), nil
		}
		return nil, b.fail(ctx, "get", key, err)
	}
	return out.Body, nil
}

// Stat is a HEAD request.
func (b *Backend) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := b.checkKey(ctx, key); err != nil {
		return storage.Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)})
	if err != nil {
		return storage.Info{}, b.fail(ctx, "stat", key, err)
	}
	return storage.Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Delete checks that key exists first, since S3's DeleteObject succeeds on missing keys.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := b.checkKey(ctx, key); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	full := aws.String(b.prefix + key)
	if _, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: full}); err != nil {
		return b.fail(ctx, "delete", key, err)
	}
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: full}); err != nil {
		return b.fail(ctx, "delete", key, err)
	}
	return nil
}

// List pages through ListObjectsV2, which returns keys in UTF-8 binary order. Keys that are not
// valid storage keys (such as the "dir/" markers some tools create) are not objects of ours
// and are skipped.
func (b *Backend) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := b.check(ctx); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	if err := storage.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(b.prefix + prefix)})
	last := ""
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return b.fail(ctx, "list", prefix, err)
		}
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), b.prefix)
			if !ok || storage.CheckKey(key) != nil {
				continue
			}
			if key <= last && last != "" {
				// The contract promises order; a server that breaks it must not go unnoticed.
				return fmt.Errorf("list %q: S3 server at %s returned %q after %q, out of order", prefix, b.endpoint, key, last)
			}
			last = key
			if err := fn(storage.Info{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *Backend) check(ctx context.Context) error {
	if b.closed.Load() {
		return fmt.Errorf("%w: S3 store %s is closed", errs.ErrInvalid, b.URI(""))
	}
	return ctx.Err()
}

func (b *Backend) checkKey(ctx context.Context, key string) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	return storage.CheckKey(key)
}

// apiCode returns the S3 error code of err ("NoSuchKey", "AccessDenied", ...), or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of the response err came with, or 0.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// fail wraps err from operation op on what (a key, or the bucket) with its kind and enough
// context to act on: the bucket, the endpoint and, for permission errors, the access key id
// (never the secret).
func (b *Backend) fail(ctx context.Context, op, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("%s %q: %w", op, what, err)
		}
		return fmt.Errorf("%s %q: %w: %w", op, what, cerr, err)
	}
	code, status := apiCode(err), httpStatus(err)
	if code == "" && (b.creds == nil || strings.Contains(err.Error(), "get identity: ")) {
		// The request was never signed: no credentials were found. The SDK's account of
		// every place it looked is kept for errors.As, not printed.
		return &credentialsError{msg: fmt.Sprintf("%s %q: %v: no S3 credentials found for %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or write ~/.aws/credentials",
			op, what, errs.ErrPermission, b.endpoint), err: err}
	}
	switch {
	case code == "InvalidAccessKeyId" || code == "XAdminUserNotFound" || code == "SignatureDoesNotMatch" || code == "AccessDenied" ||
		code == "Forbidden" || code == "ExpiredToken" || code == "InvalidToken" || status == http.StatusForbidden:
		return fmt.Errorf("%s %q: %w: %s refused access to bucket %q for access key id %q: %w",
			op, what, errs.ErrPermission, b.endpoint, b.bucket, b.accessKeyID(ctx), err)
	case code == "NoSuchBucket":
		return fmt.Errorf("%s %q: %w: bucket %q does not exist at %s: %w", op, what, errs.ErrNotFound, b.bucket, b.endpoint, err)
	case code == "ExistingObjectIsDirectory" || code == "ObjectParentIsFile":
		return fmt.Errorf("%s %q: %w: %w", op, what, errs.ErrConflict, err)
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		return fmt.Errorf("%s %q: %w: %w", op, what, errs.ErrNotFound, err)
	}
	if !errors.As(err, new(*smithy.OperationError)) {
		return fmt.Errorf("%s %q: %w", op, what, err) // not from a request: a body that failed, a size mismatch
	}
	if errors.As(err, new(*net.OpError)) || errors.As(err, new(*net.DNSError)) {
		return fmt.Errorf("%s %q: cannot reach S3 endpoint %s: %w", op, what, b.endpoint, err)
	}
	if errors.As(err, new(*smithyhttp.RequestSendError)) {
		return fmt.Errorf("%s %q: connection to S3 endpoint %s failed: %w", op, what, b.endpoint, err)
	}
	if b.creds == nil {
		return fmt.Errorf("%s %q: %w: no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials): %w", op, what, errs.ErrPermission, err)
	}
	if _, cerr := b.creds.Retrieve(context.WithoutCancel(ctx)); cerr != nil {
		// The request never went out: the SDK found no credentials to sign it with.
		return fmt.Errorf("%s %q: %w: no usable S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials): %w", op, what, errs.ErrPermission, err)
	}
	return fmt.Errorf("%s %q at %s: %w", op, what, b.endpoint, err)
}

// credentialsError is a request that could not be signed for want of
// credentials: a one-line message, the SDK's error kept underneath.
type credentialsError struct {
	msg string
	err error
}

func (e *credentialsError) Error() string   { return e.msg }
func (e *credentialsError) Unwrap() []error { return []error{errs.ErrPermission, e.err} }

// accessKeyID names the credentials in use, for error messages.
func (b *Backend) accessKeyID(ctx context.Context) string {
	if b.creds == nil {
		return "(none)"
	}
	c, err := b.creds.Retrieve(context.WithoutCancel(ctx))
	if err != nil || c.AccessKeyID == "" {
		return "(none)"
	}
	return c.AccessKeyID
}
