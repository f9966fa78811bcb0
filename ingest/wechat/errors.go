package wechat

import (
	"fmt"
	"time"

	"github.com/mashangban/mashangban/ingest"
)

// APIError is a non-zero errcode from a WeChat API. It unwraps to the
// ingest error class of its code (nil for codes that are the caller's to
// interpret, such as 43101 on subscribe/send).
type APIError struct {
	Path    string
	Code    int
	Message string // errmsg, including its " rid: …" suffix
	class   error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wechat %s: errcode %d: %s", e.Path, e.Code, e.Message)
}

func (e *APIError) Unwrap() error { return e.class }

// Error codes the package acts on (reference §3.1, §3.4, §3.6).
const (
	CodeSystemBusy        = -1
	CodeInvalidCredential = 40001
	CodeInvalidOpenID     = 40003
	CodeInvalidAppID      = 40013
	CodeInvalidToken      = 40014
	CodeInvalidTemplate   = 40037
	CodeInvalidSecret     = 40125
	CodeIPNotAllowed      = 40164
	CodeTokenMissing      = 41001
	CodeAppIDMissing      = 41002
	CodeSecretMissing     = 41004
	CodeInvalidPage       = 41030
	CodeTokenExpired      = 42001
	CodeUserRefused       = 43101
	CodeDailyQuota        = 45009
	CodeMinuteQuota       = 45011
	CodeBadArgument       = 47003
	CodeAPIUnauthorized   = 48001
	CodeNoCloud           = 85088
)

func isTokenError(code int) bool {
	return code == CodeInvalidCredential || code == CodeTokenExpired || code == CodeInvalidToken
}

// check turns a non-zero errcode into an error of its class; 45009 and
// 45011 come as *ingest.BackoffError with the wait the platform implies.
func (c *Client) check(path string, env envelope) error {
	if env.ErrCode == 0 {
		return nil
	}
	e := &APIError{Path: path, Code: env.ErrCode, Message: env.ErrMsg, class: classOf(env.ErrCode)}
	switch env.ErrCode {
	case CodeDailyQuota:
		return &ingest.BackoffError{Wait: untilNextDay(c.opt.Now()), Cause: e}
	case CodeMinuteQuota, -501003, -501004:
		return &ingest.BackoffError{Wait: time.Minute, Cause: e}
	case -501015, -501016:
		return &ingest.BackoffError{Wait: time.Hour, Cause: e}
	}
	return e
}

// classOf maps an errcode to an ingest error class.
func classOf(code int) error {
	switch code {
	case CodeSystemBusy, -1000, -501001, -501002, -501007, -502001, -502010, -502011:
		// -501007 is a parameter error, but it is seen transiently
		// ("missing a required parameter MgoDocs").
		return ingest.ErrTransient
	case CodeDailyQuota, CodeMinuteQuota, -501003, -501004, -501015, -501016:
		return ingest.ErrRateLimited
	case CodeInvalidCredential, CodeInvalidToken, CodeTokenExpired, CodeTokenMissing,
		CodeInvalidAppID, CodeInvalidSecret, CodeIPNotAllowed, CodeAppIDMissing, CodeSecretMissing:
		// A token error that survives a fresh token means the credentials
		// themselves are wrong.
		return ingest.ErrAuth
	case CodeAPIUnauthorized, CodeNoCloud, -502003, -502005, -501009:
		// The app may not use the API, the environment or the collection
		// does not exist: a configuration matter, like a missing permission.
		return ingest.ErrPermission
	case CodeUserRefused, CodeBadArgument, CodeInvalidOpenID, CodeInvalidTemplate, CodeInvalidPage:
		return nil // subscribe/send: the replier decides
	}
	return nil
}

// beijing is the zone in which WeChat's daily quotas reset.
var beijing = time.FixedZone("CST", 8*3600)

// untilNextDay is the wait until a minute past the next Beijing midnight,
// when a daily quota (45009) is reset.
func untilNextDay(now time.Time) time.Duration {
	t := now.In(beijing)
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 1, 0, 0, beijing)
	return next.Sub(now)
}
