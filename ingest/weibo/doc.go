// Package weibo reads citizen posts from Weibo and answers them with comments.
//
// Two sources implement ingest.Source:
//   - Mobile ("weibo-mobile") reads one hashtag from the m.weibo.cn search
//     container with a logged-in cookie: HTML text made plain, long posts
//     completed through statuses/extend, relative dates resolved in
//     Asia/Shanghai.
//   - Open ("weibo-open") reads statuses/mentions and, where the app has the
//     permission, search/topics from the Open API v2 with an access token.
//
// Replier implements reply.Replier with comments/create and checks earlier
// attempts with comments/show.
//
// The field-by-field behaviour follows docs/external-apis.md §1, §2 and §4. Errors are wrapped so that errors.Is matches the
// ingest error classes; rate limits come as *ingest.BackoffError with the
// wait. The package does not loop, sleep between polls or save cursors: the
// ingest poller does that, using Rate and Burst of each source.
package weibo
