//go:build tools

// Package tools pins the module whose command the build compiles: versitygw's gateway
// (cmd/versitygw), an S3 server over a directory (its posix backend) that checks every request's
// signature (AWS SigV4, also presigned URLs and streaming uploads).
package tools

import (
	_ "github.com/versity/versitygw/cmd/versitygw"
)
