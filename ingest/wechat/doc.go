// Package wechat reads citizen submissions from the city's WeChat
// mini-program and answers them with subscribe messages.
//
// Source ("wechat-miniprogram") implements ingest.Source over the
// mini-program's cloud database: tcb/databasequery on a configured
// environment and collection, paged by a stable (creation time, _id) key,
// each "data" element a record serialised as a JSON string, extended JSON
// ($date, $oid, $numberLong …) decoded. Replier implements reply.Replier
// with cgi-bin/message/subscribe/send and, when the citizen has not (or no
// longer) authorised a message, writes the reply into the submission's
// record with tcb/databaseupdate for the mini-program to show.
//
// Both use a Client that holds the access token from cgi-bin/stable_token,
// cached until shortly before it expires and replaced when the platform
// refuses it (40001, 42001, 40014), the call then made once more.
//
// Behaviour follows docs/external-apis.md §3 and §4.
// Errors are wrapped so that errors.Is matches the ingest error classes;
// quota errors come as *ingest.BackoffError with the wait. The package does
// not loop, sleep between polls or save cursors: the ingest poller does.
package wechat
