// Package pipedrivehttp is a small client for Pipedrive's REST API (v2
// objects, v1 Fields API) with a rate limiter shared per token. It imports
// nothing of the engine. A 429 is a refusal before any work, so the client
// waits as told and sends the call again; other errors are returned as
// *Error for the caller to classify.
package pipedrivehttp
